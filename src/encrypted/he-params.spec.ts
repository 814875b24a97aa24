import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { HeError } from './encrypted.errors.js';
import {
  BFV_PARAMS,
  CKKS_PARAMS,
  CKKS_MAX_ABS_RESULT,
  HE_STANDARD_128,
  checkParamSpec,
  createHeContext,
  slotSumSteps,
  type HeContext,
  type HeParamSpec,
} from './he-params.js';
import { loadSeal, type SealRuntime } from './seal-runtime.js';

const heParams = (detail: RegExp) => (err: unknown) => {
  assert.ok(err instanceof HeError, `expected HeError, got ${String(err)}`);
  assert.equal(err.code, 'HE_PARAMS');
  assert.match(err.detail, detail);
  return true;
};

describe('HE parameter sets', () => {
  let runtime: SealRuntime;
  before(async () => {
    runtime = await loadSeal();
  });

  it('BFV: N = 8192, BFVDefault 218 bits (the 128-bit maximum), a 54-bit batching prime', () => {
    const ctx = createHeContext(runtime, BFV_PARAMS);
    try {
      assert.equal(ctx.coeffModulusBits, 218);
      assert.equal(ctx.coeffModulusBits, HE_STANDARD_128[8192]);
      assert.equal(ctx.slotCount, 8192);
      const t = ctx.plainModulus!;
      assert.equal(t.toString(2).length, 54);
      assert.equal(t % 16384n, 1n, 't = 1 mod 2N (batching)');
      // Every centred value is a safe integer; a million values of up to 9e9 cannot wrap.
      assert.equal(ctx.maxAbsResult, Number((t - 1n) / 2n));
      assert.ok(ctx.maxAbsResult <= Number.MAX_SAFE_INTEGER);
      assert.ok(1_000_000 * 9_000_000_000 <= ctx.maxAbsResult);
      assert.deepEqual(slotSumSteps(ctx), [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048]);
      assert.match(ctx.paramsId, /^[0-9a-f]{16}$/);
    } finally {
      ctx.delete();
    }
  });

  it('CKKS: N = 8192, [60, 40, 40, 60] = 200 bits, scale 2^40, 4096 slots', () => {
    const ctx = createHeContext(runtime, CKKS_PARAMS);
    try {
      assert.equal(ctx.coeffModulusBits, 200);
      assert.equal(ctx.slotCount, 4096);
      assert.equal(ctx.scale, 2 ** 40);
      assert.equal(ctx.plainModulus, null);
      assert.equal(ctx.maxAbsResult, CKKS_MAX_ABS_RESULT);
      assert.deepEqual(slotSumSteps(ctx), [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048]);
    } finally {
      ctx.delete();
    }
  });

  it('the same spec gives the same paramsId; different specs differ', () => {
    const contexts: HeContext[] = [];
    try {
      for (const spec of [BFV_PARAMS, BFV_PARAMS, CKKS_PARAMS]) contexts.push(createHeContext(runtime, spec));
      const [a, b, c] = contexts.map((x) => x.paramsId);
      assert.equal(a, b);
      assert.notEqual(a, c);
    } finally {
      for (const x of contexts) x.delete();
    }
  });

  const bad: [string, HeParamSpec, RegExp][] = [
    [
      'CKKS over the 128-bit bound (240 > 218 bits)',
      { ...CKKS_PARAMS, coeffModulus: { bits: [60, 60, 60, 60] }, scaleBits: 60 },
      /240 coefficient-modulus bits exceed 218/,
    ],
    ['an unknown ring degree', { ...BFV_PARAMS, polyModulusDegree: 6000 }, /poly modulus degree 6000/],
    ['a 61-bit prime', { ...CKKS_PARAMS, coeffModulus: { bits: [61, 40, 60] } }, /coefficient prime of 61 bits/],
    ['CKKS middle primes off the scale', { ...CKKS_PARAMS, scaleBits: 30 }, /must equal the scale bits 30/],
    ['CKKS with a plain modulus', { ...CKKS_PARAMS, plainModulus: { batchingBits: 20 } }, /no plain modulus/],
    ['BFV without a plain modulus', { scheme: 'bfv', polyModulusDegree: 8192, coeffModulus: 'bfv-default' }, /needs/],
    ['BFV with a scale', { ...BFV_PARAMS, scaleBits: 40 }, /BFV takes no scale/],
    ['a 70-bit batching plain modulus', { ...BFV_PARAMS, plainModulus: { batchingBits: 70 } }, /70 bits/],
  ];
  for (const [name, spec, detail] of bad) {
    it(`refuses ${name} before SEAL sees it`, () => {
      assert.throws(() => checkParamSpec(spec), heParams(detail));
      assert.throws(() => createHeContext(runtime, spec), heParams(detail));
    });
  }

  it("turns SEAL's silent refusal (parametersSet() false) into an error", () => {
    // A plain modulus equal to one of BFVDefault(8192)'s primes is not coprime to the coefficient modulus:
    // the table check passes, SEAL only answers parametersSet() === false.
    const spec: HeParamSpec = { ...BFV_PARAMS, plainModulus: { value: 8796092858369n } };
    assert.doesNotThrow(() => checkParamSpec(spec));
    assert.throws(() => createHeContext(runtime, spec), heParams(/SEAL rejected the parameters.*bfv/));
  });

  it('refuses a plain modulus without batching (t = 65536) and one too wide for exact results', () => {
    assert.throws(
      () => createHeContext(runtime, { ...BFV_PARAMS, plainModulus: { value: 65536n } }),
      heParams(/does not allow batching/),
    );
    assert.throws(
      () => createHeContext(runtime, { ...BFV_PARAMS, plainModulus: { batchingBits: 58 } }),
      heParams(/exceeds 54/),
    );
  });

  it('a small 128-bit set works too (N = 4096, 109 bits)', () => {
    const ctx = createHeContext(runtime, {
      scheme: 'bfv',
      polyModulusDegree: 4096,
      coeffModulus: 'bfv-default',
      plainModulus: { batchingBits: 24 },
    });
    try {
      assert.equal(ctx.coeffModulusBits, 109);
      assert.equal(ctx.slotCount, 4096);
    } finally {
      ctx.delete();
    }
  });
});
