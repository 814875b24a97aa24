/**
 * The README's encrypted-columns tour, run as the README runs it (the CLI, one process per command), over the
 * demo city's whole column: all 100,000 rooms of building-energy.gas_m3, a non-integer column, so CKKS.
 * The owner exports its record ids and values, keeps the secret key, uploads the public keys and the column
 * in bounded parts (an interrupted upload resumes), a requester computes on ciphertexts, and the owner's key
 * holder decrypts the cells.
 *
 * Between computing and decrypting the owner approves the computation with `citygate he approve`, as the README
 * does.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROW_IDS_PER_PART } from '../../src/encrypted/encrypted-uploads.service.js';
import { startTestGateway, type TestGateway } from '../support/test-gateway.js';

const CLI = path.resolve(import.meta.dirname, '../../src/cli/main.js');
const DS = 'building-energy';
const COL = 'gas_m3';
const ROOMS = 100_000;

describe("the README's encrypted-columns tour over all 100,000 demo records", () => {
  let tg: TestGateway;
  let dir: string;
  let gateway: string;
  let keyholder: ChildProcess | null = null;
  let env: Record<string, string>;

  /** One CLI command, as `npm run -s citygate -- <args>` runs it. */
  const citygate = (args: string[], extra: Record<string, string> = {}) =>
    new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const child = spawn(process.execPath, [CLI, ...args], { cwd: dir, env: { ...process.env, ...env, ...extra } });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('close', (code) => resolve({ code, out, err }));
    });
  const ok = async (args: string[]) => {
    const r = await citygate(args);
    assert.equal(r.code, 0, `citygate ${args.join(' ')}\n${r.out}\n${r.err}`);
    return r;
  };

  before(async () => {
    // The demo city at its default size; a loaded machine gets a generous deadline.
    tg = await startTestGateway({ rooms: ROOMS, env: { CITYGATE_REQUEST_TIMEOUT_MS: '300000' } });
    await tg.app.listen(0, '127.0.0.1');
    gateway = `http://127.0.0.1:${(tg.app.getHttpServer().address() as AddressInfo).port}`;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'citygate-he-tour-'));
    // The CLI reads the gateway's data directory (local token issuer, log key) as `npm run citygate` does.
    env = { CITYGATE_DATA_DIR: tg.gw.config.dataDir, CITYGATE_DEMO_ROOMS: String(ROOMS) };
  });

  after(async () => {
    if (keyholder && keyholder.exitCode === null) keyholder.kill('SIGTERM');
    await tg?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('owner: export, keygen, encrypt (resuming), key holder; requester: aggregate; key holder: decrypt', async () => {
    const rows = await tg.gw.db.query<{ n: number }>(`select count(*)::int as n from ds_building_energy`);
    assert.equal(rows[0]!.n, ROOMS, 'the whole column');

    // TOKEN=$(npm run -s citygate -- token --org housing-construction --role owner)
    const token = (await ok(['token', '--org', 'housing-construction', '--role', 'owner'])).out.trim();
    const auth = ['--gateway', gateway, '--token', token];

    // he keygen --scheme ckks ... (the public keys go up in parts, checked by the gateway in the background)
    await ok([
      'he',
      'keygen',
      '--scheme',
      'ckks',
      '--out-dir',
      'owner-keys',
      ...auth,
      '--dataset',
      DS,
      '--column',
      COL,
    ]);
    assert.equal(fs.statSync(path.join(dir, 'owner-keys/secret-key.json')).mode & 0o077, 0);

    // he export-column: the owner's record ids and values, from its own (governed, logged) record reads.
    await ok(['he', 'export-column', ...auth, '--dataset', DS, '--column', COL, '--out', 'gas.csv']);
    const csv = fs.readFileSync(path.join(dir, 'gas.csv'), 'utf8').trim().split('\n');
    assert.equal(csv.length, ROOMS + 1);
    assert.ok(
      csv.slice(1).some((l) => !Number.isInteger(Number(l.split(',')[1]))),
      'non-integer values: CKKS, not BFV',
    );

    // An earlier run was cut off after two parts of the record-id list: the README's command resumes it.
    const ids = csv.slice(1).map((l) => l.split(',')[0]!);
    const layout = {
      version: 1,
      scheme: 'ckks',
      paramsId: (
        JSON.parse(fs.readFileSync(path.join(dir, 'owner-keys/public-keys.json'), 'utf8')) as { paramsId: string }
      ).paramsId,
      keyId: (JSON.parse(fs.readFileSync(path.join(dir, 'owner-keys/public-keys.json'), 'utf8')) as { keyId: string })
        .keyId,
      slotCount: 4096,
      rows: ROOMS,
      ciphertexts: Math.ceil(ROOMS / 4096),
      maxAbs: 1_000_000,
    };
    const sha = createHash('sha256').update(ids.join('\n'), 'utf8').digest('hex');
    const count = Math.ceil(ROOMS / ROW_IDS_PER_PART);
    for (const i of [0, 1]) {
      const r = await tg.gql(
        `mutation($l: String!, $s: String!, $i: Int!, $n: Int!, $ids: [String!]!) {
          uploadEncryptedColumnRows(dataset: "${DS}", column: "${COL}", layout: $l, sha256: $s, index: $i, count: $n, recordIds: $ids) { received }
        }`,
        {
          l: JSON.stringify(layout),
          s: sha,
          i,
          n: count,
          ids: ids.slice(i * ROW_IDS_PER_PART, (i + 1) * ROW_IDS_PER_PART),
        },
        { token },
      );
      assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    }
    const encryptArgs = [
      'he',
      'encrypt',
      ...auth,
      '--dataset',
      DS,
      '--column',
      COL,
      '--input',
      'gas.csv',
      '--public-keys',
      'owner-keys/public-keys.json',
      '--max-abs',
      '1000000',
    ];
    const enc = await ok(encryptArgs);
    assert.match(enc.out, new RegExp(`2 of ${count} record-id parts on the gateway; resuming`));
    assert.match(enc.out, new RegExp(`uploaded ${DS}.${COL}: ${ROOMS} rows`));
    const again = await ok(encryptArgs);
    assert.match(again.out, /holds this record-id list already/);
    assert.match(again.out, /already uploaded: nothing to send/);

    // npm run -s citygate -- log public-key > log.pub.pem; then the key holder
    fs.writeFileSync(path.join(dir, 'log.pub.pem'), (await ok(['log', 'public-key'])).out);
    keyholder = spawn(
      process.execPath,
      [
        CLI,
        'keyholder',
        '--secret-key',
        'owner-keys/secret-key.json',
        ...auth,
        '--log-public-key',
        'log.pub.pem',
        '--k',
        '10',
        '--data-dir',
        'keyholder-data',
      ],
      { cwd: dir, env: { ...process.env, ...env } },
    );
    const khUrl = await new Promise<string>((resolve, reject) => {
      let out = '';
      keyholder!.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      keyholder!.on('exit', (code) => reject(new Error(`key holder exited ${code}: ${out}`)));
    });

    // A requester computes on ciphertexts (the README's gql call).
    const res = await fetch(`${gateway}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({
        query: `{ encryptedAggregate(dataset: "${DS}", column: "${COL}", kind: "sum", groupBy: "district") {
          computationId receiptIndex cells { group records unitsCovered suppressed ciphertext } } }`,
      }),
    });
    const body = (await res.json()) as {
      data?: {
        encryptedAggregate: {
          computationId: string;
          receiptIndex: number;
          cells: {
            group: string;
            records: number;
            unitsCovered: number;
            suppressed: boolean;
            ciphertext: string | null;
          }[];
        };
      };
      errors?: unknown[];
    };
    assert.equal(body.errors, undefined, JSON.stringify(body.errors));
    const agg = body.data!.encryptedAggregate;
    assert.equal(
      agg.cells.reduce((n, c) => n + c.records, 0),
      ROOMS,
    );

    // The computation waits for the owner: npm run -s citygate -- he approve <computationId> ...
    await ok(['he', 'approve', agg.computationId, ...auth]);

    // curl -s http://127.0.0.1:<key-holder-port>/decrypt -d '{"computationId": …, "receiptIndex": …, "cell": 0, "ciphertext": …}'
    const truth = new Map(
      (
        await tg.gw.db.query<{ d: string; s: number }>(
          `select g.district_id as d, sum(e.gas_m3)::float8 as s
           from ds_building_energy e join grains g on g.id = e.grain_id group by g.district_id`,
        )
      ).map((t) => [t.d, t.s]),
    );
    let released = 0;
    for (const [i, cell] of agg.cells.entries()) {
      if (cell.suppressed) continue;
      const r = await fetch(`${khUrl}/decrypt`, {
        method: 'POST',
        body: JSON.stringify({
          computationId: agg.computationId,
          receiptIndex: agg.receiptIndex,
          cell: i,
          ciphertext: cell.ciphertext,
        }),
      });
      const out = (await r.json()) as { value?: number };
      assert.equal(r.status, 200, JSON.stringify(out));
      const want = truth.get(cell.group)!;
      // CKKS error is far below the key holder's rounding to 4 significant digits.
      assert.ok(Math.abs(out.value! - want) / want < 1e-3, `${cell.group}: ${out.value} vs ${want}`);
      released++;
    }
    assert.ok(released > 1, 'several district sums decrypted');
  });
});
