/**
 * Exact samplers for the discrete Laplace and discrete Gaussian distributions (Canonne, Kamath, Steinke,
 * "The Discrete Gaussian for Differential Privacy", 2020). Every step is integer or rational arithmetic on
 * BigInt over uniformly random bytes: no floating point anywhere in sampling, so the output distribution is
 * exactly the one the privacy proof assumes (floating-point Laplace leaks through its rounding pattern; see
 * docs/adr/0005-discrete-dp.md). Epsilon is an integer number of micro-epsilon (1 ε = 1,000,000).
 */
import { randomFillSync } from 'node:crypto';

/** A source of uniformly random bytes. The default reads node:crypto; tests inject a seeded one. */
export interface RandomSource {
  fill(buf: Uint8Array): void;
}

/** The cryptographic random source (node:crypto). */
export class CryptoRandom implements RandomSource {
  fill(buf: Uint8Array): void {
    randomFillSync(buf);
  }
}

/** A positive rational n/d (n ≥ 0, d > 0), exact. */
export interface Rational {
  n: bigint;
  d: bigint;
}

export const MICRO = 1_000_000n;

/**
 * Draws uniform integers over a buffered random source. Uniform in [0, m) by rejection from the smallest
 * covering power of two, so no modulo bias.
 */
export class Sampler {
  private buf = new Uint8Array(4096);
  private pos = 4096;

  constructor(private readonly rng: RandomSource = new CryptoRandom()) {}

  private byte(): number {
    if (this.pos >= this.buf.length) {
      this.rng.fill(this.buf);
      this.pos = 0;
    }
    return this.buf[this.pos++]!;
  }

  /** Uniform integer in [0, m), m ≥ 1. */
  uniform(m: bigint): bigint {
    if (m <= 0n) throw new RangeError('uniform needs m ≥ 1');
    if (m === 1n) return 0n;
    const bits = (m - 1n).toString(2).length;
    const bytes = Math.ceil(bits / 8);
    const topMask = (1 << (bits - (bytes - 1) * 8)) - 1;
    for (;;) {
      let x = BigInt(this.byte() & topMask);
      for (let i = 1; i < bytes; i++) x = (x << 8n) | BigInt(this.byte());
      if (x < m) return x;
    }
  }

  /** Bernoulli(n/d) for 0 ≤ n/d ≤ 1. */
  bernoulli(p: Rational): boolean {
    if (p.n < 0n || p.d <= 0n || p.n > p.d) throw new RangeError('bernoulli needs 0 ≤ p ≤ 1');
    return this.uniform(p.d) < p.n;
  }

  /** Bernoulli(exp(-γ)) for rational γ ≥ 0 (CKS20 Algorithm 1). */
  bernoulliExp(gamma: Rational): boolean {
    if (gamma.n < 0n || gamma.d <= 0n) throw new RangeError('bernoulliExp needs γ ≥ 0');
    let n = gamma.n;
    const d = gamma.d;
    // exp(-γ) = exp(-1)^⌊γ⌋ · exp(-(γ - ⌊γ⌋)): each factor is an independent coin.
    while (n > d) {
      if (!this.bernoulliExpUnit({ n: 1n, d: 1n })) return false;
      n -= d;
    }
    return this.bernoulliExpUnit({ n, d });
  }

  /** Bernoulli(exp(-γ)) for 0 ≤ γ ≤ 1: K counts coins Bernoulli(γ/k) until one fails; exp(-γ) = P(K odd). */
  private bernoulliExpUnit(gamma: Rational): boolean {
    let k = 1n;
    while (this.bernoulli({ n: gamma.n, d: gamma.d * k })) k++;
    return k % 2n === 1n;
  }

  /**
   * Discrete Laplace with scale t/s: P(y) ∝ exp(-|y|·s/t) over the integers (CKS20 Algorithm 2).
   * s, t ≥ 1.
   */
  discreteLaplace(s: bigint, t: bigint): bigint {
    if (s <= 0n || t <= 0n) throw new RangeError('discreteLaplace needs s, t ≥ 1');
    for (;;) {
      const u = this.uniform(t);
      if (!this.bernoulliExp({ n: u, d: t })) continue;
      let v = 0n;
      while (this.bernoulliExp({ n: 1n, d: 1n })) v++;
      const x = u + t * v; // geometric with parameter 1 - exp(-1/t)
      const y = x / s; // floor
      const negative = this.uniform(2n) === 1n;
      if (negative && y === 0n) continue; // zero would otherwise count twice
      return negative ? -y : y;
    }
  }

  /**
   * Discrete Gaussian with variance parameter σ² = sigma2 (rational): P(y) ∝ exp(-y²/(2σ²)) (CKS20
   * Algorithm 3): discrete Laplace proposals of scale t = ⌊σ⌋ + 1, accepted with probability
   * exp(-(|y| - σ²/t)² / (2σ²)).
   */
  discreteGaussian(sigma2: Rational): bigint {
    const a = sigma2.n;
    const b = sigma2.d;
    if (a <= 0n || b <= 0n) throw new RangeError('discreteGaussian needs σ² > 0');
    const t = isqrt(a / b) + 1n;
    for (;;) {
      const y = this.discreteLaplace(1n, t);
      const absY = y < 0n ? -y : y;
      // (|y| - a/(b t))² / (2 a/b) = (|y| b t - a)² / (2 a b t²)
      const diff = absY * b * t - a;
      if (this.bernoulliExp({ n: diff * diff, d: 2n * a * b * t * t })) return y;
    }
  }
}

/** ⌊√n⌋ for n ≥ 0 (Newton's method on BigInt). */
export function isqrt(n: bigint): bigint {
  if (n < 0n) throw new RangeError('isqrt of a negative number');
  if (n < 2n) return n;
  let x = 1n << BigInt(Math.ceil(n.toString(2).length / 2)); // ≥ √n, so Newton descends to ⌊√n⌋
  for (;;) {
    const y = (x + n / x) / 2n;
    if (y >= x) break;
    x = y;
  }
  return x;
}

export type DpMechanism = 'laplace' | 'gaussian';

export interface NoiseParams {
  mechanism: DpMechanism;
  /** Privacy cost of one answer, in micro-epsilon (integer > 0). */
  epsilonMicro: number;
  /** L1 (Laplace) / L2 (Gaussian) sensitivity of one cell: 1 for a count; max(|lower|, |upper|) for a sum. */
  sensitivity: number;
}

/**
 * The noise distribution's parameters, exactly:
 * - Laplace: scale Δ/ε = (Δ·10⁶)/ε_µ, so P(y) ∝ exp(-|y|·ε/Δ): ε-DP.
 * - Gaussian: σ = Δ/ε, i.e. σ² = Δ²·10¹²/ε_µ²: ρ-zCDP with ρ = ε²/2 (the zCDP that ε-DP itself implies),
 *   so charging ε against the budget composes conservatively (Σρᵢ ≤ (Σεᵢ)²/2).
 */
export function noiseParameters(p: NoiseParams): { laplace: { s: bigint; t: bigint } } | { gaussian: Rational } {
  if (!Number.isSafeInteger(p.epsilonMicro) || p.epsilonMicro <= 0)
    throw new RangeError('epsilonMicro must be a positive integer');
  if (!Number.isSafeInteger(p.sensitivity) || p.sensitivity <= 0)
    throw new RangeError('sensitivity must be a positive integer');
  const e = BigInt(p.epsilonMicro);
  const delta = BigInt(p.sensitivity);
  switch (p.mechanism) {
    case 'laplace':
      return { laplace: { s: e, t: delta * MICRO } };
    case 'gaussian':
      return { gaussian: { n: delta * delta * MICRO * MICRO, d: e * e } };
  }
}

/** Draws one noise value for the given mechanism and parameters. */
export function drawNoise(sampler: Sampler, p: NoiseParams): bigint {
  const params = noiseParameters(p);
  return 'laplace' in params
    ? sampler.discreteLaplace(params.laplace.s, params.laplace.t)
    : sampler.discreteGaussian(params.gaussian);
}

/** A count plus noise (sensitivity 1). The result may be negative: clamping is post-processing for readers. */
export function noisyCount(sampler: Sampler, count: number, mechanism: DpMechanism, epsilonMicro: number): number {
  if (!Number.isSafeInteger(count) || count < 0) throw new RangeError('count must be a non-negative integer');
  return Number(BigInt(count) + drawNoise(sampler, { mechanism, epsilonMicro, sensitivity: 1 }));
}

/**
 * A sum of integers clamped to [lower, upper], plus noise of sensitivity max(|lower|, |upper|) (one record
 * added or removed moves the sum by at most that). The caller passes the values so the clamping is ours.
 */
export function noisyBoundedSum(
  sampler: Sampler,
  values: Iterable<number>,
  lower: number,
  upper: number,
  mechanism: DpMechanism,
  epsilonMicro: number,
): number {
  const sensitivity = sumSensitivity(lower, upper);
  let total = 0n;
  for (const v of values) {
    if (!Number.isSafeInteger(v)) throw new RangeError('sum values must be integers');
    total += BigInt(Math.min(upper, Math.max(lower, v)));
  }
  return Number(total + drawNoise(sampler, { mechanism, epsilonMicro, sensitivity }));
}

/** Sensitivity of a sum over values clamped to [lower, upper] under adding or removing one record. */
export function sumSensitivity(lower: number, upper: number): number {
  if (!Number.isSafeInteger(lower) || !Number.isSafeInteger(upper) || lower > upper)
    throw new RangeError('sum bounds must be integers with lower ≤ upper');
  return Math.max(1, Math.abs(lower), Math.abs(upper));
}
