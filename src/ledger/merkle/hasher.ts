/**
 * RFC 9162 §2.1.1 hashing with SHA-256: a leaf is hashed as SHA-256(0x00 || data), an interior node as
 * SHA-256(0x01 || left || right), the empty tree as SHA-256(""). The prefixes keep a leaf from ever hashing
 * like an interior node (no second preimages by passing a node off as a leaf).
 */
import { hash } from 'node:crypto';

export const HASH_SIZE = 32;

/** Root hash of the empty tree: SHA-256 of the empty string. */
export const EMPTY_ROOT: Buffer = hash('sha256', Buffer.alloc(0), 'buffer');

// One scratch buffer for node hashing: crypto.hash is synchronous, so reuse is safe.
const nodeInput = Buffer.alloc(1 + 2 * HASH_SIZE);
nodeInput[0] = 0x01;

/** SHA-256(0x00 || data). Strings are hashed as UTF-8. */
export function hashLeaf(data: Uint8Array | string): Buffer {
  let input: Buffer;
  if (typeof data === 'string') {
    input = Buffer.allocUnsafe(1 + Buffer.byteLength(data, 'utf8'));
    input.write(data, 1, 'utf8');
  } else {
    input = Buffer.allocUnsafe(1 + data.length);
    input.set(data, 1);
  }
  input[0] = 0x00;
  return hash('sha256', input, 'buffer');
}

/** SHA-256(0x01 || left || right); both must be 32-byte hashes. */
export function hashChildren(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length !== HASH_SIZE || right.length !== HASH_SIZE) throw new RangeError('node hashes must be 32 bytes');
  nodeInput.set(left, 1);
  nodeInput.set(right, 1 + HASH_SIZE);
  return hash('sha256', nodeInput, 'buffer');
}
