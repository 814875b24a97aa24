/**
 * Encrypting a numeric column (owner side) and loading it back (gateway side).
 *
 * Slot layout (ADR 0003): row r of the column goes to ciphertext floor(r / S), slot r mod S, where S is
 * the slot count (8192 for BFV, 4096 for CKKS) and "slot" is the index in the vector given to SEAL's
 * encoder (for BFV: slots 0..S/2-1 are the first row of SEAL's 2 x S/2 batching matrix, S/2..S-1 the
 * second). Slots past the last row are zero. Row order is the dataset's row order, which the gateway
 * keeps in plaintext with each row's spatial units: grouping is a plaintext group-index vector parallel
 * to the rows (aggregator.ts), never something encrypted.
 *
 * Range: the owner declares `maxAbs`, every |value| <= maxAbs is checked before anything is encrypted,
 * and rows * maxAbs must fit the scheme's result range (HeContext.maxAbsResult), so that no sum of the
 * column can overflow. The layout records maxAbs for the aggregator's own checks (weighted sums).
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Ciphertext } from 'node-seal';
import type { Progress } from '../spatial/progress.js';
import { HeError } from './encrypted.errors.js';
import { sealErrorMessage, type HeContext, type HeScheme } from './he-params.js';
import { loadPublicKey, type PublicKeyBundle } from './keys.js';
import { comprMode, readSealHeader, sealInput, toBytes, type Compression } from './seal-format.js';
import { deleteAll, withScope } from './seal-runtime.js';
import { createSlotEncoder } from './slot-encoder.js';

export const LAYOUT_VERSION = 1;

/** Describes an encrypted column; stored in plaintext beside its ciphertexts. */
export interface ColumnLayout {
  readonly version: typeof LAYOUT_VERSION;
  readonly scheme: HeScheme;
  /** HeContext.paramsId of the parameters. */
  readonly paramsId: string;
  /** PublicKeyBundle.keyId of the key the column is encrypted under. */
  readonly keyId: string;
  /** Values per ciphertext (S). */
  readonly slotCount: number;
  /** Number of values (rows) in the column. */
  readonly rows: number;
  /** Number of ciphertexts: ceil(rows / slotCount). */
  readonly ciphertexts: number;
  /** Declared bound on every value's magnitude, checked when encrypting. */
  readonly maxAbs: number;
}

export interface EncryptedColumnUpload {
  readonly layout: ColumnLayout;
  /** SEAL-serialised ciphertexts, in layout order. */
  readonly ciphertexts: Uint8Array[];
}

export interface EncryptColumnOptions {
  /** Bound on |value|; BFV: a whole number. */
  maxAbs: number;
  /** Default `zstd`. */
  compression?: Compression;
  /** Called after every batch of ciphertexts with rows encrypted so far (phase `encrypt`). */
  onProgress?: (p: Progress) => void;
  /** Ciphertexts per batch between progress reports and event-loop yields (default 8). */
  batchSize?: number;
  /** Receives each ciphertext as soon as it is ready (to stream an upload); it is still returned too. */
  onCiphertext?: (index: number, bytes: Uint8Array) => void | Promise<void>;
}

/** Number of ciphertexts a column of `rows` values takes. */
export function ciphertextCount(rows: number, slotCount: number): number {
  return Math.ceil(rows / slotCount);
}

/**
 * Checks a column against the declared bound and the scheme's range; throws HeError('HE_RANGE') before
 * anything is encrypted.
 */
export function checkColumn(ctx: HeContext, values: ArrayLike<number>, maxAbs: number): void {
  const bfv = ctx.spec.scheme === 'bfv';
  if (!(maxAbs >= 0) || !Number.isFinite(maxAbs) || (bfv && !Number.isSafeInteger(maxAbs))) {
    throw new HeError('HE_RANGE', `maxAbs ${maxAbs} is not a ${bfv ? 'whole ' : ''}number >= 0`);
  }
  if (values.length === 0) throw new HeError('HE_RANGE', 'an empty column');
  if (values.length * maxAbs > ctx.maxAbsResult) {
    throw new HeError(
      'HE_RANGE',
      `${values.length} rows x maxAbs ${maxAbs} could exceed the largest result ${ctx.maxAbsResult}`,
    );
  }
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (bfv ? !Number.isSafeInteger(v) : !Number.isFinite(v)) {
      throw new HeError('HE_RANGE', `row ${i}: ${v} is not a ${bfv ? 'whole' : 'finite'} number`);
    }
    if (Math.abs(v) > maxAbs) throw new HeError('HE_RANGE', `row ${i}: |${v}| exceeds maxAbs ${maxAbs}`);
  }
}

/**
 * Encrypts `values` under the owner's public key (BFV for whole numbers, CKKS for reals, following the
 * context's scheme). Each SEAL object is deleted as soon as its ciphertext is serialised.
 */
export async function encryptColumn(
  ctx: HeContext,
  keys: PublicKeyBundle,
  values: ArrayLike<number>,
  opts: EncryptColumnOptions,
): Promise<EncryptedColumnUpload> {
  checkColumn(ctx, values, opts.maxAbs);
  const { seal, slotCount } = ctx;
  const rows = values.length;
  const total = ciphertextCount(rows, slotCount);
  const batchSize = Math.max(1, opts.batchSize ?? 8);
  const mode = comprMode(seal, opts.compression ?? 'zstd');
  const layout: ColumnLayout = {
    version: LAYOUT_VERSION,
    scheme: ctx.spec.scheme,
    paramsId: ctx.paramsId,
    keyId: keys.keyId,
    slotCount,
    rows,
    ciphertexts: total,
    maxAbs: opts.maxAbs,
  };
  const out: Uint8Array[] = [];
  const publicKey = loadPublicKey(ctx, keys);
  try {
    const encryptor = new seal.Encryptor(ctx.context, publicKey);
    const encoder = createSlotEncoder(ctx);
    try {
      opts.onProgress?.({ phase: 'encrypt', done: 0, total: rows });
      for (let c = 0; c < total; c++) {
        const bytes = withScope((scope) => {
          const pt = scope.add(new seal.Plaintext());
          encoder.encode(chunkOf(values, c * slotCount, Math.min(rows, (c + 1) * slotCount)), pt);
          const ct = scope.add(new seal.Ciphertext());
          encryptor.encrypt(pt, ct);
          return toBytes(ct.saveToArray(mode));
        });
        out.push(bytes);
        await opts.onCiphertext?.(c, bytes);
        if ((c + 1) % batchSize === 0 || c + 1 === total) {
          opts.onProgress?.({ phase: 'encrypt', done: Math.min(rows, (c + 1) * slotCount), total: rows });
          await yieldToEventLoop();
        }
      }
    } finally {
      encoder.delete();
      encryptor.delete();
    }
  } finally {
    publicKey.delete();
  }
  return { layout, ciphertexts: out };
}

/** A column loaded into SEAL on the gateway. Keep it cached while in use; `delete()` frees it. */
export interface EncryptedColumn {
  readonly layout: ColumnLayout;
  readonly ciphertexts: readonly Ciphertext[];
  delete(): void;
}

/** Checks that `layout` belongs to `ctx` and is self-consistent; throws HeError('HE_LAYOUT'). */
export function checkLayout(
  ctx: Pick<HeContext, 'spec' | 'paramsId' | 'slotCount' | 'maxAbsResult'>,
  layout: ColumnLayout,
): void {
  const bad = (detail: string): never => {
    throw new HeError('HE_LAYOUT', detail);
  };
  if (layout.version !== LAYOUT_VERSION) bad(`layout version ${String(layout.version)}`);
  if (layout.scheme !== ctx.spec.scheme || layout.paramsId !== ctx.paramsId) {
    bad(`column is ${layout.scheme}/${layout.paramsId}, context is ${ctx.spec.scheme}/${ctx.paramsId}`);
  }
  if (layout.slotCount !== ctx.slotCount) bad(`slot count ${layout.slotCount}, context has ${ctx.slotCount}`);
  if (!Number.isSafeInteger(layout.rows) || layout.rows < 1) bad(`rows ${layout.rows}`);
  if (layout.ciphertexts !== ciphertextCount(layout.rows, layout.slotCount)) {
    bad(`${layout.ciphertexts} ciphertexts for ${layout.rows} rows`);
  }
  if (!(layout.maxAbs >= 0) || layout.rows * layout.maxAbs > ctx.maxAbsResult) bad(`maxAbs ${layout.maxAbs}`);
}

/**
 * Loads uploaded ciphertexts into SEAL (gateway side), checking each against the layout and parameters:
 * SEAL header, loads under the context, size 2 (fresh), first parameter level, and for CKKS the scale.
 */
export function loadEncryptedColumn(
  ctx: HeContext,
  layout: ColumnLayout,
  ciphertexts: readonly Uint8Array[],
): EncryptedColumn {
  checkLayout(ctx, layout);
  if (ciphertexts.length !== layout.ciphertexts) {
    throw new HeError('HE_LAYOUT', `${ciphertexts.length} ciphertexts, layout says ${layout.ciphertexts}`);
  }
  const { seal } = ctx;
  const loaded: Ciphertext[] = [];
  try {
    withScope((scope) => {
      const first = scope.add(ctx.context.firstParmsId()).values() as BigUint64Array;
      ciphertexts.forEach((bytes, i) => {
        if (!readSealHeader(bytes)) throw new HeError('HE_LAYOUT', `ciphertext ${i}: no SEAL header`);
        const ct = new seal.Ciphertext();
        loaded.push(ct);
        try {
          ct.loadFromArray(ctx.context, sealInput(bytes));
        } catch (err) {
          throw new HeError('HE_LAYOUT', `ciphertext ${i} does not load: ${sealErrorMessage(err)}`);
        }
        const parms = scope.add(ct.parmsId()).values() as BigUint64Array;
        if (ct.size() !== 2 || !sameParms(parms, first)) {
          throw new HeError('HE_LAYOUT', `ciphertext ${i} is not a fresh ciphertext at the first level`);
        }
        if (ctx.scale !== null && ct.scale() !== ctx.scale) {
          throw new HeError('HE_LAYOUT', `ciphertext ${i} has scale ${ct.scale()}, expected ${ctx.scale}`);
        }
      });
    });
  } catch (err) {
    deleteAll(...loaded);
    throw err;
  }
  return { layout, ciphertexts: loaded, delete: () => deleteAll(...loaded) };
}

function chunkOf(values: ArrayLike<number>, start: number, end: number): ArrayLike<number> {
  if (ArrayBuffer.isView(values) && 'subarray' in values) return (values as Float64Array).subarray(start, end);
  return Array.prototype.slice.call(values, start, end) as number[];
}

function sameParms(a: ArrayLike<bigint>, b: ArrayLike<bigint>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
