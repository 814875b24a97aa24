/**
 * The verifiable provenance log (DESIGN.md §6, ADR 0002): an RFC 9162 Merkle tree over canonical provenance
 * records, kept by a LogStorage adapter, with Ed25519-signed tree heads and inclusion / consistency proofs.
 *
 * Group commit: `append` queues the record; one writer at a time hands everything queued (up to `maxBatch`)
 * to `storage.append` as one batch, i.e. one write and one fdatasync (or one commit). Each promise resolves
 * only after its batch is durable; while a batch is on disk the next one gathers, so the fsync cost is shared
 * by every concurrent caller without any added wait.
 */
import { Logger } from '@nestjs/common';
import { badInput } from '../errors/domain.error.js';
import { MAX_LEAF_BYTES, type LogStorage } from './log-storage.port.js';
import { openLogKey, type LogKey, type LogPublicKey } from './log-key.js';
import { CompactRange } from './merkle/compact-range.js';
import { hashLeaf } from './merkle/hasher.js';
import { consistencyPlan, foldRange, inclusionPlan, planNodes, resolvePlan } from './merkle/proofs.js';
import { isIndex } from './merkle/tree-math.js';
import type { ConsistencyProof, InclusionProof, Receipt, VerifiableProvenanceLog } from './provenance-log.port.js';
import { fastCanonicalJson } from './canonical-json.js';
import type { ProvenanceRecord } from './provenance-record.js';
import { signTreeHead, type SignedTreeHead } from './signed-tree-head.js';
import { storedConsistency, verifyLogIntegrity, type LogWitness } from './integrity.js';

const log = new Logger('VerifiableLog');

export interface VerifiableLogOptions {
  /** The storage adapter; the log owns it from now on and closes it in `close()`. */
  storage: LogStorage;
  /** Data directory holding `keys/log.key` (created on first start). */
  dataDir: string;
  /** Most records per durable write (default 4,096). 1 gives one fdatasync per record (benchmarks). */
  maxBatch?: number;
  /** Sign and store a tree head whenever this many leaves were added since the last one (default 1,024; 0: never). */
  treeHeadEvery?: number;
  /** Clock for tree-head timestamps, in ms since the epoch (tests). */
  now?: () => number;
  /**
   * Opens the storage afresh. An adapter stops after an I/O error (a full disk, a failed fsync); with this,
   * the log reopens it (running its crash recovery) on the first append at least `retryAfterMs` after the
   * failure, so appends resume once the disk can write again. Without it, appends fail until a restart.
   */
  reopen?: () => Promise<LogStorage>;
  /** Wait before reopening after a failure (default 1,000 ms); appends in between fail at once. */
  retryAfterMs?: number;
  /**
   * Keeps the latest signed head and the last verified point apart from the log's files (the store), so that a
   * log rolled back or truncated together with its derived files is noticed on opening.
   */
  witness?: LogWitness;
  /**
   * On opening, re-hash every record while the log holds at most this many (default 250,000); a larger log is
   * re-hashed from the witness's last verified point, and the background verifier covers the rest.
   */
  fullVerifyOnOpenBelow?: number;
}

/** What the last integrity check found; `ok` false means the log serves no release. */
export interface LogIntegrity {
  ok: boolean;
  reason: string | null;
  /** Records verified by the last completed check (on opening or in the background). */
  verifiedSize: number;
  /** Completed background checks, and failed ones. */
  runs: number;
  failures: number;
  /** When the last check that passed completed (ms since the epoch), or null. */
  lastOkAt: number | null;
  /** How long the last check took (ms). */
  lastDurationMs: number;
}

interface Pending {
  data: string;
  leafHash: Buffer;
  dataset: string | null;
  org: string | null;
  resolve: (r: Receipt) => void;
  reject: (e: unknown) => void;
}

export class VerifiableLog implements VerifiableProvenanceLog {
  private pending: Pending[] = [];
  private flushing: Promise<void> | null = null;
  private closing = false;
  private latest: SignedTreeHead | null = null;
  private signing: Promise<SignedTreeHead> | null = null;
  private readonly counters = { batches: 0, appended: 0, largestBatch: 0 };
  /** When the storage last failed, while it has not been reopened. */
  private failedAt: number | null = null;
  private reopen: (() => Promise<LogStorage>) | null = null;
  private retryAfterMs = 1000;
  private witness: LogWitness | null = null;
  private fullVerifyOnOpenBelow = 250_000;
  private readonly integrityState: LogIntegrity = {
    ok: true,
    reason: null,
    verifiedSize: 0,
    runs: 0,
    failures: 0,
    lastOkAt: null,
    lastDurationMs: 0,
  };
  private verifying: Promise<LogIntegrity> | null = null;
  private verifierTimer: NodeJS.Timeout | null = null;

  private constructor(
    private storage: LogStorage,
    private readonly key: LogKey,
    private readonly maxBatch: number,
    private readonly treeHeadEvery: number,
    private readonly now: () => number,
  ) {}

  /** Opens the log key (creating it on first start) and binds the storage to it. */
  static async open(opts: VerifiableLogOptions): Promise<VerifiableLog> {
    const maxBatch = opts.maxBatch ?? 4096;
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError('maxBatch must be a whole number ≥ 1');
    let key: LogKey;
    try {
      key = openLogKey(opts.dataDir);
      await opts.storage.bind({ logId: key.logId, publicKeyPem: key.pem });
    } catch (err) {
      // The log owns the storage from here: do not leave its connections and timers behind.
      await opts.storage.close().catch(() => undefined);
      throw err;
    }
    const vlog = new VerifiableLog(opts.storage, key, maxBatch, opts.treeHeadEvery ?? 1024, opts.now ?? Date.now);
    vlog.reopen = opts.reopen ?? null;
    vlog.retryAfterMs = opts.retryAfterMs ?? 1000;
    vlog.witness = opts.witness ?? null;
    vlog.fullVerifyOnOpenBelow = opts.fullVerifyOnOpenBelow ?? 250_000;
    vlog.latest = await opts.storage.latestTreeHead().catch(() => null);
    await vlog.verifyOnOpen();
    return vlog;
  }

  /**
   * On opening: the storage's own findings, every stored head against the data and each other, the witness's
   * head, and the records since the last verified point. A failure leaves the log open for reads and audits,
   * but it refuses appends (so nothing is released) until an operator acts.
   */
  private async verifyOnOpen(): Promise<void> {
    const started = Date.now();
    let state: { head: SignedTreeHead | null; verified: { size: number; root: string } | null } = {
      head: null,
      verified: null,
    };
    if (this.witness) {
      try {
        state = await this.witness.load(this.key.logId);
      } catch (err) {
        log.warn(`the log witness (${this.witness.name}) cannot be read: ${String(err)}`);
      }
    }
    const full = (await this.storage.size()) <= this.fullVerifyOnOpenBelow;
    const verdict = await verifyLogIntegrity(this.storage, this.key.pem, {
      from: full ? null : state.verified,
      known: state.verified,
      witnessHead: state.head,
      ...(this.witness ? { witnessName: this.witness.name } : {}),
    });
    this.integrityState.lastDurationMs = Date.now() - started;
    if (!verdict.ok) {
      this.degrade(verdict.reason);
      return;
    }
    this.integrityState.verifiedSize = verdict.size;
    this.integrityState.lastOkAt = Date.now();
    await this.witness?.saveVerified(this.key.logId, { size: verdict.size, root: verdict.root }).catch(() => undefined);
  }

  /** Stops releases: every append is refused with the reason until the gateway is restarted on a sound log. */
  degrade(reason: string): void {
    if (!this.integrityState.ok) return;
    this.integrityState.ok = false;
    this.integrityState.reason = reason;
    log.error(`the provenance log failed its integrity check; no release is served until an operator acts: ${reason}`);
  }

  /** The latest integrity verdict (readiness, metrics). */
  integrity(): LogIntegrity {
    return { ...this.integrityState };
  }

  /**
   * Re-checks the whole log from its first record (the background verifier), a chunk at a time so requests go
   * on being served. A failure degrades the log. Concurrent calls share one run.
   */
  verifyAll(): Promise<LogIntegrity> {
    this.verifying ??= (async () => {
      const started = Date.now();
      try {
        const seen = this.witness
          ? await this.witness.load(this.key.logId).catch(() => ({ head: null, verified: null }))
          : { head: null, verified: null };
        const verdict = await verifyLogIntegrity(this.storage, this.key.pem, {
          witnessHead: seen.head,
          known: seen.verified,
          yieldBetweenChunks: true,
          ...(this.witness ? { witnessName: this.witness.name } : {}),
        });
        this.integrityState.runs++;
        this.integrityState.lastDurationMs = Date.now() - started;
        if (verdict.ok) {
          this.integrityState.verifiedSize = verdict.size;
          this.integrityState.lastOkAt = Date.now();
          await this.witness
            ?.saveVerified(this.key.logId, { size: verdict.size, root: verdict.root })
            .catch(() => undefined);
        } else {
          this.integrityState.failures++;
          this.degrade(verdict.reason);
        }
        return this.integrity();
      } finally {
        this.verifying = null;
      }
    })();
    return this.verifying;
  }

  /** Runs `verifyAll` every `intervalMs` (the timer does not keep the process alive). */
  startVerifier(intervalMs: number): void {
    if (this.verifierTimer || !(intervalMs > 0)) return;
    this.verifierTimer = setInterval(() => {
      if (this.closing) return;
      this.verifyAll().catch((err: unknown) => log.warn(`background log verification failed to run: ${String(err)}`));
    }, intervalMs);
    this.verifierTimer.unref();
  }

  append(record: ProvenanceRecord): Promise<Receipt> {
    if (this.closing) return Promise.reject(new Error('the provenance log is closed'));
    if (!this.integrityState.ok) {
      return Promise.reject(new Error(`the provenance log failed its integrity check: ${this.integrityState.reason}`));
    }
    let data: string;
    try {
      data = fastCanonicalJson(record);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    // Refused here rather than by storage, where it would fail the whole batch it lands in.
    if (Buffer.byteLength(data, 'utf8') > MAX_LEAF_BYTES) {
      return Promise.reject(new RangeError(`a provenance record must be at most ${MAX_LEAF_BYTES} bytes`));
    }
    return new Promise<Receipt>((resolve, reject) => {
      this.pending.push({
        data,
        leafHash: hashLeaf(data),
        dataset: typeof record.dataset === 'string' ? record.dataset : null,
        org: record.requester?.org ?? null,
        resolve,
        reject,
      });
      this.flushing ??= this.flush();
    });
  }

  /** Writes queued records, one durable batch at a time, until the queue is empty. */
  private async flush(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, this.maxBatch);
        let first: number;
        try {
          await this.recover();
          first = await this.storage.append(batch);
        } catch (err) {
          this.failedAt ??= Date.now();
          for (const p of batch) p.reject(err);
          continue;
        }
        this.counters.batches++;
        this.counters.appended += batch.length;
        this.counters.largestBatch = Math.max(this.counters.largestBatch, batch.length);
        batch.forEach((p, i) => p.resolve({ index: first + i, leafHash: p.leafHash.toString('hex') }));
        const size = first + batch.length;
        if (this.treeHeadEvery > 0 && size - (this.latest?.treeSize ?? 0) >= this.treeHeadEvery) {
          await this.treeHead().catch((err: unknown) => log.warn(`signing a tree head failed: ${String(err)}`));
        }
      }
    } finally {
      this.flushing = null;
    }
  }

  /** After a storage failure: fail fast during the back-off, then reopen the storage (crash recovery) once. */
  private async recover(): Promise<void> {
    if (this.failedAt === null) return;
    if (!this.reopen) throw new Error('the provenance log storage failed and cannot be reopened; restart the gateway');
    if (Date.now() - this.failedAt < this.retryAfterMs)
      throw new Error('the provenance log storage is recovering from a write failure');
    this.failedAt = Date.now();
    await this.storage.close().catch(() => undefined);
    const fresh = await this.reopen();
    try {
      await fresh.bind({ logId: this.key.logId, publicKeyPem: this.key.pem });
    } catch (err) {
      await fresh.close().catch(() => undefined);
      throw err;
    }
    this.storage = fresh;
    this.failedAt = null;
    const problems = (fresh as { problems?: readonly string[] }).problems;
    if (problems && problems.length > 0) this.degrade(problems[0]!);
    log.log('the provenance log storage was reopened after a write failure');
  }

  async size(): Promise<number> {
    return this.storage.size();
  }

  async get(index: number): Promise<{ record: ProvenanceRecord; leafHash: string } | null> {
    if (!isIndex(index) || index >= (await this.storage.size())) return null;
    const [leaf] = await this.storage.getLeaves(index, index + 1);
    if (!leaf) return null;
    return { record: JSON.parse(leaf.data) as ProvenanceRecord, leafHash: leaf.leafHash.toString('hex') };
  }

  async list(opts: { first: number; offset: number; dataset?: string | null; org?: string | null }) {
    const rows = await this.storage.list(opts);
    return rows.map((l) => ({
      index: l.index,
      record: JSON.parse(l.data) as ProvenanceRecord,
      leafHash: l.leafHash.toString('hex'),
    }));
  }

  /** A signed tree head for the current durable size (the stored one when the size has not moved). */
  async treeHead(): Promise<SignedTreeHead> {
    const size = await this.storage.size();
    if (this.latest?.treeSize !== size) {
      const stored = await this.storage.latestTreeHead();
      // A head another writer stored is handed out only if it is a head of this tree.
      if (stored && stored !== this.latest && stored.treeSize <= size) {
        const root = await this.rootAt(stored.treeSize);
        if (root.toString('hex') !== stored.rootHash) {
          this.degrade(`the stored tree head of size ${stored.treeSize} is not a head of this log's tree: a fork`);
          throw new Error(`the provenance log failed its integrity check: ${this.integrityState.reason}`);
        }
      }
      this.latest = stored ?? this.latest;
    }
    if (this.latest && this.latest.treeSize === size && this.latest.logId === this.key.logId) return this.latest;
    if (this.signing) {
      const sth = await this.signing;
      if (sth.treeSize === size) return sth;
    }
    this.signing = this.sign(size);
    try {
      return await this.signing;
    } finally {
      this.signing = null;
    }
  }

  private async sign(size: number): Promise<SignedTreeHead> {
    if (!this.integrityState.ok)
      throw new Error(`the provenance log failed its integrity check: ${this.integrityState.reason}`);
    const root = await this.rootAt(size);
    // Never sign a head that does not extend every head signed before (they are consistent with each other,
    // checked on opening, so the latest one is enough).
    const prev = (await this.storage.latestTreeHead()) ?? this.latest;
    if (prev) {
      const prevRoot = Buffer.from(prev.rootHash, 'hex');
      const extends_ =
        size >= prev.treeSize && (await storedConsistency(this.storage, prev.treeSize, prevRoot, size, root));
      if (!extends_) {
        this.degrade(
          `a new tree head of size ${size} would not extend the signed tree head of size ${prev.treeSize}: refusing to fork`,
        );
        throw new Error(`the provenance log failed its integrity check: ${this.integrityState.reason}`);
      }
      if (size === prev.treeSize) return prev;
    }
    const timestamp = Math.max(this.now(), this.latest?.timestamp ?? 0);
    const sth = signTreeHead(
      { logId: this.key.logId, treeSize: size, rootHash: root.toString('hex'), timestamp },
      this.key.privateKey,
    );
    await this.storage.putTreeHead(sth);
    if (!this.latest || sth.treeSize >= this.latest.treeSize) this.latest = sth;
    await this.witness
      ?.saveHead(this.key.logId, sth)
      .catch((err: unknown) => log.warn(`the log witness could not record a tree head: ${String(err)}`));
    return sth;
  }

  private async rootAt(size: number): Promise<Buffer> {
    return foldRange(await this.storage.getNodes(CompactRange.nodesFor(size)));
  }

  async inclusionProof(index: number, treeSize: number): Promise<InclusionProof> {
    const size = await this.storage.size();
    if (size === 0) throw badInput('The log is empty: there is no inclusion proof to give.');
    if (!isIndex(treeSize) || treeSize < 1 || treeSize > size) {
      throw badInput(`treeSize must be a whole number from 1 to ${size} (the log's size).`);
    }
    if (!isIndex(index) || index >= treeSize) {
      throw badInput(`index must be a whole number from 0 to ${treeSize - 1} (below treeSize).`);
    }
    const plan = inclusionPlan(index, treeSize);
    const ids = planNodes(plan);
    const hashes = resolvePlan(plan, ids, await this.storage.getNodes(ids));
    return { leafIndex: index, treeSize, hashes: hashes.map((h) => h.toString('hex')) };
  }

  async consistencyProof(fromSize: number, toSize: number): Promise<ConsistencyProof> {
    const size = await this.storage.size();
    if (size === 0) throw badInput('The log is empty: there is no consistency proof to give.');
    if (!isIndex(toSize) || toSize < 1 || toSize > size) {
      throw badInput(`toSize must be a whole number from 1 to ${size} (the log's size).`);
    }
    if (!isIndex(fromSize) || fromSize < 1 || fromSize > toSize) {
      throw badInput(`fromSize must be a whole number from 1 to ${toSize} (at most toSize).`);
    }
    const plan = consistencyPlan(fromSize, toSize);
    const ids = planNodes(plan);
    const hashes = resolvePlan(plan, ids, await this.storage.getNodes(ids));
    return { fromSize, toSize, hashes: hashes.map((h) => h.toString('hex')) };
  }

  publicKey(): LogPublicKey {
    return { logId: this.key.logId, pem: this.key.pem, jwk: { ...this.key.jwk } };
  }

  /** False once the log is closing, failed its integrity check, or its storage failed and was not reopened. */
  get writable(): boolean {
    return !this.closing && this.failedAt === null && this.integrityState.ok;
  }

  /** Group-commit counters (batches written, records appended, largest batch), for tests and benches. */
  stats(): { batches: number; appended: number; largestBatch: number } {
    return { ...this.counters };
  }

  /** Refuses new appends, waits for queued ones to be durable, then closes the storage. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.verifierTimer) clearInterval(this.verifierTimer);
    while (this.flushing) await this.flushing;
    await this.verifying?.catch(() => undefined);
    await this.storage.close();
  }
}
