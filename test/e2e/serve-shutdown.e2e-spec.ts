/**
 * `citygate serve` as operators run it (a separate Node 26 process): SIGTERM while a request is in flight
 * lets it finish, the process exits 0, and the log was flushed (the last receipt verifies in storage after
 * exit). The JSON request log on stdout names operations and requesters but no data value.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig, REPO_ROOT } from '../../src/config/config.js';
import { openLogStorage } from '../../src/ledger/verifiable-log.factory.js';
import { VerifiableLog } from '../../src/ledger/verifiable-log.js';

const CLI = path.join(REPO_ROOT, 'dist/src/cli/main.js');

describe('citygate serve: graceful shutdown and the request log', () => {
  let dataDir: string;
  let child: ChildProcess;
  let out = '';
  let port = 0;
  const env = () => ({
    PATH: process.env.PATH ?? '',
    CITYGATE_DATA_DIR: dataDir,
    CITYGATE_DEMO_ROOMS: '300',
    CITYGATE_PORT: '0',
    CITYGATE_SHUTDOWN_GRACE_MS: '20000',
  });
  const waitFor = async (re: RegExp, ms = 120_000): Promise<RegExpExecArray> => {
    const end = Date.now() + ms;
    for (;;) {
      const m = re.exec(out);
      if (m) return m;
      if (Date.now() > end || child.exitCode !== null) throw new Error(`timed out waiting for ${re}:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'citygate-serve-'));
    child = spawn(process.execPath, [CLI, 'serve'], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    port = Number((await waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)\/graphql/))[1]);
  });
  after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('finishes an in-flight request on SIGTERM, exits 0 with the log flushed, and logs no data values', async () => {
    const body = JSON.stringify({
      query:
        '{ records(dataset: "business-licences", fields: ["business_name", "licence_no"], first: 5) { items { values { value } } } }',
    });
    // A request whose body is still arriving when the signal comes: in flight, not yet answered.
    const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          path: '/graphql',
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.write(body.slice(0, 20));
      setTimeout(() => {
        child.kill('SIGTERM');
        void waitFor(/SIGTERM: draining/).then(() => setTimeout(() => req.end(body.slice(20)), 300));
      }, 300);
    });
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const r = await response;
    assert.equal(r.status, 200, r.text);
    const parsed = JSON.parse(r.text) as {
      data: { records: { items: { values: { value: string }[] }[] } };
      extensions: { receipts: { index: number; leafHash: string }[] };
    };
    assert.equal(await exit, 0, out);
    assert.match(out, /SIGTERM: closed/);

    // The receipt of that last request is in the log on disk, and the whole log verifies.
    const receipt = parsed.extensions.receipts[0]!;
    const config = loadConfig(env());
    const log = await VerifiableLog.open({ storage: await openLogStorage(config), dataDir });
    try {
      assert.equal((await log.get(receipt.index))?.leafHash, receipt.leafHash);
    } finally {
      await log.close();
    }
    const audit = spawnSync(process.execPath, [CLI, 'audit', 'verify'], { env: env(), encoding: 'utf8' });
    assert.equal(audit.status, 0, audit.stdout + audit.stderr);

    // One JSON line per request, with the operation and outcome; no value that the response carried.
    const lines = out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { context?: string; message?: Record<string, unknown> });
    const requests = lines.filter((l) => l.context === 'Request').map((l) => l.message!);
    const mine = requests.find((m) => m.operation === 'query records');
    assert.ok(mine, out);
    assert.equal(mine.outcome, 'ok');
    assert.equal(mine.records, parsed.data.records.items.length);
    assert.equal(mine.records, 5);
    assert.equal(mine.via, 'anonymous');
    const values = parsed.data.records.items.flatMap((i) => i.values.map((v) => v.value)).filter((v) => v);
    assert.ok(values.length > 0);
    for (const v of values) assert.ok(!out.includes(String(v)), `data value ${v} in the server log`);
  });
});
