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
 *   tree-heads.jsonl  one signed tree head per line.
 *   meta.json         the log identity (logId, public key) bound on first use.
 *   LOCK              pid of the process that has the directory open (advisory).
 *
 * Opening recovers from a crash: derived files are cut back to the checkpoint and the leaves written after it
 * are replayed from leaves.log; a torn trailing frame (short, or failing its checksum) is truncated, which is
 * safe because its batch was never acknowledged (acknowledgement waits for the fdatasync). Checkpoints run
 * every `checkpointEvery` leaves or `checkpointIntervalMs`, and on close, bounding the replay.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
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
}

/** What opening had to repair. */
export interface RecoveryReport {
  /** Leaves re-read from leaves.log after the checkpoint. */
  replayedLeaves: number;
  /** Bytes of a torn trailing frame cut off leaves.log. */
  truncatedBytes: number;
  /** Torn trailing bytes cut off tree-heads.jsonl. */
  truncatedTreeHeadBytes: number;
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
    private readonly sths: SignedTreeHead[],
    state: { size: number; leavesBytes: number; range: CompactRange },
    private readonly opts: Required<FileLogStorageOptions>,
    /** What opening repaired. */
    readonly recovery: RecoveryReport,
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
      const offsetsFd = openRw('offsets.bin');
      const hashesFd = openRw('hashes.bin');
      const sthFd = openRw('tree-heads.jsonl');

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
      fs.ftruncateSync(offsetsFd, 8 * cp.size);
      fs.ftruncateSync(hashesFd, HASH_SIZE * storedCount(cp.size));
      const frontier = CompactRange.nodesFor(cp.size).map((id) => readHash(hashesFd, storedIndex(id.level, id.index)));
      const range = CompactRange.fromHashes(cp.size, frontier);
      if (range.root().toString('hex') !== cp.root) {
        throw new LogCorruptionError(`the stored tree in ${abs} does not match its checkpoint root at size ${cp.size}`);
      }

      const replay = replayLeaves(leaves.fd, cp.leavesBytes, leavesLen, range);
      if (replay.validEnd < leavesLen) {
        fs.ftruncateSync(leaves.fd, replay.validEnd);
        fs.fdatasyncSync(leaves.fd);
      }
      if (replay.count > 0) {
        writeFully(hashesFd, replay.hashes, HASH_SIZE * storedCount(cp.size));
        writeFully(offsetsFd, replay.offsets, 8 * cp.size);
      }
      const sth = loadTreeHeads(sthFd, path.join(abs, 'tree-heads.jsonl'));
      const storage = new FileLogStorage(
        abs,
        leaves,
        offsetsFd,
        hashesFd,
        sthFd,
        sth.heads,
        { size: cp.size + replay.count, leavesBytes: replay.validEnd, range },
        opts,
        {
          replayedLeaves: replay.count,
          truncatedBytes: leavesLen - replay.validEnd,
          truncatedTreeHeadBytes: sth.truncatedBytes,
        },
      );
      if (replay.count > 0 || replay.validEnd < leavesLen) await storage.checkpoint();
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
      const line = Buffer.from(JSON.stringify(sth) + '\n', 'utf8');
      writeFully(this.sthFd, line, fs.fstatSync(this.sthFd).size);
      this.sths.push(sth);
    });
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
      }
      this.closed = true;
    });
    fs.closeSync(this.offsetsFd);
    fs.closeSync(this.hashesFd);
    fs.closeSync(this.sthFd);
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
