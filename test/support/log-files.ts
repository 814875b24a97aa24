/**
 * TEST HELPER: the tests' own reading and forging of the file log's leaves.log (independent of the adapter's
 * code), for crash and tamper tests.
 */
import fs from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';

export const MAGIC_LEN = 8;

export interface Frame {
  offset: number;
  payload: Buffer;
}

/** The frames of leaves.log, read without the adapter. */
export function readFrames(logDir: string): Frame[] {
  const buf = fs.readFileSync(path.join(logDir, 'leaves.log'));
  const out: Frame[] = [];
  for (let at = MAGIC_LEN; at + 8 <= buf.length;) {
    const len = buf.readUInt32LE(at);
    out.push({ offset: at, payload: buf.subarray(at + 8, at + 8 + len) });
    at += 8 + len;
  }
  return out;
}

/** A valid frame (length, CRC-32 of length ‖ payload, payload). */
export function frame(payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32LE(payload.length, 0);
  head.writeUInt32LE(crc32(payload, crc32(head.subarray(0, 4))), 4);
  return Buffer.concat([head, payload]);
}

/** Rewrites leaves.log with valid frames and throws away everything derived: a careful forger. */
export function forgeLeaves(logDir: string, payloads: Buffer[]): void {
  const magic = fs.readFileSync(path.join(logDir, 'leaves.log')).subarray(0, MAGIC_LEN);
  fs.writeFileSync(path.join(logDir, 'leaves.log'), Buffer.concat([magic, ...payloads.map(frame)]));
  for (const f of ['hashes.bin', 'offsets.bin', 'checkpoint.json']) fs.rmSync(path.join(logDir, f), { force: true });
}

/** Flips one bit of a file in place. */
export function flipBit(file: string, byte: number, bit = 0): void {
  const fd = fs.openSync(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    fs.readSync(fd, b, 0, 1, byte);
    b[0] = b[0]! ^ (1 << bit);
    fs.writeSync(fd, b, 0, 1, byte);
  } finally {
    fs.closeSync(fd);
  }
}
