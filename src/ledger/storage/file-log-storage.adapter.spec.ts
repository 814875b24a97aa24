/**
 * File adapter: crash recovery (torn trailing frames, lost derived files, torn tree-head lines) and what
 * `auditStorage` reports when the files are tampered with: a changed byte, a dropped record, reordered
 * records — by a careless editor (stored hashes left as they were) or a careful one (every derived file
 * rebuilt so that only the signed tree heads disagree).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { sampleRecord } from '../../../test/support/provenance-fixtures.js';
import { forgeLeaves, frame, readFrames } from '../../../test/support/log-files.js';
import { LogCorruptionError } from '../log-storage.port.js';
import type { Receipt } from '../provenance-log.port.js';
import { VerifiableLog } from '../verifiable-log.js';
import { auditStorage, type AuditReport } from '../verifier.js';
import { FileLogStorage, storedCount, storedIndex } from './file-log-storage.adapter.js';

const tmpDirs: string[] = [];
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'citygate-flog-'));
  tmpDirs.push(d);
  return d;
}
after(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

async function buildLog(n: number, treeHeadEvery = 16) {
  const dataDir = tmp();
  const logDir = path.join(dataDir, 'log');
  const storage = await FileLogStorage.open(logDir);
  const log = await VerifiableLog.open({ storage, dataDir, treeHeadEvery });
  const receipts: Receipt[] = [];
  for (let i = 0; i < n; i += 10) {
    receipts.push(
      ...(await Promise.all(Array.from({ length: Math.min(10, n - i) }, (_, j) => log.append(sampleRecord(i + j))))),
    );
  }
  const publicKey = log.publicKey().pem;
  return { dataDir, logDir, log, storage, receipts, publicKey };
}

async function audit(logDir: string, publicKey: string): Promise<AuditReport> {
  const storage = await FileLogStorage.open(logDir);
  try {
    return await auditStorage(storage, publicKey, { chunk: 64 });
  } finally {
    await storage.close();
  }
}

/** Copies the directory as it is on disk now: what a machine would find after the process died. */
function crashImage(logDir: string): string {
  const copy = path.join(tmp(), 'log');
  fs.cpSync(logDir, copy, { recursive: true });
  return copy;
}

describe('FileLogStorage: storage layout', () => {
  it('stores node (level, index) where the append that completes it writes it', () => {
    // Leaf 3 completes (1,1) and (2,0): slots 4, 5, 6. Leaf 4 follows at slot 7.
    assert.deepEqual(
      [storedIndex(0, 0), storedIndex(0, 1), storedIndex(1, 0), storedIndex(0, 2), storedIndex(0, 3)],
      [0, 1, 2, 3, 4],
    );
    assert.deepEqual([storedIndex(1, 1), storedIndex(2, 0), storedIndex(0, 4)], [5, 6, 7]);
    assert.equal(storedCount(8), 15);
    assert.equal(storedCount(10_000_000), 2 * 10_000_000 - 8);
  });
});

describe('FileLogStorage: crash recovery', () => {
  it('truncates a torn trailing frame and a torn tree-head line, keeping every acknowledged leaf', async () => {
    const { logDir, log, receipts, publicKey } = await buildLog(300);
    const image = crashImage(logDir); // no checkpoint since open: everything must be replayed
    await log.close();
    const torn = Buffer.alloc(120, 0x41);
    torn.writeUInt32LE(500, 0); // claims 500 bytes, has 112
    fs.appendFileSync(path.join(image, 'leaves.log'), torn);
    fs.appendFileSync(path.join(image, 'tree-heads.jsonl'), '{"logId":"ab');

    const storage = await FileLogStorage.open(image);
    assert.equal(storage.recovery.truncatedBytes, 120);
    assert.equal(storage.recovery.replayedLeaves, 300);
    assert.equal(storage.recovery.truncatedTreeHeadBytes, '{"logId":"ab'.length);
    assert.equal(await storage.size(), 300);
    const leaves = await storage.getLeaves(0, 300);
    leaves.forEach((l, i) => assert.equal(l.leafHash.toString('hex'), receipts[i]!.leafHash));
    const report = await auditStorage(storage, publicKey);
    assert.deepEqual(report.findings, []);
    // New appends go after the last acknowledged leaf.
    const vlog = await VerifiableLog.open({ storage, dataDir: path.dirname(logDir) });
    assert.equal((await vlog.append(sampleRecord(300))).index, 300);
    await vlog.close();
  });

  it('cuts zero-filled or garbled tails (a power loss) but nothing before them', async () => {
    for (const tail of [Buffer.alloc(4096), frame(Buffer.from('{"x":1}')).fill(0x7f, 8, 9)]) {
      const { logDir, log, publicKey } = await buildLog(40);
      await log.close();
      const size = fs.statSync(path.join(logDir, 'leaves.log')).size;
      fs.appendFileSync(path.join(logDir, 'leaves.log'), tail);
      const storage = await FileLogStorage.open(logDir);
      assert.equal(storage.recovery.truncatedBytes, tail.length);
      assert.equal(fs.statSync(path.join(logDir, 'leaves.log')).size, size);
      assert.equal(await storage.size(), 40);
      await storage.close();
      assert.equal((await audit(logDir, publicKey)).ok, true);
    }
  });

  it('rebuilds hashes and offsets written after the checkpoint when they did not reach the disk', async () => {
    const { logDir, log, receipts, publicKey } = await buildLog(100);
    await log.close(); // checkpoint at 100
    const vlogDir = path.dirname(logDir);
    const more = await VerifiableLog.open({ storage: await FileLogStorage.open(logDir), dataDir: vlogDir });
    for (let i = 100; i < 150; i++) receipts.push(await more.append(sampleRecord(i)));
    const image = crashImage(logDir);
    await more.close();
    // Lose the derived writes after the checkpoint (they are not fsync'ed per batch).
    fs.truncateSync(path.join(image, 'hashes.bin'), 32 * storedCount(100));
    fs.truncateSync(path.join(image, 'offsets.bin'), 8 * 100);
    const storage = await FileLogStorage.open(image);
    assert.equal(storage.recovery.replayedLeaves, 50);
    assert.equal(await storage.size(), 150);
    (await storage.getLeaves(0, 150)).forEach((l, i) =>
      assert.equal(l.leafHash.toString('hex'), receipts[i]!.leafHash),
    );
    assert.deepEqual((await auditStorage(storage, publicKey)).findings, []);
    await storage.close();
  });

  it('refuses to open files that are shorter than their checkpoint', async () => {
    const { logDir, log } = await buildLog(50);
    await log.close();
    fs.truncateSync(path.join(logDir, 'hashes.bin'), 32 * 10);
    await assert.rejects(FileLogStorage.open(logDir), LogCorruptionError);
  });
});

describe('auditStorage: tampering with the files', () => {
  const N = 200;
  const K = 78; // the record tampered with (a released one: rows 100)

  it('passes an untouched log', async () => {
    const { logDir, log, publicKey } = await buildLog(N);
    await log.close();
    const report = await audit(logDir, publicKey);
    assert.equal(report.ok, true);
    assert.ok(report.treeHeadsChecked >= N / 20, `${report.treeHeadsChecked} heads`);
    assert.equal(report.suspect, null);
  });

  it('pins a changed byte to its record when the checksum was left alone', async () => {
    const { logDir, log, publicKey } = await buildLog(N);
    await log.close();
    const f = readFrames(logDir)[K]!;
    const fd = fs.openSync(path.join(logDir, 'leaves.log'), 'r+');
    fs.writeSync(fd, Buffer.from('9'), 0, 1, f.offset + 8 + f.payload.indexOf('"rows":') + 7);
    fs.closeSync(fd);
    const storage = await FileLogStorage.open(logDir);
    await assert.rejects(storage.getLeaves(K, K + 1), (e: unknown) => e instanceof LogCorruptionError && e.index === K);
    await storage.close();
    const report = await audit(logDir, publicKey);
    assert.equal(report.ok, false);
    assert.deepEqual(report.suspect, { first: K, last: K });
    assert.equal(report.findings[0]?.kind, 'damaged-leaf');
    assert.equal(report.findings[0]?.index, K);
  });

  it('pins a changed byte to its record when the checksum was fixed up', async () => {
    const { logDir, log, publicKey } = await buildLog(N);
    await log.close();
    const f = readFrames(logDir)[K]!;
    const payload = Buffer.from(f.payload.toString().replace('"rows":100', '"rows":900'));
    assert.equal(payload.length, f.payload.length);
    const fd = fs.openSync(path.join(logDir, 'leaves.log'), 'r+');
    fs.writeSync(fd, frame(payload), 0, 8 + payload.length, f.offset);
    fs.closeSync(fd);
    const report = await audit(logDir, publicKey);
    assert.deepEqual(report.suspect, { first: K, last: K });
    const kinds = new Set(report.findings.map((x) => x.kind));
    assert.ok(kinds.has('leaf-hash') && kinds.has('tree-head-root'), [...kinds].join());
    assert.equal(report.findings.find((x) => x.kind === 'leaf-hash')?.index, K);
  });

  it('brackets a changed record between two signed heads when every derived file was rebuilt', async () => {
    const { logDir, log, publicKey } = await buildLog(N);
    await log.close();
    const payloads = readFrames(logDir).map((f) => Buffer.from(f.payload));
    payloads[K] = Buffer.from(payloads[K]!.toString().replace('"rows":100', '"rows":101'));
    forgeLeaves(logDir, payloads);
    const report = await audit(logDir, publicKey);
    assert.equal(report.ok, false);
    assert.ok(report.findings.every((x) => x.kind === 'tree-head-root'));
    assert.ok(report.suspect && report.suspect.first <= K && K <= report.suspect.last, JSON.stringify(report.suspect));
    assert.ok(report.suspect.last - report.suspect.first < 20, JSON.stringify(report.suspect));
  });

  it('detects a dropped record (rebuilt files: heads disagree and the log is shorter than a signed head)', async () => {
    const { logDir, log, publicKey } = await buildLog(N);
    await log.close();
    const payloads = readFrames(logDir).map((f) => Buffer.from(f.payload));
    payloads.splice(K, 1);
    forgeLeaves(logDir, payloads);
    const report = await audit(logDir, publicKey);
    const kinds = new Set(report.findings.map((x) => x.kind));
    assert.ok(kinds.has('tree-head-root'));
    assert.equal(report.size, N - 1);
    assert.ok(report.suspect && report.suspect.first <= K && K <= report.suspect.last, JSON.stringify(report.suspect));
  });

  it('refuses to open a log whose record was cut out without rebuilding the rest', async () => {
    const { logDir, log } = await buildLog(N);
    await log.close();
    const buf = fs.readFileSync(path.join(logDir, 'leaves.log'));
    const f = readFrames(logDir)[K]!;
    fs.writeFileSync(
      path.join(logDir, 'leaves.log'),
      Buffer.concat([buf.subarray(0, f.offset), buf.subarray(f.offset + 8 + f.payload.length)]),
    );
    await assert.rejects(FileLogStorage.open(logDir), LogCorruptionError);
  });

  it('detects reordered records, exactly when the stored hashes were left alone', async () => {
    const { logDir, log, publicKey } = await buildLog(N);
    await log.close();
    const frames = readFrames(logDir);
    // Two neighbours of equal length swap places in leaves.log; offsets and hashes stay.
    let k = K;
    while (frames[k]!.payload.length !== frames[k + 1]!.payload.length) k++;
    const fd = fs.openSync(path.join(logDir, 'leaves.log'), 'r+');
    fs.writeSync(fd, frame(frames[k + 1]!.payload), 0, 8 + frames[k]!.payload.length, frames[k]!.offset);
    fs.writeSync(fd, frame(frames[k]!.payload), 0, 8 + frames[k]!.payload.length, frames[k + 1]!.offset);
    fs.closeSync(fd);
    const report = await audit(logDir, publicKey);
    assert.deepEqual(report.suspect, { first: k, last: k });
    assert.deepEqual(
      report.findings.filter((x) => x.kind === 'leaf-hash').map((x) => x.index),
      [k, k + 1],
    );
  });

  it('detects reordered records when every derived file was rebuilt', async () => {
    const { logDir, log, publicKey } = await buildLog(N);
    await log.close();
    const payloads = readFrames(logDir).map((f) => Buffer.from(f.payload));
    [payloads[K], payloads[K + 1]] = [payloads[K + 1]!, payloads[K]!];
    forgeLeaves(logDir, payloads);
    const report = await audit(logDir, publicKey);
    assert.equal(report.ok, false);
    assert.ok(report.suspect && report.suspect.first <= K && K <= report.suspect.last, JSON.stringify(report.suspect));
  });

  it('reports a tree head that is not signed by the log key', async () => {
    const { logDir, log, publicKey } = await buildLog(40);
    await log.close();
    const lines = fs.readFileSync(path.join(logDir, 'tree-heads.jsonl'), 'utf8').trimEnd().split('\n');
    const sth = JSON.parse(lines[0]!) as { treeSize: number };
    sth.treeSize = 39;
    fs.appendFileSync(path.join(logDir, 'tree-heads.jsonl'), JSON.stringify(sth) + '\n');
    const report = await audit(logDir, publicKey);
    assert.deepEqual(
      report.findings.map((x) => x.kind),
      ['tree-head-signature'],
    );
  });
});
