/**
 * Owner approval of encrypted computations end to end (issue 12, docs/encrypted-columns.md): computations are
 * logged pending; the owner approves one and refuses another (GraphQL and the CLI); the owner's key holder opens
 * only the approved one, once, also after a restart; a standing rule approves a matching computation and not a
 * non-matching one; only the owner decides; a gateway whose log was rolled back is caught by the key holder.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { uploadKeyBundle } from '../../src/cli/he.commands.js';
import { encryptColumn } from '../../src/encrypted/column-codec.js';
import { bundleToJson } from '../../src/encrypted/key-bundle-json.js';
import { BFV_PARAMS, createHeContext, type HeContext } from '../../src/encrypted/he-params.js';
import { generateOwnerKeys, type OwnerKeys } from '../../src/encrypted/keys.js';
import { KeyHolder } from '../../src/encrypted/keyholder.js';
import {
  fileCheckpoint,
  fileOpenedCells,
  logApprovals,
  startKeyHolderServer,
  type GatewayGraphql,
  type KeyHolderServer,
} from '../../src/encrypted/keyholder.server.js';
import { loadSeal } from '../../src/encrypted/seal-runtime.js';
import type { ProvenanceRecord } from '../../src/ledger/provenance-record.js';
import { PgliteDb } from '../../src/store/pglite.adapter.js';
import { errorCode, startTestGateway, type TestGateway } from '../support/test-gateway.js';

const DS = 'building-energy';
const COL = 'electricity_kwh';
const OWNER_ORG = 'housing-construction';
// planning-bureau holds a demo grant on this column for urban planning within district 310101.
const PLANNER_ORG = 'planning-bureau';
const ENV = { CITYGATE_REQUEST_TIMEOUT_MS: '120000' };
const CLI = path.resolve(import.meta.dirname, '../../src/cli/main.js');

const AGG = `query($kind: String!, $groupBy: String, $purpose: String) {
  encryptedAggregate(dataset: "${DS}", column: "${COL}", kind: $kind, groupBy: $groupBy, purpose: $purpose) {
    computationId approval receiptIndex cells { group records unitsCovered suppressed ciphertext }
  }
}`;
const COMPUTATION = `computationId dataset column kind requesterOrg purpose cells minUnitsCovered receiptIndex status
  ruleId decisionIndex decidedBy reason`;
const APPROVE = `mutation($id: String!) { approveEncryptedComputation(id: $id, reason: "planning study") { ${COMPUTATION} } }`;
const PENDING = `{ encryptedComputations(status: "pending") { ${COMPUTATION} } }`;
const SET_RULE = `mutation($o: [String!]!, $p: [String!], $k: [String!], $m: Int!) {
  setEncryptedApprovalRule(dataset: "${DS}", column: "${COL}", orgs: $o, purposes: $p, kinds: $k, minUnits: $m) {
    ruleId orgs purposes kinds minUnits setIndex revoked
  }
}`;

interface Agg {
  computationId: string;
  approval: string;
  receiptIndex: number;
  cells: { group: string | null; records: number; unitsCovered: number; ciphertext: string | null }[];
}

const run = (args: string[], env: Record<string, string>) =>
  new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => resolve({ code, out, err }));
  });

describe('owner approval of encrypted computations', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'citygate-he-appr-'));
  const snapshotDir = fs.mkdtempSync(path.join(os.tmpdir(), 'citygate-he-appr-snap-'));
  const khDir = fs.mkdtempSync(path.join(os.tmpdir(), 'citygate-he-appr-kh-'));
  let db: PgliteDb;
  let tg: TestGateway;
  /** The gateway the key holder talks to (the rolled-back one at the end). */
  let serving: () => TestGateway;
  let ctx: HeContext;
  let keys: OwnerKeys;
  let holder: KeyHolder;
  let kh: KeyHolderServer | null = null;
  const tokens: Record<string, string> = {};
  const extra: TestGateway[] = [];
  const approved: Agg[] = [];
  const refused: Agg[] = [];
  const pending: Agg[] = [];

  const as = (who: string) => (query: string, variables?: Record<string, unknown>) =>
    tg.gql(query, variables, { token: tokens[who] });
  const data = <T>(r: Awaited<ReturnType<TestGateway['gql']>>, field: string): T => {
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    return r.body.data?.[field] as T;
  };
  const aggregate = async (who: string, vars: { kind: string; groupBy?: string; purpose?: string }) =>
    data<Agg>(await as(who)(AGG, { groupBy: null, purpose: null, ...vars }), 'encryptedAggregate');

  /** The key holder's GraphQL (an owner token of the owning department), to whichever gateway is serving. */
  const keyHolderGql: GatewayGraphql = async (query, variables) => {
    const r = await serving().gql(query, variables, { token: tokens.owner });
    if (!r.body.data || r.body.errors) throw new Error(r.body.errors?.[0]?.message ?? 'no data');
    return r.body.data;
  };
  const startKeyHolder = async () => {
    kh = await startKeyHolderServer({
      keyHolder: holder,
      approvals: logApprovals(keyHolderGql, tg.gw.log.publicKey().pem, keys.public.keyId, {
        checkpoint: fileCheckpoint(path.join(khDir, 'checkpoint.json')),
        ownerOrg: OWNER_ORG,
      }),
      opened: fileOpenedCells(path.join(khDir, 'opened-cells.jsonl')),
    });
  };
  const decrypt = async (agg: Agg, cell = 0) => {
    const res = await fetch(`${kh!.url}/decrypt`, {
      method: 'POST',
      body: JSON.stringify({
        computationId: agg.computationId,
        receiptIndex: agg.receiptIndex,
        cell,
        ciphertext: agg.cells[cell]!.ciphertext,
      }),
    });
    return { status: res.status, body: (await res.json()) as { value?: number; refusal?: string } };
  };

  before(async () => {
    db = await PgliteDb.open(null);
    tg = await startTestGateway({ rooms: 400, dataDir, db, env: ENV });
    serving = () => tg;
    tokens.owner = await tg.token(OWNER_ORG, ['owner']);
    tokens.ownerAnalyst = await tg.token(OWNER_ORG, ['analyst']);
    tokens.otherOwner = await tg.token('civil-affairs', ['owner']);
    tokens.planner = await tg.token(PLANNER_ORG, ['analyst']);
    ctx = createHeContext(await loadSeal(), BFV_PARAMS);
    keys = generateOwnerKeys(ctx);
    holder = new KeyHolder(ctx, keys.secret, { k: 1, approvals: () => Promise.resolve(null) });
    await uploadKeyBundle(
      async (q, v) => {
        const r = await as('owner')(q, v);
        assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
        return r.body.data!;
      },
      DS,
      COL,
      bundleToJson(keys.public),
    );
    const rows = await db.query<{ id: string; v: number }>(
      `select id, round(electricity_kwh)::int as v from ds_building_energy order by id`,
    );
    const up = await encryptColumn(
      ctx,
      keys.public,
      rows.map((r) => Number(r.v)),
      { maxAbs: 1_000_000 },
    );
    data(
      await as('owner')(
        `mutation($l: String!, $ids: [String!]!) { beginEncryptedColumn(dataset: "${DS}", column: "${COL}", layout: $l, recordIds: $ids) { total } }`,
        { l: JSON.stringify(up.layout), ids: rows.map((r) => r.id) },
      ),
      'beginEncryptedColumn',
    );
    for (const [i, ct] of up.ciphertexts.entries()) {
      data(
        await as('owner')(
          `mutation($i: Int!, $c: String!) { uploadCiphertextChunk(dataset: "${DS}", column: "${COL}", index: $i, ciphertext: $c) { received } }`,
          { i, c: Buffer.from(ct).toString('base64') },
        ),
        'uploadCiphertextChunk',
      );
    }
  });

  after(async () => {
    await kh?.close();
    for (const g of extra) await g.close();
    await tg?.close();
    await db?.close();
    holder?.delete();
    ctx?.delete();
    for (const d of [dataDir, snapshotDir, khDir]) fs.rmSync(d, { recursive: true, force: true });
  });

  it('logs computations pending; the owner approves one (GraphQL) and refuses another (CLI)', async () => {
    const planned = await aggregate('planner', { kind: 'sum', purpose: 'urban-planning' });
    const own = await aggregate('owner', { kind: 'sum' });
    const later = await aggregate('planner', { kind: 'sum', groupBy: 'district', purpose: 'urban-planning' });
    for (const a of [planned, own, later]) assert.equal(a.approval, 'pending');
    const entry = await tg.gw.log.get(planned.receiptIndex);
    const logged = entry?.record.kind === 'access' ? entry.record.encrypted : undefined;
    assert.deepEqual([logged?.approved, logged?.approval], [false, { status: 'pending' }]);

    // The owner sees both, with who asked and why; nothing else sees them.
    const list = data<{ computationId: string; requesterOrg: string; purpose: string | null }[]>(
      await as('owner')(PENDING),
      'encryptedComputations',
    );
    const mine = list.find((c) => c.computationId === planned.computationId);
    assert.deepEqual([mine?.requesterOrg, mine?.purpose], [PLANNER_ORG, 'urban-planning']);
    assert.ok(list.some((c) => c.computationId === own.computationId));
    assert.deepEqual(data(await as('otherOwner')(PENDING), 'encryptedComputations'), []);
    assert.equal(errorCode(await as('planner')(PENDING)), 'FORBIDDEN');

    const ok = data<{ status: string; decisionIndex: number; decidedBy: string }>(
      await as('owner')(APPROVE, { id: planned.computationId }),
      'approveEncryptedComputation',
    );
    assert.equal(ok.status, 'approved');
    // The decision is a provenance record naming the computation's record.
    const step = (await tg.gw.log.get(ok.decisionIndex))?.record as ProvenanceRecord;
    assert.equal(step.kind, 'he-approved');
    assert.ok(step.kind === 'he-approved');
    assert.deepEqual(
      [step.computation.id, step.computation.index, step.computation.leafHash],
      [planned.computationId, planned.receiptIndex, (await tg.gw.log.get(planned.receiptIndex))?.leafHash],
    );
    assert.equal(step.requester.org, OWNER_ORG);

    // Refused with the CLI, over HTTP with the owner's token.
    await tg.app.listen(0, '127.0.0.1');
    const url = `http://127.0.0.1:${(tg.app.getHttpServer().address() as AddressInfo).port}`;
    const cli = await run(['he', 'refuse', own.computationId, '--gateway', url, '--reason', 'not for this study'], {
      CITYGATE_TOKEN: tokens.owner!,
    });
    assert.equal(cli.code, 0, cli.err);
    assert.match(cli.out, /refused/);
    const listed = await run(['he', 'pending', '--gateway', url, '--json'], { CITYGATE_TOKEN: tokens.owner! });
    const still = JSON.parse(listed.out) as { computationId: string }[];
    assert.deepEqual(
      still.map((c) => c.computationId),
      [later.computationId],
      'only the undecided one is pending',
    );
    // A decision is final.
    assert.equal(errorCode(await as('owner')(APPROVE, { id: own.computationId })), 'BAD_USER_INPUT');
    approved.push(planned);
    refused.push(own);
    pending.push(later);
  });

  it('only the owning organisation’s owner decides; others cannot tell whether an id exists', async () => {
    const id = pending[0]!.computationId;
    // Not an owner (even of the owning department): FORBIDDEN.
    for (const who of ['planner', 'ownerAnalyst']) {
      assert.equal(errorCode(await as(who)(APPROVE, { id })), 'FORBIDDEN', who);
    }
    // Another organisation's owner: NOT_FOUND, the same answer as for an id that does not exist.
    const theirs = await as('otherOwner')(APPROVE, { id });
    const unknown = await as('otherOwner')(APPROVE, { id: crypto.randomUUID() });
    assert.equal(errorCode(theirs), 'NOT_FOUND');
    assert.deepEqual(theirs.body.errors?.[0]?.message, unknown.body.errors?.[0]?.message);
    assert.equal(errorCode(unknown), 'NOT_FOUND');
    const refuse = `mutation($id: String!) { refuseEncryptedComputation(id: $id, reason: "x") { status } }`;
    assert.equal(errorCode(await as('otherOwner')(refuse, { id })), 'NOT_FOUND');
    // The CLI shows the code.
    await tg.app.listen(0, '127.0.0.1').catch(() => undefined);
    const url = `http://127.0.0.1:${(tg.app.getHttpServer().address() as AddressInfo).port}`;
    const cli = await run(['he', 'approve', id, '--gateway', url], { CITYGATE_TOKEN: tokens.planner! });
    assert.equal(cli.code, 1);
    assert.match(cli.err, /FORBIDDEN/);
    const status = data<{ status: string }>(
      await as('owner')(`query($id: String!) { encryptedComputation(id: $id) { status } }`, { id }),
      'encryptedComputation',
    );
    assert.equal(status.status, 'pending');

    // Snapshot of the log as it is now (the gateway stopped, its files copied), for the rollback test below.
    await tg.close();
    fs.cpSync(dataDir, snapshotDir, { recursive: true });
    tg = await startTestGateway({ rooms: 400, dataDir, db, env: ENV });
  });

  it('the key holder opens only the approved computation, once, also after a restart', async () => {
    await startKeyHolder();
    const expected = await db.query<{ s: number }>(
      `select sum(round(e.electricity_kwh))::float8 as s from ds_building_energy e join grains g on g.id = e.grain_id
       where g.district_id = 'district:310101'`,
    );
    const before = holder.decryptions;
    const first = await decrypt(approved[0]!);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.value, Math.round(expected[0]!.s / 5) * 5);
    assert.deepEqual((await decrypt(refused[0]!)).body.refusal, 'REFUSED_BY_OWNER');
    assert.deepEqual((await decrypt(pending[0]!)).body.refusal, 'PENDING_APPROVAL');
    // A replay, also concurrent, is refused; and after the key holder restarts.
    const again = await Promise.all([decrypt(approved[0]!), decrypt(approved[0]!)]);
    assert.deepEqual(
      again.map((r) => [r.status, r.body.refusal]),
      [
        [403, 'REPLAY'],
        [403, 'REPLAY'],
      ],
    );
    await kh!.close();
    await startKeyHolder();
    assert.deepEqual((await decrypt(approved[0]!)).body.refusal, 'REPLAY');
    assert.equal(holder.decryptions, before + 1, 'one decryption in all');
  });

  it('a standing rule approves a matching computation, and not another organisation’s or one with too few units', async () => {
    const units = approved[0]!.cells[0]!.unitsCovered;
    // Only the owner sets rules.
    const vars = { o: [PLANNER_ORG], p: ['urban-planning'], k: ['sum'], m: units };
    assert.equal(errorCode(await as('planner')(SET_RULE, vars)), 'FORBIDDEN');
    assert.equal(errorCode(await as('otherOwner')(SET_RULE, vars)), 'NOT_FOUND');
    const rule = data<{ ruleId: string; setIndex: number }>(
      await as('owner')(SET_RULE, vars),
      'setEncryptedApprovalRule',
    );
    assert.equal((await tg.gw.log.get(rule.setIndex))?.record.kind, 'he-rule-set');

    const match = await aggregate('planner', { kind: 'sum', purpose: 'urban-planning' });
    assert.equal(match.approval, 'approved');
    const logged = (await tg.gw.log.get(match.receiptIndex))?.record;
    assert.ok(logged?.kind === 'access');
    assert.deepEqual(logged.encrypted?.approval, { status: 'approved', ruleId: rule.ruleId, ruleIndex: rule.setIndex });
    const opened = await decrypt(match);
    assert.equal(opened.status, 200, JSON.stringify(opened.body));

    // Another organisation (the owner itself is not named), too few units per cell, another kind: pending.
    const otherOrg = await aggregate('owner', { kind: 'sum' });
    const fewUnits = await aggregate('planner', { kind: 'sum', groupBy: 'community', purpose: 'urban-planning' });
    const otherKind = await aggregate('planner', { kind: 'mean', purpose: 'urban-planning' });
    for (const a of [otherOrg, fewUnits, otherKind]) assert.equal(a.approval, 'pending');
    assert.ok(fewUnits.cells.some((c) => c.unitsCovered < units));
    assert.equal((await decrypt(otherOrg)).body.refusal, 'PENDING_APPROVAL');
    assert.equal((await decrypt(fewUnits)).body.refusal, 'PENDING_APPROVAL');

    // Revoked (logged first): the same request waits for the owner again.
    const revoke = `mutation($id: String!) { revokeEncryptedApprovalRule(id: $id, reason: "study over") { revoked revokeIndex } }`;
    assert.equal(errorCode(await as('otherOwner')(revoke, { id: rule.ruleId })), 'NOT_FOUND');
    const revoked = data<{ revoked: boolean; revokeIndex: number }>(
      await as('owner')(revoke, { id: rule.ruleId }),
      'revokeEncryptedApprovalRule',
    );
    assert.equal(revoked.revoked, true);
    assert.equal((await tg.gw.log.get(revoked.revokeIndex))?.record.kind, 'he-rule-revoked');
    assert.equal((await aggregate('planner', { kind: 'sum', purpose: 'urban-planning' })).approval, 'pending');
  });

  it('the key holder detects a gateway whose log was rolled back, and a fork grown past its checkpoint', async () => {
    const checkpoint = fileCheckpoint(path.join(khDir, 'checkpoint.json')).load();
    assert.ok(checkpoint);
    // The gateway comes back on the snapshot taken earlier (a restored backup): same log key, shorter log.
    const rolled = await startTestGateway({ rooms: 400, dataDir: snapshotDir, env: ENV });
    extra.push(rolled);
    assert.ok((await rolled.gw.log.size()) < checkpoint.treeSize);
    serving = () => rolled;
    // The approved computation is in the restored log, but the log cannot prove what the key holder saw.
    const before = holder.decryptions;
    const out = await decrypt(approved[0]!);
    assert.deepEqual([out.status, out.body.refusal], [403, 'LOG_INCONSISTENT']);
    // It grows a different history past the checkpoint: still refused, and after a key holder restart.
    while ((await rolled.gw.log.size()) <= checkpoint.treeSize) {
      await rolled.gql(AGG, { kind: 'sum', groupBy: null, purpose: null });
    }
    await kh!.close();
    await startKeyHolder();
    assert.deepEqual((await decrypt(pending[0]!)).body.refusal, 'LOG_INCONSISTENT');
    assert.equal(holder.decryptions, before, 'nothing was decrypted');
    assert.equal(fileCheckpoint(path.join(khDir, 'checkpoint.json')).load()?.rootHash, checkpoint.rootHash);
  });
});
