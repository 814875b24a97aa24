import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { VerifiableProvenanceLog } from '../provenance-log.port.js';
import { AnchorScheduler } from './anchor-scheduler.js';
import { AnchorError, type AnchoredHead, type LedgerAnchor } from './ledger-anchor.port.js';

/** Test helper: a LedgerAnchor that anchors whatever size the fake log has, failing while told to. */
class FakeAnchor implements LedgerAnchor {
  calls = 0;
  failWith: AnchorError | null = null;
  release: (() => void) | null = null;
  gate: Promise<void> | null = null;
  latest: AnchoredHead | null = null;
  async latestAnchor() {
    return this.latest;
  }
  async anchor(log: VerifiableProvenanceLog) {
    this.calls++;
    if (this.gate) await this.gate;
    if (this.failWith) throw this.failWith;
    const size = await log.size();
    this.latest = {
      logId: 'l',
      treeSize: size,
      rootHash: 'r',
      timestamp: size,
      signature: 's',
      anchoredAt: `t${size}`,
      txId: `tx${size}`,
    };
    return this.latest;
  }
  async recordGrantStep() {}
  async recordRelease() {}
  async close() {}
}

function fakeLog(): VerifiableProvenanceLog & { n: number } {
  const log = { n: 0, size: async () => log.n };
  return log as unknown as VerifiableProvenanceLog & { n: number };
}

describe('AnchorScheduler', () => {
  it('anchors after every N appended records and reports the lag', async () => {
    const log = fakeLog();
    const anchor = new FakeAnchor();
    const s = new AnchorScheduler({ log, anchor, everyRecords: 3, everyMs: 0 });
    log.n = 2;
    s.recordsAppended(2);
    assert.equal(anchor.calls, 0);
    assert.equal(await s.lag(), 2);
    log.n = 3;
    s.recordsAppended();
    await s.anchorNow();
    assert.equal(anchor.calls, 1);
    assert.equal(s.status().anchoredSize, 3);
    assert.equal(await s.lag(), 0);
  });

  it('shares one anchor between concurrent triggers', async () => {
    const log = fakeLog();
    const anchor = new FakeAnchor();
    anchor.gate = new Promise((resolve) => (anchor.release = resolve));
    const s = new AnchorScheduler({ log, anchor, everyRecords: 1, everyMs: 0 });
    log.n = 5;
    const all = [s.anchorNow(), s.anchorNow(), s.anchorNow()];
    s.recordsAppended(5);
    anchor.release?.();
    const heads = await Promise.all(all);
    assert.equal(anchor.calls, 1);
    assert.deepEqual(
      heads.map((h) => h?.treeSize),
      [5, 5, 5],
    );
  });

  it('keeps a failure for readiness, counts its records again, and catches up on the next trigger', async () => {
    const log = fakeLog();
    const anchor = new FakeAnchor();
    const errors: AnchorError[] = [];
    const s = new AnchorScheduler({ log, anchor, everyRecords: 4, everyMs: 0, onError: (e) => errors.push(e) });
    anchor.failWith = new AnchorError('unavailable', 'UNAVAILABLE', 'the peer is down');
    log.n = 4;
    s.recordsAppended(4);
    assert.equal(await s.anchorNow(), null);
    assert.equal(s.status().lastError?.code, 'UNAVAILABLE');
    assert.equal(errors.length >= 1, true);
    assert.equal(await s.lag(), 4);
    anchor.failWith = null;
    log.n = 5;
    const callsBefore = anchor.calls;
    s.recordsAppended(1); // 4 still pending + 1: due again
    await s.anchorNow();
    assert.ok(anchor.calls > callsBefore);
    assert.equal(s.status().anchoredSize, 5);
    assert.equal(s.status().lastError, null);
    await s.stop();
  });
});
