/**
 * Encryption parameters (ADR 0003). Both sets meet 128-bit classical security under the
 * HomomorphicEncryption.org standard (Albrecht et al., 2018, table for uniform/ternary secrets), which
 * bounds the total coefficient-modulus bits by the ring degree N; SEAL enforces the same table.
 *
 * - BFV, exact integers: N = 8192, SEAL's BFVDefault(8192, 128-bit) coefficient modulus (43+43+44+44+44 =
 *   218 bits, the maximum), plain modulus PlainModulus.Batching(8192, 54): a 54-bit prime t = 1 mod 2N,
 *   so 8192 slots. Decoded values are centred in (-t/2, t/2), and t/2 >= 2^52, so every result is a safe
 *   JavaScript integer, and a sum of 2^20 (1,048,576) values of magnitude up to 2^32 - 1 cannot wrap.
 * - CKKS, reals: N = 8192, coefficient modulus [60, 40, 40, 60] (200 bits), scale 2^40, 4096 slots.
 *
 * node-seal does not say why it rejects parameters (`parametersSet()` is just false): `createHeContext`
 * checks the standard's bound and the shape of each set first, then SEAL's verdict and qualifiers, and
 * throws HeError('HE_PARAMS') with a readable reason.
 */
import { sha256Hex, toBytes } from './seal-format.js';
import { HeError } from './encrypted.errors.js';
import type { EncryptionParameters, SEALContext } from 'node-seal';
import { deleteAll, withScope, type SealRuntime, type Seal } from './seal-runtime.js';

export type HeScheme = 'bfv' | 'ckks';

/** A parameter set, as data (so that it can be logged, compared and fingerprinted). */
export interface HeParamSpec {
  readonly scheme: HeScheme;
  /** Ring degree N, a power of two. */
  readonly polyModulusDegree: number;
  /** `bfv-default`: SEAL's BFVDefault(N, 128-bit) primes; otherwise the bit sizes of fresh primes. */
  readonly coeffModulus: 'bfv-default' | { readonly bits: readonly number[] };
  /** BFV only: a batching prime of this many bits, or an explicit value (tests, interop). */
  readonly plainModulus?: { readonly batchingBits: number } | { readonly value: bigint };
  /** CKKS only: log2 of the encoding scale. */
  readonly scaleBits?: number;
}

export const BFV_PARAMS: HeParamSpec = Object.freeze({
  scheme: 'bfv',
  polyModulusDegree: 8192,
  coeffModulus: 'bfv-default',
  plainModulus: Object.freeze({ batchingBits: 54 }),
});

export const CKKS_PARAMS: HeParamSpec = Object.freeze({
  scheme: 'ckks',
  polyModulusDegree: 8192,
  coeffModulus: Object.freeze({ bits: Object.freeze([60, 40, 40, 60]) }),
  scaleBits: 40,
});

/**
 * HomomorphicEncryption.org standard, 128-bit classical security, ternary secret: the largest total
 * coefficient-modulus bit count for each ring degree (SEAL's `CoeffModulus.MaxBitCount(N, tc128)`).
 */
export const HE_STANDARD_128: Readonly<Record<number, number>> = Object.freeze({
  1024: 27,
  2048: 54,
  4096: 109,
  8192: 218,
  16384: 438,
  32768: 881,
});

/**
 * CKKS results must stay well inside the modulus left after one rescale (q0 * q1 = 100 bits, scale 2^40:
 * magnitudes below 2^59 decrypt correctly); 2^50 leaves a 2^9 margin. A column is refused when rows times
 * its declared bound (times the weights, for a weighted sum) could exceed this.
 */
export const CKKS_MAX_ABS_RESULT = 2 ** 50;

/** An initialised SEAL context for one parameter set, with what the rest of the library needs from it. */
export interface HeContext {
  readonly runtime: SealRuntime;
  readonly seal: Seal;
  readonly spec: HeParamSpec;
  readonly context: SEALContext;
  /** Values per ciphertext: N for BFV (2 rows of N/2), N/2 for CKKS. */
  readonly slotCount: number;
  /** BFV: the plain modulus t. */
  readonly plainModulus: bigint | null;
  /** BFV: the largest magnitude a decoded value can have, floor((t - 1) / 2); CKKS: CKKS_MAX_ABS_RESULT. */
  readonly maxAbsResult: number;
  /** CKKS: the encoding scale 2^scaleBits. */
  readonly scale: number | null;
  /** Total coefficient-modulus bits (key level), as checked against the standard. */
  readonly coeffModulusBits: number;
  /** SEAL's serialised EncryptionParameters (no compression): what another SEAL implementation loads. */
  readonly paramsBytes: Uint8Array;
  /** First 16 hex characters of the SHA-256 of `paramsBytes`. */
  readonly paramsId: string;
  /** Deletes the SEAL context. */
  delete(): void;
}

const fail = (detail: string): never => {
  throw new HeError('HE_PARAMS', detail);
};

/** The checks that need no SEAL: the standard's table and the shape of each scheme's parameters. */
export function checkParamSpec(spec: HeParamSpec): void {
  const n = spec.polyModulusDegree;
  const maxBits = HE_STANDARD_128[n];
  if (maxBits === undefined) {
    fail(`poly modulus degree ${n} is not one of ${Object.keys(HE_STANDARD_128).join(', ')}`);
    return;
  }
  if (spec.scheme !== 'bfv' && spec.scheme !== 'ckks') fail(`unknown scheme ${String(spec.scheme)}`);
  if (spec.coeffModulus !== 'bfv-default') {
    const bits = spec.coeffModulus.bits;
    if (bits.length < 2) fail('the coefficient modulus needs at least two primes (one is the special prime)');
    for (const b of bits) if (!Number.isInteger(b) || b < 17 || b > 60) fail(`coefficient prime of ${b} bits`);
    const total = bits.reduce((a, b) => a + b, 0);
    if (total > maxBits) {
      fail(`${total} coefficient-modulus bits exceed ${maxBits}, the 128-bit security bound for N = ${n}`);
    }
  }
  if (spec.scheme === 'bfv') {
    if (spec.scaleBits !== undefined) fail('BFV takes no scale');
    const pm = spec.plainModulus;
    if (!pm) fail('BFV needs a plain modulus');
    else if (
      'batchingBits' in pm &&
      (!Number.isInteger(pm.batchingBits) || pm.batchingBits < 17 || pm.batchingBits > 60)
    )
      fail(`a batching plain modulus of ${pm.batchingBits} bits`);
    else if ('value' in pm && (pm.value < 2n || pm.value >= 1n << 61n)) fail(`plain modulus ${pm.value}`);
  } else {
    if (spec.plainModulus !== undefined) fail('CKKS takes no plain modulus');
    const s = spec.scaleBits;
    if (s === undefined || !Number.isInteger(s) || s < 20 || s > 60) fail(`CKKS scale of 2^${String(s)}`);
    if (spec.coeffModulus === 'bfv-default') fail('CKKS needs explicit coefficient primes');
    else {
      const bits = spec.coeffModulus.bits;
      // Rescaling divides by the middle primes: each must match the scale, and the first must exceed it.
      const middle = bits.slice(1, -1);
      if (middle.some((b) => b !== s)) fail(`CKKS middle primes ${middle.join(',')} must equal the scale bits ${s}`);
      if ((bits[0] ?? 0) <= (s ?? 0)) fail('the first CKKS prime must be larger than the scale');
    }
  }
}

/**
 * Builds the SEAL context for `spec`, or throws HeError('HE_PARAMS'): after `checkParamSpec`, SEAL must
 * accept the parameters (`parametersSet()`), report 128-bit security, enable batching, and stay within
 * `CoeffModulus.MaxBitCount(N, tc128)`.
 */
export function createHeContext(runtime: SealRuntime, spec: HeParamSpec): HeContext {
  checkParamSpec(spec);
  const { seal } = runtime;
  const n = spec.polyModulusDegree;
  let context: SEALContext | null = null;
  try {
    return withScope((scope) => {
      const parms = scope.add(
        new seal.EncryptionParameters(spec.scheme === 'bfv' ? seal.SchemeType.bfv : seal.SchemeType.ckks),
      );
      parms.setPolyModulusDegree(n);
      const coeff = scope.add(
        spec.coeffModulus === 'bfv-default'
          ? seal.CoeffModulus.BFVDefault(n, seal.SecLevelType.tc128)
          : seal.CoeffModulus.Create(n, Int32Array.from(spec.coeffModulus.bits)),
      );
      parms.setCoeffModulus(coeff);
      if (spec.scheme === 'bfv' && spec.plainModulus) {
        const pm = spec.plainModulus;
        const modulus = scope.add(
          'batchingBits' in pm ? seal.PlainModulus.Batching(n, pm.batchingBits) : new seal.Modulus(pm.value),
        );
        parms.setPlainModulus(modulus);
      }
      context = new seal.SEALContext(parms, true, seal.SecLevelType.tc128);
      if (!context.parametersSet()) fail(`SEAL rejected the parameters:${describe(context)}`);
      const keyData = scope.add(context.keyContextData());
      const firstData = scope.add(context.firstContextData());
      const qualifiers = scope.add(firstData.qualifiers());
      if (qualifiers.securityLevel.value !== seal.SecLevelType.tc128.value) {
        fail(`SEAL reports security level ${qualifiers.securityLevel.value}, not 128`);
      }
      if (!qualifiers.usingBatching) fail('the plain modulus does not allow batching (needs a prime t = 1 mod 2N)');
      const coeffModulusBits = keyData.totalCoeffModulusBitCount();
      const sealMax = seal.CoeffModulus.MaxBitCount(n, seal.SecLevelType.tc128);
      if (coeffModulusBits > sealMax) fail(`${coeffModulusBits} coefficient-modulus bits exceed SEAL's ${sealMax}`);
      const plainModulus = spec.scheme === 'bfv' ? plainModulusOf(scope.add(firstData.parms())) : null;
      const scale = spec.scheme === 'ckks' ? 2 ** (spec.scaleBits ?? 0) : null;
      const maxAbsResult = plainModulus === null ? CKKS_MAX_ABS_RESULT : Number((plainModulus - 1n) / 2n);
      if (plainModulus !== null && plainModulus > 1n << 54n) {
        // Centred values would no longer all be safe integers.
        fail(`a plain modulus of ${plainModulus.toString(2).length} bits exceeds 54`);
      }
      const paramsBytes = toBytes(parms.saveToArray(seal.ComprModeType.none));
      const paramsId = sha256Hex(paramsBytes).slice(0, 16);
      const ctx = context;
      return {
        runtime,
        seal,
        spec,
        context: ctx,
        slotCount: spec.scheme === 'bfv' ? n : n / 2,
        plainModulus,
        maxAbsResult,
        scale,
        coeffModulusBits,
        paramsBytes,
        paramsId,
        delete: () => deleteAll(ctx),
      };
    });
  } catch (err) {
    deleteAll(context);
    if (err instanceof HeError) throw err;
    throw new HeError('HE_PARAMS', `SEAL refused the parameters: ${sealErrorMessage(err)}`);
  }
}

function plainModulusOf(parms: EncryptionParameters): bigint {
  const m = parms.plainModulus();
  try {
    return m.value();
  } finally {
    m.delete();
  }
}

function describe(context: SEALContext): string {
  return context.toHuman().replace(/\s+/g, ' ');
}

/** node-seal throws WebAssembly.Exception objects whose `message` is [type, what]: make that a string. */
export function sealErrorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  const m = (err as { message?: unknown } | null)?.message;
  if (Array.isArray(m)) return m.map(String).join(': ');
  return String(m ?? err);
}

/** The Galois steps needed to sum all slots: powers of two up to a row, plus (BFV) 0 for the row swap. */
export function slotSumSteps(ctx: Pick<HeContext, 'spec' | 'slotCount'>): number[] {
  const rowSize = ctx.spec.scheme === 'bfv' ? ctx.slotCount / 2 : ctx.slotCount;
  const steps: number[] = ctx.spec.scheme === 'bfv' ? [0] : [];
  for (let s = 1; s < rowSize; s *= 2) steps.push(s);
  return steps;
}
