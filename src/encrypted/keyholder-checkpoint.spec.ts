/**
 * The key holder's view of the log: with a checkpoint, it refuses a gateway whose log was rolled back or
 * forked since it last looked, even when every tree head is signed with the real log key.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { sampleRecord } from '../../test/support/provenance-fixtures.js';
import { LOG_KEY_DIR } from '../ledger/log-key.js';
import { canonicalJson } from '../ledger/provenance-record.js';
import { FileLogStorage } from '../ledger/storage/file-log-storage.adapter.js';
import { VerifiableLog } from '../ledger/verifiable-log.js';
import { KeyHolderRefusal } from './encrypted.errors.js';
import { fileCheckpoint, logApprovals, memoryCheckpoint, type GatewayGraphql } from './keyholder.server.js';

const dirs: string[] = [];
const logs: VerifiableLog[] = [];
after(async () => {
  for (const l of logs) await l.close();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

async function openLog(keyFrom?: string): Promise<{ log: VerifiableLog; dir: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'citygate-kh-cp-'));
  dirs.push(dir);
  // A fork signed with the same key: the log key directory copied from the first log.
  if (keyFrom) fs.cpSync(path.join(keyFrom, LOG_KEY_DIR), path.join(dir, LOG_KEY_DIR), { recursive: true });
  const log = await VerifiableLog.open({ storage: await FileLogStorage.open(path.join(dir, 'log')), dataDir: dir });
  logs.push(log);
  return { log, dir };
}

async function appendAll(log: VerifiableLog, from: number, to: number, tag: string): Promise<void> {
  await Promise.all([...Array(to - from).keys()].map((i) => log.append(sampleRecord(from + i, tag))));
}

/** Test helper: the two queries the key holder sends, answered by a log in this process (as the resolver does). */
function gatewayOver(current: () => VerifiableLog): GatewayGraphql {
  return async (query, variables) => {
    const log = current();
    if (query.includes('receiptBundle')) {
      const index = Number(variables.i);
      const entry = await log.get(index);
      if (!entry) throw new Error('No such log entry.');
      const treeHead = await log.treeHead();
      const proof = await log.inclusionProof(index, treeHead.treeSize);
      return {
        receiptBundle: canonicalJson({
          record: entry.record,
          receipt: { index, leafHash: entry.leafHash },
          proof,
          treeHead,
        }),
      };
    }
    if (query.includes('consistencyProof')) {
      return { consistencyProof: await log.consistencyProof(Number(variables.a), Number(variables.b)) };
    }
    throw new Error(`unexpected query ${query}`);
  };
}

const inconsistent = (err: unknown) => err instanceof KeyHolderRefusal && err.code === 'LOG_INCONSISTENT';

describe('key holder checkpoint', () => {
  it('follows an honest log as it grows, and refuses a fork of the same size signed with the same key', async () => {
    const a = await openLog();
    await appendAll(a.log, 0, 3, 'shared');
    let serving = a.log;
    const checkpoint = memoryCheckpoint();
    const approvals = logApprovals(
      gatewayOver(() => serving),
      a.log.publicKey().pem,
      'key-1',
      { checkpoint },
    );
    // Not approvals (ordinary access records): null, but the tree heads are checked and remembered.
    assert.equal(await approvals.lookup('x', 1, 0), null);
    assert.equal(checkpoint.load()?.treeSize, 3);
    await appendAll(a.log, 3, 6, 'honest');
    assert.equal(await approvals.lookup('x', 4, 0), null);
    assert.equal(checkpoint.load()?.treeSize, 6);

    const b = await openLog(a.dir);
    await appendAll(b.log, 0, 3, 'shared');
    await appendAll(b.log, 3, 6, 'rewritten');
    assert.equal(b.log.publicKey().pem, a.log.publicKey().pem);
    serving = b.log;
    await assert.rejects(approvals.lookup('x', 1, 0), inconsistent);
    assert.equal(checkpoint.load()?.rootHash, (await a.log.treeHead()).rootHash, 'the checkpoint stays put');
  });

  it('refuses a log rolled back to an earlier prefix, and remembers across restarts through its file', async () => {
    const a = await openLog();
    await appendAll(a.log, 0, 5, 'shared');
    const file = path.join(a.dir, 'keyholder-checkpoint.json');
    const first = logApprovals(
      gatewayOver(() => a.log),
      a.log.publicKey().pem,
      'key-1',
      {
        checkpoint: fileCheckpoint(file),
      },
    );
    assert.equal(await first.lookup('x', 0, 0), null);
    assert.equal(fileCheckpoint(file).load()?.treeSize, 5);

    // The gateway comes back with only the first 3 entries (a restored backup): it cannot prove size 5.
    const b = await openLog(a.dir);
    await appendAll(b.log, 0, 3, 'shared');
    const restarted = logApprovals(
      gatewayOver(() => b.log),
      a.log.publicKey().pem,
      'key-1',
      {
        checkpoint: fileCheckpoint(file),
      },
    );
    await assert.rejects(restarted.lookup('x', 0, 0), inconsistent);

    // Nor can it grow a different history past the checkpoint.
    await appendAll(b.log, 3, 8, 'diverged');
    await assert.rejects(restarted.lookup('x', 0, 0), inconsistent);
    assert.equal(fileCheckpoint(file).load()?.treeSize, 5);
    assert.equal(fs.statSync(file).mode & 0o077, 0, 'the checkpoint file is private');
  });

  it('refuses a fork shorter than the checkpoint, signed with the same key', async () => {
    const a = await openLog();
    await appendAll(a.log, 0, 6, 'shared');
    const checkpoint = memoryCheckpoint();
    let serving = a.log;
    const approvals = logApprovals(
      gatewayOver(() => serving),
      a.log.publicKey().pem,
      'key-1',
      { checkpoint },
    );
    assert.equal(await approvals.lookup('x', 5, 0), null);
    assert.equal(checkpoint.load()?.treeSize, 6);
    // A copy that shares 2 entries, then rewrote history and stays below the checkpoint's size.
    const b = await openLog(a.dir);
    await appendAll(b.log, 0, 2, 'shared');
    await appendAll(b.log, 2, 4, 'rewritten');
    serving = b.log;
    await assert.rejects(approvals.lookup('x', 1, 0), inconsistent);
    assert.equal(checkpoint.load()?.treeSize, 6, 'the checkpoint stays put');
  });

  it('refuses when its own checkpoint file is damaged or edited, rather than starting afresh', async () => {
    const a = await openLog();
    await appendAll(a.log, 0, 4, 'shared');
    const file = path.join(a.dir, 'keyholder-checkpoint.json');
    const over = () =>
      logApprovals(
        gatewayOver(() => a.log),
        a.log.publicKey().pem,
        'key-1',
        { checkpoint: fileCheckpoint(file) },
      );
    assert.equal(await over().lookup('x', 0, 0), null);
    const good = fs.readFileSync(file, 'utf8');
    // Torn or overwritten: unreadable.
    fs.writeFileSync(file, good.slice(0, 20));
    await assert.rejects(over().lookup('x', 0, 0), inconsistent);
    // Edited to a smaller size (to accept a rolled-back log): the signature no longer matches.
    const edited = { ...(JSON.parse(good) as { treeSize: number }), treeSize: 1 };
    fs.writeFileSync(file, JSON.stringify(edited));
    await assert.rejects(over().lookup('x', 0, 0), inconsistent);
    fs.writeFileSync(file, good);
    assert.equal(await over().lookup('x', 0, 0), null);
  });
});
