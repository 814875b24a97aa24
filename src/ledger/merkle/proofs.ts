/**
 * RFC 9162 proofs. Generation is split in two so that storage can fetch what a proof needs in one round trip:
 * a *plan* lists, for each proof element, the complete subtrees whose right fold is that element
 * (one node, except for the element on the tree's right border, which may span an incomplete subtree);
 * `resolvePlan` turns fetched node hashes into the proof. Both follow the recursive definitions of
 * §2.1.3.1 (PATH) and §2.1.4.1 (SUBPROOF), so a proof touches O(log n) stored nodes.
 * Verification implements §2.1.3.2 and §2.1.4.2 step by step.
 */
import { EMPTY_ROOT, HASH_SIZE, hashChildren } from './hasher.js';
import { isIndex, isPowerOfTwo, nodeKey, rangeNodes, splitPoint, type NodeId } from './tree-math.js';

/** One NodeId list per proof element, in proof order. */
export type ProofPlan = NodeId[][];

/** Plan of the inclusion proof of leaf `index` in the tree of size `size` (0 ≤ index < size). */
export function inclusionPlan(index: number, size: number): ProofPlan {
  if (!isIndex(index) || !isIndex(size) || index >= size) {
    throw new RangeError(`no inclusion proof for index ${index} in a tree of size ${size}`);
  }
  const plan: ProofPlan = [];
  // PATH(m, D[lo:hi]) = PATH(m, D[lo:lo+k]) : MTH(D[lo+k:hi])       when m < k
  //                   = PATH(m − k, D[lo+k:hi]) : MTH(D[lo:lo+k])   otherwise
  const path = (m: number, lo: number, hi: number): void => {
    if (hi - lo === 1) return;
    const k = splitPoint(hi - lo);
    if (m < k) {
      path(m, lo, lo + k);
      plan.push(rangeNodes(lo + k, hi));
    } else {
      path(m - k, lo + k, hi);
      plan.push(rangeNodes(lo, lo + k));
    }
  };
  path(index, 0, size);
  return plan;
}

/** Plan of the consistency proof between tree sizes 0 < from ≤ to (empty when from = to). */
export function consistencyPlan(from: number, to: number): ProofPlan {
  if (!isIndex(from) || !isIndex(to) || from < 1 || from > to) {
    throw new RangeError(`no consistency proof from size ${from} to size ${to}`);
  }
  const plan: ProofPlan = [];
  // SUBPROOF(m, D[lo:hi], b), with m counted from lo.
  const sub = (m: number, lo: number, hi: number, b: boolean): void => {
    if (m === hi - lo) {
      if (!b) plan.push(rangeNodes(lo, hi));
      return;
    }
    const k = splitPoint(hi - lo);
    if (m <= k) {
      sub(m, lo, lo + k, b);
      plan.push(rangeNodes(lo + k, hi));
    } else {
      sub(m - k, lo + k, hi, false);
      plan.push(rangeNodes(lo, lo + k));
    }
  };
  sub(from, 0, to, true);
  return plan;
}

/** Every distinct node a plan needs, in first-use order. */
export function planNodes(plan: ProofPlan): NodeId[] {
  const seen = new Set<string>();
  const out: NodeId[] = [];
  for (const element of plan) {
    for (const id of element) {
      const key = nodeKey(id);
      if (!seen.has(key)) {
        seen.add(key);
        out.push(id);
      }
    }
  }
  return out;
}

/** Right fold of complete-subtree hashes (largest first): the MTH of the range they cover. */
export function foldRange(hashes: readonly Uint8Array[]): Buffer {
  const last = hashes[hashes.length - 1];
  if (last === undefined) return Buffer.from(EMPTY_ROOT);
  let acc: Buffer = Buffer.from(last);
  for (let i = hashes.length - 2; i >= 0; i--) acc = hashChildren(hashes[i]!, acc);
  return acc;
}

/** Builds the proof from a plan and the hashes of `planNodes(plan)` (same order). */
export function resolvePlan(plan: ProofPlan, nodes: readonly NodeId[], hashes: readonly Uint8Array[]): Buffer[] {
  if (nodes.length !== hashes.length) throw new Error('resolvePlan: one hash per node is required');
  const byKey = new Map<string, Uint8Array>();
  nodes.forEach((id, i) => byKey.set(nodeKey(id), hashes[i]!));
  return plan.map((element) =>
    foldRange(
      element.map((id) => {
        const h = byKey.get(nodeKey(id));
        if (!h || h.length !== HASH_SIZE) throw new Error(`resolvePlan: missing hash of node ${nodeKey(id)}`);
        return h;
      }),
    ),
  );
}

function equalHash(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === HASH_SIZE && b.length === HASH_SIZE && Buffer.compare(a, b) === 0;
}

const half = (n: number) => Math.floor(n / 2);
const odd = (n: number) => n % 2 === 1;

/**
 * RFC 9162 §2.1.3.2: the root an inclusion proof leads to, or null when the proof cannot be valid for
 * this index and size (wrong length, wrong element size, index outside the tree).
 */
export function rootFromInclusionProof(
  index: number,
  size: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
): Buffer | null {
  if (!isIndex(index) || !isIndex(size) || index >= size) return null;
  if (leafHash.length !== HASH_SIZE) return null;
  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(leafHash);
  for (const p of proof) {
    if (p.length !== HASH_SIZE) return null;
    if (sn === 0) return null;
    if (odd(fn) || fn === sn) {
      r = hashChildren(p, r);
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = hashChildren(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 ? r : null;
}

/** True when `proof` shows that `leafHash` is leaf `index` of the tree of size `size` with root `root`. */
export function verifyInclusion(
  index: number,
  size: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  const computed = rootFromInclusionProof(index, size, leafHash, proof);
  return computed !== null && equalHash(computed, root);
}

/**
 * RFC 9162 §2.1.4.2: true when `proof` shows that the tree of size `from` with root `fromRoot` is a prefix of
 * the tree of size `to` with root `toRoot`. Equal sizes need an empty proof and equal roots; size 0 needs an
 * empty proof and the empty-tree root.
 */
export function verifyConsistency(
  from: number,
  to: number,
  fromRoot: Uint8Array,
  toRoot: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  if (!isIndex(from) || !isIndex(to) || from > to) return false;
  if (fromRoot.length !== HASH_SIZE || toRoot.length !== HASH_SIZE) return false;
  if (proof.some((p) => p.length !== HASH_SIZE)) return false;
  if (from === to) return proof.length === 0 && equalHash(fromRoot, toRoot);
  if (from === 0) return proof.length === 0 && equalHash(fromRoot, EMPTY_ROOT);
  if (proof.length === 0) return false;
  // 2. If first is an exact power of 2, prepend first_hash to the path.
  const path = isPowerOfTwo(from) ? [fromRoot, ...proof] : [...proof];
  let fn = from - 1;
  let sn = to - 1;
  while (odd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr: Buffer = Buffer.from(path[0]!);
  let sr: Buffer = Buffer.from(path[0]!);
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = hashChildren(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && equalHash(fr, fromRoot) && equalHash(sr, toRoot);
}
