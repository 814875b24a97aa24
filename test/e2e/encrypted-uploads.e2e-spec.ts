/**
 * Uploads that finish (issue 12, point 5), as the owner's CLI meets them: the last key-bundle part is
 * acknowledged at once and the bundle checked in the background (a status the CLI polls); a bundle that does
 * not check is rejected with why; the CLI prints the row-level message of a bad value or record id; and
 * `--compression none` stores uncompressed SEAL objects (what seal-python reads).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BFV_PARAMS, createHeContext, type HeContext } from '../../src/encrypted/he-params.js';
import { bundleToJson, parseBundle } from '../../src/encrypted/key-bundle-json.js';
import { generateOwnerKeys } from '../../src/encrypted/keys.js';
import { readSealHeader } from '../../src/encrypted/seal-format.js';
import { loadSeal } from '../../src/encrypted/seal-runtime.js';
import { encryptColumn } from '../../src/encrypted/column-codec.js';
import { CIPHERTEXT_PART_BYTES, KEY_BUNDLE_PART_BYTES } from '../../src/encrypted/encrypted-uploads.service.js';
import { startTestGateway, type TestGateway } from '../support/test-gateway.js';

const CLI = path.resolve(import.meta.dirname, '../../src/cli/main.js');
const DS = 'building-energy';

const PART = `mutation($c: String!, $s: String!, $i: Int!, $n: Int!, $p: String!) {
  uploadHeKeyBundlePart(dataset: "${DS}", column: $c, sha256: $s, index: $i, count: $n, part: $p) {
    received total missing status keyId message
  }
}`;
const STATUS = `query($c: String!, $s: String!) {
  heKeyBundleUpload(dataset: "${DS}", column: $c, sha256: $s) { received total missing status keyId message }
}`;

interface Progress {
  received: number;
  missing: number[];
  status: string;
  keyId: string | null;
  message: string | null;
}

describe('owner uploads: background key checks, row-level messages, uncompressed objects', () => {
  let tg: TestGateway;
  let ctx: HeContext;
  let owner: string;
  let gateway: string;
  let dir: string;
  let electricityKeys: ReturnType<typeof generateOwnerKeys> | undefined;

  const run = (args: string[]) =>
    new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const child = spawn(process.execPath, [CLI, ...args], {
        cwd: dir,
        env: { ...process.env, CITYGATE_TOKEN: owner },
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('close', (code) => resolve({ code, out, err }));
    });

  const status = async (column: string, sha: string): Promise<Progress> => {
    for (;;) {
      const r = await tg.gql(STATUS, { c: column, s: sha }, { token: owner });
      const p = r.body.data?.heKeyBundleUpload as Progress;
      if (p.status !== 'checking') return p;
      await new Promise((res) => setTimeout(res, 100));
    }
  };

  before(async () => {
    tg = await startTestGateway({ rooms: 400, env: { CITYGATE_REQUEST_TIMEOUT_MS: '300000' } });
    await tg.app.listen(0, '127.0.0.1');
    gateway = `http://127.0.0.1:${(tg.app.getHttpServer().address() as AddressInfo).port}`;
    owner = await tg.token('housing-construction', ['owner']);
    ctx = createHeContext(await loadSeal(), BFV_PARAMS);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'citygate-he-up-'));
  });

  after(async () => {
    ctx?.delete();
    await tg?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('acknowledges the last key-bundle part at once, checks it in the background, and answers a re-run', async () => {
    const keys = generateOwnerKeys(ctx);
    electricityKeys = keys;
    const json = Buffer.from(bundleToJson(keys.public));
    const sha = createHash('sha256').update(json).digest('hex');
    const count = Math.ceil(json.length / KEY_BUNDLE_PART_BYTES);
    let last: Progress | undefined;
    for (let i = 0; i < count; i++) {
      const p = json.subarray(i * KEY_BUNDLE_PART_BYTES, (i + 1) * KEY_BUNDLE_PART_BYTES).toString('base64');
      const r = await tg.gql(PART, { c: 'electricity_kwh', s: sha, i, n: count, p }, { token: owner });
      last = r.body.data?.uploadHeKeyBundlePart as Progress;
    }
    assert.equal(last?.status, 'checking', 'every part in: acknowledged, the check runs in the background');
    assert.equal(last?.keyId, null);
    const done = await status('electricity_kwh', sha);
    assert.deepEqual([done.status, done.keyId], ['stored', keys.public.keyId]);
    // A re-run after the upload finished: part 0 answers `stored` at once.
    const again = await tg.gql(
      PART,
      { c: 'electricity_kwh', s: sha, i: 0, n: count, p: json.subarray(0, KEY_BUNDLE_PART_BYTES).toString('base64') },
      { token: owner },
    );
    assert.equal((again.body.data?.uploadHeKeyBundlePart as Progress).status, 'stored');
  });

  it('rejects a bundle that does not check, with why', async () => {
    const json = Buffer.from(JSON.stringify({ scheme: 'bfv', galoisSteps: [] }));
    const sha = createHash('sha256').update(json).digest('hex');
    const r = await tg.gql(PART, { c: 'gas_m3', s: sha, i: 0, n: 1, p: json.toString('base64') }, { token: owner });
    assert.equal((r.body.data?.uploadHeKeyBundlePart as Progress).status, 'checking');
    const done = await status('gas_m3', sha);
    assert.equal(done.status, 'rejected');
    assert.match(done.message ?? '', /lacks params/);
  });

  it('keygen and encrypt with --compression none store uncompressed SEAL objects; bad rows are named', async () => {
    const keygen = await run([
      'he',
      'keygen',
      '--compression',
      'none',
      '--out-dir',
      'keys',
      '--gateway',
      gateway,
      '--dataset',
      DS,
      '--column',
      'gas_m3',
    ]);
    assert.equal(keygen.code, 0, keygen.err);
    const bundle = parseBundle(fs.readFileSync(path.join(dir, 'keys/public-keys.json'), 'utf8'));
    for (const bytes of [bundle.publicKey, bundle.relinKeys, bundle.galoisKeys]) {
      assert.equal(readSealHeader(bytes)?.compression, 'none');
    }
    const rows = await tg.gw.db.query<{ id: string; v: number }>(
      `select id, round(gas_m3)::int as v from ds_building_energy order by id`,
    );
    const encrypt = (csv: string) =>
      run([
        'he',
        'encrypt',
        '--gateway',
        gateway,
        '--dataset',
        DS,
        '--column',
        'gas_m3',
        '--input',
        csv,
        '--public-keys',
        'keys/public-keys.json',
        '--max-abs',
        '1000000',
        '--compression',
        'none',
      ]);

    // BFV and a non-integer value: the row is named, and nothing is uploaded.
    fs.writeFileSync(path.join(dir, 'reals.csv'), `record_id,value\n${rows[0]!.id},13.4\n${rows[1]!.id},2\n`);
    const reals = await encrypt('reals.csv');
    assert.equal(reals.code, 1);
    assert.match(reals.err, /row 0: 13\.4 is not a whole number/);
    const none = await tg.gw.db.query(`select 1 from he_columns where dataset_id = $1 and column_name = 'gas_m3'`, [
      DS,
    ]);
    assert.equal(none.length, 0, 'nothing uploaded');

    // A record id the dataset does not hold: the gateway's message names the row, and the CLI prints it.
    fs.writeFileSync(path.join(dir, 'unknown.csv'), `record_id,value\n${rows[0]!.id},1\nnot-a-record,2\n`);
    const unknown = await encrypt('unknown.csv');
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /row 1: "not-a-record" is not a record of building-energy/);

    fs.writeFileSync(path.join(dir, 'gas.csv'), 'record_id,value\n' + rows.map((r) => `${r.id},${r.v}`).join('\n'));
    const ok = await encrypt('gas.csv');
    assert.equal(ok.code, 0, ok.err);
    const stored = await tg.gw.db.query<{ bytes: Uint8Array }>(
      `select bytes from he_ciphertexts where dataset_id = $1 and column_name = 'gas_m3'`,
      [DS],
    );
    assert.ok(stored.length > 0);
    for (const s of stored) assert.equal(readSealHeader(new Uint8Array(s.bytes))?.compression, 'none');
  });

  it('a ciphertext goes up in bounded parts: out of order, resumable, and refused when the parts do not add up', async () => {
    assert.ok(electricityKeys, 'the first test stored the electricity key bundle');
    const rows = await tg.gw.db.query<{ id: string; v: number }>(
      `select id, round(electricity_kwh)::int as v from ds_building_energy order by id`,
    );
    const upload = await encryptColumn(
      ctx,
      electricityKeys.public,
      rows.map((r) => Number(r.v)),
      { maxAbs: 1_000_000, compression: 'none' },
    );
    const begun = await tg.gql(
      `mutation($l: String!, $ids: [String!]!) { beginEncryptedColumn(dataset: "${DS}", column: "electricity_kwh", layout: $l, recordIds: $ids) { missing } }`,
      { l: JSON.stringify(upload.layout), ids: rows.map((r) => r.id) },
      { token: owner },
    );
    assert.deepEqual((begun.body.data?.beginEncryptedColumn as { missing: number[] }).missing, [0]);
    const ct = Buffer.from(upload.ciphertexts[0]!);
    const parts = Math.ceil(ct.length / CIPHERTEXT_PART_BYTES);
    assert.ok(parts >= 2, `an uncompressed ciphertext (${ct.length} bytes) takes several parts`);
    const sha = createHash('sha256').update(ct).digest('hex');
    const slice = (p: number) => ct.subarray(p * CIPHERTEXT_PART_BYTES, (p + 1) * CIPHERTEXT_PART_BYTES);
    const PARTS = `mutation($s: String!, $p: Int!, $n: Int!, $b: String!) {
      uploadCiphertextPart(dataset: "${DS}", column: "electricity_kwh", index: 0, sha256: $s, part: $p, parts: $n, bytes: $b) {
        received total missing ciphertexts { received total missing }
      }
    }`;
    type PartsProgress = { received: number; missing: number[]; ciphertexts: { received: number } | null };
    const send = async (p: number, bytes: Buffer, s = sha) => {
      const r = await tg.gql(PARTS, { s, p, n: parts, b: bytes.toString('base64') }, { token: owner });
      return { body: r.body, progress: r.body.data?.uploadCiphertextPart as PartsProgress | undefined };
    };
    const code = (body: { errors?: { extensions?: { code?: string } }[] }) => body.errors?.[0]?.extensions?.code;

    // A part above the bound, and parts from anyone but the owner, are refused.
    const big = await send(0, Buffer.alloc(CIPHERTEXT_PART_BYTES + 1));
    assert.equal(code(big.body), 'BAD_USER_INPUT');
    const stranger = await tg.gql(
      PARTS,
      { s: sha, p: 0, n: parts, b: slice(0).toString('base64') },
      { token: await tg.token('civil-affairs', ['owner']) },
    );
    assert.equal(code(stranger.body), 'FORBIDDEN');

    // The last part first: the answer lists what is missing; a different part at a stored index is refused.
    const last = await send(parts - 1, slice(parts - 1));
    assert.deepEqual(last.progress?.missing, [...Array(parts - 1).keys()]);
    assert.equal(last.progress?.ciphertexts, null);
    assert.equal(code((await send(parts - 1, slice(0))).body), 'BAD_USER_INPUT');

    // Parts that do not hash to the announced ciphertext: refused with why, nothing stored, a fresh start works.
    const wrongSha = createHash('sha256').update('another ciphertext').digest('hex');
    for (let p = 0; p < parts - 1; p++) await send(p, slice(p), wrongSha);
    const bad = await send(parts - 1, slice(parts - 1), wrongSha);
    assert.equal(code(bad.body), 'BAD_USER_INPUT');
    assert.match(bad.body.errors?.[0]?.message ?? '', /do not add up/);
    const none = await tg.gw.db.query(
      `select 1 from he_ciphertexts where dataset_id = $1 and column_name = 'electricity_kwh'`,
      [DS],
    );
    assert.equal(none.length, 0);

    // Resume with the right hash: the stored parts of the abandoned upload are gone, every part is needed.
    let progress: PartsProgress | undefined;
    for (let p = 0; p < parts; p++) progress = (await send(p, slice(p))).progress;
    assert.deepEqual(progress?.missing, []);
    assert.equal(progress?.ciphertexts?.received, 1);
    const stored = await tg.gw.db.query<{ bytes: Uint8Array }>(
      `select bytes from he_ciphertexts where dataset_id = $1 and column_name = 'electricity_kwh' and chunk_idx = 0`,
      [DS],
    );
    assert.ok(Buffer.from(stored[0]!.bytes).equals(ct), 'the stored ciphertext is the joined parts');
    const leftover = await tg.gw.db.query(`select 1 from he_ciphertext_parts where dataset_id = $1`, [DS]);
    assert.equal(leftover.length, 0, 'parts are dropped once joined');

    // A re-run answers at once; another ciphertext at a stored index is refused.
    assert.deepEqual((await send(0, slice(0))).progress?.missing, []);
    const other = createHash('sha256').update('x').digest('hex');
    assert.equal(code((await send(0, slice(0), other)).body), 'BAD_USER_INPUT');
  });
});
