/**
 * The gateway side of encrypted aggregates: computes on an owner's ciphertexts with the owner's public
 * Galois keys only, and returns serialised result ciphertexts for the key holder (keyholder.ts).
 *
 * - sum: adds the column's ciphertexts slot-wise, then sums all slots by rotations (log2 of a row's slots
 *   rotations, plus the row swap for BFV); every slot of the result then holds the total.
 * - count: plaintext, from the layout and the group index: no ciphertext is involved.
 * - mean: the sum's ciphertext plus the count; the key holder divides after decrypting.
 * - weighted sum: each ciphertext times a plaintext of its rows' weights (multiply_plain), then as sum.
 * - grouped by a plaintext group index (one group per row, or -1 for none): per group, each ciphertext
 *   that holds rows of the group is multiplied by a plaintext 0/1 mask of those rows (times the weights
 *   for a weighted sum, so one multiply_plain either way), the products are added, then slot-summed.
 *   BFV skips the multiplication where every row of a ciphertext is in the group with weight 1; uploading
 *   rows sorted by the most-used spatial level makes that the common case.
 *   CKKS products are rescaled once per cell, after the additions.
 *
 * Every SEAL object made here is deleted before the call returns (withScope); only bytes leave.
 */
import { type Ciphertext, type Evaluator, type GaloisKeys } from 'node-seal';
import { checkLayout, type ColumnLayout, type EncryptedColumn } from './column-codec.js';
import { HeError } from './encrypted.errors.js';
import { slotSumSteps, type HeContext, type HeScheme } from './he-params.js';
import { loadGaloisKeys, type PublicKeyBundle } from './keys.js';
import { comprMode, sha256Hex, toBytes, type Compression } from './seal-format.js';
import { withScope, type HandleScope } from './seal-runtime.js';
import { createSlotEncoder, type SlotEncoder } from './slot-encoder.js';

export type AggregateKind = 'sum' | 'count' | 'mean' | 'weightedSum';

/** A plaintext grouping of the column's rows, kept by the gateway (e.g. each room's district). */
export interface GroupIndex {
  /** Group labels, e.g. spatial unit ids. */
  readonly labels: readonly string[];
  /** Per row (layout order): index into `labels`, or -1 to leave the row out. Length = layout.rows. */
  readonly groupOf: ArrayLike<number>;
}

export interface AggregateRequest {
  readonly kind: AggregateKind;
  /** weightedSum only: one plaintext weight per row (BFV: whole numbers). */
  readonly weights?: ArrayLike<number>;
  /** Without groups, one cell over all rows. */
  readonly groups?: GroupIndex;
}

export interface SealedResult {
  /** SEAL-serialised ciphertext; every slot holds the cell's (weighted) sum. */
  readonly ciphertext: Uint8Array;
  /** Hex SHA-256 of `ciphertext`: what the gateway logs and an approval names. */
  readonly hash: string;
}

export interface AggregateCell {
  /** Group label, or null for the whole column. */
  readonly group: string | null;
  /** Rows in the cell (plaintext): the count, and the divisor of a mean. */
  readonly records: number;
  /** The encrypted (weighted) sum; null for `count` and for a cell without rows. */
  readonly sum: SealedResult | null;
}

export interface OpCounts {
  multiplyPlain: number;
  add: number;
  rotate: number;
  rescale: number;
}

export interface AggregateResult {
  readonly kind: AggregateKind;
  readonly scheme: HeScheme;
  readonly cells: readonly AggregateCell[];
  /** SEAL operations performed. */
  readonly ops: Readonly<OpCounts>;
}

export interface AggregatorOptions {
  /** Compression of result ciphertexts (default `zstd`). */
  compression?: Compression;
}

/** Holds the evaluator and Galois keys for one owner's key pair. `delete()` when done. */
export class EncryptedAggregator {
  private readonly evaluator: Evaluator;
  private readonly galoisKeys: GaloisKeys;
  private readonly encoder: SlotEncoder;
  private readonly steps: number[];
  private readonly keyId: string;
  private readonly compression: Compression;

  constructor(
    private readonly ctx: HeContext,
    keys: PublicKeyBundle,
    opts: AggregatorOptions = {},
  ) {
    this.keyId = keys.keyId;
    this.compression = opts.compression ?? 'zstd';
    this.steps = slotSumSteps(ctx).filter((s) => s !== 0);
    this.galoisKeys = loadGaloisKeys(ctx, keys);
    try {
      this.evaluator = new ctx.seal.Evaluator(ctx.context);
      this.encoder = createSlotEncoder(ctx);
    } catch (err) {
      this.galoisKeys.delete();
      throw err;
    }
  }

  sum(column: EncryptedColumn, groups?: GroupIndex): AggregateResult {
    return this.aggregate(column, { kind: 'sum', ...(groups ? { groups } : {}) });
  }

  mean(column: EncryptedColumn, groups?: GroupIndex): AggregateResult {
    return this.aggregate(column, { kind: 'mean', ...(groups ? { groups } : {}) });
  }

  weightedSum(column: EncryptedColumn, weights: ArrayLike<number>, groups?: GroupIndex): AggregateResult {
    return this.aggregate(column, { kind: 'weightedSum', weights, ...(groups ? { groups } : {}) });
  }

  /** Counts per cell, from the layout and group index alone. */
  count(layout: ColumnLayout, groups?: GroupIndex): AggregateResult {
    checkLayout(this.ctx, layout);
    const plan = planCells(layout, { kind: 'count', ...(groups ? { groups } : {}) });
    const cells = plan.map((c) => ({ group: c.group, records: c.records, sum: null }));
    return { kind: 'count', scheme: this.ctx.spec.scheme, cells, ops: zeroOps() };
  }

  aggregate(column: EncryptedColumn, request: AggregateRequest): AggregateResult {
    const { layout } = column;
    if (request.kind === 'count') return this.count(layout, request.groups);
    checkLayout(this.ctx, layout);
    if (layout.keyId !== this.keyId) {
      throw new HeError('HE_KEYS', `column under key ${layout.keyId}, aggregator holds ${this.keyId}`);
    }
    if (column.ciphertexts.length !== layout.ciphertexts) throw new HeError('HE_LAYOUT', 'ciphertext count');
    const weights = request.kind === 'weightedSum' ? request.weights : undefined;
    if (request.kind === 'weightedSum' && !weights) throw new HeError('HE_INPUT', 'a weighted sum needs weights');
    if (request.kind !== 'weightedSum' && request.weights)
      throw new HeError('HE_INPUT', `${request.kind} takes no weights`);
    const plan = planCells(layout, request);
    if (weights) this.checkWeights(layout, weights, request.groups, plan);
    const ops = zeroOps();
    const cells = plan.map((cell) => ({
      group: cell.group,
      records: cell.records,
      sum: cell.records === 0 ? null : this.sealedSum(column, cell, weights, request.groups, ops),
    }));
    return { kind: request.kind, scheme: this.ctx.spec.scheme, cells, ops };
  }

  delete(): void {
    this.encoder.delete();
    this.evaluator.delete();
    this.galoisKeys.delete();
  }

  /** Weights: one finite number per row (BFV: whole), and no cell's weighted sum can leave the range. */
  private checkWeights(
    layout: ColumnLayout,
    weights: ArrayLike<number>,
    groups: GroupIndex | undefined,
    plan: readonly CellPlan[],
  ): void {
    if (weights.length !== layout.rows) {
      throw new HeError('HE_INPUT', `${weights.length} weights for ${layout.rows} rows`);
    }
    const bfv = this.ctx.spec.scheme === 'bfv';
    const absSum = new Float64Array(plan.length);
    for (let r = 0; r < layout.rows; r++) {
      const w = weights[r] as number;
      if (bfv ? !Number.isSafeInteger(w) : !Number.isFinite(w)) {
        throw new HeError('HE_INPUT', `weight ${r}: ${w} is not a ${bfv ? 'whole' : 'finite'} number`);
      }
      const cell = groups ? (groups.groupOf[r] as number) : 0;
      if (cell >= 0) absSum[cell] = (absSum[cell] ?? 0) + Math.abs(w);
    }
    const limit = this.ctx.maxAbsResult;
    absSum.forEach((s, i) => {
      // BFV: exact while s < 2^53; beyond that the bound fails anyway unless maxAbs is 0.
      const over = bfv && s < 2 ** 53 ? BigInt(s) * BigInt(layout.maxAbs) > BigInt(limit) : s * layout.maxAbs > limit;
      if (over) {
        throw new HeError('HE_RANGE', `cell ${i}: weights up to ${s} x maxAbs ${layout.maxAbs} could exceed ${limit}`);
      }
    });
  }

  /** The (weighted, masked) sum of one cell as a slot-summed, serialised ciphertext. */
  private sealedSum(
    column: EncryptedColumn,
    cell: CellPlan,
    weights: ArrayLike<number> | undefined,
    groups: GroupIndex | undefined,
    ops: OpCounts,
  ): SealedResult {
    const { seal, slotCount } = this.ctx;
    const { rows } = column.layout;
    const ckks = this.ctx.spec.scheme === 'ckks';
    // CKKS cannot add a product (scale^2) to an unmultiplied ciphertext: multiply all or none.
    const ckksMultiplyAll = ckks && (weights !== undefined || cell.records !== rows);
    return withScope((scope) => {
      const acc = scope.add(new seal.Ciphertext());
      const product = scope.add(new seal.Ciphertext());
      const mask = scope.add(new seal.Plaintext());
      const slots = new Float64Array(slotCount);
      let started = false;
      let multiplied = false;
      for (const c of cell.chunks) {
        const ct = column.ciphertexts[c] as Ciphertext;
        const start = c * slotCount;
        const end = Math.min(rows, start + slotCount);
        slots.fill(0);
        let allOnes = true;
        for (let r = start; r < end; r++) {
          const inCell = !groups || groups.groupOf[r] === cell.index;
          const w = inCell ? (weights ? (weights[r] as number) : 1) : 0;
          slots[r - start] = w;
          if (w !== 1) allOnes = false;
        }
        const multiply = ckks ? ckksMultiplyAll : !allOnes;
        let term = ct;
        if (multiply) {
          this.encoder.encode(slots, mask);
          this.evaluator.multiplyPlain(ct, mask, product);
          ops.multiplyPlain++;
          multiplied = true;
          term = product;
        }
        if (!started) {
          acc.assign(term);
          started = true;
        } else {
          this.evaluator.addInplace(acc, term);
          ops.add++;
        }
      }
      if (ckks && multiplied) {
        this.evaluator.rescaleToNextInplace(acc);
        ops.rescale++;
      }
      this.slotSum(acc, scope, ops);
      const ciphertext = toBytes(acc.saveToArray(comprMode(seal, this.compression)));
      return { ciphertext, hash: sha256Hex(ciphertext) };
    });
  }

  /** Replaces every slot of `acc` with the sum of all its slots. */
  private slotSum(acc: Ciphertext, scope: HandleScope, ops: OpCounts): void {
    const rotated = scope.add(new this.ctx.seal.Ciphertext());
    const bfv = this.ctx.spec.scheme === 'bfv';
    for (const step of this.steps) {
      if (bfv) this.evaluator.rotateRows(acc, step, this.galoisKeys, rotated);
      else this.evaluator.rotateVector(acc, step, this.galoisKeys, rotated);
      this.evaluator.addInplace(acc, rotated);
      ops.rotate++;
      ops.add++;
    }
    if (bfv) {
      this.evaluator.rotateColumns(acc, this.galoisKeys, rotated);
      this.evaluator.addInplace(acc, rotated);
      ops.rotate++;
      ops.add++;
    }
  }
}

/**
 * Ciphertext operations an aggregate plans, from the plaintext layout and groups alone (no SEAL): per cell
 * with rows, one multiply_plain or addition per ciphertext it touches, plus the rotations that sum its slots.
 * A count needs none. The gateway refuses an aggregate whose estimate exceeds its bound before any SEAL work.
 */
export function estimateOperations(
  ctx: Pick<HeContext, 'spec' | 'slotCount'>,
  layout: ColumnLayout,
  request: AggregateRequest,
): { operations: number; cells: number } {
  if (request.kind === 'count') return { operations: 0, cells: 0 };
  const rotations = slotSumSteps(ctx).length;
  let operations = 0;
  let cells = 0;
  for (const cell of planCells(layout, request)) {
    if (cell.records === 0) continue;
    cells++;
    operations += cell.chunks.length + rotations;
  }
  return { operations, cells };
}

interface CellPlan {
  /** Group index, or 0 for the whole column. */
  index: number;
  group: string | null;
  records: number;
  /** Ciphertexts holding at least one row of the cell, ascending. */
  chunks: number[];
}

/** Cells, their record counts and the ciphertexts each touches, from the plaintext layout and groups. */
function planCells(layout: ColumnLayout, request: AggregateRequest): CellPlan[] {
  const { rows, slotCount } = layout;
  const groups = request.groups;
  if (!groups) {
    return [{ index: 0, group: null, records: rows, chunks: [...Array(layout.ciphertexts).keys()] }];
  }
  if (groups.groupOf.length !== rows) {
    throw new HeError('HE_INPUT', `group index of ${groups.groupOf.length} rows for a column of ${rows}`);
  }
  if (new Set(groups.labels).size !== groups.labels.length) throw new HeError('HE_INPUT', 'duplicate group labels');
  const cells: CellPlan[] = groups.labels.map((group, index) => ({ index, group, records: 0, chunks: [] }));
  for (let r = 0; r < rows; r++) {
    const g = groups.groupOf[r] as number;
    if (g === -1) continue;
    const cell = Number.isInteger(g) ? cells[g] : undefined;
    if (!cell) throw new HeError('HE_INPUT', `row ${r}: group ${g} is not an index into ${cells.length} labels`);
    cell.records++;
    const c = Math.floor(r / slotCount);
    if (cell.chunks[cell.chunks.length - 1] !== c) cell.chunks.push(c);
  }
  return cells;
}

function zeroOps(): OpCounts {
  return { multiplyPlain: 0, add: 0, rotate: 0, rescale: 0 };
}
