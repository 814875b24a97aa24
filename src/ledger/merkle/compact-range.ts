/**
 * The right border ("frontier") of a growing RFC 9162 tree: one hash per complete subtree of the compact
 * range [0, size), largest first, i.e. one per set bit of `size`. Appending a leaf merges equal-sized
 * subtrees (O(log n) hashes) and reports every complete subtree it finishes, which is how storage learns
 * which node hashes to persist; the root at the current size is the right fold (O(log n)), no rebuild.
 */
import { foldRange } from './proofs.js';
import { HASH_SIZE, hashChildren } from './hasher.js';
import { rangeNodes, type NodeId } from './tree-math.js';

/** Called for each complete subtree an append finishes, leaf first, then upwards. */
export type NodeSink = (level: number, index: number, hash: Buffer) => void;

export class CompactRange {
  private constructor(
    private sizeValue: number,
    private readonly border: Buffer[],
  ) {}

  static empty(): CompactRange {
    return new CompactRange(0, []);
  }

  /** The nodes whose hashes `fromHashes` expects for a tree of `size` leaves. */
  static nodesFor(size: number): NodeId[] {
    return rangeNodes(0, size);
  }

  /** Restores the frontier of a tree of `size` leaves from the hashes of `nodesFor(size)`. */
  static fromHashes(size: number, hashes: readonly Uint8Array[]): CompactRange {
    const expected = rangeNodes(0, size).length;
    if (hashes.length !== expected) throw new Error(`a tree of size ${size} has ${expected} frontier nodes`);
    if (hashes.some((h) => h.length !== HASH_SIZE)) throw new Error('frontier hashes must be 32 bytes');
    return new CompactRange(
      size,
      hashes.map((h) => Buffer.from(h)),
    );
  }

  get size(): number {
    return this.sizeValue;
  }

  /** The frontier hashes, largest subtree first (matches `nodesFor(size)`). */
  hashes(): Buffer[] {
    return this.border.map((h) => Buffer.from(h));
  }

  clone(): CompactRange {
    return new CompactRange(this.sizeValue, this.border.slice());
  }

  /** Adds the next leaf (its leaf hash) and reports the complete subtrees it finishes. */
  append(leafHash: Uint8Array, sink?: NodeSink): void {
    if (leafHash.length !== HASH_SIZE) throw new RangeError('leaf hashes must be 32 bytes');
    let h: Buffer = Buffer.from(leafHash);
    let index = this.sizeValue;
    let level = 0;
    sink?.(level, index, h);
    for (let s = this.sizeValue; s % 2 === 1; s = Math.floor(s / 2)) {
      const left = this.border.pop();
      if (!left) throw new Error('compact range is inconsistent with its size');
      h = hashChildren(left, h);
      level++;
      index = Math.floor(index / 2);
      sink?.(level, index, h);
    }
    this.border.push(h);
    this.sizeValue++;
  }

  /** MTH of the leaves so far (the empty-tree hash at size 0). */
  root(): Buffer {
    return foldRange(this.border);
  }
}
