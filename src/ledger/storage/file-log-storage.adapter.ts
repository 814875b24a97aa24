/**
 * LogStorage in append-only files under one directory (the embedded default; one process at a time).
 *
 *   leaves.log        8-byte magic, then one frame per leaf: u32 LE payload length, u32 LE CRC-32 of
 *                     (length bytes ‖ payload), payload = the record's canonical JSON. The only file whose
 *                     writes are fdatasync'ed per batch: it is the write-ahead log, everything else derives from it.
 *   hashes.bin        32-byte hashes of every complete subtree, in the order appends finish them: leaf i, then
 *                     the nodes it completes, bottom up (2n − popcount(n) hashes for n leaves). Node
 *                     (level, index) sits at slot storedCount((index + 1)·2^level − 1) + level, so a proof is a
 *                     handful of 32-byte preads, without a rebuild, at any size.
 *   offsets.bin       u64 LE offset of leaf i's frame in leaves.log.
 *   checkpoint.json   {size, leavesBytes, root}: hashes.bin and offsets.bin are fdatasync'ed up to `size`
 *                     (written atomically: temporary file, fsync, rename, fsync of the directory).
 *   tree-heads.jsonl  one signed tree head per line (fdatasync'ed before the head is handed out).
 *   tree-heads.2.jsonl the same heads again, each line {sth, chain} with chain = SHA-256(previous chain ‖ the
 *                     head's JSON): a second copy with its own checksum, so a deleted or edited head is noticed.
 *   acked.bin         the durable high-water mark: two 64-byte slots, written alternately, each {seq, size,
 *                     leavesBytes, heads} with a CRC-32. A batch is acknowledged only after its frames AND the
 *                     mark that covers them are fdatasync'ed; a head is handed out only after the mark counts it.
 *   meta.json         the log identity (logId, public key) bound on first use.
 *   LOCK              pid of the process that has the directory open (advisory).
 *
 * Opening recovers from a crash: derived files are cut back to the checkpoint and the leaves written after it
 * are replayed from leaves.log. A torn trailing frame (short, or failing its checksum) is truncated only when it
 * lies after the high-water mark, i.e. its batch was never acknowledged. Damage before the mark, a log shorter
 * than the mark, a missing mark or lost tree heads are corruption, never a torn tail: the storage then opens
 * read-only and lists the problems in `problems` (the gateway serves no release until an operator acts).
 * Checkpoints run every `checkpointEvery` leaves or `checkpointIntervalMs`, and on close, bounding the replay.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { crc32 } from 'node:zlib';
import { CompactRange } from '../merkle/compact-range.js';
import { HASH_SIZE, hashLeaf } from '../merkle/hasher.js';
import { isIndex, popcount, type NodeId } from '../merkle/tree-math.js';
import {
  LogCorruptionError,
  MAX_LEAF_BYTES,
  type LeafInput,
  type LogIdentity,
  type LogListQuery,
  type LogStorage,
  type StoredLeaf,
} from '../log-storage.port.js';
import type { SignedTreeHead } from '../signed-tree-head.js';

const MAGIC = Buffer.from('CGLEAF1\n', 'latin1');
const FRAME_HEADER = 8;
const FORMAT = 'citygate-log-files/1';
const REPLAY_CHUNK = 8 * 1024 * 1024;
/** Proof reads fetch the hashes of a whole aligned block of 2^BLOCK_LEVEL leaves at once. */
const BLOCK_LEVEL = 8;
const BLOCK_LEAVES = 2 ** BLOCK_LEVEL;

const fdatasync = promisify(fs.fdatasync);
const pwrite = promisify(fs.write);

const MARK_FILE = 'acked.bin';
const MARK_MAGIC = Buffer.from('CGACK01\n', 'latin1');
const MARK_SLOT = 64;
const HEADS_FILE = 'tree-heads.jsonl';
const HEADS_COPY_FILE = 'tree-heads.2.jsonl';
const ZERO_CHAIN = Buffer.alloc(32).toString('hex');

/** The durable high-water mark: what was acknowledged to callers. */
interface Mark {
  seq: number;
  size: number;
  leavesBytes: number;
  heads: number;
}

/** Hashes stored for a tree of n leaves. */
export function storedCount(n: number): number {
  return 2 * n - popcount(n);
}

/** Slot of node (level, index) in hashes.bin. */
export function storedIndex(level: number, index: number): number {
  return storedCount((index + 1) * 2 ** level - 1) + level;
}

export interface FileLogStorageOptions {
  /** fdatasync every batch before acknowledging it (default true). false is for bulk loads (benches) only. */
  sync?: boolean;
  /** Checkpoint after this many leaves since the last one (default 65,536). */
  checkpointEvery?: number;
  /** ... or when a batch lands this long after the last checkpoint (default 1,000 ms). */
  checkpointIntervalMs?: number;
  /**
   * Operator action only (`citygate audit accept-log`): a log without an acknowledgement mark (written before
   * the mark existed, or whose mark was lost) is taken as it is, and the mark and the second copy of its heads
   * are created. Never set by the gateway.
   */
  adoptMissingMark?: boolean;
}

/** What opening had to repair. */
export interface RecoveryReport {
  /** Leaves re-read from leaves.log after the checkpoint. */
  replayedLeaves: number;
  /** Bytes of a torn trailing frame cut off leaves.log. */
  truncatedBytes: number;
  /** Torn trailing bytes cut off tree-heads.jsonl. */
  truncatedTreeHeadBytes: number;
  /** The acknowledged size recorded by the high-water mark when the log was opened. */
  acknowledged: number;
}

interface Checkpoint {
  format: string;
  size: number;
  leavesBytes: number;
  root: string;
}

const openDirs = new Set<string>();

export class FileLogStorage implements LogStorage {
  readonly kind = 'file' as const;
  private sizeValue: number;
  private leavesBytes: number;
  private range: CompactRange;
  private failure: Error | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  private lastCheckpoint: { size: number; at: number };
  private closed = false;
  private readonly upperNodes = new Map<number, Buffer>();

  private constructor(
    readonly dir: string,
    private readonly leaves: fsp.FileHandle,
    private readonly offsetsFd: number,
    private readonly hashesFd: number,
    private readonly sthFd: number,
    private readonly sthCopyFd: number,
    private readonly markFd: number,
    private mark: Mark,
    /** chains[i]: the checksum chain of tree-heads.2.jsonl after its line i + 1 (ZERO_CHAIN before any). */
    private readonly chains: string[],
    private readonly sths: SignedTreeHead[],
    state: { size: number; leavesBytes: number; range: CompactRange },
    private readonly opts: Required<FileLogStorageOptions>,
    /** What opening repaired. */
    readonly recovery: RecoveryReport,
    /**
     * Integrity problems found on opening (corruption, never a crash): non-empty means the files are kept as
     * found, appends and new heads are refused, and reads serve what could be read, for the audit.
     */
    readonly problems: readonly string[],
  ) {
    this.sizeValue = state.size;
    this.leavesBytes = state.leavesBytes;
    this.range = state.range;
    this.lastCheckpoint = { size: state.size, at: Date.now() };
  }

  /** Opens (creating if needed) the log in `dir`, recovering from a crash. */
  static async open(dir: string, options: FileLogStorageOptions = {}): Promise<FileLogStorage> {
    const opts: Required<FileLogStorageOptions> = {
      sync: options.sync ?? true,
      checkpointEvery: options.checkpointEvery ?? 65_536,
      checkpointIntervalMs: options.checkpointIntervalMs ?? 1_000,
      adoptMissingMark: options.adoptMissingMark ?? false,
    };
    const abs = path.resolve(dir);
    fs.mkdirSync(abs, { recursive: true });
    acquireLock(abs);
    const opened: number[] = [];
    let leaves: fsp.FileHandle | null = null;
    try {
      const leavesPath = path.join(abs, 'leaves.log');
      const fresh = !fs.existsSync(leavesPath);
      leaves = await fsp.open(leavesPath, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
      if (fresh || (await leaves.stat()).size === 0) {
        await leaves.write(MAGIC, 0, MAGIC.length, 0);
        await leaves.sync();
        fsyncDir(abs);
      }
      const head = Buffer.alloc(MAGIC.length);
      fs.readSync(leaves.fd, head, 0, head.length, 0);
      if (!head.equals(MAGIC)) throw new LogCorruptionError(`${leavesPath} is not a CityGate log file`);

      const openRw = (name: string) => {
        const fd = fs.openSync(path.join(abs, name), fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
        opened.push(fd);
        return fd;
      };
      const markExisted = fs.existsSync(path.join(abs, MARK_FILE));
      const offsetsFd = openRw('offsets.bin');
      const hashesFd = openRw('hashes.bin');
      const sthFd = openRw(HEADS_FILE);
      const sthCopyFd = openRw(HEADS_COPY_FILE);
      const markFd = openRw(MARK_FILE);
      const problems: string[] = [];

      const cp = readCheckpoint(abs);
      const leavesLen = fs.fstatSync(leaves.fd).size;
      const offsetsLen = fs.fstatSync(offsetsFd).size;
      const hashesLen = fs.fstatSync(hashesFd).size;
      if (leavesLen < cp.leavesBytes || offsetsLen < 8 * cp.size || hashesLen < HASH_SIZE * storedCount(cp.size)) {
        throw new LogCorruptionError(
          `log files in ${abs} are shorter than their checkpoint (size ${cp.size}): they were truncated or replaced`,
          cp.size,
        );
      }

      let mark = readMark(markFd);
      if (mark === 'damaged') {
        problems.push(`${MARK_FILE} (the acknowledgement mark) is damaged: neither of its slots verifies`);
        mark = null;
      }
      const empty = leavesLen <= MAGIC.length && fs.fstatSync(sthFd).size === 0;
      if (mark === null && !empty && problems.length === 0 && !opts.adoptMissingMark) {
        problems.push(
          `${MARK_FILE} (the acknowledgement mark) is ${markExisted ? 'empty' : 'missing'} but the log holds records: it was deleted`,
        );
      }
      const acked: Mark = mark ?? { seq: 0, size: 0, leavesBytes: MAGIC.length, heads: 0 };
      if (cp.size > acked.size && !(mark === null && opts.adoptMissingMark)) {
        problems.push(`the checkpoint (size ${cp.size}) is ahead of the acknowledgement mark (size ${acked.size})`);
      }
      if (leavesLen < acked.leavesBytes) {
        problems.push(
          `leaves.log ends at byte ${leavesLen} but ${acked.size} records up to byte ${acked.leavesBytes} were acknowledged: records were cut off`,
        );
      }

      fs.ftruncateSync(offsetsFd, 8 * cp.size);
      fs.ftruncateSync(hashesFd, HASH_SIZE * storedCount(cp.size));
      const frontier = CompactRange.nodesFor(cp.size).map((id) => readHash(hashesFd, storedIndex(id.level, id.index)));
      const range = CompactRange.fromHashes(cp.size, frontier);
      if (range.root().toString('hex') !== cp.root) {
        throw new LogCorruptionError(`the stored tree in ${abs} does not match its checkpoint root at size ${cp.size}`);
      }

      const replay = replayLeaves(leaves.fd, cp.leavesBytes, leavesLen, range);
      const size = cp.size + replay.count;
      if (replay.validEnd < acked.leavesBytes && leavesLen >= acked.leavesBytes) {
        problems.push(
          `record ${size} (leaves.log byte ${replay.validEnd}) is damaged, yet ${acked.size} records were acknowledged: this is corruption, not a torn tail`,
        );
      } else if (replay.validEnd >= acked.leavesBytes && size < acked.size) {
        problems.push(`leaves.log holds ${size} records where ${acked.size} were acknowledged`);
      }
      // Only a tail after the acknowledged end may be cut, and only when nothing else is wrong.
      const cut = problems.length === 0 && replay.validEnd < leavesLen;
      if (cut) {
        fs.ftruncateSync(leaves.fd, replay.validEnd);
        fs.fdatasyncSync(leaves.fd);
      }
      if (replay.count > 0) {
        writeFully(hashesFd, replay.hashes, HASH_SIZE * storedCount(cp.size));
        writeFully(offsetsFd, replay.offsets, 8 * cp.size);
      }
      const sth = loadTreeHeads(sthFd, path.join(abs, HEADS_FILE));
      const copy = loadTreeHeadCopy(sthCopyFd, path.join(abs, HEADS_COPY_FILE));
      problems.push(...copy.problems);
      if (sth.heads.length < acked.heads) {
        problems.push(
          `${HEADS_FILE} holds ${sth.heads.length} signed tree heads where ${acked.heads} were stored: heads were deleted`,
        );
      }
      if (copy.heads.length < acked.heads) {
        problems.push(
          `${HEADS_COPY_FILE} holds ${copy.heads.length} signed tree heads where ${acked.heads} were stored: heads were deleted`,
        );
      }
      for (let i = 0; i < Math.min(acked.heads, sth.heads.length, copy.heads.length); i++) {
        if (JSON.stringify(sth.heads[i]) !== JSON.stringify(copy.heads[i])) {
          problems.push(`the two copies of the signed tree heads differ at head ${i + 1}: one of them was edited`);
          break;
        }
      }
      // Heads written past the mark (a crash before the mark) are kept in the main file only if the copy agrees.
      const storage = new FileLogStorage(
        abs,
        leaves,
        offsetsFd,
        hashesFd,
        sthFd,
        sthCopyFd,
        markFd,
        { ...acked, heads: Math.min(acked.heads, sth.heads.length) },
        copy.chains,
        sth.heads,
        { size, leavesBytes: replay.validEnd, range },
        opts,
        {
          replayedLeaves: replay.count,
          truncatedBytes: cut ? leavesLen - replay.validEnd : 0,
          truncatedTreeHeadBytes: sth.truncatedBytes,
          acknowledged: acked.size,
        },
        problems,
      );
      if (problems.length > 0) {
        storage.failure = new LogCorruptionError(`the log in ${abs} failed its integrity checks: ${problems[0]}`);
      } else {
        // Bring the copy of the heads up to the main file (heads written there just before a crash).
        await storage.syncHeadCopy();
        if (mark === null || size > acked.size || sth.heads.length !== acked.heads) await storage.writeMark();
        if (replay.count > 0 || replay.validEnd < leavesLen) await storage.checkpoint();
      }
      return storage;
    } catch (err) {
      for (const fd of opened) fs.closeSync(fd);
      await leaves?.close();
      releaseLock(abs);
      throw err;
    }
  }

  async bind(identity: LogIdentity): Promise<void> {
    const file = path.join(this.dir, 'meta.json');
    const existing = await this.identity();
    if (existing) {
      if (existing.logId !== identity.logId) {
        throw new Error(`the log in ${this.dir} belongs to log ${existing.logId}, not ${identity.logId}: wrong key`);
      }
      return;
    }
    writeFileAtomic(this.dir, file, JSON.stringify({ format: FORMAT, ...identity }, null, 2) + '\n');
  }

  async identity(): Promise<LogIdentity | null> {
    const file = path.join(this.dir, 'meta.json');
    if (!fs.existsSync(file)) return null;
    const meta = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<LogIdentity>;
    if (typeof meta.logId !== 'string' || typeof meta.publicKeyPem !== 'string') {
      throw new LogCorruptionError(`${file} is damaged`);
    }
    return { logId: meta.logId, publicKeyPem: meta.publicKeyPem };
  }

  append(batch: readonly LeafInput[]): Promise<number> {
    return this.exclusive(() => this.appendNow(batch));
  }

  private async appendNow(batch: readonly LeafInput[]): Promise<number> {
    if (this.closed) throw new Error('the log storage is closed');
    if (this.failure)
      throw new Error(`the log storage stopped after an I/O error; reopen it (${this.failure.message})`);
    const first = this.sizeValue;
    if (batch.length === 0) return first;

    // Frames for leaves.log.
    const lengths = batch.map((leaf) => Buffer.byteLength(leaf.data, 'utf8'));
    let total = 0;
    for (const len of lengths) {
      if (len === 0 || len > MAX_LEAF_BYTES) throw new RangeError(`a record must be 1 to ${MAX_LEAF_BYTES} bytes`);
      total += FRAME_HEADER + len;
    }
    const frames = Buffer.allocUnsafe(total);
    const offsets = Buffer.allocUnsafe(8 * batch.length);
    const leafHashes: Buffer[] = [];
    let at = 0;
    batch.forEach((leaf, i) => {
      const len = lengths[i]!;
      frames.writeUInt32LE(len, at);
      frames.write(leaf.data, at + FRAME_HEADER, len, 'utf8');
      const payload = frames.subarray(at + FRAME_HEADER, at + FRAME_HEADER + len);
      frames.writeUInt32LE(crc32(payload, crc32(frames.subarray(at, at + 4))), at + 4);
      offsets.writeBigUInt64LE(BigInt(this.leavesBytes + at), 8 * i);
      const lh = hashLeaf(payload);
      if (!lh.equals(leaf.leafHash)) throw new Error(`leafHash of batch entry ${i} is not SHA-256(0x00 || data)`);
      leafHashes.push(lh);
      at += FRAME_HEADER + len;
    });

    const pos = this.leavesBytes;
    const durable = this.writeDurably(frames, pos);
    // Hash while the disk works.
    const range = this.range.clone();
    const hashes = Buffer.allocUnsafe(HASH_SIZE * (storedCount(first + batch.length) - storedCount(first)));
    let h = 0;
    for (const lh of leafHashes) {
      range.append(lh, (_level, _index, hash) => {
        hash.copy(hashes, h);
        h += HASH_SIZE;
      });
    }
    await durable;
    // The high-water mark covers the batch before anyone is told it is durable.
    await this.writeMark({ size: first + batch.length, leavesBytes: pos + frames.length });

    writeFully(this.hashesFd, hashes, HASH_SIZE * storedCount(first));
    writeFully(this.offsetsFd, offsets, 8 * first);
    this.range = range;
    this.leavesBytes = pos + frames.length;
    this.sizeValue = first + batch.length;
    if (
      this.sizeValue - this.lastCheckpoint.size >= this.opts.checkpointEvery ||
      Date.now() - this.lastCheckpoint.at >= this.opts.checkpointIntervalMs
    ) {
      await this.checkpoint();
    }
    return first;
  }

  /** Writes at `pos` and fdatasyncs; on failure cuts the file back to `pos` or, failing that, stops the log. */
  private async writeDurably(buf: Buffer, pos: number): Promise<void> {
    try {
      let done = 0;
      while (done < buf.length) {
        const { bytesWritten } = await this.leaves.write(buf, done, buf.length - done, pos + done);
        done += bytesWritten;
      }
      if (this.opts.sync) await this.leaves.datasync();
    } catch (err) {
      try {
        await this.leaves.truncate(pos);
        await this.leaves.datasync();
      } catch {
        this.failure = err as Error;
      }
      // After a failed fsync the kernel may have dropped dirty pages: never trust this handle again.
      this.failure ??= err as Error;
      throw err;
    }
  }

  /** Makes hashes.bin, offsets.bin (and leaves.log when not syncing per batch) durable up to the current size. */
  private async checkpoint(): Promise<void> {
    await Promise.all([
      fdatasync(this.hashesFd),
      fdatasync(this.offsetsFd),
      this.opts.sync ? Promise.resolve() : this.leaves.datasync(),
    ]);
    const cp: Checkpoint = {
      format: FORMAT,
      size: this.sizeValue,
      leavesBytes: this.leavesBytes,
      root: this.range.root().toString('hex'),
    };
    writeFileAtomic(this.dir, path.join(this.dir, 'checkpoint.json'), JSON.stringify(cp) + '\n');
    this.lastCheckpoint = { size: this.sizeValue, at: Date.now() };
  }

  async size(): Promise<number> {
    return this.sizeValue;
  }

  /**
   * Node hashes by slot. The lower levels of a proof all lie in the 256-leaf block around its leaf, whose
   * hashes are contiguous in hashes.bin: one 16 KB read serves them. Nodes of level ≥ 8 (1/128 of all) are
   * kept in memory once read; they never change.
   */
  async getNodes(ids: readonly NodeId[]): Promise<Buffer[]> {
    const blocks = new Map<number, { first: number; bytes: Buffer }>();
    return ids.map((id) => {
      if (!isIndex(id.level) || !isIndex(id.index) || (id.index + 1) * 2 ** id.level > this.sizeValue) {
        throw new RangeError(`node ${id.level}:${id.index} is not a complete subtree of the log`);
      }
      const slot = storedIndex(id.level, id.index);
      if (id.level >= BLOCK_LEVEL) {
        let h = this.upperNodes.get(slot);
        if (!h) {
          h = readHash(this.hashesFd, slot);
          this.upperNodes.set(slot, h);
        }
        return Buffer.from(h);
      }
      const block = Math.floor((id.index * 2 ** id.level) / BLOCK_LEAVES);
      let b = blocks.get(block);
      if (!b) {
        const first = storedCount(block * BLOCK_LEAVES);
        const end = storedCount(Math.min((block + 1) * BLOCK_LEAVES, this.sizeValue));
        const bytes = Buffer.alloc(HASH_SIZE * (end - first));
        readFully(this.hashesFd, bytes, HASH_SIZE * first);
        b = { first, bytes };
        blocks.set(block, b);
      }
      const at = HASH_SIZE * (slot - b.first);
      return Buffer.from(b.bytes.subarray(at, at + HASH_SIZE));
    });
  }

  async getLeaves(start: number, end: number): Promise<StoredLeaf[]> {
    if (!isIndex(start) || !isIndex(end) || start > end || end > this.sizeValue) {
      throw new RangeError(`leaves [${start}, ${end}) are not in the log (size ${this.sizeValue})`);
    }
    if (start === end) return [];
    const n = end - start;
    // n + 1 offsets: the last one ends leaf end − 1 (the end of leaves.log when end = size).
    const known = end < this.sizeValue ? n + 1 : n;
    const offs = Buffer.alloc(8 * known);
    readFully(this.offsetsFd, offs, 8 * start);
    const offset = (i: number) => (i === known ? this.leavesBytes : Number(offs.readBigUInt64LE(8 * i)));
    const from = offset(0);
    const to = offset(n);
    if (!(from >= MAGIC.length && to >= from && to <= this.leavesBytes)) {
      throw new LogCorruptionError(`offsets.bin is damaged around leaf ${start}`, start);
    }
    const bytes = Buffer.alloc(to - from);
    readFully(this.leaves.fd, bytes, from);
    const hashBase = storedCount(start);
    const hashBytes = Buffer.alloc(HASH_SIZE * (storedCount(end) - hashBase));
    readFully(this.hashesFd, hashBytes, HASH_SIZE * hashBase);
    const out: StoredLeaf[] = [];
    for (let i = 0; i < n; i++) {
      const index = start + i;
      const at = offset(i) - from;
      const next = offset(i + 1) - from;
      const frame = parseFrame(bytes, at);
      if (frame === null || at + FRAME_HEADER + frame.length !== next) {
        throw new LogCorruptionError(
          `leaf ${index} is damaged (leaves.log offset ${offset(i)}: bad length or checksum)`,
          index,
        );
      }
      const slot = HASH_SIZE * (storedCount(index) - hashBase);
      out.push({
        index,
        data: bytes.toString('utf8', at + FRAME_HEADER, next),
        leafHash: Buffer.from(hashBytes.subarray(slot, slot + HASH_SIZE)),
      });
    }
    return out;
  }

  async list(query: LogListQuery): Promise<StoredLeaf[]> {
    const first = Math.floor(query.first);
    const offset = Math.max(0, Math.floor(query.offset));
    const dataset = query.dataset ?? null;
    const org = query.org ?? null;
    if (!(first > 0)) return [];
    const size = this.sizeValue;
    if (dataset === null && org === null) {
      const end = Math.max(0, size - offset);
      return (await this.getLeaves(Math.max(0, end - first), end)).reverse();
    }
    // Filtered: scan back from the newest leaf (cost grows with the distance to the matches).
    const out: StoredLeaf[] = [];
    let skip = offset;
    for (let end = size; end > 0 && out.length < first; end -= 512) {
      const chunk = await this.getLeaves(Math.max(0, end - 512), end);
      for (let i = chunk.length - 1; i >= 0 && out.length < first; i--) {
        const leaf = chunk[i]!;
        const rec = JSON.parse(leaf.data) as { dataset?: unknown; requester?: { org?: unknown } };
        if (dataset !== null && rec.dataset !== dataset) continue;
        if (org !== null && rec.requester?.org !== org) continue;
        if (skip > 0) skip--;
        else out.push(leaf);
      }
    }
    return out;
  }

  putTreeHead(sth: SignedTreeHead): Promise<void> {
    return this.exclusive(async () => {
      if (this.closed) throw new Error('the log storage is closed');
      if (this.failure) throw new Error(`the log storage refuses new tree heads (${this.failure.message})`);
      const json = JSON.stringify(sth);
      const chain = chainAfter(this.chains[this.chains.length - 1] ?? ZERO_CHAIN, json);
      writeFully(this.sthFd, Buffer.from(json + '\n', 'utf8'), fs.fstatSync(this.sthFd).size);
      writeFully(
        this.sthCopyFd,
        Buffer.from(JSON.stringify({ sth, chain }) + '\n', 'utf8'),
        fs.fstatSync(this.sthCopyFd).size,
      );
      if (this.opts.sync) await Promise.all([fdatasync(this.sthFd), fdatasync(this.sthCopyFd)]);
      this.sths.push(sth);
      this.chains.push(chain);
      // Handed out only once the mark counts it: a deleted head is then noticed on the next open.
      await this.writeMark({ heads: this.sths.length });
    });
  }

  /**
   * Writes the high-water mark (the other slot than the last one, then fdatasync), so that a torn write of the
   * mark leaves the previous one intact. Until it is durable, nothing it covers is acknowledged.
   */
  private async writeMark(change: Partial<Omit<Mark, 'seq'>> = {}): Promise<void> {
    const next: Mark = {
      seq: this.mark.seq + 1,
      size: change.size ?? this.sizeValue,
      leavesBytes: change.leavesBytes ?? this.leavesBytes,
      heads: change.heads ?? this.sths.length,
    };
    const slot = encodeMark(next);
    try {
      await pwrite(this.markFd, slot, 0, MARK_SLOT, MARK_SLOT * (next.seq % 2));
      if (this.opts.sync) await fdatasync(this.markFd);
    } catch (err) {
      this.failure ??= err as Error;
      throw err;
    }
    this.mark = next;
  }

  /** Makes tree-heads.2.jsonl hold exactly the heads of tree-heads.jsonl (after a crash between the two). */
  private async syncHeadCopy(): Promise<void> {
    if (this.chains.length === this.sths.length) return;
    if (this.chains.length > this.sths.length) this.chains.length = this.sths.length;
    const lines: string[] = [];
    for (let i = 0; i < this.sths.length; i++) {
      const json = JSON.stringify(this.sths[i]);
      const chain = chainAfter(i === 0 ? ZERO_CHAIN : this.chains[i - 1]!, json);
      if (i >= this.chains.length) this.chains.push(chain);
      lines.push(JSON.stringify({ sth: this.sths[i], chain }));
    }
    const body = lines.map((l) => l + '\n').join('');
    fs.ftruncateSync(this.sthCopyFd, 0);
    writeFully(this.sthCopyFd, Buffer.from(body, 'utf8'), 0);
    if (this.opts.sync) await fdatasync(this.sthCopyFd);
  }

  async latestTreeHead(): Promise<SignedTreeHead | null> {
    return this.sths[this.sths.length - 1] ?? null;
  }

  async treeHeads(): Promise<SignedTreeHead[]> {
    return this.sths.slice();
  }

  /** Waits for pending writes, checkpoints, closes the files and releases the directory. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.exclusive(async () => {
      if (!this.failure) {
        await this.checkpoint();
        fs.fdatasyncSync(this.sthFd);
        fs.fdatasyncSync(this.sthCopyFd);
      }
      this.closed = true;
    });
    fs.closeSync(this.offsetsFd);
    fs.closeSync(this.hashesFd);
    fs.closeSync(this.sthFd);
    fs.closeSync(this.sthCopyFd);
    fs.closeSync(this.markFd);
    await this.leaves.close();
    releaseLock(this.dir);
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }
}

/** A frame's payload length if the frame at `at` is complete and its checksum holds, else null. */
function parseFrame(buf: Buffer, at: number): { length: number } | null {
  if (at + FRAME_HEADER > buf.length) return null;
  const length = buf.readUInt32LE(at);
  if (length === 0 || length > MAX_LEAF_BYTES || at + FRAME_HEADER + length > buf.length) return null;
  const crc = crc32(buf.subarray(at + FRAME_HEADER, at + FRAME_HEADER + length), crc32(buf.subarray(at, at + 4)));
  return crc === buf.readUInt32LE(at + 4) ? { length } : null;
}

/** Re-reads the leaves after the checkpoint, extending `range`; stops at the first torn or damaged frame. */
function replayLeaves(
  fd: number,
  from: number,
  fileEnd: number,
  range: CompactRange,
): { count: number; validEnd: number; hashes: Buffer; offsets: Buffer } {
  const hashes: Buffer[] = [];
  const offsets: Buffer[] = [];
  let pos = from;
  let count = 0;
  let buf = Buffer.alloc(0);
  let bufStart = pos;
  let eof = false;
  for (;;) {
    const at = pos - bufStart;
    let frame = parseFrame(buf, at);
    if (frame === null && !eof) {
      // Maybe the frame straddles the chunk: read more and retry.
      const want = Math.max(REPLAY_CHUNK, FRAME_HEADER + (buf.length - at >= 4 ? buf.readUInt32LE(at) : 0));
      const more = Buffer.alloc(Math.min(want, fileEnd - (bufStart + buf.length)));
      readFully(fd, more, bufStart + buf.length);
      buf = Buffer.concat([buf.subarray(at), more]);
      bufStart = pos;
      eof = bufStart + buf.length >= fileEnd;
      frame = parseFrame(buf, 0);
    }
    if (frame === null) break;
    const start = pos - bufStart;
    const payload = buf.subarray(start + FRAME_HEADER, start + FRAME_HEADER + frame.length);
    const off = Buffer.alloc(8);
    off.writeBigUInt64LE(BigInt(pos));
    offsets.push(off);
    range.append(hashLeaf(payload), (_l, _i, h) => hashes.push(h));
    pos += FRAME_HEADER + frame.length;
    count++;
  }
  return { count, validEnd: pos, hashes: Buffer.concat(hashes), offsets: Buffer.concat(offsets) };
}

function readCheckpoint(dir: string): Checkpoint {
  const file = path.join(dir, 'checkpoint.json');
  if (!fs.existsSync(file)) {
    return { format: FORMAT, size: 0, leavesBytes: MAGIC.length, root: CompactRange.empty().root().toString('hex') };
  }
  let cp: Partial<Checkpoint>;
  try {
    cp = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<Checkpoint>;
  } catch {
    throw new LogCorruptionError(`${file} is damaged`);
  }
  if (
    cp.format !== FORMAT ||
    !isIndex(cp.size) ||
    !isIndex(cp.leavesBytes) ||
    cp.leavesBytes < MAGIC.length ||
    typeof cp.root !== 'string'
  ) {
    throw new LogCorruptionError(`${file} is damaged`);
  }
  return cp as Checkpoint;
}

function loadTreeHeads(fd: number, file: string): { heads: SignedTreeHead[]; truncatedBytes: number } {
  const len = fs.fstatSync(fd).size;
  const buf = Buffer.alloc(len);
  readFully(fd, buf, 0);
  const lastNewline = buf.lastIndexOf(0x0a);
  const keep = lastNewline + 1;
  if (keep < len) {
    // A torn last line: the head was never handed out complete.
    fs.ftruncateSync(fd, keep);
    fs.fdatasyncSync(fd);
  }
  const heads: SignedTreeHead[] = [];
  const lines = buf.toString('utf8', 0, keep).split('\n');
  lines.pop();
  lines.forEach((line, i) => {
    try {
      heads.push(JSON.parse(line) as SignedTreeHead);
    } catch {
      throw new LogCorruptionError(`${file} line ${i + 1} is damaged`);
    }
  });
  return { heads, truncatedBytes: len - keep };
}

function encodeMark(m: Mark): Buffer {
  const b = Buffer.alloc(MARK_SLOT);
  MARK_MAGIC.copy(b, 0);
  b.writeBigUInt64LE(BigInt(m.seq), 8);
  b.writeBigUInt64LE(BigInt(m.size), 16);
  b.writeBigUInt64LE(BigInt(m.leavesBytes), 24);
  b.writeBigUInt64LE(BigInt(m.heads), 32);
  b.writeUInt32LE(crc32(b.subarray(0, MARK_SLOT - 4)), MARK_SLOT - 4);
  return b;
}

/** The newer valid slot of acked.bin; null for an empty file, 'damaged' when no slot verifies. */
function readMark(fd: number): Mark | null | 'damaged' {
  const len = fs.fstatSync(fd).size;
  if (len === 0) return null;
  const buf = Buffer.alloc(Math.min(len, 2 * MARK_SLOT));
  readFully(fd, buf, 0);
  let best: Mark | null = null;
  for (let at = 0; at + MARK_SLOT <= buf.length; at += MARK_SLOT) {
    const b = buf.subarray(at, at + MARK_SLOT);
    if (!b.subarray(0, 8).equals(MARK_MAGIC) || crc32(b.subarray(0, MARK_SLOT - 4)) !== b.readUInt32LE(MARK_SLOT - 4)) {
      continue;
    }
    const m: Mark = {
      seq: Number(b.readBigUInt64LE(8)),
      size: Number(b.readBigUInt64LE(16)),
      leavesBytes: Number(b.readBigUInt64LE(24)),
      heads: Number(b.readBigUInt64LE(32)),
    };
    if (m.seq % 2 !== at / MARK_SLOT) continue; // a slot holds only its own parity: a copied slot is not a mark
    if (!best || m.seq > best.seq) best = m;
  }
  return best ?? 'damaged';
}

function chainAfter(previous: string, headJson: string): string {
  return createHash('sha256').update(Buffer.from(previous, 'hex')).update(headJson, 'utf8').digest('hex');
}

/** Reads tree-heads.2.jsonl, checking each line's chain; a torn last line is cut, like in tree-heads.jsonl. */
function loadTreeHeadCopy(fd: number, file: string): { heads: SignedTreeHead[]; chains: string[]; problems: string[] } {
  const len = fs.fstatSync(fd).size;
  const buf = Buffer.alloc(len);
  readFully(fd, buf, 0);
  const keep = buf.lastIndexOf(0x0a) + 1;
  if (keep < len) {
    fs.ftruncateSync(fd, keep);
    fs.fdatasyncSync(fd);
  }
  const heads: SignedTreeHead[] = [];
  const chains: string[] = [];
  const lines = buf.toString('utf8', 0, keep).split('\n');
  lines.pop();
  let chain = ZERO_CHAIN;
  for (let i = 0; i < lines.length; i++) {
    let entry: { sth?: SignedTreeHead; chain?: unknown };
    try {
      entry = JSON.parse(lines[i]!) as { sth?: SignedTreeHead; chain?: unknown };
    } catch {
      return { heads, chains, problems: [`${path.basename(file)} line ${i + 1} is damaged`] };
    }
    const want = entry.sth === undefined ? null : chainAfter(chain, JSON.stringify(entry.sth));
    if (want === null || entry.chain !== want) {
      return { heads, chains, problems: [`${path.basename(file)} line ${i + 1} fails its checksum: it was edited`] };
    }
    heads.push(entry.sth!);
    chains.push(want);
    chain = want;
  }
  return { heads, chains, problems: [] };
}

function readHash(fd: number, slot: number): Buffer {
  const b = Buffer.alloc(HASH_SIZE);
  readFully(fd, b, HASH_SIZE * slot);
  return b;
}

function readFully(fd: number, buf: Buffer, pos: number): void {
  let done = 0;
  while (done < buf.length) {
    const n = fs.readSync(fd, buf, done, buf.length - done, pos + done);
    if (n === 0) throw new LogCorruptionError(`unexpected end of a log file at byte ${pos + done}`);
    done += n;
  }
}

function writeFully(fd: number, buf: Buffer, pos: number): void {
  let done = 0;
  while (done < buf.length) done += fs.writeSync(fd, buf, done, buf.length - done, pos + done);
}

function writeFileAtomic(dir: string, file: string, body: string): void {
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, 'w', 0o644);
  try {
    fs.writeSync(fd, body);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  fsyncDir(dir);
}

function fsyncDir(dir: string): void {
  if (process.platform === 'win32') return;
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function acquireLock(dir: string): void {
  if (openDirs.has(dir)) throw new Error(`the log in ${dir} is already open in this process`);
  const file = path.join(dir, 'LOCK');
  try {
    fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const pid = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
      throw new Error(`the log in ${dir} is in use by process ${pid}`, { cause: err });
    }
    fs.writeFileSync(file, `${process.pid}\n`); // stale lock of a process that died
  }
  openDirs.add(dir);
}

function releaseLock(dir: string): void {
  if (!openDirs.delete(dir)) return;
  fs.rmSync(path.join(dir, 'LOCK'), { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
