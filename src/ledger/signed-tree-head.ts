/**
 * Signed tree heads (STH) of the verifiable log.
 *
 * Format: the signed message is the RFC 8785 canonical JSON (UTF-8) of exactly
 *   { "logId": <hex SHA-256 of the log public key's DER SubjectPublicKeyInfo>,
 *     "treeSize": <number of leaves>,
 *     "rootHash": <hex RFC 9162 root of the first treeSize leaves; SHA-256("") for 0>,
 *     "timestamp": <milliseconds since the Unix epoch when the head was signed> }
 * and `signature` is the base64 Ed25519 signature (RFC 8032, pure) of those bytes with the log key.
 * Canonical JSON sorts the keys, so the message is
 *   {"logId":"…","rootHash":"…","timestamp":1764000000000,"treeSize":1000}
 * The log key signs nothing else, so an STH cannot be confused with another signed object.
 */
import { createHash, createPublicKey, KeyObject, sign, verify, type webcrypto } from 'node:crypto';
import { canonicalJson } from './provenance-record.js';

type JsonWebKey = webcrypto.JsonWebKey;

export interface TreeHead {
  logId: string;
  treeSize: number;
  rootHash: string;
  timestamp: number;
}

export interface SignedTreeHead extends TreeHead {
  /** base64 Ed25519 signature over `treeHeadMessage(head)`. */
  signature: string;
}

const HEX32 = /^[0-9a-f]{64}$/;
const B64_SIG = /^[A-Za-z0-9+/]{86}==$/;

/** The exact bytes that are signed. */
export function treeHeadMessage(head: TreeHead): Buffer {
  const { logId, treeSize, rootHash, timestamp } = head;
  return Buffer.from(canonicalJson({ logId, treeSize, rootHash, timestamp }), 'utf8');
}

export function signTreeHead(head: TreeHead, privateKey: KeyObject): SignedTreeHead {
  const { logId, treeSize, rootHash, timestamp } = head;
  const signature = sign(null, treeHeadMessage(head), privateKey).toString('base64');
  return { logId, treeSize, rootHash, timestamp, signature };
}

/** A public key in any form an auditor may hold: PEM (SPKI), JWK (OKP/Ed25519) or a KeyObject. */
export type PublicKeyInput = string | JsonWebKey | KeyObject;

export function toPublicKey(input: PublicKeyInput): KeyObject {
  const key =
    typeof input === 'string'
      ? createPublicKey(input)
      : input instanceof KeyObject
        ? input
        : createPublicKey({ key: input, format: 'jwk' });
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('the log key must be an Ed25519 public key');
  return key.type === 'private' ? createPublicKey(key) : key;
}

/** Log id: hex SHA-256 of the DER SubjectPublicKeyInfo of the log's public key (as RFC 6962's LogID). */
export function logIdOf(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

/** Why an STH is not acceptable under `publicKey`, or null when it is well formed and correctly signed. */
export function treeHeadProblem(sth: SignedTreeHead, publicKey: PublicKeyInput): string | null {
  if (!sth || typeof sth !== 'object') return 'the tree head is not an object';
  if (!Number.isSafeInteger(sth.treeSize) || sth.treeSize < 0) return 'the tree head has an invalid treeSize';
  if (!Number.isSafeInteger(sth.timestamp) || sth.timestamp < 0) return 'the tree head has an invalid timestamp';
  if (typeof sth.rootHash !== 'string' || !HEX32.test(sth.rootHash)) return 'the tree head has an invalid rootHash';
  if (typeof sth.signature !== 'string' || !B64_SIG.test(sth.signature)) return 'the tree head has no valid signature';
  let key: KeyObject;
  try {
    key = toPublicKey(publicKey);
  } catch (err) {
    return `the public key cannot be used: ${(err as Error).message}`;
  }
  if (sth.logId !== logIdOf(key)) return 'the tree head belongs to another log (logId does not match the public key)';
  const ok = verify(null, treeHeadMessage(sth), key, Buffer.from(sth.signature, 'base64'));
  return ok ? null : 'the tree head signature does not verify';
}
