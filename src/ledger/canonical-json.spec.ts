/** The fast canonical JSON must equal the reference (`canonicalize`) byte for byte, or leaf hashes would differ. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { sampleRecord } from '../../test/support/provenance-fixtures.js';
import { fastCanonicalJson } from './canonical-json.js';
import { canonicalJson } from './provenance-record.js';

const same = (v: unknown) => assert.equal(fastCanonicalJson(v), canonicalJson(v));

describe('fastCanonicalJson', () => {
  it('equals the reference on random JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => same(v)),
      { numRuns: 2000 },
    );
  });

  it('equals the reference on objects with awkward keys and numbers', () => {
    const key = fc.oneof(
      fc.string(),
      fc.nat().map(String),
      fc.constantFrom('10', '9', '1e3', '-1', '€', '\u{1F600}', 'a\u0000'),
    );
    const value = fc.oneof(
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.integer(),
      fc.string({ unit: 'grapheme' }),
      fc.constant(-0),
      fc.constantFrom(1e21, 1e-7, 5e-324, Number.MAX_VALUE),
    );
    fc.assert(
      fc.property(fc.dictionary(key, fc.oneof(value, fc.array(value), fc.dictionary(key, value))), (v) => same(v)),
      { numRuns: 2000 },
    );
  });

  it('equals the reference on provenance records', () => {
    for (let i = 0; i < 500; i++) same(sampleRecord(i));
  });

  it('falls back to the reference for what plain JSON data is not', () => {
    same({ a: undefined, b: 1 });
    same([undefined, 1]);
    same({ d: new Date(0) });
    same({ t: { toJSON: () => 'x' } });
    assert.throws(() => fastCanonicalJson({ s: 'lone \ud800' }));
    assert.throws(() => fastCanonicalJson({ n: Number.NaN }));
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.throws(() => fastCanonicalJson(cyclic));
  });
});
