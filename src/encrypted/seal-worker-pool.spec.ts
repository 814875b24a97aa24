import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DomainError } from '../errors/domain.error.js';
import { estimateOperations, type AggregateRequest } from './aggregator.js';
import { encryptColumn, type EncryptedColumnUpload } from './column-codec.js';
import { BFV_PARAMS, createHeContext, type HeContext } from './he-params.js';
import { generateOwnerKeys, type OwnerKeys } from './keys.js';
import { loadSeal } from './seal-runtime.js';
import { SealWorkerPool } from './seal-worker-pool.js';

const codeOf = (err: unknown) => (err instanceof DomainError ? err.code : String(err));

describe('SEAL worker pool: aggregates off the event loop, under a deadline', () => {
  let ctx: HeContext;
  let keys: OwnerKeys;
  let upload: EncryptedColumnUpload;
  const rows = 9000; // two ciphertexts
  const values = Array.from({ length: rows }, (_, i) => i % 7);
  // One group per 30 rows: 300 cells, each a slot sum of 13 rotations (seconds of SEAL work).
  const many: AggregateRequest = {
    kind: 'sum',
    groups: {
      labels: Array.from({ length: 300 }, (_, g) => `g${g}`),
      groupOf: Int32Array.from(values, (_, i) => Math.floor(i / 30)),
    },
  };

  before(async () => {
    ctx = createHeContext(await loadSeal(), BFV_PARAMS);
    keys = generateOwnerKeys(ctx);
    upload = await encryptColumn(ctx, keys.public, values, { maxAbs: 10 });
  });
  after(() => ctx?.delete());

  it('estimates ciphertext operations from the plaintext layout: ciphertexts touched plus rotations, per cell', () => {
    assert.deepEqual(estimateOperations(ctx, upload.layout, { kind: 'sum' }), { operations: 2 + 13, cells: 1 });
    assert.deepEqual(estimateOperations(ctx, upload.layout, many), { operations: 300 * 13 + 301, cells: 300 });
    assert.deepEqual(estimateOperations(ctx, upload.layout, { kind: 'count', groups: many.groups }), {
      operations: 0,
      cells: 0,
    });
  });

  it('computes in a thread; a running task past its deadline is terminated and the next gets a fresh thread', async () => {
    const pool = new SealWorkerPool(1);
    try {
      const task = (request: AggregateRequest) =>
        ({
          type: 'aggregate',
          bundle: keys.public,
          layout: upload.layout,
          ciphertexts: upload.ciphertexts,
          request,
        }) as const;
      const sum = await pool.run(task({ kind: 'sum' }), Date.now() + 120_000);
      assert.equal(sum.type === 'aggregate' ? sum.result.cells.length : 0, 1);
      // The event loop stays free while the thread works: a timer fires on time.
      const t0 = performance.now();
      const long = pool.run(task(many), Date.now() + 400);
      const lag = await new Promise<number>((r) => setTimeout(() => r(performance.now() - t0 - 50), 50));
      assert.ok(lag < 100, `timer late by ${lag} ms`);
      await assert.rejects(long, (err) => codeOf(err) === 'DEADLINE_EXCEEDED');
      assert.equal(pool.terminations, 1);
      const again = await pool.run(task({ kind: 'sum' }), Date.now() + 120_000);
      assert.equal(again.type, 'aggregate');
    } finally {
      await pool.close();
    }
  });

  it('a queued task past its deadline never starts; close answers what is pending with UNAVAILABLE', async () => {
    const pool = new SealWorkerPool(1);
    const task = {
      type: 'aggregate',
      bundle: keys.public,
      layout: upload.layout,
      ciphertexts: upload.ciphertexts,
      request: many,
    } as const;
    const running = pool.run(task, Date.now() + 120_000);
    const queued = pool.run({ type: 'info', scheme: 'bfv' }, Date.now() + 50);
    await assert.rejects(queued, (err) => codeOf(err) === 'DEADLINE_EXCEEDED');
    assert.equal(pool.started, 1, 'the queued task never reached a thread');
    const pending = pool.run({ type: 'info', scheme: 'bfv' }, Date.now() + 120_000);
    const refused = Promise.all(
      [running, pending].map((p) => assert.rejects(p, (err) => codeOf(err) === 'UNAVAILABLE')),
    );
    await pool.close();
    await refused;
    await assert.rejects(
      pool.run({ type: 'info', scheme: 'bfv' }, Date.now() + 1000),
      (err) => codeOf(err) === 'UNAVAILABLE',
    );
  });
});
