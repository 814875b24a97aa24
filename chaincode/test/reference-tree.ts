/**
 * Test helper: an RFC 9162 tree written straight from the definitions (MTH §2.1.1, SUBPROOF §2.1.4.1), slow
 * and obvious, to produce roots and consistency proofs that the chaincode's verifier must accept.
 */
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { EMPTY_ROOT, hashChildren, hashLeaf } from '../src/merkle';
import { treeHeadMessage, type SignedTreeHead } from '../src/tree-head';

function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

export function mth(leaves: readonly Buffer[]): Buffer {
  if (leaves.length === 0) return EMPTY_ROOT;
  if (leaves.length === 1) return hashLeaf(leaves[0]!);
  const k = split(leaves.length);
  return hashChildren(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

function subproof(m: number, d: readonly Buffer[], b: boolean): Buffer[] {
  const n = d.length;
  if (m === n) return b ? [] : [mth(d)];
  const k = split(n);
  if (m <= k) return [...subproof(m, d.slice(0, k), b), mth(d.slice(k))];
  return [...subproof(m - k, d.slice(k), false), mth(d.slice(0, k))];
}

/** PROOF(m, D[n]) for 0 < m ≤ n. */
export function consistencyProof(m: number, leaves: readonly Buffer[]): Buffer[] {
  return subproof(m, leaves, true);
}

export function leaves(n: number, tag = 'leaf'): Buffer[] {
  return Array.from({ length: n }, (_, i) => Buffer.from(`${tag}-${i}`));
}

export interface TestLogKey {
  privateKey: KeyObject;
  pem: string;
  logId: string;
}

export function newLogKey(): TestLogKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return {
    privateKey,
    pem: publicKey.export({ type: 'spki', format: 'pem' }),
    logId: createHash('sha256').update(der).digest('hex'),
  };
}

export function signedHead(
  key: TestLogKey,
  d: readonly Buffer[],
  timestamp = 1_764_000_000_000 + d.length,
): SignedTreeHead {
  const head = { logId: key.logId, treeSize: d.length, rootHash: mth(d).toString('hex'), timestamp };
  return { ...head, signature: sign(null, treeHeadMessage(head), key.privateKey).toString('base64') };
}
