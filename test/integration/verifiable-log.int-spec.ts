/**
 * VerifiableLog over PostgreSQL 15 (run through deploy/postgres/with-postgres.sh, which sets DATABASE_URL):
 * the conformance suite, 64 concurrent writers on one instance, the same spread over two instances (two
 * pools) sharing one database, sequencer failover, and the key binding. Each case gets a fresh database.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { PostgresLogStorage } from '../../src/ledger/storage/postgres-log-storage.adapter.js';
import type { Receipt } from '../../src/ledger/provenance-log.port.js';
import { leafHash } from '../../src/ledger/provenance-record.js';
import { VerifiableLog } from '../../src/ledger/verifiable-log.js';
import { auditStorage, verifyTreeHead } from '../../src/ledger/verifier.js';
import { migrate } from '../../src/store/migrate.js';
import { PostgresDb } from '../../src/store/postgres.adapter.js';
import { describeProvenanceLogConformance } from '../support/provenance-log.conformance.js';
import { sampleRecord } from '../support/provenance-fixtures.js';

const BASE_URL = process.env.DATABASE_URL;
const skip = BASE_URL ? false : 'DATABASE_URL is not set (run through deploy/postgres/with-postgres.sh)';

const tmpDirs: string[] = [];
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'citygate-pglog-'));
  tmpDirs.push(d);
  return d;
}
after(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

let dbCounter = 0;
/** A new, migrated database on the test server. */
async function freshDatabase(): Promise<string> {
  const name = `citygate_log_${process.pid}_${++dbCounter}`;
  const admin = new pg.Client({ connectionString: BASE_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(BASE_URL!);
  url.pathname = `/${name}`;
  const db = await PostgresDb.open(url.toString(), 2);
  await migrate(db);
  await db.close();
  return url.toString();
}

async function openInstance(url: string, dataDir: string, opts: { electionIntervalMs?: number } = {}) {
  const storage = await PostgresLogStorage.open({ connectionString: url, electionIntervalMs: 100, ...opts });
  const log = await VerifiableLog.open({ storage, dataDir, treeHeadEvery: 256 });
  return { storage, log };
}

/** `writers` concurrent writers, each appending `each` records in turn through the log it is given. */
async function writers(logs: VerifiableLog[], count: number, each: number): Promise<Receipt[][]> {
  return Promise.all(
    Array.from({ length: count }, async (_, w) => {
      const mine: Receipt[] = [];
      for (let i = 0; i < each; i++) mine.push(await logs[w % logs.length]!.append(sampleRecord(w * 1000 + i, 'w')));
      return mine;
    }),
  );
}

function assertDense(receipts: Receipt[][], total: number): void {
  const indices = receipts.flat().map((r) => r.index);
  assert.equal(indices.length, total);
  assert.equal(new Set(indices).size, total, 'indices are unique');
  assert.deepEqual(
    [...indices].sort((a, b) => a - b),
    Array.from({ length: total }, (_, i) => i),
    'indices are consecutive from 0',
  );
  for (const mine of receipts) {
    for (let i = 1; i < mine.length; i++) assert.ok(mine[i]!.index > mine[i - 1]!.index, 'a writer’s order is kept');
  }
}

if (BASE_URL) {
  describeProvenanceLogConformance('PostgreSQL adapter', async () => {
    const { log, storage } = await openInstance(await freshDatabase(), tmp());
    return { log, storage, close: () => log.close() };
  });
}

describe('PostgreSQL log: concurrency and sequencing', { skip }, () => {
  it('gives 64 concurrent writers unique, consecutive indices', async () => {
    const url = await freshDatabase();
    const { log, storage } = await openInstance(url, tmp());
    assert.equal(storage.sequencer, true, 'a lone instance becomes the sequencer');
    const receipts = await writers([log], 64, 20);
    assertDense(receipts, 64 * 20);
    assert.equal(await log.size(), 64 * 20);
    const report = await auditStorage(storage, log.publicKey().pem, { chunk: 500 });
    assert.deepEqual(report.findings, []);
    await log.close();
  });

  it('spreads 64 writers over two instances (two pools) with one sequencer between them', async () => {
    const url = await freshDatabase();
    const dataDir = tmp(); // both instances use the same log key
    const a = await openInstance(url, dataDir);
    const b = await openInstance(url, dataDir);
    assert.deepEqual([a.storage.sequencer, b.storage.sequencer], [true, false]);
    const receipts = await writers([a.log, b.log], 64, 20);
    assertDense(receipts, 64 * 20);
    // Every index holds the record its writer appended, whichever instance reads it.
    for (const [w, mine] of receipts.entries()) {
      for (const [i, r] of mine.entries()) {
        if ((w + i) % 9 !== 0) continue;
        const got = await (i % 2 ? a.log : b.log).get(r.index);
        assert.equal(got?.leafHash, r.leafHash);
        assert.equal(leafHash(got.record), leafHash(sampleRecord(w * 1000 + i, 'w')));
      }
    }
    const [ha, hb] = [await a.log.treeHead(), await b.log.treeHead()];
    assert.equal(ha.treeSize, 64 * 20);
    assert.equal(ha.rootHash, hb.rootHash);
    assert.deepEqual(verifyTreeHead(hb, a.log.publicKey().pem), { ok: true });
    const proof = await b.log.inclusionProof(5, ha.treeSize);
    assert.deepEqual(await a.log.inclusionProof(5, ha.treeSize), proof);
    await b.log.close();
    await a.log.close();
  });

  it('hands the sequencer role over when the sequencer goes away, without gaps', async () => {
    const url = await freshDatabase();
    const dataDir = tmp();
    const a = await openInstance(url, dataDir);
    const b = await openInstance(url, dataDir);
    assert.equal(a.storage.sequencer, true);
    const before = await writers([a.log, b.log], 8, 10);
    await a.log.close(); // releases the lock
    const afterwards = await Promise.all(Array.from({ length: 40 }, (_, i) => b.log.append(sampleRecord(5000 + i))));
    assert.equal(b.storage.sequencer, true, 'the survivor took over');
    assertDense([...before, afterwards], 120);
    const report = await auditStorage(b.storage, b.log.publicKey().pem);
    assert.deepEqual(report.findings, []);
    await b.log.close();
  });

  it('survives the sequencer’s session being killed mid-stream: every append lands once, densely', async () => {
    const url = await freshDatabase();
    const dataDir = tmp();
    const a = await openInstance(url, dataDir);
    const b = await openInstance(url, dataDir);
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    const running = writers([a.log, b.log], 32, 25);
    await new Promise((r) => setTimeout(r, 50));
    const killed = await admin.query(
      `select pg_terminate_backend(pid) from pg_locks where locktype = 'advisory' and objid = $1 and granted`,
      [7_340_003],
    );
    assert.equal(killed.rowCount, 1, 'the sequencer session was found and killed');
    const receipts = await running;
    assertDense(receipts, 32 * 25);
    assert.ok(a.storage.sequencer || b.storage.sequencer, 'someone took over');
    const report = await auditStorage(a.storage, a.log.publicKey().pem);
    assert.deepEqual(report.findings, []);
    await admin.end();
    await a.log.close();
    await b.log.close();
  });

  it('binds the tables to one log key and keeps them append-only', async () => {
    const url = await freshDatabase();
    const { log } = await openInstance(url, tmp());
    await log.append(sampleRecord(1));
    const stranger = await PostgresLogStorage.open({ connectionString: url });
    await assert.rejects(VerifiableLog.open({ storage: stranger, dataDir: tmp() }), /wrong key/);
    await stranger.close();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await assert.rejects(client.query(`update log_leaves set record = '{}' where idx = 0`), /append-only/);
    await assert.rejects(client.query(`delete from log_nodes where level = 0`), /append-only/);
    await client.end();
    await log.close();
  });
});
