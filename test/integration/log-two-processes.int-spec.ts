/**
 * Two gateway processes share one PostgreSQL log: 64 concurrent writers, half in another OS process, get
 * unique, consecutive indices, and the tree verifies.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../../src/config/config.js';
import { openLogKey } from '../../src/ledger/log-key.js';
import { PostgresLogStorage } from '../../src/ledger/storage/postgres-log-storage.adapter.js';
import { VerifiableLog } from '../../src/ledger/verifiable-log.js';
import { auditStorage } from '../../src/ledger/verifier.js';
import { migrate } from '../../src/store/migrate.js';
import { PostgresDb } from '../../src/store/postgres.adapter.js';
import { sampleRecord } from '../support/provenance-fixtures.js';

const url = process.env.DATABASE_URL;
const PER_PROCESS = 400;

describe('the PostgreSQL log shared by two processes', { skip: url ? false : 'DATABASE_URL is not set' }, () => {
  it('64 writers in two processes get unique, consecutive indices; the tree verifies', async () => {
    // A database of its own: a log is bound to the first key that uses it.
    const admin = await PostgresDb.open(url!, 1);
    const name = `citygate_two_processes_${process.pid}`;
    await admin.exec(`create database ${name}`);
    await admin.close();
    const dbUrl = new URL(url!);
    dbUrl.pathname = `/${name}`;
    const db = await PostgresDb.open(dbUrl.toString(), 2);
    await migrate(db);
    await db.close();
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'citygate-2p-'));
    openLogKey(dataDir); // both processes sign with the one key, as instances of one deployment do
    const log = await VerifiableLog.open({
      storage: await PostgresLogStorage.open({ connectionString: dbUrl.toString() }),
      dataDir,
    });
    const start = await log.size();
    const child = spawn(
      process.execPath,
      [
        path.join(REPO_ROOT, 'dist/test/support/pg-log-writer-child.js'),
        dbUrl.toString(),
        dataDir,
        String(PER_PROCESS),
        'child',
      ],
      {
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    while (!out.includes('ready\n')) await new Promise((r) => setTimeout(r, 20));
    child.stdin.end('go\n');
    let next = 0;
    const mine: number[] = [];
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        for (let i = next++; i < PER_PROCESS; i = next++)
          mine.push((await log.append(sampleRecord(i, 'parent'))).index);
      }),
    );
    assert.equal(await exited, 0, out.slice(-500));
    const theirs = [...out.matchAll(/^ack (\d+)$/gm)].map((m) => Number(m[1]));
    assert.equal(theirs.length, PER_PROCESS);
    const all = [...mine, ...theirs].sort((a, b) => a - b);
    assert.equal(new Set(all).size, 2 * PER_PROCESS, 'indices are unique');
    assert.deepEqual(
      all,
      Array.from({ length: 2 * PER_PROCESS }, (_, i) => start + i),
      'and consecutive',
    );
    const interleaved = mine.some((m) => m > Math.min(...theirs)) && theirs.some((x) => x > Math.min(...mine));
    assert.ok(interleaved, 'the two processes really appended at the same time');
    await log.treeHead();
    await log.close();
    const storage = await PostgresLogStorage.open({ connectionString: dbUrl.toString() });
    try {
      const report = await auditStorage(storage, openLogKey(dataDir).pem);
      assert.ok(report.ok, JSON.stringify(report.findings));
    } finally {
      await storage.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
