import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LeafInput, LogStorage } from '../../src/ledger/log-storage.port.js';
import { FileLogStorage } from '../../src/ledger/storage/file-log-storage.adapter.js';
import { verifyBundle, verifyCheckpoint, type ReceiptBundle } from '../../src/ledger/verifier.js';
import { errorCode, startTestGateway, type TestGateway } from '../support/test-gateway.js';

/**
 * TEST HELPER, not an adapter: wraps the real file storage and fails appends while `flag.failing` is set, the
 * way a full disk or an fsync error would, without touching the files underneath.
 */
function flaky(inner: LogStorage, flag: { failing: boolean }): LogStorage {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'append') {
        return async (batch: readonly LeafInput[]) => {
          if (flag.failing) throw new Error('ENOSPC: no space left on device (simulated)');
          return target.append(batch);
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

const RECORDS = (dataset: string, fields: string[], extra = '') =>
  `{ records(dataset: "${dataset}", fields: ${JSON.stringify(fields)}${extra}, first: 5) { items { grainId } } }`;

describe('the auditors’ trail and the verifiable log', () => {
  let t: TestGateway;
  const flag = { failing: false };
  let auditor: string;
  before(async () => {
    const dir = `${process.env.TMPDIR ?? '/tmp'}/citygate-audit-${process.pid}-${Date.now()}`;
    const open = async () => flaky(await FileLogStorage.open(dir), flag);
    t = await startTestGateway({ rooms: 1500, overrides: { logStorage: await open(), reopenLogStorage: open } });
    auditor = await t.token('data-bureau', ['auditor']);
  });
  after(async () => {
    await t?.close();
  });

  it('searches the trail by requester, org, dataset, purpose, outcome and time', async () => {
    const start = new Date(Date.now() - 1000);
    const owner = await t.token('public-security', ['owner'], { sub: 'li.owner' });
    await t.gql(RECORDS('residents-per-room', ['resident_count']), {}, { token: owner });
    await t.gql(RECORDS('residents-per-room', ['resident_count'])); // public: refused
    const q = `query($f: TrailFilterInput) { auditTrail(filter: $f, first: 50) { index at sub org dataset purpose tier released refusal rows } }`;
    const bySub = await t.gql(q, { f: { sub: 'li.owner' } }, { token: auditor });
    const e1 = bySub.body.data!.auditTrail as { sub: string; released: boolean; rows: number }[];
    assert.ok(e1.length >= 1 && e1.every((e) => e.sub === 'li.owner' && e.released && e.rows === 5));
    const refused = await t.gql(
      q,
      { f: { dataset: 'residents-per-room', released: false, from: start.toISOString() } },
      { token: auditor },
    );
    const e2 = refused.body.data!.auditTrail as { tier: string; refusal: string }[];
    assert.ok(e2.length >= 1 && e2.every((e) => e.tier === 'public' && e.refusal === 'FORBIDDEN'));
    const future = await t.gql(q, { f: { from: new Date(Date.now() + 3_600_000).toISOString() } }, { token: auditor });
    assert.deepEqual(future.body.data!.auditTrail, []);
    const values = JSON.stringify(bySub.body);
    assert.ok(!/"value"/.test(values), 'the trail carries no data values');
  });

  it('tells who touched a space grain, and when', async () => {
    const owner = await t.token('public-security', ['owner'], { sub: 'wang.owner' });
    const r = await t.gql(RECORDS('residents-per-room', ['tenure']), {}, { token: owner });
    const grain = (r.body.data!.records as { items: { grainId: string }[] }).items[0]!.grainId;
    const touched = await t.gql(`{ grainAccess(grain: "${grain}") { sub dataset at } }`, {}, { token: auditor });
    const entries = touched.body.data!.grainAccess as { sub: string; dataset: string }[];
    assert.ok(entries.some((e) => e.sub === 'wang.owner' && e.dataset === 'residents-per-room'));
    const none = await t.gql('{ grainAccess(grain: "room:nowhere") { sub } }', {}, { token: auditor });
    assert.deepEqual(none.body.data!.grainAccess, []);
  });

  it('reports access per dataset', async () => {
    const r = await t.gql(
      '{ accessReport(dataset: "residents-per-room") { org purpose released requests rows } }',
      {},
      { token: auditor },
    );
    const lines = r.body.data!.accessReport as { org: string | null; released: boolean; requests: number }[];
    assert.ok(lines.some((l) => l.org === 'public-security' && l.released && l.requests >= 2));
    assert.ok(lines.some((l) => l.org === null && !l.released));
  });

  it('flags bursts, repeated refusals and access outside a grant’s purpose or extent', async () => {
    const analyst = await t.token('planning-bureau', ['analyst'], { sub: 'zhao.analyst' });
    for (let i = 0; i < 4; i++) await t.gql(RECORDS('elderly-living-alone', ['elder_count']), {}, { token: analyst });
    await t.gql(RECORDS('building-energy', ['electricity_kwh'], ', purpose: research'), {}, { token: analyst });
    const outside = await t.gw.db.query<{ id: string }>(
      `select id from units where level = 'community' and district_id <> 'district:310101' limit 1`,
    );
    await t.gql(
      RECORDS('building-energy', ['electricity_kwh'], `, purpose: urban_planning, within: "${outside[0]!.id}"`),
      {},
      { token: analyst },
    );
    const inside = await t.gw.db.query<{ id: string }>(
      `select id from units where level = 'community' and district_id = 'district:310101' limit 1`,
    );
    await t.gql(
      RECORDS('building-energy', ['electricity_kwh'], `, purpose: urban_planning, within: "${inside[0]!.id}"`),
      {},
      { token: analyst },
    );
    const r = await t.gql(
      '{ auditFlags(burstPerMinute: 5, refusals: 4) { kind sub org dataset count index detail } }',
      {},
      { token: auditor },
    );
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    const flags = (r.body.data!.auditFlags as { kind: string; sub: string; detail: string }[]).filter(
      (f) => f.sub === 'zhao.analyst',
    );
    const kinds = new Set(flags.map((f) => f.kind));
    for (const k of ['burst', 'repeated-refusals', 'outside-grant-purpose', 'outside-grant-extent'])
      assert.ok(kinds.has(k), `missing ${k}: ${JSON.stringify(flags)}`);
    assert.equal(
      flags.filter((f) => f.kind === 'outside-grant-extent').length,
      1,
      'a request inside the extent is not flagged',
    );
  });

  it('exports CSV with formula-like cells neutralised', async () => {
    const evil = await t.token('public-security', ['owner'], { sub: '=HYPERLINK("x")' });
    await t.gql(RECORDS('residents-per-room', ['tenure']), {}, { token: evil });
    const r = await t.gql('{ auditTrailCsv(filter: { org: "public-security" }) }', {}, { token: auditor });
    const csv = r.body.data!.auditTrailCsv as string;
    const lines = csv.trim().split('\r\n');
    assert.equal(
      lines[0],
      'index,at,sub,org,roles,purpose,dataset,mode,fields,tier,released,refusal,grant_id,rows,within,kind,application_id,reason',
    );
    assert.ok(lines.length >= 3);
    assert.ok(csv.includes(`"'=HYPERLINK(""x"")"`), 'a leading = is prefixed and the cell quoted');
    assert.ok(!/\n=|,=/.test(csv));
  });

  it('audit queries are for auditors only', async () => {
    const analyst = await t.token('planning-bureau', ['analyst']);
    for (const q of [
      '{ auditTrail { index } }',
      '{ grainAccess(grain: "x") { index } }',
      '{ accessReport(dataset: "x") { org } }',
      '{ auditFlags { kind } }',
      '{ auditTrailCsv }',
    ]) {
      assert.equal(errorCode(await t.gql(q, {}, { token: analyst })), 'FORBIDDEN', q);
      assert.equal(errorCode(await t.gql(q)), 'FORBIDDEN', q);
    }
  });

  it('a receipt verifies offline with the log’s public key; tampering is caught', async () => {
    const owner = await t.token('public-security', ['owner'], { sub: 'chen.owner' });
    const r = await t.gql(RECORDS('residents-per-room', ['tenure']), {}, { token: owner });
    const receipt = r.body.extensions!.receipts![0]!;
    const bundleRes = await t.gql(`{ receiptBundle(index: ${receipt.index}) }`, {}, { token: owner });
    assert.equal(bundleRes.body.errors, undefined, JSON.stringify(bundleRes.body.errors));
    const bundle = JSON.parse(bundleRes.body.data!.receiptBundle as string) as ReceiptBundle;
    assert.equal(bundle.receipt.leafHash, receipt.leafHash);
    const pem = ((await t.gql('{ logPublicKey { pem } }')).body.data!.logPublicKey as { pem: string }).pem;
    assert.deepEqual(verifyBundle(bundle, pem), { ok: true });
    const tampered = structuredClone(bundle);
    assert.equal(tampered.record.kind, 'access');
    if (tampered.record.kind === 'access') tampered.record.outcome.rows += 1;
    assert.equal(verifyBundle(tampered, pem).ok, false);
    // Someone else's receipt bundle is not theirs to read.
    const other = await t.token('planning-bureau', ['analyst']);
    assert.equal(
      errorCode(await t.gql(`{ receiptBundle(index: ${receipt.index}) }`, {}, { token: other })),
      'FORBIDDEN',
    );
    assert.equal(
      errorCode(await t.gql(`{ receiptBundle(index: ${receipt.index}) }`, {}, { token: auditor })),
      undefined,
    );
    // Another owner of the dataset's department sees who used its data; an owner elsewhere does not.
    const colleague = await t.token('public-security', ['owner'], { sub: 'li.owner' });
    const seen = await t.gql(`{ receiptBundle(index: ${receipt.index}) }`, {}, { token: colleague });
    assert.equal(seen.body.errors, undefined, JSON.stringify(seen.body.errors));
    const elsewhere = await t.token('transport', ['owner']);
    assert.equal(
      errorCode(await t.gql(`{ receiptBundle(index: ${receipt.index}) }`, {}, { token: elsewhere })),
      'FORBIDDEN',
    );
  });

  it('a saved checkpoint is consistent with a later tree head', async () => {
    const sth = async () =>
      (await t.gql('{ logTreeHead { logId treeSize rootHash timestamp signature } }')).body.data!.logTreeHead as never;
    const saved = (await sth()) as { treeSize: number };
    await t.gql(RECORDS('public-facilities', ['name']));
    const newer = (await sth()) as { treeSize: number };
    assert.ok(newer.treeSize > saved.treeSize);
    const p = await t.gql(
      `{ consistencyProof(fromSize: ${saved.treeSize}, toSize: ${newer.treeSize}) { fromSize toSize hashes } }`,
    );
    const pem = ((await t.gql('{ logPublicKey { pem } }')).body.data!.logPublicKey as { pem: string }).pem;
    assert.deepEqual(verifyCheckpoint(saved as never, newer as never, p.body.data!.consistencyProof as never, pem), {
      ok: true,
    });
    const bad = await t.gql(
      `{ consistencyProof(fromSize: ${newer.treeSize + 5}, toSize: ${newer.treeSize + 6}) { hashes } }`,
    );
    assert.equal(errorCode(bad), 'BAD_USER_INPUT');
  });

  it('nothing is released while the log cannot write; health and the catalogue still answer; then it recovers', async () => {
    flag.failing = true;
    try {
      const r = await t.gql(RECORDS('public-facilities', ['name']));
      assert.equal(errorCode(r), 'UNAVAILABLE');
      assert.equal(r.body.data, null);
      assert.ok(!r.raw.includes('grainId'));
      assert.equal(errorCode(await t.gql('{ health datasets { id } }')), undefined);
      const res = await t.app.getHttpAdapter().getInstance().inject({ method: 'GET', url: '/healthz' });
      assert.equal(res.statusCode, 200);
    } finally {
      flag.failing = false;
    }
    await new Promise((r) => setTimeout(r, 1100)); // the log reopens its storage a moment after a failure
    const again = await t.gql(RECORDS('public-facilities', ['name']));
    assert.equal(errorCode(again), undefined);
  });
});
