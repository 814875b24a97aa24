/**
 * SEAL's own serialisation format, which every key and ciphertext of this library is stored in, so that
 * any SEAL 4.1 implementation (C++, seal-python, Pyfhel, node-seal) reads them (docs/encrypted-columns.md).
 *
 * Each object starts with SEAL's 16-byte header, little-endian:
 *   bytes 0-1  magic 0xA15E (on disk: 0x5E 0xA1)   byte 2  header size (16)
 *   byte  3    version major (4)                    byte 4  version minor (1)
 *   byte  5    compression: 0 none, 1 zlib, 2 zstd  bytes 6-7 reserved (0)
 *   bytes 8-15 total size in bytes, header included (uint64)
 */
import { hash } from 'node:crypto';
import type { ComprModeType } from 'node-seal';
import type { Seal } from './seal-runtime.js';

/**
 * `none` for interoperability (seal-python 4.1 reads only uncompressed objects), `zstd` (default) to
 * store and send: about 20 % smaller for fresh ciphertexts, half for seeded keys.
 */
export type Compression = 'none' | 'zstd';

export const SEAL_MAGIC = 0xa15e;
export const SEAL_HEADER_BYTES = 16;

export interface SealHeader {
  magic: number;
  headerSize: number;
  versionMajor: number;
  versionMinor: number;
  compression: 'none' | 'zlib' | 'zstd';
  /** Total size of the object in bytes, header included. */
  size: number;
}

export function comprMode(seal: Seal, compression: Compression): ComprModeType {
  return compression === 'none' ? seal.ComprModeType.none : seal.ComprModeType.zstd;
}

/** Reads SEAL's header; returns null when `bytes` does not start with one (wrong magic, size or version). */
export function readSealHeader(bytes: Uint8Array): SealHeader | null {
  if (bytes.length < SEAL_HEADER_BYTES) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint16(0, true);
  const compressionByte = view.getUint8(5);
  const size = view.getBigUint64(8, true);
  const compression = (['none', 'zlib', 'zstd'] as const)[compressionByte];
  if (magic !== SEAL_MAGIC || view.getUint8(2) !== SEAL_HEADER_BYTES || compression === undefined) return null;
  if (size !== BigInt(bytes.length)) return null;
  return {
    magic,
    headerSize: SEAL_HEADER_BYTES,
    versionMajor: view.getUint8(3),
    versionMinor: view.getUint8(4),
    compression,
    size: Number(size),
  };
}

/** Copies what node-seal's `saveToArray` returns into an ordinary Uint8Array (not a view of wasm memory). */
export function toBytes(saved: unknown): Uint8Array {
  if (!(saved instanceof Uint8Array)) throw new TypeError('node-seal saveToArray did not return bytes');
  return new Uint8Array(saved);
}

/**
 * node-seal's `loadFromArray` accepts only a plain Uint8Array, not a subclass such as Node's Buffer (what
 * fs and database drivers return): a view of the same memory, no copy.
 */
export function sealInput(bytes: Uint8Array): Uint8Array {
  return bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The hex SHA-256 of serialised bytes: how results are named in the gateway's log and approvals. */
export function sha256Hex(bytes: Uint8Array): string {
  return hash('sha256', bytes, 'hex');
}
