/** Test and benchmark helper only (never used to release answers): a seeded, reproducible RandomSource. */
import { createHash } from 'node:crypto';
import type { RandomSource } from './discrete-noise.js';

/** SHA-256 in counter mode over a seed: uniform bytes, the same sequence for the same seed. */
export class SeededRandom implements RandomSource {
  private counter = 0n;

  constructor(private readonly seed: string) {}

  fill(buf: Uint8Array): void {
    let off = 0;
    while (off < buf.length) {
      const block = createHash('sha256').update(this.seed).update(String(this.counter++)).digest();
      const n = Math.min(block.length, buf.length - off);
      buf.set(block.subarray(0, n), off);
      off += n;
    }
  }
}
