/**
 * Encrypted columns end to end (DESIGN.md §8): the owner uploads a public key bundle and a BFV-encrypted
 * column (resumably), a requester asks for an encrypted aggregate, the owner's key holder decrypts only
 * what the gateway's verifiable log approves (by the owner's standing rule, or by the owner with the CLI).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import { uploadKeyBundle } from '../../src/cli/he.commands.js';
import { encryptColumn, type EncryptedColumnUpload } from '../../src/encrypted/column-codec.js';
import { KEY_BUNDLE_PART_BYTES } from '../../src/encrypted/encrypted-uploads.service.js';
import { bundleToJson } from '../../src/encrypted/key-bundle-json.js';
import { BFV_PARAMS, CKKS_PARAMS, createHeContext, type HeContext } from '../../src/encrypted/he-params.js';
import { generateOwnerKeys, type OwnerKeys } from '../../src/encrypted/keys.js';
import { KeyHolder, roundValue } from '../../src/encrypted/keyholder.js';
import {
  decryptFromLog,
  logApprovals,
  memoryCheckpoint,
  memoryOpenedCells,
  startKeyHolderServer,
  type ApprovalSource,
  type GatewayGraphql,
} from '../../src/encrypted/keyholder.server.js';
import { loadSeal } from '../../src/encrypted/seal-runtime.js';
import { errorCode, startTestGateway, type TestGateway } from '../support/test-gateway.js';

const DS = 'building-energy';
const COL = 'electricity_kwh';
const OWNER_ORG = 'housing-construction';

const AGG = `query($kind: String!, $groupBy: String, $within: String) {
  encryptedAggregate(dataset: "${DS}", column: "${COL}", kind: $kind, groupBy: $groupBy, within: $within) {
    computationId receiptIndex leafHash scheme keyId
    cells { group records unitsCovered suppressed ciphertext sha256 }
  }
}`;

interface Cell {
  group: string | null;
  records: number;
  unitsCovered: number;
  suppressed: boolean;
  ciphertext: string | null;
  sha256: string | null;
}
interface Agg {
  computationId: string;
  receiptIndex: number;
  cells: Cell[];
}

describe('encrypted columns: owner upload, encrypted aggregate, key holder', () => {
  let tg: TestGateway;
  let ctx: HeContext;
  let keys: OwnerKeys;
  let ownerToken: string;
  let ownerGql: GatewayGraphql;
  let exact: KeyHolder;
  let strict: KeyHolder;
  let approvals: ApprovalSource;
  let upload: EncryptedColumnUpload;
  let recordIds: string[];
  let values: number[];

  before(async () => {
    // The default 1 MiB body limit: the key bundle (several MB of Galois keys) goes up in parts.
    tg = await startTestGateway({ rooms: 400 });
    ctx = createHeContext(await loadSeal(), BFV_PARAMS);
    keys = generateOwnerKeys(ctx);
    ownerToken = await tg.token(OWNER_ORG, ['owner']);
    // The key holder reads approvals with the owning department's own token, and keeps a checkpoint.
    ownerGql = async (query, variables) => {
      const r = await tg.gql(query, variables, { token: ownerToken });
      if (!r.body.data || r.body.errors) throw new Error(r.body.errors?.[0]?.message ?? 'no data');
      return r.body.data;
    };
    approvals = logApprovals(ownerGql, tg.gw.log.publicKey().pem, keys.public.keyId, {
      checkpoint: memoryCheckpoint(),
    });
    // The owner approves its own computations on both columns by a standing rule (he-approvals.e2e-spec.ts
    // covers manual approval, refusal and rules that do not match).
    for (const column of [COL, 'gas_m3']) {
      await ownerGql(
        `mutation($c: String!) { setEncryptedApprovalRule(dataset: "${DS}", column: $c, orgs: ["${OWNER_ORG}"], minUnits: 1) { ruleId } }`,
        { c: column },
      );
    }
    exact = new KeyHolder(ctx, keys.secret, {
      k: 1,
      approvals: () => Promise.resolve(null),
      integerRounding: { rule: 'base', base: 1 },
    });
    strict = new KeyHolder(ctx, keys.secret, { k: 1000, approvals: () => Promise.resolve(null) });
    // The owner's own data: rows in record-id order, electricity as whole kWh.
    const rows = await tg.gw.db.query<{ id: string; v: number }>(
      `select id, round(electricity_kwh)::int as v from ds_building_energy order by id`,
    );
    recordIds = rows.map((r) => r.id);
    values = rows.map((r) => Number(r.v));
    upload = await encryptColumn(ctx, keys.public, values, { maxAbs: 1_000_000 });
  });

  after(async () => {
    exact?.delete();
    strict?.delete();
    ctx?.delete();
    await tg?.close();
  });

  const begin = (token: string) =>
    tg.gql(
      `mutation($l: String!, $ids: [String!]!) { beginEncryptedColumn(dataset: "${DS}", column: "${COL}", layout: $l, recordIds: $ids) { received total missing } }`,
      { l: JSON.stringify(upload.layout), ids: recordIds },
      { token },
    );
  const chunk = (token: string, index: number, bytes: Uint8Array) =>
    tg.gql(
      `mutation($i: Int!, $c: String!) { uploadCiphertextChunk(dataset: "${DS}", column: "${COL}", index: $i, ciphertext: $c) { received total missing } }`,
      { i: index, c: Buffer.from(bytes).toString('base64') },
      { token },
    );

  const PART = `mutation($c: String!, $s: String!, $i: Int!, $n: Int!, $p: String!) {
    uploadHeKeyBundlePart(dataset: "${DS}", column: $c, sha256: $s, index: $i, count: $n, part: $p) {
      received total missing keyId
    }
  }`;

  it('refuses uploads from anyone but an owner of the owning department', async () => {
    const other = await tg.token('civil-affairs', ['owner']);
    const analyst = await tg.token(OWNER_ORG, ['analyst']);
    const p = { c: COL, s: 'a'.repeat(64), i: 0, n: 1, p: Buffer.from('{}').toString('base64') };
    for (const token of [other, analyst]) {
      assert.equal(errorCode(await tg.gql(PART, p, { token })), 'FORBIDDEN');
    }
  });

  it('the owner uploads the key bundle in parts and the column; both resume after an interruption', async () => {
    const json = Buffer.from(bundleToJson(keys.public));
    assert.ok(json.length > 1024 * 1024, 'the bundle alone exceeds the body limit');
    const sha = createHash('sha256').update(json).digest('hex');
    const count = Math.ceil(json.length / KEY_BUNDLE_PART_BYTES);
    const part = (i: number) => json.subarray(i * KEY_BUNDLE_PART_BYTES, (i + 1) * KEY_BUNDLE_PART_BYTES);
    // Interrupted after two parts.
    for (const i of [0, 1]) {
      const r = await tg.gql(
        PART,
        { c: COL, s: sha, i, n: count, p: part(i).toString('base64') },
        { token: ownerToken },
      );
      assert.equal((r.body.data?.uploadHeKeyBundlePart as { keyId: string | null }).keyId, null);
    }
    // A different part at a stored index, and parts that do not hash to the announced bundle, are refused.
    const clash = await tg.gql(
      PART,
      { c: COL, s: sha, i: 0, n: count, p: part(1).toString('base64') },
      { token: ownerToken },
    );
    assert.equal(errorCode(clash), 'BAD_USER_INPUT');
    // The CLI's uploader resumes: its first answer lists what is missing.
    let sent = 0;
    const counting: GatewayGraphql = (q, v) => {
      if (q.includes('uploadHeKeyBundlePart')) sent++; // status polls aside
      return ownerGql(q, v);
    };
    assert.equal(await uploadKeyBundle(counting, DS, COL, json.toString('utf8')), keys.public.keyId);
    assert.equal(sent, count - 1, 'part 0 again, then only the missing parts');
    const b = await begin(ownerToken);
    assert.deepEqual(b.body.data?.beginEncryptedColumn, {
      received: 0,
      total: upload.layout.ciphertexts,
      missing: [...Array(upload.layout.ciphertexts).keys()],
    });
    assert.equal(
      errorCode(await chunk(await tg.token('civil-affairs', ['owner']), 0, upload.ciphertexts[0]!)),
      'FORBIDDEN',
    );
    for (const [i, ct] of upload.ciphertexts.entries()) {
      const r = await chunk(ownerToken, i, ct);
      assert.equal((r.body.data?.uploadCiphertextChunk as { received: number }).received, i + 1);
    }
    // Interrupted and restarted: begin again reports nothing missing; re-sending is a no-op.
    const again = await begin(ownerToken);
    assert.deepEqual((again.body.data?.beginEncryptedColumn as { missing: number[] }).missing, []);
    const resent = await chunk(ownerToken, 0, upload.ciphertexts[0]!);
    assert.equal((resent.body.data?.uploadCiphertextChunk as { received: number }).received, upload.layout.ciphertexts);
  });

  it('a BFV sum grouped by district equals the plaintext SQL sum, through the verified log', async () => {
    const r = await tg.gql(AGG, { kind: 'sum', groupBy: 'district' }, { token: ownerToken });
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    const agg = r.body.data?.encryptedAggregate as Agg;
    const expected = await tg.gw.db.query<{ d: string; s: number; n: number }>(
      `select g.district_id as d, sum(round(e.electricity_kwh))::float8 as s, count(*)::int as n
       from ds_building_energy e join grains g on g.id = e.grain_id group by g.district_id order by d`,
    );
    assert.deepEqual(
      agg.cells.map((c) => [c.group, c.records]),
      expected.map((e) => [e.d, e.n]),
    );
    for (const [i, cell] of agg.cells.entries()) {
      const out = await decryptFromLog(exact, approvals, {
        computationId: agg.computationId,
        receiptIndex: agg.receiptIndex,
        cell: i,
        kind: 'sum',
        ciphertext: cell.ciphertext!,
      });
      assert.ok(out.ok, JSON.stringify(out));
      assert.equal(out.released.value, expected[i]!.s);
    }
  });

  it('refuses a forged computation, a ciphertext from outside, a tampered record and a result below k', async () => {
    const r = await tg.gql(AGG, { kind: 'sum', groupBy: null }, { token: ownerToken });
    const agg = r.body.data?.encryptedAggregate as Agg;
    const cell = agg.cells[0]!;
    const base = { computationId: agg.computationId, receiptIndex: agg.receiptIndex, cell: 0, kind: 'sum' as const };
    const before = exact.decryptions;
    const refusal = async (kh: KeyHolder, body: typeof base & { ciphertext: string }) => {
      const out = await decryptFromLog(kh, approvals, body);
      return out.ok ? 'DECRYPTED' : out.refusal;
    };
    // Forged: an id the log does not hold at that index; an index that is not this computation's.
    assert.equal(
      await refusal(exact, { ...base, computationId: crypto.randomUUID(), ciphertext: cell.ciphertext! }),
      'NOT_APPROVED',
    );
    assert.equal(await refusal(exact, { ...base, receiptIndex: 0, ciphertext: cell.ciphertext! }), 'NOT_APPROVED');
    // From outside: a ciphertext of raw column data, never produced by the computation.
    const outside = Buffer.from(upload.ciphertexts[0]!).toString('base64');
    assert.equal(await refusal(exact, { ...base, ciphertext: outside }), 'HASH_MISMATCH');
    // Tampered: the gateway serves a record whose approval was altered; the inclusion proof fails.
    const tampering: GatewayGraphql = async (query, variables) => {
      const res = await tg.gql(query, variables, { token: ownerToken });
      const bundle = JSON.parse(String(res.body.data?.receiptBundle)) as {
        record: { encrypted: { cells: { unitsCovered: number }[] } };
      };
      bundle.record.encrypted.cells[0]!.unitsCovered = 1_000_000;
      return { receiptBundle: JSON.stringify(bundle) };
    };
    const forgedOut = await decryptFromLog(
      strict,
      logApprovals(tampering, tg.gw.log.publicKey().pem, keys.public.keyId),
      {
        ...base,
        ciphertext: cell.ciphertext!,
      },
    );
    assert.equal(forgedOut.ok ? 'DECRYPTED' : forgedOut.refusal, 'NOT_APPROVED');
    // Below k: the honest approval covers fewer units than the strict key holder's k.
    assert.equal(await refusal(strict, { ...base, ciphertext: cell.ciphertext! }), 'BELOW_K');
    assert.equal(exact.decryptions, before, 'nothing was decrypted');
    assert.equal(strict.decryptions, 0, 'nothing was decrypted');
  });

  it('logs the computation with each cell hash, and a refused request too', async () => {
    const r = await tg.gql(AGG, { kind: 'count', groupBy: 'district' }, { token: ownerToken });
    const agg = r.body.data?.encryptedAggregate as Agg;
    const entry = await tg.gw.log.get(agg.receiptIndex);
    const logged = entry?.record.kind === 'access' ? entry.record : undefined;
    assert.equal(logged?.mode, 'encrypted');
    assert.equal(logged?.encrypted?.computationId, agg.computationId);
    const anon = await tg.gql(AGG, { kind: 'sum', groupBy: 'district' });
    assert.equal(errorCode(anon), 'FORBIDDEN');
    const receipt = anon.body.extensions?.receipts?.[0];
    assert.equal(receipt?.released, false);
  });

  it('the key holder server decrypts an approved cell over HTTP and refuses the rest', async () => {
    const server = await startKeyHolderServer({ keyHolder: exact, approvals, opened: memoryOpenedCells() });
    try {
      const r = await tg.gql(AGG, { kind: 'sum', groupBy: null }, { token: ownerToken });
      const agg = r.body.data?.encryptedAggregate as Agg;
      const post = (body: unknown) =>
        fetch(`${server.url}/decrypt`, { method: 'POST', body: JSON.stringify(body) }).then(async (res) => ({
          status: res.status,
          body: (await res.json()) as Record<string, unknown>,
        }));
      const body = {
        computationId: agg.computationId,
        receiptIndex: agg.receiptIndex,
        cell: 0,
        kind: 'sum',
        ciphertext: agg.cells[0]!.ciphertext,
      };
      const ok = await post(body);
      assert.equal(ok.status, 200);
      assert.equal(
        ok.body.value,
        values.reduce((a, b) => a + b, 0),
      );
      const refused = await post({ ...body, computationId: 'forged' });
      assert.equal(refused.status, 403);
      assert.equal(refused.body.refusal, 'NOT_APPROVED');
      // Each cell is answered once.
      const replay = await post(body);
      assert.deepEqual([replay.status, replay.body.refusal], [403, 'REPLAY']);
    } finally {
      await server.close();
    }
  });

  it('a CKKS column: sum, mean and weighted sum match the plaintext within a relative error of 1e-6', async () => {
    const GAS = 'gas_m3';
    const ckks = createHeContext(await loadSeal(), CKKS_PARAMS);
    const ck = generateOwnerKeys(ckks);
    const holder = new KeyHolder(ckks, ck.secret, {
      k: 1,
      approvals: () => Promise.resolve(null),
      realRounding: { rule: 'significant', digits: 12 },
    });
    try {
      assert.equal(await uploadKeyBundle(ownerGql, DS, GAS, bundleToJson(ck.public)), ck.public.keyId);
      const rows = await tg.gw.db.query<{ id: string; gas: number }>(
        `select id, gas_m3::float8 as gas from ds_building_energy order by id`,
      );
      const up = await encryptColumn(
        ckks,
        ck.public,
        rows.map((r) => Number(r.gas)),
        { maxAbs: 1_000_000 },
      );
      await ownerGql(
        `mutation($l: String!, $ids: [String!]!) { beginEncryptedColumn(dataset: "${DS}", column: "${GAS}", layout: $l, recordIds: $ids) { total } }`,
        { l: JSON.stringify(up.layout), ids: rows.map((r) => r.id) },
      );
      for (const [i, ct] of up.ciphertexts.entries()) {
        await ownerGql(
          `mutation($i: Int!, $c: String!) { uploadCiphertextChunk(dataset: "${DS}", column: "${GAS}", index: $i, ciphertext: $c) { received } }`,
          { i, c: Buffer.from(ct).toString('base64') },
        );
      }
      const ckApprovals = logApprovals(ownerGql, tg.gw.log.publicKey().pem, ck.public.keyId, {
        checkpoint: memoryCheckpoint(),
      });
      const expected = await tg.gw.db.query<{ d: string; s: number; w: number; n: number }>(
        `select g.district_id as d, sum(e.gas_m3)::float8 as s, sum(e.gas_m3 * e.electricity_kwh)::float8 as w,
           count(*)::int as n
         from ds_building_energy e join grains g on g.id = e.grain_id group by g.district_id order by d`,
      );
      const want = { sum: (e: (typeof expected)[0]) => e.s, mean: (e: (typeof expected)[0]) => e.s / e.n };
      const cases = [
        { kind: 'sum', weightField: null, want: want.sum },
        { kind: 'mean', weightField: null, want: want.mean },
        { kind: 'weightedSum', weightField: 'electricity_kwh', want: (e: (typeof expected)[0]) => e.w },
      ] as const;
      for (const c of cases) {
        const r = await tg.gql(
          `query($k: String!, $w: String) { encryptedAggregate(dataset: "${DS}", column: "${GAS}", kind: $k, groupBy: "district", weightField: $w) {
            computationId receiptIndex scheme cells { group records ciphertext } } }`,
          { k: c.kind, w: c.weightField },
          { token: ownerToken },
        );
        assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
        const agg = r.body.data?.encryptedAggregate as Agg & { scheme: string };
        assert.equal(agg.scheme, 'ckks');
        assert.deepEqual(
          agg.cells.map((cell) => cell.group),
          expected.map((e) => e.d),
        );
        for (const [i, cell] of agg.cells.entries()) {
          const out = await decryptFromLog(holder, ckApprovals, {
            computationId: agg.computationId,
            receiptIndex: agg.receiptIndex,
            cell: i,
            ciphertext: cell.ciphertext!,
          });
          assert.ok(out.ok, JSON.stringify(out));
          const truth = c.want(expected[i]!);
          const rel = Math.abs(out.released.value - truth) / Math.abs(truth);
          assert.ok(rel <= 1e-6, `${c.kind} ${cell.group}: ${out.released.value} vs ${truth} (relative error ${rel})`);
        }
      }
    } finally {
      holder.delete();
      ckks.delete();
    }
  });
});

describe('three processes: owner CLI, gateway, key holder', () => {
  let tg: TestGateway;
  let dir: string;
  let gatewayUrl: string;
  let keyholder: ChildProcess | null = null;
  const CLI = path.resolve(import.meta.dirname, '../../src/cli/main.js');
  const GAS = 'gas_m3';

  const run = (args: string[], env: Record<string, string> = {}) =>
    new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('close', (code) => resolve({ code, out, err }));
    });

  before(async () => {
    tg = await startTestGateway({ rooms: 400 });
    await tg.app.listen(0, '127.0.0.1');
    const addr = tg.app.getHttpServer().address() as AddressInfo;
    gatewayUrl = `http://127.0.0.1:${addr.port}`;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'citygate-he-'));
  });

  after(async () => {
    if (keyholder && keyholder.exitCode === null) keyholder.kill('SIGTERM');
    await tg?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keygen and encrypt upload a column; the key holder process decrypts the approved sums only', async () => {
    const owner = await tg.token(OWNER_ORG, ['owner']);
    const keygen = await run(
      ['he', 'keygen', '--out-dir', dir, '--gateway', gatewayUrl, '--dataset', DS, '--column', GAS],
      { CITYGATE_TOKEN: owner },
    );
    assert.equal(keygen.code, 0, keygen.err);
    assert.equal(fs.statSync(path.join(dir, 'secret-key.json')).mode & 0o077, 0, 'the secret key is private');
    const rows = await tg.gw.db.query<{ id: string; v: number }>(
      `select id, round(gas_m3)::int as v from ds_building_energy order by id`,
    );
    fs.writeFileSync(path.join(dir, 'gas.csv'), 'record_id,value\n' + rows.map((r) => `${r.id},${r.v}`).join('\n'));
    const encryptArgs = [
      'he',
      'encrypt',
      '--gateway',
      gatewayUrl,
      '--dataset',
      DS,
      '--column',
      GAS,
      '--input',
      path.join(dir, 'gas.csv'),
      '--public-keys',
      path.join(dir, 'public-keys.json'),
      '--max-abs',
      '1000000',
    ];
    const enc = await run(encryptArgs, { CITYGATE_TOKEN: owner });
    assert.equal(enc.code, 0, enc.err);
    const again = await run(encryptArgs, { CITYGATE_TOKEN: owner });
    assert.match(again.out, /already uploaded/);

    fs.writeFileSync(path.join(dir, 'log.pem'), tg.gw.log.publicKey().pem);
    keyholder = spawn(
      process.execPath,
      [
        CLI,
        'keyholder',
        '--secret-key',
        path.join(dir, 'secret-key.json'),
        '--gateway',
        gatewayUrl,
        '--log-public-key',
        path.join(dir, 'log.pem'),
        '--k',
        '10',
        '--data-dir',
        path.join(dir, 'keyholder'),
        '--decryption-log',
        path.join(dir, 'decryptions.jsonl'),
      ],
      { env: { ...process.env, CITYGATE_TOKEN: owner } },
    );
    const khUrl = await new Promise<string>((resolve, reject) => {
      let out = '';
      keyholder!.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      keyholder!.on('exit', (code) => reject(new Error(`key holder exited ${code}`)));
    });

    const q = `{ encryptedAggregate(dataset: "${DS}", column: "${GAS}", kind: "sum", groupBy: "district") {
      computationId approval receiptIndex cells { group records unitsCovered suppressed ciphertext sha256 } } }`;
    const r = await tg.gql(q, undefined, { token: owner });
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    const agg = r.body.data?.encryptedAggregate as Agg & { approval: string };
    const expected = await tg.gw.db.query<{ d: string; s: number }>(
      `select g.district_id as d, sum(round(e.gas_m3))::float8 as s
       from ds_building_energy e join grains g on g.id = e.grain_id group by g.district_id order by d`,
    );
    const post = async (body: unknown) => {
      const res = await fetch(`${khUrl}/decrypt`, { method: 'POST', body: JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    // Logged pending: the key holder refuses it until the owner approves it with the CLI.
    assert.equal(agg.approval, 'pending');
    const early = await post({
      computationId: agg.computationId,
      receiptIndex: agg.receiptIndex,
      cell: 0,
      ciphertext: agg.cells[0]!.ciphertext,
    });
    assert.deepEqual([early.status, early.body.refusal], [403, 'PENDING_APPROVAL']);
    const approve = await run(['he', 'approve', agg.computationId, '--gateway', gatewayUrl, '--reason', 'tour'], {
      CITYGATE_TOKEN: owner,
    });
    assert.equal(approve.code, 0, approve.err);
    assert.match(approve.out, /approved/);
    let released = 0;
    for (const [i, cell] of agg.cells.entries()) {
      const res = await post({
        computationId: agg.computationId,
        receiptIndex: agg.receiptIndex,
        cell: i,
        ciphertext: cell.ciphertext,
      });
      if (cell.unitsCovered >= 10 && cell.records >= 10) {
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.equal(res.body.value, roundValue(expected[i]!.s, { rule: 'base', base: 5 }));
        released++;
      } else {
        assert.equal(res.status, 403);
      }
    }
    assert.ok(released > 0);
    const forged = await post({
      computationId: crypto.randomUUID(),
      receiptIndex: agg.receiptIndex,
      cell: 0,
      ciphertext: agg.cells[0]!.ciphertext,
    });
    assert.deepEqual([forged.status, forged.body.refusal], [403, 'NOT_APPROVED']);
    const logged = fs
      .readFileSync(path.join(dir, 'decryptions.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { decrypted: boolean });
    assert.equal(logged.length, agg.cells.length + 2);
    assert.equal(logged.filter((l) => l.decrypted).length, released);
  });
});
