/**
 * Decides when to anchor: after every `everyRecords` appended records or every `everyMs`, whichever comes
 * first, one anchor at a time (a call while one runs shares it). The backlog needs no store of its own: one
 * anchor of the current head covers every record since the last anchor, so after a restart (or an outage) the
 * next anchor catches up in one transaction, in order. Failures go to `onError` and the next trigger tries
 * again; a `rejected` failure (rollback, fork, another key) is kept in `status()` for readiness and alerts.
 */
import type { VerifiableProvenanceLog } from '../provenance-log.port.js';
import { AnchorError, type AnchoredHead, type LedgerAnchor } from './ledger-anchor.port.js';

export interface AnchorSchedulerOptions {
  log: VerifiableProvenanceLog;
  anchor: LedgerAnchor;
  /** Anchor once this many records were appended since the last anchor (≥ 1). */
  everyRecords: number;
  /** And at least this often, in ms (0: no timer). */
  everyMs: number;
  onError?: (err: AnchorError) => void;
}

export interface AnchorStatus {
  /** Size of the last head this scheduler saw on the ledger, or null before the first anchor. */
  anchoredSize: number | null;
  lastAnchoredAt: string | null;
  /** The last failure, cleared by the next success. */
  lastError: AnchorError | null;
}

export class AnchorScheduler {
  private sinceLast = 0;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<AnchoredHead | null> | null = null;
  private readonly state: AnchorStatus = { anchoredSize: null, lastAnchoredAt: null, lastError: null };

  constructor(private readonly opts: AnchorSchedulerOptions) {
    if (!Number.isInteger(opts.everyRecords) || opts.everyRecords < 1)
      throw new RangeError('everyRecords must be a whole number ≥ 1');
    if (!Number.isInteger(opts.everyMs) || opts.everyMs < 0) throw new RangeError('everyMs must be a whole number ≥ 0');
  }

  start(): void {
    if (this.timer || this.opts.everyMs === 0) return;
    this.timer = setInterval(() => void this.anchorNow(), this.opts.everyMs);
    this.timer.unref();
  }

  /** Tells the scheduler that `n` records were appended to the log. */
  recordsAppended(n = 1): void {
    this.sinceLast += n;
    if (this.sinceLast >= this.opts.everyRecords) void this.anchorNow();
  }

  /** Anchors the current head now (or joins the anchor under way); null when it failed (see status()). */
  anchorNow(): Promise<AnchoredHead | null> {
    this.running ??= this.runOnce().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  status(): AnchorStatus {
    return { ...this.state };
  }

  /** Records in the log that no anchor covers yet. */
  async lag(): Promise<number> {
    return (await this.opts.log.size()) - (this.state.anchoredSize ?? 0);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  private async runOnce(): Promise<AnchoredHead | null> {
    const pending = this.sinceLast;
    this.sinceLast = 0;
    try {
      const head = await this.opts.anchor.anchor(this.opts.log);
      this.state.anchoredSize = head.treeSize;
      this.state.lastAnchoredAt = head.anchoredAt;
      this.state.lastError = null;
      return head;
    } catch (err) {
      // Nothing was anchored: those records still count towards the next trigger.
      this.sinceLast += pending;
      const e = err instanceof AnchorError ? err : new AnchorError('unavailable', 'FAILED', String(err), err);
      this.state.lastError = e;
      this.opts.onError?.(e);
      return null;
    }
  }
}
