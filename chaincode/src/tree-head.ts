/**
 * Signed tree heads of CityGate's verifiable log (the gateway's src/ledger/signed-tree-head.ts defines them;
 * this is an independent reading of the same format):
 *   message   = RFC 8785 canonical JSON of {logId, rootHash, timestamp, treeSize}, UTF-8; with hex strings and
 *               safe integers only, that is exactly {"logId":"…","rootHash":"…","timestamp":N,"treeSize":N}
 *   signature = base64 Ed25519 (RFC 8032, pure) of the message with the log key
 *   logId     = hex SHA-256 of the log public key's DER SubjectPublicKeyInfo
 */
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { LedgerError } from './errors';

export interface SignedTreeHead {
  logId: string;
  treeSize: number;
  rootHash: string;
  timestamp: number;
  signature: string;
}

const HEX32 = /^[0-9a-f]{64}$/;
const B64_SIG = /^[A-Za-z0-9+/]{86}==$/;
const MAX_PEM = 1024;

function bad(detail: string): LedgerError {
  return new LedgerError('BAD_INPUT', detail);
}

/** Validates the shape of a tree head (not its signature); only the five known members are kept. */
export function parseTreeHead(value: unknown): SignedTreeHead {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw bad('the tree head must be an object');
  const v = value as Record<string, unknown>;
  const extra = Object.keys(v).filter((k) => !['logId', 'treeSize', 'rootHash', 'timestamp', 'signature'].includes(k));
  if (extra.length > 0) throw bad('the tree head has unknown members');
  if (typeof v.logId !== 'string' || !HEX32.test(v.logId)) throw bad('logId must be 64 lowercase hex digits');
  if (typeof v.rootHash !== 'string' || !HEX32.test(v.rootHash)) throw bad('rootHash must be 64 lowercase hex digits');
  if (typeof v.treeSize !== 'number' || !Number.isSafeInteger(v.treeSize) || v.treeSize < 0)
    throw bad('treeSize must be a whole number ≥ 0');
  if (typeof v.timestamp !== 'number' || !Number.isSafeInteger(v.timestamp) || v.timestamp < 0)
    throw bad('timestamp must be a whole number of milliseconds ≥ 0');
  if (typeof v.signature !== 'string' || !B64_SIG.test(v.signature))
    throw bad('signature must be a base64 Ed25519 signature');
  return { logId: v.logId, treeSize: v.treeSize, rootHash: v.rootHash, timestamp: v.timestamp, signature: v.signature };
}

/** The exact bytes the log key signs. */
export function treeHeadMessage(h: Omit<SignedTreeHead, 'signature'>): Buffer {
  return Buffer.from(
    `{"logId":"${h.logId}","rootHash":"${h.rootHash}","timestamp":${h.timestamp},"treeSize":${h.treeSize}}`,
    'utf8',
  );
}

/** Parses an Ed25519 SPKI PEM public key; returns the key and its log id. */
export function parseLogKey(pem: string): { key: KeyObject; logId: string; pem: string } {
  if (typeof pem !== 'string' || pem.length > MAX_PEM || !pem.includes('-----BEGIN PUBLIC KEY-----'))
    throw bad('the log key must be an Ed25519 public key in SPKI PEM form');
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch {
    throw bad('the log key is not a readable SPKI PEM public key');
  }
  if (key.asymmetricKeyType !== 'ed25519') throw bad('the log key must be an Ed25519 key');
  const der = key.export({ type: 'spki', format: 'der' });
  const canonicalPem = key.export({ type: 'spki', format: 'pem' });
  return { key, logId: createHash('sha256').update(der).digest('hex'), pem: canonicalPem };
}

/** True when the head's signature verifies under `key`. */
export function signatureVerifies(head: SignedTreeHead, key: KeyObject): boolean {
  try {
    return verify(null, treeHeadMessage(head), key, Buffer.from(head.signature, 'base64'));
  } catch {
    return false;
  }
}
