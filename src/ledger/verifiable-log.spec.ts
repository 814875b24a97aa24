/**
 * VerifiableLog over the file adapter: the conformance suite, group commit (batching, durability before
 * resolution, failure isolation), the log key, the signed tree head format, reopening, and offline detection
 * of a rolled-back or rewritten log.
 */
import assert from 'node:assert/strict';
import { verify } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { describeProvenanceLogConformance } from '../../test/support/provenance-log.conformance.js';
import { sampleRecord } from '../../test/support/provenance-fixtures.js';
import type { LeafInput, LogStorage } from './log-storage.port.js';
import { openLogKey } from './log-key.js';
import { FileLogStorage } from './storage/file-log-storage.adapter.js';
import { treeHeadMessage } from './signed-tree-head.js';
import { VerifiableLog } from './verifiable-log.js';
import { openVerifiableLog } from './verifiable-log.factory.js';
import { verifyCheckpoint } from './verifier.js';

const tmpDirs: string[] = [];
function tmp(prefix = 'citygate-vlog-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpDirs.push(d);
  return d;
}
after(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

async function openFileLog(dataDir = tmp(), opts: { maxBatch?: number; treeHeadEvery?: number } = {}) {
  const storage = await FileLogStorage.open(path.join(dataDir, 'log'));
  const log = await VerifiableLog.open({ storage, dataDir, ...opts });
  return { log, storage, dataDir };
}

describeProvenanceLogConformance('file adapter', async () => {
  const { log, storage } = await openFileLog(tmp(), { treeHeadEvery: 256 });
  return { log, storage, close: () => log.close() };
});

/** A storage wrapper that lets a test watch (or break) batches on their way to disk. */
function watched(inner: LogStorage, hooks: { before?: (b: readonly LeafInput[]) => void; after?: () => void }) {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'append') {
        return async (batch: readonly LeafInput[]) => {
          hooks.before?.(batch);
          const first = await target.append(batch);
          hooks.after?.();
          return first;
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

describe('VerifiableLog: group commit', () => {
  it('batches concurrent appends into few durable writes and resolves each only after its batch is durable', async () => {
    const dataDir = tmp();
    const inner = await FileLogStorage.open(path.join(dataDir, 'log'));
    const durable = new Set<string>();
    let inFlight: string[] = [];
    const storage = watched(inner, {
      before: (b) => (inFlight = b.map((l) => l.leafHash.toString('hex'))),
      after: () => inFlight.forEach((h) => durable.add(h)),
    });
    const log = await VerifiableLog.open({ storage, dataDir });
    const n = 2000;
    const receipts = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        log.append(sampleRecord(i)).then((r) => {
          assert.ok(durable.has(r.leafHash), `receipt ${r.index} resolved before its batch was durable`);
          return r;
        }),
      ),
    );
    assert.deepEqual(
      receipts.map((r) => r.index),
      Array.from({ length: n }, (_, i) => i),
    );
    const stats = log.stats();
    assert.equal(stats.appended, n);
    assert.ok(stats.batches <= n / 10, `expected few batches, got ${stats.batches}`);
    assert.ok(stats.largestBatch > 1);
    await log.close();
  });

  it('with maxBatch 1 writes one batch per record', async () => {
    const { log } = await openFileLog(tmp(), { maxBatch: 1 });
    await Promise.all(Array.from({ length: 20 }, (_, i) => log.append(sampleRecord(i))));
    assert.deepEqual(log.stats(), { batches: 20, appended: 20, largestBatch: 1 });
    await log.close();
  });

  it('rejects every append of a failed batch, keeps their indices unused, and goes on with the next batch', async () => {
    const dataDir = tmp();
    const inner = await FileLogStorage.open(path.join(dataDir, 'log'));
    let failNext = false;
    const storage = watched(inner, {
      before: () => {
        if (failNext) {
          failNext = false;
          throw new Error('disk on fire');
        }
      },
    });
    const log = await VerifiableLog.open({ storage, dataDir });
    await log.append(sampleRecord(0));
    failNext = true;
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => log.append(sampleRecord(1 + i))));
    const rejected = results.filter((r) => r.status === 'rejected');
    assert.ok(rejected.length >= 1, 'the failed batch is reported');
    const ok = results.filter((r) => r.status === 'fulfilled').map((r) => r.value.index);
    assert.deepEqual(
      ok,
      Array.from({ length: ok.length }, (_, i) => 1 + i),
      'later batches continue densely',
    );
    assert.equal(await log.size(), 1 + ok.length);
    await log.close();
  });

  it('refuses appends after close and never loses a queued one', async () => {
    const { log, dataDir } = await openFileLog();
    const pending = Array.from({ length: 50 }, (_, i) => log.append(sampleRecord(i)));
    const closing = log.close();
    await assert.rejects(log.append(sampleRecord(99)), /closed/);
    await Promise.all(pending);
    await closing;
    const again = await openFileLog(dataDir);
    assert.equal(await again.log.size(), 50);
    await again.log.close();
  });
});

describe('VerifiableLog: key and signed tree heads', () => {
  it('creates the Ed25519 key on first start with mode 0600 and reuses it', async () => {
    const dataDir = tmp();
    const { log } = await openFileLog(dataDir);
    const keyFile = path.join(dataDir, 'keys', 'log.key');
    assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.join(dataDir, 'keys')).mode & 0o777, 0o700);
    const pub = log.publicKey();
    assert.equal(fs.readFileSync(path.join(dataDir, 'keys', 'log.pub.pem'), 'utf8'), pub.pem);
    assert.match(pub.pem, /^-----BEGIN PUBLIC KEY-----/);
    assert.equal(pub.jwk.kty, 'OKP');
    assert.equal(pub.jwk.crv, 'Ed25519');
    assert.equal(pub.jwk.d, undefined, 'no private part in the public JWK');
    assert.match(pub.logId, /^[0-9a-f]{64}$/);
    await log.close();
    assert.equal(openLogKey(dataDir).logId, pub.logId);
    fs.chmodSync(keyFile, 0o644);
    assert.throws(() => openLogKey(dataDir), /accessible by other users/);
  });

  it('signs canonical JSON {logId, treeSize, rootHash, timestamp} with Ed25519', async () => {
    const { log } = await openFileLog();
    await log.append(sampleRecord(1));
    const sth = await log.treeHead();
    const message = treeHeadMessage(sth).toString('utf8');
    assert.equal(
      message,
      `{"logId":"${sth.logId}","rootHash":"${sth.rootHash}","timestamp":${sth.timestamp},"treeSize":1}`,
    );
    assert.ok(verify(null, Buffer.from(message), log.publicKey().pem, Buffer.from(sth.signature, 'base64')));
    await log.close();
  });

  it('signs a tree head every treeHeadEvery leaves on its own', async () => {
    const { log, storage } = await openFileLog(tmp(), { treeHeadEvery: 10 });
    for (let i = 0; i < 35; i++) await log.append(sampleRecord(i));
    const sizes = (await storage.treeHeads()).map((s) => s.treeSize);
    assert.deepEqual(sizes, [10, 20, 30]);
    await log.close();
  });

  it('keeps its records, tree and heads across a restart and refuses another key', async () => {
    const dataDir = tmp();
    const first = await openFileLog(dataDir);
    await Promise.all(Array.from({ length: 100 }, (_, i) => first.log.append(sampleRecord(i))));
    const sth = await first.log.treeHead();
    await first.log.close();

    const second = await openFileLog(dataDir);
    assert.equal(await second.log.size(), 100);
    assert.deepEqual(await second.log.treeHead(), sth);
    await second.log.close();

    const storage = await FileLogStorage.open(path.join(dataDir, 'log'));
    await assert.rejects(VerifiableLog.open({ storage, dataDir: tmp() }), /wrong key/);
    await storage.close();
  });

  it('opens on files under <dataDir>/log when no DATABASE_URL is configured', async () => {
    const dataDir = tmp();
    const log = await openVerifiableLog({ dataDir, databaseUrl: null });
    await log.append(sampleRecord(0));
    await log.close();
    assert.ok(fs.statSync(path.join(dataDir, 'log', 'leaves.log')).size > 8);
    assert.ok(fs.existsSync(path.join(dataDir, 'keys', 'log.key')));
  });

  it('refuses a second opening of the same directory', async () => {
    const dataDir = tmp();
    const storage = await FileLogStorage.open(path.join(dataDir, 'log'));
    await assert.rejects(FileLogStorage.open(path.join(dataDir, 'log')), /already open/);
    await storage.close();
  });
});

describe('verifier: a saved checkpoint against a newer tree head', () => {
  it('detects a log that was rolled back, or rolled back and rewritten', async () => {
    const dataDir = tmp();
    const { log } = await openFileLog(dataDir);
    for (let i = 0; i < 20; i++) await log.append(sampleRecord(i));
    await log.close();
    // Keep a copy at size 20: the "backup" an operator might restore.
    const backup = tmp();
    fs.cpSync(path.join(dataDir, 'log'), path.join(backup, 'log'), { recursive: true });
    fs.cpSync(path.join(dataDir, 'keys'), path.join(backup, 'keys'), { recursive: true });

    const honest = await openFileLog(dataDir);
    for (let i = 20; i < 25; i++) await honest.log.append(sampleRecord(i));
    const saved = await honest.log.treeHead(); // an auditor saves this checkpoint (size 25)
    const key = honest.log.publicKey().pem;
    for (let i = 25; i < 30; i++) await honest.log.append(sampleRecord(i));
    const good = await honest.log.treeHead();
    assert.deepEqual(verifyCheckpoint(saved, good, await honest.log.consistencyProof(25, 30), key), { ok: true });
    await honest.log.close();

    // The backup is restored: the log is smaller than the checkpoint.
    const restored = await openFileLog(backup);
    const smaller = await restored.log.treeHead();
    assert.equal(smaller.treeSize, 20);
    const rolledBack = verifyCheckpoint(saved, smaller, null, key);
    assert.equal(rolledBack.ok, false);
    assert.match((rolledBack as { reason: string }).reason, /rolled back/);

    // ... and new, different records are appended past the checkpoint's size.
    for (let i = 0; i < 10; i++) await restored.log.append(sampleRecord(1000 + i));
    const rewritten = await restored.log.treeHead();
    assert.equal(rewritten.treeSize, 30);
    const verdict = verifyCheckpoint(saved, rewritten, await restored.log.consistencyProof(25, 30), key);
    assert.equal(verdict.ok, false);
    assert.match((verdict as { reason: string }).reason, /rewritten/);
    const fork = verifyCheckpoint(good, rewritten, null, key);
    assert.match((fork as { reason: string }).reason, /forked/);
    await restored.log.close();
  });
});
