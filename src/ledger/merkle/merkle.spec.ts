/**
 * RFC 9162 Merkle math: known-answer tests with the published RFC 6962 reference vectors (typed in from
 * transparency-dev/merkle `testonly/constants.go`, `testonly/reference_test.go` and `proof/verify_test.go`,
 * originally certificate-transparency-go), a cross-check against a direct recursive transcription of the RFC,
 * and property tests (fast-check) that valid proofs verify and mutated ones are refused.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CompactRange } from './compact-range.js';
import { EMPTY_ROOT, hashChildren, hashLeaf } from './hasher.js';
import {
  consistencyPlan,
  inclusionPlan,
  planNodes,
  resolvePlan,
  rootFromInclusionProof,
  verifyConsistency,
  verifyInclusion,
} from './proofs.js';
import { nodeKey, nodeSpan, popcount, rangeNodes, splitPoint, type NodeId } from './tree-math.js';

const hx = (s: string) => Buffer.from(s, 'hex');
const hexes = (bs: readonly Uint8Array[]) => bs.map((b) => Buffer.from(b).toString('hex'));

// --- Published vectors -------------------------------------------------------------------------------------
const LEAF_INPUTS = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
].map(hx);

/** ROOTS[n] is the root of the tree over the first n leaf inputs. */
const ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

/** NODE_HASHES[level][index]: every complete subtree of the 8-leaf tree. */
const NODE_HASHES = [
  [
    '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
    '0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7',
    '07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7',
    'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    '4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658',
    'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
    '46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1',
  ],
  [
    'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
    '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
    '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
    'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
  ],
  [
    'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
  ],
  ['5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328'],
];

/** Inclusion paths (leaf index, tree size, path). */
const INCLUSION_VECTORS: { index: number; size: number; path: string[] }[] = [
  { index: 0, size: 1, path: [] },
  { index: 0, size: 2, path: ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7'] },
  { index: 1, size: 2, path: ['6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d'] },
  { index: 2, size: 3, path: ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125'] },
  {
    index: 1,
    size: 5,
    path: [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
  {
    index: 0,
    size: 8,
    path: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    index: 5,
    size: 8,
    path: [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
];

/** Consistency proofs (size1, size2, proof). */
const CONSISTENCY_VECTORS: { from: number; to: number; proof: string[] }[] = [
  { from: 1, to: 1, proof: [] },
  {
    from: 1,
    to: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    from: 6,
    to: 8,
    proof: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
  {
    from: 2,
    to: 5,
    proof: [
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
  {
    from: 6,
    to: 7,
    proof: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
];

// --- An in-memory tree: every complete subtree's hash, collected from CompactRange's sink ----------------
class MemoryTree {
  readonly leaves: Buffer[] = [];
  private readonly nodes = new Map<string, Buffer>();
  private readonly range = CompactRange.empty();
  private readonly roots: Buffer[] = [Buffer.from(EMPTY_ROOT)];

  constructor(leafData: readonly Uint8Array[]) {
    for (const d of leafData) {
      const lh = hashLeaf(d);
      this.leaves.push(lh);
      this.range.append(lh, (level, index, h) => this.nodes.set(nodeKey({ level, index }), h));
      this.roots.push(this.range.root());
    }
  }

  root(size: number): Buffer {
    return this.roots[size]!;
  }

  node(id: NodeId): Buffer {
    const h = this.nodes.get(nodeKey(id));
    if (!h) throw new Error(`no node ${nodeKey(id)}`);
    return h;
  }

  inclusion(index: number, size: number): Buffer[] {
    const plan = inclusionPlan(index, size);
    const ids = planNodes(plan);
    return resolvePlan(
      plan,
      ids,
      ids.map((id) => this.node(id)),
    );
  }

  consistency(from: number, to: number): Buffer[] {
    const plan = consistencyPlan(from, to);
    const ids = planNodes(plan);
    return resolvePlan(
      plan,
      ids,
      ids.map((id) => this.node(id)),
    );
  }
}

// --- A direct, slow transcription of RFC 9162 §2.1, for cross-checking -------------------------------------
const sha = (...parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};
function refMth(d: readonly Uint8Array[]): Buffer {
  if (d.length === 0) return sha();
  if (d.length === 1) return sha(Buffer.from([0]), d[0]!);
  const k = splitPoint(d.length);
  return sha(Buffer.from([1]), refMth(d.slice(0, k)), refMth(d.slice(k)));
}
function refPath(m: number, d: readonly Uint8Array[]): Buffer[] {
  if (d.length <= 1) return [];
  const k = splitPoint(d.length);
  return m < k
    ? [...refPath(m, d.slice(0, k)), refMth(d.slice(k))]
    : [...refPath(m - k, d.slice(k)), refMth(d.slice(0, k))];
}
function refSubproof(m: number, d: readonly Uint8Array[], b: boolean): Buffer[] {
  if (m === d.length) return b ? [] : [refMth(d)];
  const k = splitPoint(d.length);
  return m <= k
    ? [...refSubproof(m, d.slice(0, k), b), refMth(d.slice(k))]
    : [...refSubproof(m - k, d.slice(k), false), refMth(d.slice(0, k))];
}

const kat = new MemoryTree(LEAF_INPUTS);
const BIG = 1100;
const bigData = Array.from({ length: BIG }, (_, i) => Buffer.from(`leaf-${i}`));
const big = new MemoryTree(bigData);

const flipBit = (b: Uint8Array, bit: number) => {
  const c = Buffer.from(b);
  c[bit >> 3]! ^= 1 << (bit & 7);
  return c;
};

describe('merkle: known answers (RFC 6962 reference vectors)', () => {
  it('hashes the empty tree, leaves and nodes with the 0x00 / 0x01 prefixes', () => {
    assert.equal(EMPTY_ROOT.toString('hex'), ROOTS[0]);
    for (let i = 0; i < 8; i++) assert.equal(hashLeaf(LEAF_INPUTS[i]!).toString('hex'), NODE_HASHES[0]![i]);
    assert.equal(hashChildren(hx(NODE_HASHES[0]![0]!), hx(NODE_HASHES[0]![1]!)).toString('hex'), NODE_HASHES[1]![0]);
  });

  it('computes the published root for every size 0..8', () => {
    const range = CompactRange.empty();
    assert.equal(range.root().toString('hex'), ROOTS[0]);
    for (let n = 1; n <= 8; n++) {
      range.append(hashLeaf(LEAF_INPUTS[n - 1]!));
      assert.equal(range.root().toString('hex'), ROOTS[n], `root of size ${n}`);
    }
  });

  it('reports every complete subtree hash as it is finished', () => {
    for (let level = 0; level < NODE_HASHES.length; level++) {
      NODE_HASHES[level]!.forEach((h, index) => assert.equal(kat.node({ level, index }).toString('hex'), h));
    }
  });

  it('keeps the published compact frontier at each size', () => {
    const frontier: [number, number][][] = [
      [],
      [[0, 0]],
      [[1, 0]],
      [
        [1, 0],
        [0, 2],
      ],
      [[2, 0]],
    ];
    frontier.push(
      [
        [2, 0],
        [0, 4],
      ],
      [
        [2, 0],
        [1, 2],
      ],
      [
        [2, 0],
        [1, 2],
        [0, 6],
      ],
      [[3, 0]],
    );
    const range = CompactRange.empty();
    for (let n = 0; n <= 8; n++) {
      if (n > 0) range.append(hashLeaf(LEAF_INPUTS[n - 1]!));
      assert.deepEqual(
        hexes(range.hashes()),
        frontier[n]!.map(([l, i]) => NODE_HASHES[l]![i]),
      );
      const restored = CompactRange.fromHashes(n, range.hashes());
      assert.equal(restored.root().toString('hex'), ROOTS[n]);
    }
  });

  for (const v of INCLUSION_VECTORS) {
    it(`inclusion proof of leaf ${v.index} in size ${v.size}`, () => {
      assert.deepEqual(hexes(kat.inclusion(v.index, v.size)), v.path);
      const lh = hashLeaf(LEAF_INPUTS[v.index]!);
      assert.ok(verifyInclusion(v.index, v.size, lh, v.path.map(hx), hx(ROOTS[v.size]!)));
    });
  }

  for (const v of CONSISTENCY_VECTORS) {
    it(`consistency proof from ${v.from} to ${v.to}`, () => {
      assert.deepEqual(hexes(kat.consistency(v.from, v.to)), v.proof);
      assert.ok(verifyConsistency(v.from, v.to, hx(ROOTS[v.from]!), hx(ROOTS[v.to]!), v.proof.map(hx)));
    });
  }

  it('refuses the corruptions of the reference verifier tests', () => {
    for (const v of INCLUSION_VECTORS.filter((x) => x.path.length > 0)) {
      const lh = hashLeaf(LEAF_INPUTS[v.index]!);
      const root = hx(ROOTS[v.size]!);
      const path = v.path.map(hx);
      const bad: [string, number, number, Uint8Array, Buffer[], Uint8Array][] = [
        ['index - 1', v.index - 1, v.size, lh, path, root],
        ['index + 1', v.index + 1, v.size, lh, path, root],
        ['index ^ 2', v.index ^ 2, v.size, lh, path, root],
        ['size * 2', v.index, v.size * 2, lh, path, root],
        ['size / 2', v.index, Math.floor(v.size / 2), lh, path, root],
        ['wrong leaf', v.index, v.size, Buffer.from('WrongLeaf'), path, root],
        ['empty root', v.index, v.size, lh, path, EMPTY_ROOT],
        ['trailing garbage', v.index, v.size, lh, [...path, Buffer.alloc(0)], root],
        ['trailing root', v.index, v.size, lh, [...path, Buffer.from(root)], root],
        ['preceding root', v.index, v.size, lh, [Buffer.from(root), ...path], root],
        ['removed component', v.index, v.size, lh, path.slice(0, -1), root],
      ];
      path.forEach((_, i) =>
        bad.push([`bit 3 of [${i}]`, v.index, v.size, lh, path.with(i, flipBit(path[i]!, 3)), root]),
      );
      for (const [desc, i, n, l, p, r] of bad) assert.equal(verifyInclusion(i, n, l, p, r), false, desc);
    }
    for (const v of CONSISTENCY_VECTORS.filter((x) => x.proof.length > 0)) {
      const [r1, r2] = [hx(ROOTS[v.from]!), hx(ROOTS[v.to]!)];
      const p = v.proof.map(hx);
      const bad: [string, number, number, Uint8Array, Uint8Array, Buffer[]][] = [
        ['from - 1', v.from - 1, v.to, r1, r2, p],
        ['from + 1', v.from + 1, v.to, r1, r2, p],
        ['from ^ 2', v.from ^ 2, v.to, r1, r2, p],
        ['to * 2', v.from, v.to * 2, r1, r2, p],
        ['to / 2', v.from, Math.floor(v.to / 2), r1, r2, p],
        ['wrong root1', v.from, v.to, Buffer.from('WrongRoot'), r2, p],
        ['swapped roots', v.from, v.to, r2, r1, p],
        ['empty proof', v.from, v.to, r1, r2, []],
        ['trailing root2', v.from, v.to, r1, r2, [...p, Buffer.from(r2)]],
        ['preceding root1', v.from, v.to, r1, r2, [Buffer.from(r1), ...p]],
        ['preceding proof[0]', v.from, v.to, r1, r2, [p[0]!, ...p]],
        ['truncated', v.from, v.to, r1, r2, p.slice(0, -1)],
      ];
      p.forEach((_, i) => bad.push([`bit 4 of [${i}]`, v.from, v.to, r1, r2, p.with(i, flipBit(p[i]!, 4))]));
      for (const [desc, a, b, x, y, q] of bad) assert.equal(verifyConsistency(a, b, x, y, q), false, desc);
    }
  });

  it('treats the trivial consistency cases as the reference verifier does', () => {
    const [r0, r1] = [EMPTY_ROOT, hx(ROOTS[1]!)];
    assert.equal(verifyConsistency(0, 0, r0, r0, []), true);
    assert.equal(verifyConsistency(0, 1, r0, r1, []), true);
    assert.equal(verifyConsistency(1, 1, r1, r1, []), true);
    assert.equal(verifyConsistency(1, 0, r1, r0, []), false, 'time travel');
    assert.equal(verifyConsistency(1, 1, r0, r1, []), false, 'same size, different roots');
    assert.equal(verifyConsistency(1, 1, r1, r1, [r0]), false, 'same size, non-empty proof');
    assert.equal(verifyConsistency(0, 1, r0, r1, [r0]), false, 'from 0, non-empty proof');
    assert.equal(verifyConsistency(1, 2, r1, hx(ROOTS[2]!), []), false, 'empty proof');
  });
});

describe('merkle: against a direct transcription of RFC 9162', () => {
  it('roots, paths and subproofs agree for every size up to 70', () => {
    for (let n = 1; n <= 70; n++) {
      assert.equal(big.root(n).toString('hex'), refMth(bigData.slice(0, n)).toString('hex'), `root ${n}`);
      for (let m = 0; m < n; m++) {
        assert.deepEqual(hexes(big.inclusion(m, n)), hexes(refPath(m, bigData.slice(0, n))), `path ${m}/${n}`);
      }
      for (let m = 1; m <= n; m++) {
        assert.deepEqual(
          hexes(big.consistency(m, n)),
          hexes(refSubproof(m, bigData.slice(0, n), true)),
          `subproof ${m}/${n}`,
        );
      }
    }
  });

  it('rangeNodes covers [begin, end) exactly with aligned subtrees', () => {
    fc.assert(
      fc.property(fc.nat(5000), fc.nat(5000), (a, b) => {
        const [begin, end] = a <= b ? [a, b] : [b, a];
        let at = begin;
        for (const id of rangeNodes(begin, end)) {
          const span = nodeSpan(id);
          assert.equal(span.first, at);
          at = span.end;
        }
        assert.equal(at, end);
      }),
    );
    assert.equal(popcount(2 ** 40 + 2 ** 33 + 7), 5);
    assert.equal(rangeNodes(0, 2 ** 40 + 3).length, 3);
  });
});

const sizeAndIndex = fc.integer({ min: 1, max: BIG }).chain((n) => fc.tuple(fc.constant(n), fc.nat(n - 1)));
const sizePair = fc
  .tuple(fc.integer({ min: 1, max: BIG }), fc.integer({ min: 1, max: BIG }))
  .map(([a, b]): [number, number] => (a <= b ? [a, b] : [b, a]));

describe('merkle: properties', () => {
  it('an inclusion proof verifies for any size and index, and leads to the root', () => {
    fc.assert(
      fc.property(sizeAndIndex, ([n, i]) => {
        const proof = big.inclusion(i, n);
        assert.ok(verifyInclusion(i, n, big.leaves[i]!, proof, big.root(n)));
        assert.equal(rootFromInclusionProof(i, n, big.leaves[i]!, proof)?.toString('hex'), big.root(n).toString('hex'));
      }),
      { numRuns: 500 },
    );
  });

  it('a mutated inclusion proof is refused', () => {
    fc.assert(
      fc.property(sizeAndIndex, fc.nat(), fc.nat(255), fc.integer({ min: 1, max: BIG }), ([n, i], pick, bit, other) => {
        const proof = big.inclusion(i, n);
        const leaf = big.leaves[i]!;
        const root = big.root(n);
        const no = (p: readonly Uint8Array[], why: string, idx = i, size = n, r: Uint8Array = root, l = leaf) =>
          assert.equal(verifyInclusion(idx, size, l, p, r), false, `${why} (leaf ${i} of ${n})`);
        if (proof.length > 0) {
          const k = pick % proof.length;
          no(proof.with(k, flipBit(proof[k]!, bit)), 'bit flip');
          no(proof.slice(0, -1), 'truncated');
          no(proof.with(k, Buffer.concat([proof[k]!, Buffer.from([0])])), 'trailing byte in an element');
          no(proof.with(k, proof[k]!.subarray(0, 31)), 'short element');
        }
        no([...proof, big.leaves[pick % BIG]!], 'trailing element');
        no([...proof, root], 'trailing root');
        const j = (i + 1 + (pick % n)) % n;
        if (j !== i) no(proof, 'wrong index', j);
        if (other !== n && other > i) no(proof, 'wrong size (with that size’s root)', i, other, big.root(other));
        if (n > 1) no(proof, 'wrong root', i, n, big.root(n - 1));
        no(proof, 'leaf hash of other data', i, n, root, hashLeaf(Buffer.from('not the leaf')));
        no(proof, 'index beyond the tree', n, n);
      }),
      { numRuns: 400 },
    );
  });

  it('an interior node cannot be passed off as a leaf', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: BIG / 2 }), fc.nat(), (halfN, pick) => {
        const n = 2 * halfN; // the level-1 nodes of an even tree form a tree of n/2 "leaves"
        const j = pick % halfN;
        const left = big.leaves[2 * j]!;
        const right = big.leaves[2 * j + 1]!;
        const interior = hashChildren(left, right);
        const upper = big.inclusion(2 * j, n).slice(1);
        // The raw math accepts the node hash one level up (that is what a proof is) ...
        assert.ok(verifyInclusion(j, halfN, interior, upper, big.root(n)));
        // ... but data whose leaf hash would have to equal it cannot be found: 0x00 ≠ 0x01.
        const forged = hashLeaf(Buffer.concat([left, right]));
        assert.equal(verifyInclusion(j, halfN, forged, upper, big.root(n)), false);
        assert.equal(verifyInclusion(2 * j, n, forged, big.inclusion(2 * j, n), big.root(n)), false);
        assert.equal(verifyInclusion(2 * j, n, forged, [big.leaves[2 * j + 1]!, ...upper], big.root(n)), false);
      }),
      { numRuns: 200 },
    );
  });

  it('a consistency proof verifies for any pair of sizes', () => {
    fc.assert(
      fc.property(sizePair, ([m, n]) => {
        assert.ok(verifyConsistency(m, n, big.root(m), big.root(n), big.consistency(m, n)));
      }),
      { numRuns: 500 },
    );
  });

  it('a mutated consistency proof is refused', () => {
    fc.assert(
      fc.property(sizePair, fc.nat(), fc.nat(255), fc.integer({ min: 1, max: BIG }), ([m, n], pick, bit, other) => {
        fc.pre(m < n);
        const proof = big.consistency(m, n);
        const [r1, r2] = [big.root(m), big.root(n)];
        const no = (p: readonly Uint8Array[], why: string, a = m, b = n, x: Uint8Array = r1, y: Uint8Array = r2) =>
          assert.equal(verifyConsistency(a, b, x, y, p), false, `${why} (${m} → ${n})`);
        const k = pick % proof.length;
        no(proof.with(k, flipBit(proof[k]!, bit)), 'bit flip');
        no(proof.slice(0, -1), 'truncated');
        no([], 'empty');
        no([...proof, r2], 'trailing root');
        no([...proof, big.leaves[pick % BIG]!], 'trailing element');
        no([r1, ...proof], 'preceding root1');
        no(proof.with(k, Buffer.concat([proof[k]!, Buffer.from([1])])), 'trailing byte in an element');
        no(proof, 'swapped roots', m, n, r2, r1);
        no(proof, 'reversed sizes', n, m, r2, r1);
        if (other !== m && other < n) no(proof, 'wrong first size', other, n, big.root(other), r2);
        if (other !== n && other > m) no(proof, 'wrong second size', m, other, r1, big.root(other));
        no(proof, 'first root of another size', m, n, big.root(m === 1 ? 2 : m - 1), r2);
      }),
      { numRuns: 400 },
    );
  });
});
