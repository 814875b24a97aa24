/**
 * Addressing in an RFC 9162 tree. Leaf indices and tree sizes are JavaScript numbers (safe integers, so up to
 * 2^53 − 1 entries); arithmetic avoids the 32-bit bitwise operators on purpose.
 *
 * A node `{ level, index }` is the root of the complete subtree over the leaves
 * [index · 2^level, (index + 1) · 2^level); level 0 nodes are the leaf hashes.
 */
export interface NodeId {
  level: number;
  index: number;
}

const TWO_32 = 2 ** 32;

/** True for a whole number in [0, 2^53). */
export function isIndex(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/** Number of set bits. */
export function popcount(n: number): number {
  let c = 0;
  for (let x = n >>> 0; x !== 0; x = (x & (x - 1)) >>> 0) c++;
  let hi = Math.floor(n / TWO_32);
  for (; hi > 0; hi = Math.floor(hi / 2)) c += hi % 2;
  return c;
}

/** Trailing zero bits of n > 0. */
export function trailingZeros(n: number): number {
  let z = 0;
  for (let x = n; x % 2 === 0; x /= 2) z++;
  return z;
}

/** floor(log2(n)) for n ≥ 1. */
export function log2Floor(n: number): number {
  let l = 0;
  for (let x = n; x >= 2; x = Math.floor(x / 2)) l++;
  return l;
}

/** The largest power of two strictly smaller than n (n ≥ 2): the split point k of RFC 9162 §2.1.1. */
export function splitPoint(n: number): number {
  if (n < 2) throw new RangeError('splitPoint needs n ≥ 2');
  return 2 ** log2Floor(n - 1);
}

export function isPowerOfTwo(n: number): boolean {
  return n >= 1 && 2 ** log2Floor(n) === n;
}

/**
 * The complete subtrees that exactly cover the leaves [begin, end), left to right (a compact range).
 * For the ranges that occur in RFC 9162 proofs (begin a multiple of a power of two ≥ end − begin) the sizes
 * are strictly decreasing and MTH(D[begin:end]) is the right fold of their hashes.
 */
export function rangeNodes(begin: number, end: number): NodeId[] {
  const out: NodeId[] = [];
  let b = begin;
  while (b < end) {
    let level = log2Floor(end - b);
    if (b > 0) level = Math.min(level, trailingZeros(b));
    const width = 2 ** level;
    out.push({ level, index: b / width });
    b += width;
  }
  return out;
}

/** The leaves a node covers: [first, end). */
export function nodeSpan(id: NodeId): { first: number; end: number } {
  const width = 2 ** id.level;
  return { first: id.index * width, end: (id.index + 1) * width };
}

export function nodeKey(id: NodeId): string {
  return `${id.level}:${id.index}`;
}
