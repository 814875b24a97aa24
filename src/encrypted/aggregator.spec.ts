import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { Rng } from '../spatial/demo-city.prng.js';
import { EncryptedAggregator, type AggregateResult, type GroupIndex } from './aggregator.js';
import { HeError } from './encrypted.errors.js';
import { BFV_PARAMS, CKKS_PARAMS } from './he-params.js';
import { encryptedColumn, reveal, schemeFixture, type SchemeFixture } from './he.test-fixture.js';
import { measureNoiseBudget } from './keyholder.js';
import { generateOwnerKeys } from './keys.js';
import { loadSeal } from './seal-runtime.js';

/** HE is slow (a grouped sum is about 0.1 s per group): a few runs per property unless HE_PROPERTY_RUNS says. */
const RUNS = Number(process.env.HE_PROPERTY_RUNS ?? 4);

interface Case {
  seed: string;
  rows: number;
  groups: number;
  /** Rows sorted by group (the recommended upload order) or scattered. */
  sorted: boolean;
  maxAbs: number;
}

const caseArb = (slotCount: number, maxAbs: fc.Arbitrary<number>) =>
  fc.record({
    seed: fc.string({ maxLength: 8 }),
    // Up to three ciphertexts, with the boundaries (one row, exactly one full ciphertext) likely.
    rows: fc.oneof(fc.constantFrom(1, slotCount, slotCount + 1), fc.integer({ min: 1, max: 3 * slotCount })),
    groups: fc.integer({ min: 1, max: 4 }),
    sorted: fc.boolean(),
    maxAbs,
  });

interface Data {
  values: number[];
  weights: number[];
  groups: GroupIndex;
}

function makeData(c: Case, integers: boolean, signed: boolean): Data {
  const rng = new Rng(c.seed, String(c.rows));
  const draw = (max: number) => {
    const x = (signed ? rng.next() * 2 - 1 : rng.next()) * max;
    return integers ? Math.round(x) : x;
  };
  const values = Array.from({ length: c.rows }, () => draw(c.maxAbs));
  const weights = Array.from({ length: c.rows }, () => draw(integers ? 1000 : 10));
  const groupOf = Int32Array.from({ length: c.rows }, (_, r) =>
    // Some rows fall outside every group (-1), as rows outside a request's extent do.
    c.sorted ? Math.floor((r * c.groups) / c.rows) : Math.floor(rng.next() * (c.groups + 1)) - 1,
  );
  const labels = Array.from({ length: c.groups }, (_, g) => `unit-${g}`);
  return { values, weights, groups: { labels, groupOf } };
}

/** Plaintext reference: per cell, sum of value x weight, sum of |value x weight|, and records. */
function reference(d: Data, weighted: boolean, grouped: boolean) {
  const n = grouped ? d.groups.labels.length : 1;
  const sums = new Array<number>(n).fill(0);
  const abs = new Array<number>(n).fill(0);
  const records = new Array<number>(n).fill(0);
  d.values.forEach((v, r) => {
    const g = grouped ? d.groups.groupOf[r]! : 0;
    if (g < 0) return;
    const x = v * (weighted ? d.weights[r]! : 1);
    sums[g]! += x;
    abs[g]! += Math.abs(x);
    records[g]!++;
  });
  return { sums, abs, records };
}

describe('encrypted aggregates match plaintext', () => {
  let bfv: SchemeFixture;
  let ckks: SchemeFixture;
  before(async () => {
    const runtime = await loadSeal();
    bfv = schemeFixture(runtime, BFV_PARAMS);
    ckks = schemeFixture(runtime, CKKS_PARAMS);
  });
  after(() => {
    bfv.delete();
    ckks.delete();
  });

  /** Runs every aggregate on `d` and checks each cell with `check(got, expected, sumOfAbs)`. */
  async function checkAll(
    fx: SchemeFixture,
    d: Data,
    maxAbs: number,
    check: (got: number, expected: number, abs: number, divisor?: number) => void,
  ): Promise<AggregateResult[]> {
    const column = await encryptedColumn(fx, d.values, maxAbs);
    const results: AggregateResult[] = [];
    try {
      for (const grouped of [false, true]) {
        const groups = grouped ? d.groups : undefined;
        const plain = reference(d, false, grouped);
        const weighted = reference(d, true, grouped);

        const sum = fx.aggregator.sum(column, groups);
        const mean = fx.aggregator.mean(column, groups);
        const wsum = fx.aggregator.weightedSum(column, d.weights, groups);
        const count = fx.aggregator.count(column.layout, groups);
        results.push(sum, wsum);
        for (const [i, cell] of count.cells.entries()) {
          assert.equal(cell.records, plain.records[i]);
          assert.equal(cell.sum, null);
          assert.equal(cell.group, grouped ? d.groups.labels[i] : null);
        }
        for (const [i, cell] of sum.cells.entries()) {
          assert.equal(cell.records, plain.records[i]);
          if (cell.records === 0) {
            assert.equal(cell.sum, null);
            continue;
          }
          check(reveal(fx, cell), plain.sums[i]!, plain.abs[i]!);
          const m = mean.cells[i]!;
          check(reveal(fx, m, 'mean'), plain.sums[i]! / m.records, plain.abs[i]! / m.records, m.records);
          check(reveal(fx, wsum.cells[i]!, 'weightedSum'), weighted.sums[i]!, weighted.abs[i]!);
        }
      }
    } finally {
      column.delete();
    }
    return results;
  }

  it('BFV: sum, count, mean, weighted sum, grouped or not, exactly', async () => {
    const budgets: number[] = [];
    await fc.assert(
      fc.asyncProperty(caseArb(8192, fc.integer({ min: 1, max: 100_000_000 })), async (c) => {
        const d = makeData(c, true, true);
        const results = await checkAll(bfv, d, c.maxAbs, (got, expected, _abs, divisor) => {
          if (divisor === undefined) assert.equal(got, expected);
          // A mean is the exact sum divided by the count; the fixture's key holder rounds it to 15 digits.
          else assert.ok(Math.abs(got - expected) <= 1e-14 * Math.abs(expected), `mean ${got} != ${expected}`);
        });
        for (const r of results) {
          for (const cell of r.cells) {
            if (cell.sum) budgets.push(measureNoiseBudget(bfv.ctx, bfv.keys.secret, cell.sum.ciphertext)!);
          }
        }
      }),
      { numRuns: RUNS },
    );
    // The masked/weighted path leaves about 40 bits (ADR 0003); it must never run out.
    assert.ok(Math.min(...budgets) >= 30, `lowest noise budget ${Math.min(...budgets)} bits`);
  });

  it('CKKS: the same aggregates within a relative error of 1e-6 (absolute 2e-5 near zero)', async () => {
    // CKKS at scale 2^40 has an absolute error floor of about 5e-6 per result (ADR 0003): relative
    // error <= 1e-6 holds for results above about 20, which the floor covers below that.
    const relative = (got: number, expected: number, abs: number, divisor = 1) => {
      const err = Math.abs(got - expected);
      assert.ok(err <= Math.max(1e-6 * abs, 2e-5 / divisor), `got ${got}, expected ${expected}: error ${err}`);
    };
    await fc.assert(
      fc.asyncProperty(caseArb(4096, fc.double({ min: 1, max: 1e6, noNaN: true })), fc.boolean(), async (c, signed) => {
        // Non-negative data (e.g. kWh): the error relative to the result itself. Signed data: relative
        // to the sum of magnitudes, since the result itself may be close to zero.
        await checkAll(ckks, makeData(c, false, signed), c.maxAbs, relative);
      }),
      { numRuns: RUNS },
    );
  });

  it('counts SEAL operations, and skips multiplications BFV does not need', async () => {
    const rows = 8192 * 3;
    const values = Array.from({ length: rows }, (_, i) => i % 10);
    const column = await encryptedColumn(bfv, values, 9);
    try {
      // Rows sorted by group: ciphertext 0 is all group a, 1 is split, 2 is all group b.
      const groupOf = Int32Array.from({ length: rows }, (_, r) => (r < 8192 * 1.5 ? 0 : 1));
      const grouped = bfv.aggregator.sum(column, { labels: ['a', 'b'], groupOf });
      assert.deepEqual(grouped.ops, { multiplyPlain: 2, add: 2 + 2 * 13, rotate: 2 * 13, rescale: 0 });
      const total = bfv.aggregator.sum(column);
      assert.deepEqual(total.ops, { multiplyPlain: 0, add: 2 + 13, rotate: 13, rescale: 0 });
      const [a, b] = grouped.cells;
      assert.equal(reveal(bfv, a!) + reveal(bfv, b!), reveal(bfv, total.cells[0]!));
    } finally {
      column.delete();
    }
  });

  it('refuses weights and groups that do not fit, and weighted sums that could overflow', async () => {
    const column = await encryptedColumn(bfv, [1, 2, 3], 1_000_000);
    const input = (err: unknown) => err instanceof HeError && err.code === 'HE_INPUT';
    const range = (err: unknown) => err instanceof HeError && err.code === 'HE_RANGE';
    try {
      assert.throws(() => bfv.aggregator.weightedSum(column, [1, 2]), input);
      assert.throws(() => bfv.aggregator.weightedSum(column, [1, 2, 0.5]), input);
      assert.throws(() => bfv.aggregator.aggregate(column, { kind: 'weightedSum' }), input);
      assert.throws(() => bfv.aggregator.aggregate(column, { kind: 'sum', weights: [1, 1, 1] }), input);
      assert.throws(() => bfv.aggregator.sum(column, { labels: ['a'], groupOf: [0, 1, 0] }), input);
      assert.throws(() => bfv.aggregator.sum(column, { labels: ['a'], groupOf: [0, 0] }), input);
      assert.throws(() => bfv.aggregator.sum(column, { labels: ['a', 'a'], groupOf: [0, 0, 1] }), input);
      // 3 x 4e9 x 1e6 > 9.007e15: the weighted sum could wrap around the plain modulus.
      assert.throws(() => bfv.aggregator.weightedSum(column, [4e9, 4e9, 4e9]), range);
      assert.doesNotThrow(() => bfv.aggregator.weightedSum(column, [1e9, 1e9, 1e9]));
      // A column of another scheme, or under another key pair (rotations would be garbage), is refused.
      assert.throws(
        () => ckks.aggregator.sum(column),
        (err: unknown) => err instanceof HeError && err.code === 'HE_LAYOUT',
      );
      const other = new EncryptedAggregator(bfv.ctx, generateOwnerKeys(bfv.ctx).public);
      try {
        assert.throws(
          () => other.sum(column),
          (err: unknown) => err instanceof HeError && err.code === 'HE_KEYS',
        );
      } finally {
        other.delete();
      }
    } finally {
      column.delete();
    }
  });
});
