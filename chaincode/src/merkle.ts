/**
 * RFC 9162 Merkle tree verification, on its own (the chaincode imports nothing from the gateway):
 * §2.1.1 hashing (leaf SHA-256(0x00 || d), node SHA-256(0x01 || l || r), empty tree SHA-256("")) and the
 * consistency-proof check of §2.1.4.2, step by step. Pure and deterministic, so every endorser agrees.
 */
import { createHash } from 'node:crypto';

export const HASH_SIZE = 32;
export const EMPTY_ROOT: Buffer = createHash('sha256').digest();

export function hashLeaf(data: Uint8Array): Buffer {
  return createHash('sha256').update(Uint8Array.of(0)).update(data).digest();
}

export function hashChildren(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(Uint8Array.of(1)).update(left).update(right).digest();
}

function isSize(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

function isPowerOfTwo(n: number): boolean {
  let x = n;
  while (x > 1 && x % 2 === 0) x /= 2;
  return x === 1;
}

function sameHash(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === HASH_SIZE && b.length === HASH_SIZE && Buffer.compare(a, b) === 0;
}

const half = (n: number): number => Math.floor(n / 2);
const odd = (n: number): boolean => n % 2 === 1;

/**
 * True when `proof` shows that the tree of `fromSize` leaves with root `fromRoot` is a prefix of the tree of
 * `toSize` leaves with root `toRoot` (RFC 9162 §2.1.4.2). Equal sizes need an empty proof and equal roots;
 * size 0 needs an empty proof and the empty-tree root. Arithmetic avoids 32-bit bitwise operators, so sizes up
 * to 2^53 − 1 work.
 */
export function verifyConsistency(
  fromSize: number,
  toSize: number,
  fromRoot: Uint8Array,
  toRoot: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  if (!isSize(fromSize) || !isSize(toSize) || fromSize > toSize) return false;
  if (fromRoot.length !== HASH_SIZE || toRoot.length !== HASH_SIZE) return false;
  if (proof.some((p) => p.length !== HASH_SIZE)) return false;
  if (fromSize === toSize) return proof.length === 0 && sameHash(fromRoot, toRoot);
  if (fromSize === 0) return proof.length === 0 && sameHash(fromRoot, EMPTY_ROOT);
  if (proof.length === 0) return false;
  // Step 2: when the first tree is complete, its root is the first element of the path.
  const path = isPowerOfTwo(fromSize) ? [fromRoot, ...proof] : [...proof];
  let fn = fromSize - 1;
  let sn = toSize - 1;
  while (odd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  const [seed, ...rest] = path;
  if (!seed) return false;
  let fr: Buffer = Buffer.from(seed);
  let sr: Buffer = Buffer.from(seed);
  for (const c of rest) {
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      while (!odd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      sr = hashChildren(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && sameHash(fr, fromRoot) && sameHash(sr, toRoot);
}
