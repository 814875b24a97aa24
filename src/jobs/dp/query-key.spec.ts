import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { HierarchyLevel } from '../../access/access-request.js';
import { DomainError } from '../../errors/domain.error.js';
import {
  canonicalDpQuery,
  dpQueryKey,
  type DpCondition,
  type DpQuery,
  type DpValue,
  type PolygonCoordinates,
} from './query-key.js';

const LEVELS: HierarchyLevel[] = ['district', 'subdistrict', 'community', 'building'];

const base = (over: Partial<DpQuery> = {}): DpQuery => ({
  datasetId: 'residents-per-room',
  datasetVersion: '1',
  measure: { kind: 'count' },
  groupBy: ['district'],
  ...over,
});
const withConds = (conditions: DpCondition[], over: Partial<DpQuery> = {}) => base({ ...over, filter: { conditions } });

// Arbitraries ----------------------------------------------------------------------------------------------

const value = fc.oneof(fc.integer({ min: 0, max: 6 }), fc.constantFrom('x', 'y', 'z', 'xy'));
const field = fc.constantFrom('a', 'b', 'c');
const condition: fc.Arbitrary<DpCondition> = fc.oneof(
  fc.record({ field, op: fc.constant('eq' as const), value }),
  fc.record({ field, op: fc.constant('ne' as const), value }),
  fc.record({ field, op: fc.constant('in' as const), value: fc.array(value, { minLength: 1, maxLength: 5 }) }),
  fc.record({
    field,
    op: fc.constantFrom('lt' as const, 'lte' as const, 'gt' as const, 'gte' as const),
    value: fc.integer({ min: 0, max: 6 }),
  }),
);

/** A star-shaped ring around a centre: vertices at increasing angles, so it never degenerates. */
const ring = fc
  .record({
    cx: fc.integer({ min: 1_200_000_000, max: 1_220_000_000 }),
    cy: fc.integer({ min: 300_000_000, max: 320_000_000 }),
    steps: fc.array(fc.integer({ min: 1, max: 10 }), { minLength: 3, maxLength: 9 }),
    radii: fc.array(fc.integer({ min: 2_000, max: 50_000 }), { minLength: 9, maxLength: 9 }),
  })
  .map(({ cx, cy, steps, radii }) => {
    const total = steps.reduce((a, b) => a + b, 0) + 1;
    let acc = 0;
    return steps.map((s, i) => {
      acc += s;
      const angle = (2 * Math.PI * acc) / total;
      const r = radii[i]!;
      return [(cx + Math.round(r * Math.cos(angle))) / 1e7, (cy + Math.round(r * Math.sin(angle))) / 1e7];
    });
  });

const query: fc.Arbitrary<DpQuery> = fc.record({
  datasetId: fc.constantFrom('residents-per-room', 'building-energy'),
  datasetVersion: fc.constantFrom('1', '2'),
  measure: fc.oneof(
    fc.constant({ kind: 'count' as const }),
    fc.record({
      kind: fc.constant('sum' as const),
      field: fc.constantFrom('resident_count'),
      lower: fc.integer({ min: 0, max: 3 }),
      upper: fc.integer({ min: 4, max: 20 }),
    }),
  ),
  groupBy: fc.subarray(LEVELS, { minLength: 1 }),
  filter: fc.record(
    {
      unitIds: fc.array(fc.constantFrom('district:a', 'district:b', 'community:c'), { maxLength: 3 }),
      conditions: fc.array(condition, { maxLength: 6 }),
      polygon: ring.map((r) => [r] as PolygonCoordinates),
    },
    { requiredKeys: [] },
  ),
});

// Equivalent rewritings --------------------------------------------------------------------------------------

const shuffle = <T>(xs: T[], seed: number): T[] => {
  const out = [...xs];
  let s = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
};

function rewriteCondition(c: DpCondition, seed: number): DpCondition[] {
  if (c.op === 'eq') return seed % 2 ? [{ field: c.field, op: 'in', value: [c.value as number] }] : [c, c];
  if (c.op === 'in' && Array.isArray(c.value)) {
    const vs = shuffle([...c.value, ...c.value.slice(0, seed % 3)], seed);
    return vs.length === 1 && seed % 2 ? [{ field: c.field, op: 'eq', value: vs[0]! }] : [{ ...c, value: vs }];
  }
  return seed % 3 === 0 ? [c, c] : [c];
}

function rewriteRing(r: number[][], seed: number): number[][] {
  let pts = r.map((p) => [p[0]! + ((seed % 5) - 2) * 1e-9, p[1]! - ((seed % 3) - 1) * 1e-9]);
  const k = seed % pts.length;
  pts = [...pts.slice(k), ...pts.slice(0, k)];
  if (seed % 2) pts.reverse();
  if (seed % 3 === 0) pts.splice(1, 0, [...pts[1]!]); // a repeated vertex
  if (seed % 4 < 2) pts.push([...pts[0]!]); // closed, as GeoJSON writes it
  return pts;
}

function rewrite(q: DpQuery, seed: number): DpQuery {
  const f = q.filter ?? {};
  return {
    ...q,
    measure: { ...q.measure },
    groupBy: shuffle([...q.groupBy, ...q.groupBy.slice(0, 1)], seed),
    filter: {
      ...(f.unitIds ? { unitIds: shuffle([...f.unitIds, ...f.unitIds], seed + 1) } : {}),
      ...(f.conditions
        ? {
            conditions: shuffle(
              f.conditions.flatMap((c, i) => rewriteCondition(c, seed + i)),
              seed + 2,
            ),
          }
        : {}),
      ...(f.polygon ? { polygon: f.polygon.map((r) => rewriteRing(r, seed + 3)) } : {}),
    },
  };
}

/** dpQueryKey, or the error code when the query is refused. */
const keyOr = (q: DpQuery): string => {
  try {
    return dpQueryKey(q);
  } catch (err) {
    if (err instanceof DomainError) return `error:${err.code}`;
    throw err;
  }
};

describe('DP query key: normalisation', () => {
  it('equivalent forms share one key (property)', () => {
    fc.assert(
      fc.property(query, fc.nat(), (q, seed) => {
        assert.equal(keyOr(rewrite(q, seed)), keyOr(q));
      }),
      { numRuns: 500 },
    );
  });

  it('different questions get different keys (property)', () => {
    const mutations: ((q: DpQuery) => DpQuery)[] = [
      (q) => ({ ...q, datasetVersion: q.datasetVersion + '.1' }),
      (q) => ({ ...q, datasetId: q.datasetId + '-x' }),
      (q) => ({
        ...q,
        measure:
          q.measure.kind === 'count' ? { kind: 'sum', field: 'resident_count', lower: 0, upper: 9 } : { kind: 'count' },
      }),
      (q) => ({
        ...q,
        groupBy: q.groupBy.length === 4 ? ['district'] : [...q.groupBy, LEVELS.find((l) => !q.groupBy.includes(l))!],
      }),
      (q) => ({
        ...q,
        filter: { ...q.filter, conditions: [...(q.filter?.conditions ?? []), { field: 'fresh', op: 'eq', value: 1 }] },
      }),
      (q) => ({ ...q, filter: { ...q.filter, unitIds: [...(q.filter?.unitIds ?? []), 'district:new'] } }),
      (q) => {
        const poly = q.filter?.polygon ?? [
          [
            [121, 31],
            [121.001, 31],
            [121, 31.001],
          ],
        ];
        // Move one vertex outward by 1e-6 degree (ten times the precision).
        const moved = poly.map((r, i) => (i === 0 ? r.map((p, j) => (j === 0 ? [p[0]! + 1e-6, p[1]! - 1e-6] : p)) : r));
        return { ...q, filter: { ...q.filter, polygon: moved } };
      },
    ];
    fc.assert(
      fc.property(query, fc.integer({ min: 0, max: mutations.length - 1 }), (q, m) => {
        const a = keyOr(q);
        const b = keyOr(mutations[m]!(q));
        fc.pre(!a.startsWith('error:') && !b.startsWith('error:'));
        assert.notEqual(b, a, `mutation ${m}`);
      }),
      { numRuns: 500 },
    );
  });

  it('combines comparisons on one field into one form', () => {
    const same = (a: DpCondition[], b: DpCondition[]) =>
      assert.equal(dpQueryKey(withConds(a)), dpQueryKey(withConds(b)));
    same(
      [
        { field: 'n', op: 'gt', value: 3 },
        { field: 'n', op: 'gte', value: 3 },
      ],
      [{ field: 'n', op: 'gt', value: 3 }],
    );
    same(
      [
        { field: 'n', op: 'lt', value: 9 },
        { field: 'n', op: 'lte', value: 4 },
      ],
      [{ field: 'n', op: 'lte', value: 4 }],
    );
    same(
      [
        { field: 'n', op: 'gte', value: 5 },
        { field: 'n', op: 'lte', value: 5 },
      ],
      [{ field: 'n', op: 'eq', value: 5 }],
    );
    same(
      [
        { field: 'n', op: 'in', value: [1, 2, 3] },
        { field: 'n', op: 'ne', value: 2 },
      ],
      [{ field: 'n', op: 'in', value: [3, 1] }],
    );
    same(
      [
        { field: 'n', op: 'in', value: [1, 2, 3, 7] },
        { field: 'n', op: 'gt', value: 1 },
        { field: 'n', op: 'lt', value: 7 },
      ],
      [{ field: 'n', op: 'in', value: [2, 3] }],
    );
    same(
      [
        { field: 's', op: 'prefix', value: 'ab' },
        { field: 's', op: 'prefix', value: 'abc' },
      ],
      [{ field: 's', op: 'prefix', value: 'abc' }],
    );
    same(
      [
        { field: 'n', op: 'ne', value: 1 },
        { field: 'n', op: 'gt', value: 4 },
      ],
      [{ field: 'n', op: 'gt', value: 4 }],
    );
    same([{ field: 'n', op: 'eq', value: -0 }], [{ field: 'n', op: 'eq', value: 0 }]);
    // Different ranges stay different.
    assert.notEqual(
      dpQueryKey(withConds([{ field: 'n', op: 'gt', value: 3 }])),
      dpQueryKey(withConds([{ field: 'n', op: 'gte', value: 3 }])),
    );
  });

  /**
   * The hunt for equivalent forms that escape the normalisation: random condition lists on one typed field,
   * grouped by the set of values they select (evaluated on a window wide enough that every constant's effect is
   * visible, and with SQL's semantics: any condition excludes NULL). Lists that select the same set must share
   * one key; lists that select different sets must not.
   */
  describe('typed fields: one key per selected set (property)', () => {
    type Ty = 'int' | 'float' | 'bool' | 'date';
    const matches = (c: DpCondition, v: number | boolean | string): boolean => {
      const x = c.value;
      switch (c.op) {
        case 'eq':
          return v === x;
        case 'ne':
          return v !== x;
        case 'in':
          return (x as DpValue[]).includes(v);
        case 'gt':
          return v > (x as number | string);
        case 'gte':
          return v >= (x as number | string);
        case 'lt':
          return v < (x as number | string);
        case 'lte':
          return v <= (x as number | string);
        default:
          return false;
      }
    };
    const date = (d: number) => new Date(Date.UTC(2024, 0, 1) + d * 86_400_000).toISOString().slice(0, 10);
    const domains: Record<Ty, { constants: fc.Arbitrary<DpValue>; window: DpValue[]; ops: DpCondition['op'][] }> = {
      // Constants in [-5, 5] (halves too): outside [-6, 6] every condition is constant, so [-40, 40] decides.
      int: {
        constants: fc.oneof(
          fc.integer({ min: -5, max: 5 }),
          fc.integer({ min: -10, max: 10 }).map((n) => n / 2),
        ),
        window: [...Array(81).keys()].map((i) => i - 40),
        ops: ['eq', 'ne', 'in', 'gt', 'gte', 'lt', 'lte'],
      },
      // The constants, the midpoints between them and points beyond: a set of intervals is decided there.
      float: {
        constants: fc.constantFrom(-1.5, 0, 0.25, 2, 3.5),
        window: [-9, -1.5, -0.75, 0, 0.125, 0.25, 1.125, 2, 2.75, 3.5, 9],
        ops: ['eq', 'ne', 'in', 'gt', 'gte', 'lt', 'lte'],
      },
      bool: { constants: fc.boolean(), window: [false, true], ops: ['eq', 'ne', 'in'] },
      date: {
        constants: fc.integer({ min: -4, max: 4 }).map(date),
        window: [...Array(41).keys()].map((i) => date(i - 20)),
        ops: ['eq', 'ne', 'in', 'gt', 'gte', 'lt', 'lte'],
      },
    };
    const conditionOn = (ty: Ty): fc.Arbitrary<DpCondition> =>
      fc
        .constantFrom(...domains[ty].ops)
        .chain((op): fc.Arbitrary<DpCondition> =>
          op === 'in'
            ? fc
                .array(domains[ty].constants, { minLength: 1, maxLength: 4 })
                .map((value): DpCondition => ({ field: 'f', op, value }))
            : domains[ty].constants.map((value): DpCondition => ({ field: 'f', op, value })),
        );
    for (const ty of ['int', 'float', 'bool', 'date'] as const) {
      it(`${ty}`, () => {
        fc.assert(
          fc.property(
            fc.array(fc.array(conditionOn(ty), { minLength: 1, maxLength: 4 }), { minLength: 40, maxLength: 60 }),
            (lists) => {
              const bySet = new Map<string, Set<string>>();
              const keyOfSet = new Map<string, string>();
              for (const conds of lists) {
                const set = domains[ty].window.filter((v) => conds.every((c) => matches(c, v as never))).join(',');
                const key = dpQueryKey(withConds(conds, { fieldTypes: { f: ty } }));
                bySet.set(set, (bySet.get(set) ?? new Set()).add(key));
                const seen = keyOfSet.get(key);
                assert.ok(seen === undefined || seen === set, `one key for two sets: ${seen} / ${set}`);
                keyOfSet.set(key, set);
              }
              for (const [set, keys] of bySet) assert.equal(keys.size, 1, `set {${set}} has ${keys.size} keys`);
            },
          ),
          { numRuns: 150 },
        );
      });
    }

    it('hand-picked rewrites', () => {
      const typed = (conds: DpCondition[], ty: Ty) => dpQueryKey(withConds(conds, { fieldTypes: { f: ty } }));
      const same = (ty: Ty, a: DpCondition[], b: DpCondition[]) => assert.equal(typed(a, ty), typed(b, ty));
      same('int', [{ field: 'f', op: 'gt', value: 3 }], [{ field: 'f', op: 'gte', value: 4 }]);
      same('int', [{ field: 'f', op: 'gt', value: 3.5 }], [{ field: 'f', op: 'gte', value: 4 }]);
      same('int', [{ field: 'f', op: 'eq', value: 3.5 }], [{ field: 'f', op: 'in', value: [7.25] }]);
      same(
        'int',
        [
          { field: 'f', op: 'gte', value: 1 },
          { field: 'f', op: 'lt', value: 4 },
        ],
        [{ field: 'f', op: 'in', value: [3, 2, 1] }],
      );
      same(
        'int',
        [
          { field: 'f', op: 'gte', value: 0 },
          { field: 'f', op: 'ne', value: 0 },
          { field: 'f', op: 'ne', value: 1 },
        ],
        [{ field: 'f', op: 'gt', value: 1 }],
      );
      same('bool', [{ field: 'f', op: 'ne', value: true }], [{ field: 'f', op: 'eq', value: false }]);
      same(
        'bool',
        [{ field: 'f', op: 'in', value: [true, false] }],
        [{ field: 'f', op: 'in', value: [false, true, true] }],
      );
      same('date', [{ field: 'f', op: 'gt', value: '2024-02-28' }], [{ field: 'f', op: 'gte', value: '2024-02-29' }]);
      same(
        'float',
        [
          { field: 'f', op: 'gte', value: 2 },
          { field: 'f', op: 'ne', value: 2 },
        ],
        [{ field: 'f', op: 'gt', value: 2 }],
      );
      // The type is the dataset's: on a float field, gt 3 and gte 4 are different questions.
      assert.notEqual(
        typed([{ field: 'f', op: 'gt', value: 3 }], 'float'),
        typed([{ field: 'f', op: 'gte', value: 4 }], 'float'),
      );
      assert.throws(() => typed([{ field: 'f', op: 'gt', value: '2024-02-30' }], 'date'), /date/);
      assert.throws(() => typed([{ field: 'f', op: 'eq', value: 'x' }], 'int'), /number/);
    });

    it('a polygon with extra vertices on its edges is the same polygon', () => {
      const key = (ring: number[][]) => dpQueryKey(base({ filter: { polygon: [ring] } }));
      const square = [
        [121.4, 31.2],
        [121.5, 31.2],
        [121.5, 31.3],
        [121.4, 31.3],
      ];
      const k = key(square);
      assert.equal(
        key([square[0]!, [121.45, 31.2], square[1]!, [121.5, 31.25], [121.5, 31.27], square[2]!, square[3]!]),
        k,
      );
      // A vertex just off the edge is another polygon.
      assert.notEqual(key([square[0]!, [121.45, 31.1999], square[1]!, square[2]!, square[3]!]), k);
    });
  });

  it('normalises polygon orientation, start vertex, closing point, repeats and sub-precision noise', () => {
    const square = [
      [121.4, 31.2],
      [121.5, 31.2],
      [121.5, 31.3],
      [121.4, 31.3],
    ];
    const key = (polygon: PolygonCoordinates) => dpQueryKey(base({ filter: { polygon } }));
    const k = key([square]);
    assert.equal(key([[...square, square[0]!]]), k);
    assert.equal(key([[...square].reverse()]), k);
    assert.equal(key([[square[2]!, square[3]!, square[0]!, square[1]!, square[2]!]]), k);
    assert.equal(key([[square[0]!, square[1]!, square[1]!, square[2]!, square[3]!]]), k);
    assert.equal(key([square.map(([x, y]) => [x! + 3e-9, y! - 4e-9])]), k);
    assert.notEqual(key([square.map(([x, y]) => [x! + 2e-7, y!])]), k);
    const canon = canonicalDpQuery(base({ filter: { polygon: [[...square].reverse()] } })).polygon!;
    assert.deepEqual(canon[0]![0], [1_214_000_000, 312_000_000], 'starts at the least vertex');
  });

  it('refuses malformed queries with BAD_USER_INPUT', () => {
    const bad = (q: DpQuery) =>
      assert.throws(
        () => dpQueryKey(q),
        (e: unknown) => e instanceof DomainError && e.code === 'BAD_USER_INPUT',
      );
    bad(base({ datasetVersion: '' }));
    bad(base({ groupBy: ['planet' as HierarchyLevel] }));
    bad(base({ measure: { kind: 'sum', field: 'x', lower: 5, upper: 1 } }));
    bad(base({ measure: { kind: 'sum', field: 'x', lower: 0.5, upper: 1 } }));
    bad(
      base({
        filter: {
          polygon: [
            [
              [0, 0],
              [1, 1],
              [0, 0],
            ],
          ],
        },
      }),
    );
    bad(
      base({
        filter: {
          polygon: [
            [
              [0, 0],
              [1, 1],
              [2, 2],
            ],
          ],
        },
      }),
    );
    bad(
      base({
        filter: {
          polygon: [
            [
              [0, 0],
              [200, 1],
              [2, 3],
            ],
          ],
        },
      }),
    );
    bad(withConds([{ field: 'n', op: 'in', value: [] }]));
    bad(
      withConds([
        { field: 'n', op: 'gt', value: 3 },
        { field: 'n', op: 'lt', value: 'x' },
      ]),
    );
    bad(withConds([{ field: 'n', op: 'gt', value: Number.NaN }]));
  });
});
