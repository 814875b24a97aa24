import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EMPTY_ROOT, verifyConsistency } from '../src/merkle';
import { consistencyProof, leaves, mth } from './reference-tree';

describe('RFC 9162 consistency proofs in the chaincode', () => {
  const d = leaves(40);

  it('accepts the proof between every pair of sizes up to 40', () => {
    for (let n = 1; n <= d.length; n++) {
      const big = d.slice(0, n);
      for (let m = 1; m <= n; m++) {
        const proof = consistencyProof(m, big);
        assert.ok(verifyConsistency(m, n, mth(d.slice(0, m)), mth(big), proof), `sizes ${m} → ${n}`);
      }
    }
  });

  it('rejects a proof with any element changed, dropped or added', () => {
    for (const [m, n] of [
      [3, 7],
      [4, 8],
      [6, 33],
      [1, 2],
      [16, 17],
    ] as const) {
      const proof = consistencyProof(m, d.slice(0, n));
      const from = mth(d.slice(0, m));
      const to = mth(d.slice(0, n));
      for (let i = 0; i < proof.length; i++) {
        const bad = proof.map((p) => Buffer.from(p));
        bad[i]![0]! ^= 1;
        assert.equal(verifyConsistency(m, n, from, to, bad), false, `flip element ${i} of ${m} → ${n}`);
      }
      assert.equal(verifyConsistency(m, n, from, to, proof.slice(1)), false);
      assert.equal(verifyConsistency(m, n, from, to, [...proof, to]), false);
    }
  });

  it('rejects a fork: the same proof does not link another prefix or another extension', () => {
    const forked = [...d.slice(0, 5), Buffer.from('rewritten'), ...d.slice(6, 20)];
    const proof = consistencyProof(10, forked);
    assert.equal(verifyConsistency(10, 20, mth(d.slice(0, 10)), mth(forked), proof), false);
    const honest = consistencyProof(10, d.slice(0, 20));
    assert.equal(verifyConsistency(10, 20, mth(d.slice(0, 10)), mth(forked), honest), false);
  });

  it('handles the edges: equal sizes, the empty tree, shrinking trees and malformed hashes', () => {
    const r = mth(d.slice(0, 9));
    assert.ok(verifyConsistency(9, 9, r, r, []));
    assert.equal(verifyConsistency(9, 9, r, mth(d.slice(0, 8)), []), false);
    assert.equal(verifyConsistency(9, 9, r, r, [r]), false);
    assert.ok(verifyConsistency(0, 9, EMPTY_ROOT, r, []));
    assert.equal(verifyConsistency(0, 9, r, r, []), false);
    assert.equal(verifyConsistency(9, 8, r, r, []), false);
    assert.equal(verifyConsistency(8, 9, mth(d.slice(0, 8)), r, [Buffer.alloc(31)]), false);
    assert.equal(verifyConsistency(-1, 9, r, r, []), false);
    assert.equal(verifyConsistency(1.5, 9, r, r, []), false);
  });
});
