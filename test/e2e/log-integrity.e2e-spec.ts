/**
 * A gateway on a damaged or rolled-back provenance log (issue #12) starts degraded: /readyz answers 503 with the
 * reason, every release answers UNAVAILABLE (nothing is released that cannot be logged on a sound log), /metrics
 * says so, and the files are left as found. The store's witness catches a log rolled back whole.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { flipBit, readFrames } from '../support/log-files.js';
import { errorCode, startTestGateway, type TestGateway } from '../support/test-gateway.js';
import { PgliteDb } from '../../src/store/pglite.adapter.js';
import { migrate } from '../../src/store/migrate.js';
import type { Db } from '../../src/store/db.port.js';

const query = '{ records(dataset: "public-facilities", fields: ["name"], first: 2) { items { id } } }';
const dirs: string[] = [];
const dbs: Db[] = [];
after(async () => {
  for (const db of dbs) await db.close();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

async function fresh(): Promise<{ dataDir: string; db: Db }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'citygate-log-integrity-'));
  dirs.push(dataDir);
  const db = await PgliteDb.open(null);
  await migrate(db);
  dbs.push(db);
  return { dataDir, db };
}

async function get(t: TestGateway, url: string): Promise<{ status: number; body: string }> {
  const res = await t.app.getHttpAdapter().getInstance().inject({ method: 'GET', url });
  return { status: res.statusCode, body: res.body };
}

/** A gateway that released `n` answers, then stopped. */
async function withHistory(dataDir: string, db: Db, n: number): Promise<void> {
  const t = await startTestGateway({ rooms: 300, dataDir, db });
  for (let i = 0; i < n; i++) assert.equal(errorCode(await t.gql(query)), undefined);
  await t.gw.log.treeHead();
  await t.close();
}

describe('a gateway on a damaged provenance log', () => {
  it('starts healthy on an untouched log (the control case)', async () => {
    const { dataDir, db } = await fresh();
    await withHistory(dataDir, db, 5);
    const t = await startTestGateway({ rooms: 300, dataDir, db });
    try {
      assert.equal((await get(t, '/readyz')).status, 200);
      assert.equal(errorCode(await t.gql(query)), undefined);
      assert.match((await get(t, '/metrics')).body, /^citygate_log_integrity_ok 1$/m);
    } finally {
      await t.close();
    }
  });

  it('a flipped byte in an old record: 503 with the reason, releases UNAVAILABLE, the log left as found', async () => {
    const { dataDir, db } = await fresh();
    await withHistory(dataDir, db, 8);
    const logDir = path.join(dataDir, 'log');
    fs.rmSync(path.join(logDir, 'checkpoint.json'));
    flipBit(path.join(logDir, 'leaves.log'), readFrames(logDir)[3]!.offset + 25);
    const size = fs.statSync(path.join(logDir, 'leaves.log')).size;

    const t = await startTestGateway({ rooms: 300, dataDir, db });
    try {
      const ready = await get(t, '/readyz');
      assert.equal(ready.status, 503);
      assert.match(ready.body, /failed its integrity check: record 3 .*corruption, not a torn tail/);
      const r = await t.gql(query);
      assert.equal(errorCode(r), 'UNAVAILABLE');
      assert.equal(JSON.stringify(r.body.data ?? null).includes('"id"'), false, 'nothing was released');
      assert.doesNotMatch(r.raw, /leaves\.log|record 3/, 'the caller is not told about the files');
      assert.match((await get(t, '/metrics')).body, /^citygate_log_integrity_ok 0$/m);
      assert.equal(fs.statSync(path.join(logDir, 'leaves.log')).size, size, 'nothing was cut');
    } finally {
      await t.close();
    }
  });

  it('a log restored whole from an older backup is caught by the store witness', async () => {
    const { dataDir, db } = await fresh();
    await withHistory(dataDir, db, 3);
    const backup = fs.mkdtempSync(path.join(os.tmpdir(), 'citygate-log-backup-'));
    dirs.push(backup);
    fs.cpSync(path.join(dataDir, 'log'), backup, { recursive: true });
    await withHistory(dataDir, db, 4); // more releases after the backup
    fs.rmSync(path.join(dataDir, 'log'), { recursive: true });
    fs.cpSync(backup, path.join(dataDir, 'log'), { recursive: true });

    const t = await startTestGateway({ rooms: 300, dataDir, db });
    try {
      const ready = await get(t, '/readyz');
      assert.equal(ready.status, 503);
      assert.match(ready.body, /witness saw .* but (the log|it now) holds/);
      assert.equal(errorCode(await t.gql(query)), 'UNAVAILABLE');
    } finally {
      await t.close();
    }
  });
});
