/**
 * `citygate serve` honours SIGTERM within its grace period while an encrypted aggregate runs (issue 12,
 * point 3): SEAL runs in worker threads, so the signal is handled at once; near the end of the grace period
 * the threads are terminated and the request answers UNAVAILABLE instead of a cut connection.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exportColumn, readColumnCsv, uploadColumnRows, uploadKeyBundle } from '../../src/cli/he.commands.js';
import { encryptColumn } from '../../src/encrypted/column-codec.js';
import { BFV_PARAMS, createHeContext } from '../../src/encrypted/he-params.js';
import { bundleToJson } from '../../src/encrypted/key-bundle-json.js';
import { generateOwnerKeys } from '../../src/encrypted/keys.js';
import { httpGraphql } from '../../src/encrypted/keyholder.server.js';
import { loadSeal } from '../../src/encrypted/seal-runtime.js';
import { REPO_ROOT } from '../../src/config/config.js';

const CLI = path.join(REPO_ROOT, 'dist/src/cli/main.js');
const GRACE_MS = 4_000;
const DS = 'building-energy';
const COL = 'electricity_kwh';

describe('citygate serve: SIGTERM during an encrypted aggregate', () => {
  let dataDir: string;
  let child: ChildProcess;
  let out = '';
  let url = '';
  const env = () => ({
    PATH: process.env.PATH ?? '',
    CITYGATE_DATA_DIR: dataDir,
    CITYGATE_DEMO_ROOMS: '600',
    CITYGATE_PORT: '0',
    CITYGATE_SHUTDOWN_GRACE_MS: String(GRACE_MS),
    CITYGATE_REQUEST_TIMEOUT_MS: '600000',
    CITYGATE_HE_MAX_OPERATIONS: '100000000',
  });
  const waitFor = async (re: RegExp, ms = 180_000): Promise<RegExpExecArray> => {
    const end = Date.now() + ms;
    for (;;) {
      const m = re.exec(out);
      if (m) return m;
      if (Date.now() > end || child.exitCode !== null) throw new Error(`timed out waiting for ${re}:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'citygate-he-serve-'));
    child = spawn(process.execPath, [CLI, 'serve'], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    url = `http://127.0.0.1:${(await waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)\/graphql/))[1]}`;
  });
  after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('exits within the grace period, and the running aggregate answers UNAVAILABLE', async () => {
    const minted = spawnSync(process.execPath, [CLI, 'token', '--org', 'housing-construction', '--role', 'owner'], {
      env: env(),
      encoding: 'utf8',
    });
    const token = minted.stdout.trim();
    const gql = httpGraphql(url, token);
    const ctx = createHeContext(await loadSeal(), BFV_PARAMS);
    try {
      const keys = generateOwnerKeys(ctx);
      await uploadKeyBundle(gql, DS, COL, bundleToJson(keys.public), { pollMs: 200, quiet: true });
      const csv = path.join(dataDir, 'col.csv');
      await exportColumn(gql, DS, COL, csv);
      const { ids, values } = readColumnCsv(csv);
      const whole = values.map((v) => Math.round(v));
      const up = await encryptColumn(ctx, keys.public, whole, { maxAbs: 1_000_000 });
      await uploadColumnRows(gql, DS, COL, up.layout, ids);
      for (const [i, ct] of up.ciphertexts.entries()) {
        await gql(
          `mutation($i: Int!, $c: String!) { uploadCiphertextChunk(dataset: "${DS}", column: "${COL}", index: $i, ciphertext: $c) { received } }`,
          { i, c: Buffer.from(ct).toString('base64') },
        );
      }
    } finally {
      ctx.delete();
    }

    // One cell per building: many seconds of SEAL work.
    let answered = false;
    const response = fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({
        query: `{ encryptedAggregate(dataset: "${DS}", column: "${COL}", kind: "sum", groupBy: "building") { computationId } }`,
      }),
    }).then(async (r) => {
      answered = true;
      return (await r.json()) as { errors?: { extensions?: { code?: string } }[] };
    });
    await new Promise((r) => setTimeout(r, 1_500));
    assert.equal(answered, false, 'the aggregate is still running');
    // The event loop is free: the gateway answers while SEAL runs.
    assert.equal((await fetch(`${url}/livez`)).status, 200);

    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const t0 = Date.now();
    child.kill('SIGTERM');
    const code = await exit;
    const took = Date.now() - t0;
    assert.equal(code, 0, out);
    // The grace period, plus closing the log and store on a loaded machine.
    assert.ok(took < GRACE_MS + 5_000, `exited ${took} ms after SIGTERM (grace ${GRACE_MS} ms)`);
    assert.match(out, /SIGTERM: closed/);
    const body = await response;
    assert.equal(body.errors?.[0]?.extensions?.code, 'UNAVAILABLE', JSON.stringify(body));
  });
});
