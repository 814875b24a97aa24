/**
 * One interface over SEAL's two batch encoders: a vector of up to slotCount numbers <-> a plaintext.
 * BFV takes whole numbers (centred: negative values map to t - |v|) and decodes them back centred;
 * CKKS takes reals at a scale (the context's, unless another is given).
 */
import type { BatchEncoder, CKKSEncoder, Plaintext } from 'node-seal';
import type { HeContext } from './he-params.js';

export interface SlotEncoder {
  readonly slotCount: number;
  /** Encodes `values` (length <= slotCount; missing slots are 0) into `pt`. */
  encode(values: ArrayLike<number>, pt: Plaintext, scale?: number): void;
  /** Decodes all slots of `pt` as numbers. */
  decode(pt: Plaintext): Float64Array;
  delete(): void;
}

export function createSlotEncoder(ctx: HeContext): SlotEncoder {
  const { seal, slotCount } = ctx;
  if (ctx.spec.scheme === 'bfv') {
    const enc: BatchEncoder = new seal.BatchEncoder(ctx.context);
    return {
      slotCount,
      encode(values, pt) {
        const slots = new BigInt64Array(slotCount);
        for (let i = 0; i < values.length; i++) slots[i] = BigInt(values[i] as number);
        enc.encode(slots, pt);
      },
      decode(pt) {
        return Float64Array.from(enc.decodeBigInt64(pt) as BigInt64Array, Number);
      },
      delete: () => enc.delete(),
    };
  }
  const enc: CKKSEncoder = new seal.CKKSEncoder(ctx.context);
  const defaultScale = ctx.scale ?? 1;
  return {
    slotCount,
    encode(values, pt, scale = defaultScale) {
      const slots = new Float64Array(slotCount);
      for (let i = 0; i < values.length; i++) slots[i] = values[i] as number;
      enc.encode(slots, scale, pt);
    },
    decode(pt) {
      return Float64Array.from(enc.decodeFloat64(pt) as Float64Array);
    },
    delete: () => enc.delete(),
  };
}
