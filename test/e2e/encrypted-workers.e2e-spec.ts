/**
 * No encrypted aggregate freezes the gateway (issue 12, point 3): SEAL runs in worker threads, so `/livez`
 * answers while a grouped aggregate runs; a grouping over the cost bound is refused before any SEAL work;
 * a deadline ends in a GraphQL error with a code, and the log says nothing was released.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { uploadKeyBundle } from '../../src/cli/he.commands.js';
import { encryptColumn } from '../../src/encrypted/column-codec.js';
import { bundleToJson } from '../../src/encrypted/key-bundle-json.js';
import { BFV_PARAMS, createHeContext, type HeContext } from '../../src/encrypted/he-params.js';
import { generateOwnerKeys } from '../../src/encrypted/keys.js';
import type { GatewayGraphql } from '../../src/encrypted/keyholder.server.js';
import { loadSeal } from '../../src/encrypted/seal-runtime.js';
import { errorCode, startTestGateway, type TestGateway } from '../support/test-gateway.js';

const DS = 'building-energy';
const COL = 'electricity_kwh';
const MAX_OPERATIONS = 2_000;

const agg = (groupBy: string | null) =>
  `{ encryptedAggregate(dataset: "${DS}", column: "${COL}", kind: "sum"${groupBy ? `, groupBy: "${groupBy}"` : ''}) {
    computationId receiptIndex cells { group records suppressed sha256 } } }`;

describe('encrypted aggregates run off the event loop, within a cost bound and a deadline', () => {
  let tg: TestGateway;
  let ctx: HeContext;
  let owner: string;
  let url: string;

  before(async () => {
    tg = await startTestGateway({
      rooms: 1500,
      // A loaded machine: the deadline test sets its own, shorter one.
      env: { CITYGATE_REQUEST_TIMEOUT_MS: '300000', CITYGATE_HE_MAX_OPERATIONS: String(MAX_OPERATIONS) },
      // The deadline test is of the work's own deadline (the SEAL thread stopped, the refusal logged with its
      // receipt): the resolver's race, which answers without a receipt, is test/e2e/deadlines.e2e-spec.ts's.
      // Under CI load a refusal's fdatasync took more than the default second of grace.
      app: { resolverGraceMs: 60_000 },
    });
    await tg.app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(tg.app.getHttpServer().address() as AddressInfo).port}`;
    owner = await tg.token('housing-construction', ['owner']);
    const gql: GatewayGraphql = async (query, variables) => {
      const r = await tg.gql(query, variables, { token: owner });
      if (!r.body.data || r.body.errors) throw new Error(r.body.errors?.[0]?.message ?? 'no data');
      return r.body.data;
    };
    ctx = createHeContext(await loadSeal(), BFV_PARAMS);
    const keys = generateOwnerKeys(ctx);
    await uploadKeyBundle(gql, DS, COL, bundleToJson(keys.public));
    const rows = await tg.gw.db.query<{ id: string; v: number }>(
      `select id, round(electricity_kwh)::int as v from ds_building_energy order by id`,
    );
    const up = await encryptColumn(
      ctx,
      keys.public,
      rows.map((r) => Number(r.v)),
      { maxAbs: 1_000_000 },
    );
    await gql(
      `mutation($l: String!, $ids: [String!]!) { beginEncryptedColumn(dataset: "${DS}", column: "${COL}", layout: $l, recordIds: $ids) { total } }`,
      { l: JSON.stringify(up.layout), ids: rows.map((r) => r.id) },
    );
    for (const [i, ct] of up.ciphertexts.entries()) {
      await gql(
        `mutation($i: Int!, $c: String!) { uploadCiphertextChunk(dataset: "${DS}", column: "${COL}", index: $i, ciphertext: $c) { received } }`,
        { i, c: Buffer.from(ct).toString('base64') },
      );
    }
  });

  after(async () => {
    ctx?.delete();
    await tg?.close();
  });

  it('/livez answers within a second, many times, while a grouped encrypted aggregate runs', async (t) => {
    const started = tg.gw.encrypted.pool.started;
    const running = tg.gql(agg('district'), undefined, { token: owner });
    let settled = false;
    void running.finally(() => (settled = true));
    // Wait until the aggregate is on a SEAL thread, then poll over real HTTP until it finishes.
    while (tg.gw.encrypted.pool.started === started && !settled) await new Promise((r) => setTimeout(r, 5));
    const latencies: number[] = [];
    const t0Run = performance.now();
    while (!settled) {
      const t0 = performance.now();
      const res = await fetch(`${url}/livez`);
      latencies.push(performance.now() - t0);
      assert.equal(res.status, 200);
      await new Promise((r) => setTimeout(r, 20));
    }
    const r = await running;
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    const cells = (r.body.data?.encryptedAggregate as { cells: { suppressed: boolean }[] }).cells;
    assert.ok(cells.filter((c) => !c.suppressed).length > 1, 'a grouped aggregate');
    assert.ok(latencies.length >= 5, `polled ${latencies.length} times while the aggregate ran`);
    const max = Math.max(...latencies);
    t.diagnostic(
      `aggregate ${(performance.now() - t0Run).toFixed(0)} ms on a SEAL thread; /livez max ${max.toFixed(1)} ms over ${latencies.length} polls`,
    );
    // SEAL on the event loop would hold /livez for the whole aggregate (seconds) and allow one poll at most; the
    // bound leaves room for a loaded machine's pauses.
    assert.ok(max < 1_000, `/livez took up to ${max.toFixed(1)} ms while SEAL ran (${latencies.length} polls)`);
  });

  it('refuses a grouping over the cost bound up front, with LIMIT_EXCEEDED and the estimate', async () => {
    const started = tg.gw.encrypted.pool.started;
    const r = await tg.gql(agg('building'), undefined, { token: owner });
    assert.equal(errorCode(r), 'LIMIT_EXCEEDED', JSON.stringify(r.body));
    const message = r.body.errors?.[0]?.message ?? '';
    const m = /about (\d+) ciphertext operations .* allows (\d+)/.exec(message);
    assert.ok(m, message);
    assert.ok(Number(m[1]) > MAX_OPERATIONS);
    assert.equal(Number(m[2]), MAX_OPERATIONS);
    assert.equal(tg.gw.encrypted.pool.started, started, 'no SEAL work was started');
    assert.equal(r.body.extensions?.receipts?.[0]?.released, false, 'logged as not released');
  });

  it('a deadline ends in DEADLINE_EXCEEDED, logged as not released; the next aggregate gets a fresh thread', async () => {
    const terminations = tg.gw.encrypted.pool.terminations;
    const timeout = tg.gw.config.requestTimeoutMs;
    tg.gw.config.requestTimeoutMs = 300; // read per request: this request's deadline
    let r;
    try {
      // Over real HTTP: an answer, not a closed socket.
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${owner}` },
        body: JSON.stringify({ query: agg('district') }),
      });
      r = (await res.json()) as {
        errors?: { extensions?: { code?: string } }[];
        extensions?: { receipts?: { index: number; released: boolean }[] };
      };
    } finally {
      tg.gw.config.requestTimeoutMs = timeout;
    }
    assert.equal(r.errors?.[0]?.extensions?.code, 'DEADLINE_EXCEEDED', JSON.stringify(r));
    assert.equal(tg.gw.encrypted.pool.terminations, terminations + 1, 'the SEAL thread was terminated');
    const receipt = r.extensions?.receipts?.[0];
    assert.equal(receipt?.released, false);
    const entry = await tg.gw.log.get(receipt.index);
    assert.equal(entry?.record.kind === 'access' ? entry.record.outcome.refusal : null, 'DEADLINE_EXCEEDED');
    const again = await tg.gql(agg(null), undefined, { token: owner });
    assert.equal(again.body.errors, undefined, JSON.stringify(again.body.errors));
  });
});
