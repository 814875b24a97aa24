/**
 * A real full disk under the embedded log: a small tmpfs is mounted for the data directory (this needs root,
 * as on CI machines; elsewhere the test is skipped), filled up, then freed.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openLogKey } from '../../src/ledger/log-key.js';
import { FileLogStorage } from '../../src/ledger/storage/file-log-storage.adapter.js';
import { auditStorage } from '../../src/ledger/verifier.js';
import { errorCode, startTestGateway, type TestGateway } from '../support/test-gateway.js';

function tryMount(dir: string): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'citygate-full-'));
const mounted = tryMount(dir);

describe('the log on a full disk', { skip: mounted ? false : 'needs root to mount a small tmpfs' }, () => {
  let t: TestGateway | null = null;
  const filler = path.join(dir, 'filler');
  const query = '{ records(dataset: "public-facilities", fields: ["name"], first: 2) { items { id } } }';
  before(async () => {
    t = await startTestGateway({ rooms: 300, dataDir: dir });
  });
  after(async () => {
    await t?.close();
    if (mounted) execFileSync('umount', [dir], { stdio: 'ignore' });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses data while nothing can be logged, keeps serving metadata, and recovers when space returns', async () => {
    const g = t!;
    assert.equal(errorCode(await g.gql(query)), undefined);

    // Fill the file system to the last byte.
    const fd = fs.openSync(filler, 'w');
    const chunk = Buffer.alloc(64 * 1024, 1);
    try {
      for (;;) fs.writeSync(fd, chunk);
    } catch (err) {
      assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
    }
    try {
      for (;;) fs.writeSync(fd, chunk.subarray(0, 512));
    } catch {
      /* full */
    }
    fs.closeSync(fd);

    // The leaves file may still have room in its last page: appends fail once that is used up.
    let refused = await g.gql(query);
    for (let i = 0; i < 200 && errorCode(refused) === undefined; i++) refused = await g.gql(query);
    assert.equal(errorCode(refused), 'UNAVAILABLE');
    const before = await g.gw.log.size();
    assert.equal(refused.body.data, null);
    assert.equal(errorCode(await g.gql('{ health datasets { id } }')), undefined, 'metadata is still served');
    assert.equal(errorCode(await g.gql(query)), 'UNAVAILABLE', 'still refused while the disk is full');
    assert.equal(await g.gw.log.size(), before, 'nothing half-written was counted');

    fs.rmSync(filler);
    await new Promise((r) => setTimeout(r, 1100)); // the log waits a moment before reopening its storage
    const back = await g.gql(query);
    assert.equal(errorCode(back), undefined, JSON.stringify(back.body.errors));
    assert.equal(back.body.extensions!.receipts![0]!.index, before);

    await g.close();
    t = null;
    const storage = await FileLogStorage.open(path.join(dir, 'log'));
    try {
      const report = await auditStorage(storage, openLogKey(dir).pem);
      assert.ok(report.ok, JSON.stringify(report.findings));
      assert.equal(report.size, before + 1);
    } finally {
      await storage.close();
    }
  });
});
