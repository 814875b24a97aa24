import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Ciphertext } from 'node-seal';
import { EncryptedAggregator } from './aggregator.js';
import { encryptColumn, loadEncryptedColumn, type EncryptedColumnUpload } from './column-codec.js';
import { createHeContext, type HeContext, type HeParamSpec } from './he-params.js';
import { generateOwnerKeys, type OwnerKeys } from './keys.js';
import { KeyHolder } from './keyholder.js';
import { deleteAll, loadFreshSeal, type SealRuntime } from './seal-runtime.js';

/**
 * Wasm memory never shrinks, so "flat" means: after a warm-up, 10,000 more SEAL operations through the
 * library do not grow it. A leak of one small ciphertext per operation would need over 1 GiB. The loops
 * are synchronous on purpose: embind's FinalizationRegistry could otherwise free leaked handles behind
 * the test's back. Small ciphertexts (N = 4096, still 128-bit) keep the test at about 15 s.
 */
// A 20-bit plain modulus leaves the grouped weighted sum enough noise budget every time (with 24 bits,
// about one key in four ran out after the rotations and the result could not be decrypted).
const SMALL_BFV: HeParamSpec = {
  scheme: 'bfv',
  polyModulusDegree: 4096,
  coeffModulus: 'bfv-default',
  plainModulus: { batchingBits: 20 },
};
/** The heap grows in steps of at least 20 % (emscripten), so any growth at all exceeds this. */
const TOLERANCE = 1024 * 1024;
const MiB = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MiB`;

describe('wasm memory stays flat', () => {
  let runtime: SealRuntime;
  let ctx: HeContext;
  let keys: OwnerKeys;
  let upload: EncryptedColumnUpload;
  const rows = 4096 * 20;
  const groupOf = Int32Array.from({ length: rows }, (_, r) => Math.floor((r / rows) * 4));
  const groups = { labels: ['a', 'b', 'c', 'd'], groupOf };
  const weights = Array.from({ length: rows }, (_, r) => (r % 3) - 1);

  before(async () => {
    runtime = await loadFreshSeal();
    ctx = createHeContext(runtime, SMALL_BFV);
    keys = generateOwnerKeys(ctx);
    upload = await encryptColumn(
      ctx,
      keys.public,
      Array.from({ length: rows }, (_, r) => r % 5),
      { maxAbs: 4 },
    );
  });
  after(() => ctx.delete());

  /** One round of gateway and key-holder work; returns the SEAL operations it ran. */
  function round(aggregator: EncryptedAggregator, holder: KeyHolder): number {
    let ops = 0;
    const column = loadEncryptedColumn(ctx, upload.layout, upload.ciphertexts);
    ops += upload.ciphertexts.length;
    try {
      for (const result of [aggregator.weightedSum(column, weights, groups), aggregator.sum(column)]) {
        ops += result.ops.add + result.ops.multiplyPlain + result.ops.rotate + result.ops.rescale;
        for (const cell of result.cells) {
          const ciphertext = cell.sum!.ciphertext;
          const request = { computationId: 'm', kind: 'sum', ciphertext, records: cell.records } as const;
          const approval = { computationId: 'm', resultHash: cell.sum!.hash, unitsCovered: 10, approved: true };
          holder.decryptApproved(request, approval);
          ops += 2; // load + decrypt
        }
      }
    } finally {
      column.delete();
    }
    return ops;
  }

  it('after 10,000 operations (load, add, multiply_plain, rotate, decrypt)', () => {
    const started = performance.now();
    const aggregator = new EncryptedAggregator(ctx, keys.public);
    const holder = new KeyHolder(ctx, keys.secret, {
      k: 1,
      approvals: () => Promise.resolve(null),
      zerosDisclosive: false,
    });
    try {
      round(aggregator, holder);
      round(aggregator, holder);
      const before = runtime.wasmHeapBytes();
      let ops = 0;
      let rounds = 0;
      while (ops < 10_000) {
        ops += round(aggregator, holder);
        rounds++;
      }
      const grown = runtime.wasmHeapBytes() - before;
      const secs = ((performance.now() - started) / 1000).toFixed(1);
      console.log(`# ${ops} SEAL ops in ${rounds} rounds, ${secs} s: wasm heap ${MiB(before)}, grew ${MiB(grown)}`);
      assert.ok(grown <= TOLERANCE, `wasm heap grew by ${MiB(grown)}`);
    } finally {
      holder.delete();
      aggregator.delete();
    }
  });

  it('while a leak of the same size would show (the measurement can fail)', () => {
    const before = runtime.wasmHeapBytes();
    const leaked: Ciphertext[] = [];
    try {
      for (let i = 0; i < 1000; i++) {
        const ct = new runtime.seal.Ciphertext();
        leaked.push(ct);
        ct.loadFromArray(ctx.context, upload.ciphertexts[i % upload.ciphertexts.length]!);
      }
      const grown = runtime.wasmHeapBytes() - before;
      assert.ok(grown > TOLERANCE, `1000 undeleted ciphertexts grew the heap by only ${MiB(grown)}`);
    } finally {
      deleteAll(...leaked);
    }
  });
});
