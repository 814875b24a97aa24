import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import {
  drawNoise,
  isqrt,
  noiseParameters,
  noisyBoundedSum,
  noisyCount,
  Sampler,
  type RandomSource,
} from './discrete-noise.js';
import { SeededRandom } from './seeded-random.js';

/** Plays back a fixed byte script, then fails: proves exactly which bytes a primitive consumes. */
class Script implements RandomSource {
  private i = 0;
  constructor(private readonly bytes: number[]) {}
  fill(buf: Uint8Array): void {
    for (let j = 0; j < buf.length; j++) {
      // The sampler buffers 4096 bytes at once; past the script the bytes are a marker the tests never use.
      buf[j] = this.i < this.bytes.length ? this.bytes[this.i++]! : 0xee;
    }
  }
}

const seeded = (seed: string) => new Sampler(new SeededRandom(seed));

function moments(xs: bigint[]): { mean: number; variance: number; p0: number; pos: number; neg: number } {
  let sum = 0;
  let sq = 0;
  let zeros = 0;
  let pos = 0;
  let neg = 0;
  for (const x of xs) {
    const v = Number(x);
    sum += v;
    sq += v * v;
    if (v === 0) zeros++;
    else if (v > 0) pos++;
    else neg++;
  }
  const mean = sum / xs.length;
  return { mean, variance: sq / xs.length - mean * mean, p0: zeros / xs.length, pos, neg };
}

/** Theoretical variance and P(0) of the discrete Gaussian, by summing its mass (tests only: floats are fine here). */
function gaussianTheory(sigma2: number): { variance: number; p0: number } {
  let z = 0;
  let m2 = 0;
  const span = Math.ceil(40 * Math.sqrt(sigma2)) + 10;
  for (let y = -span; y <= span; y++) {
    const w = Math.exp((-y * y) / (2 * sigma2));
    z += w;
    m2 += y * y * w;
  }
  return { variance: m2 / z, p0: 1 / z };
}

describe('discrete noise: primitives (known answers)', () => {
  it('uniform draws from the smallest covering bit mask and rejects out-of-range values', () => {
    // m = 10: 4 bits (mask 0x0f); 0xfc → 12 is rejected, 0x13 → 3 accepted.
    assert.equal(new Sampler(new Script([0xfc, 0x13])).uniform(10n), 3n);
    // m = 300: 9 bits over two bytes, high byte masked to 1 bit: 0x01,0x2b → 299; 0x01,0x2c → 300 rejected.
    assert.equal(new Sampler(new Script([0x01, 0x2c, 0x01, 0x2b])).uniform(300n), 299n);
    assert.equal(new Sampler(new Script([])).uniform(1n), 0n);
  });

  it('bernoulli(n/d) is uniform(d) < n', () => {
    assert.equal(new Sampler(new Script([2])).bernoulli({ n: 3n, d: 10n }), true);
    assert.equal(new Sampler(new Script([3])).bernoulli({ n: 3n, d: 10n }), false);
    assert.equal(new Sampler(new Script([0])).bernoulli({ n: 0n, d: 7n }), false);
    assert.throws(() => new Sampler(new Script([])).bernoulli({ n: 8n, d: 7n }), RangeError);
  });

  it('bernoulliExp(γ ≤ 1) returns whether the run of coins Bernoulli(γ/k) stopped at odd k', () => {
    // γ = 1/2: coin 1/2 fails at once (byte 1 → 1 ≥ 1): k = 1, odd → true.
    assert.equal(new Sampler(new Script([1])).bernoulliExp({ n: 1n, d: 2n }), true);
    // coin 1/2 succeeds (0), coin 1/4 fails (3 ≥ 1): k = 2 → false.
    assert.equal(new Sampler(new Script([0, 3])).bernoulliExp({ n: 1n, d: 2n }), false);
    // succeeds, succeeds (0 < 1 of 4), coin 1/6 fails (5): k = 3 → true.
    assert.equal(new Sampler(new Script([0, 0, 5])).bernoulliExp({ n: 1n, d: 2n }), true);
    // γ = 0: exp(0) = 1 whatever the bytes.
    assert.equal(new Sampler(new Script([0])).bernoulliExp({ n: 0n, d: 5n }), true);
  });

  it('bernoulliExp(γ > 1) needs ⌊γ⌋ exp(-1) coins to succeed before the fractional one', () => {
    // γ = 3/2: first an exp(-1) coin: coin 1/1 always succeeds (no byte), coin 1/2 fails (1): k = 2 → false.
    assert.equal(new Sampler(new Script([1])).bernoulliExp({ n: 3n, d: 2n }), false);
    // coin 1/1, coin 1/2 succeeds (0), coin 1/3 fails (2): k = 3 → true; then exp(-1/2): coin 1/2 fails (1).
    assert.equal(new Sampler(new Script([0, 2, 1])).bernoulliExp({ n: 3n, d: 2n }), true);
    // the same, but exp(-1/2) ends on k = 2: coin 1/2 succeeds (0), coin 1/4 fails (3) → false.
    assert.equal(new Sampler(new Script([0, 2, 0, 3])).bernoulliExp({ n: 3n, d: 2n }), false);
  });

  it('isqrt is exact on perfect squares and their neighbours, far beyond 2^53', () => {
    for (const r of [0n, 1n, 2n, 3n, 10n, 99_999n, 2n ** 40n + 7n, 10n ** 30n + 12345n]) {
      assert.equal(isqrt(r * r), r);
      if (r > 0n) assert.equal(isqrt(r * r - 1n), r - 1n);
      assert.equal(isqrt(r * r + 2n * r), r); // (r+1)² - 1
    }
  });

  it('parameters are exact rationals of micro-epsilon and sensitivity', () => {
    assert.deepEqual(noiseParameters({ mechanism: 'laplace', epsilonMicro: 250_000, sensitivity: 3 }), {
      laplace: { s: 250_000n, t: 3_000_000n },
    });
    assert.deepEqual(noiseParameters({ mechanism: 'gaussian', epsilonMicro: 500_000, sensitivity: 2 }), {
      gaussian: { n: 4n * 10n ** 12n, d: 25n * 10n ** 10n },
    });
    assert.throws(() => noiseParameters({ mechanism: 'laplace', epsilonMicro: 0.5, sensitivity: 1 }), RangeError);
    assert.throws(() => noiseParameters({ mechanism: 'laplace', epsilonMicro: 10, sensitivity: 0 }), RangeError);
  });
});

describe('discrete noise: distributions (seeded, statistical)', () => {
  it('bernoulliExp(γ) has frequency exp(-γ)', () => {
    const s = seeded('bexp');
    for (const [n, d] of [
      [3n, 10n],
      [1n, 1n],
      [5n, 2n],
    ] as const) {
      const N = 20_000;
      let hits = 0;
      for (let i = 0; i < N; i++) if (s.bernoulliExp({ n, d })) hits++;
      const p = Math.exp(-Number(n) / Number(d));
      const sd = Math.sqrt((p * (1 - p)) / N);
      assert.ok(Math.abs(hits / N - p) < 5 * sd, `γ=${n}/${d}: ${hits / N} vs ${p}`);
    }
  });

  for (const [s, t] of [
    [1n, 1n],
    [1n, 4n],
    [2n, 5n],
  ] as const) {
    it(`discrete Laplace of scale ${t}/${s}: mean 0, variance 2q/(1-q)², P(0) = (1-q)/(1+q), symmetric`, () => {
      const sampler = seeded(`lap-${s}-${t}`);
      const N = 40_000;
      const xs = Array.from({ length: N }, () => sampler.discreteLaplace(s, t));
      const q = Math.exp(-Number(s) / Number(t));
      const variance = (2 * q) / (1 - q) ** 2;
      const p0 = (1 - q) / (1 + q);
      const m = moments(xs);
      assert.ok(Math.abs(m.mean) < 5 * Math.sqrt(variance / N), `mean ${m.mean}`);
      assert.ok(Math.abs(m.variance / variance - 1) < 0.06, `variance ${m.variance} vs ${variance}`);
      assert.ok(Math.abs(m.p0 - p0) < 5 * Math.sqrt((p0 * (1 - p0)) / N), `P(0) ${m.p0} vs ${p0}`);
      const nonzero = m.pos + m.neg;
      assert.ok(Math.abs(m.pos - nonzero / 2) < 5 * Math.sqrt(nonzero / 4), `signs ${m.pos} / ${m.neg}`);
    });
  }

  for (const [n, d] of [
    [1n, 1n],
    [9n, 1n],
    [50n, 3n],
  ] as const) {
    it(`discrete Gaussian of σ² = ${n}/${d}: mean 0, variance and P(0) as summed from its mass, symmetric`, () => {
      const sampler = seeded(`gauss-${n}-${d}`);
      const N = 40_000;
      const xs = Array.from({ length: N }, () => sampler.discreteGaussian({ n, d }));
      const theory = gaussianTheory(Number(n) / Number(d));
      const m = moments(xs);
      assert.ok(Math.abs(m.mean) < 5 * Math.sqrt(theory.variance / N), `mean ${m.mean}`);
      assert.ok(Math.abs(m.variance / theory.variance - 1) < 0.06, `variance ${m.variance} vs ${theory.variance}`);
      assert.ok(
        Math.abs(m.p0 - theory.p0) < 5 * Math.sqrt((theory.p0 * (1 - theory.p0)) / N),
        `P(0) ${m.p0} vs ${theory.p0}`,
      );
      const nonzero = m.pos + m.neg;
      assert.ok(Math.abs(m.pos - nonzero / 2) < 5 * Math.sqrt(nonzero / 4), `signs ${m.pos} / ${m.neg}`);
    });
  }

  it('a count noised at ε = 1 (Laplace) has the spread of scale 1/ε', () => {
    const sampler = seeded('count');
    const N = 20_000;
    const xs = Array.from({ length: N }, () => BigInt(noisyCount(sampler, 100, 'laplace', 1_000_000) - 100));
    const q = Math.exp(-1);
    const m = moments(xs);
    assert.ok(Math.abs(m.variance / ((2 * q) / (1 - q) ** 2) - 1) < 0.08, `variance ${m.variance}`);
  });

  it('a bounded sum clamps each value to its bounds before noising', () => {
    // Noise of sensitivity 10 at ε = 10⁹ µ (scale 10⁻²): almost surely 0, so the clamped sum shows.
    const sampler = seeded('sum');
    const out = noisyBoundedSum(sampler, [3, 50, -20, 7], -5, 10, 'laplace', 1_000_000_000);
    assert.equal(out, 3 + 10 - 5 + 7);
    assert.throws(() => noisyBoundedSum(sampler, [1.5], 0, 10, 'laplace', 1_000), RangeError);
  });

  it('the same seed gives the same noise; different seeds differ', () => {
    const draw = (seed: string) =>
      Array.from({ length: 50 }, () =>
        drawNoise(seeded(seed), { mechanism: 'gaussian', epsilonMicro: 100_000, sensitivity: 1 }),
      );
    assert.deepEqual(draw('a'), draw('a'));
    assert.notDeepEqual(draw('a'), draw('b'));
  });
});

describe('discrete noise: no Math.random, no floating point in the sampler', () => {
  it('samples with Math.random replaced by a trap', () => {
    const original = Math.random;
    Math.random = () => {
      throw new Error('Math.random used');
    };
    try {
      const sampler = new Sampler();
      for (let i = 0; i < 200; i++) {
        noisyCount(sampler, 5, 'laplace', 300_000);
        noisyCount(sampler, 5, 'gaussian', 300_000);
      }
    } finally {
      Math.random = original;
    }
  });

  it('the sampler source names neither Math.random nor Math.exp/log/sqrt', () => {
    const here = path.dirname(fileURLToPath(import.meta.url));
    // Compiled output sits in dist/src/jobs/dp; the TypeScript source is three levels above dist.
    const src = fs.readFileSync(path.join(here, '../../../../src/jobs/dp/discrete-noise.ts'), 'utf8');
    const code = src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    for (const banned of ['Math.random', 'Math.exp', 'Math.log', 'Math.sqrt', 'Math.pow', 'parseFloat']) {
      assert.ok(!code.includes(banned), `${banned} appears in discrete-noise.ts`);
    }
  });
});
