import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ACRO_DEFAULTS, type AggregateTable, type Cell } from './disclosure.types.js';
import { determined } from './linear-protection.js';
import { checkTable, looksLikeIdentifier } from './table-check.js';

const counts1d = (cells: [string, number][]): AggregateTable => ({
  columns: ['ward', 'count'],
  rows: cells.map(([w, n]) => [w, n]),
});
const released = (t: ReturnType<typeof checkTable>) => t.table?.rows ?? [];

// ---- an independent check of exact recovery: floating-point rank, written apart from linear-protection.ts --------
function rank(m: number[][]): number {
  const a = m.map((r) => [...r]);
  let rk = 0;
  const cols = a[0]?.length ?? 0;
  for (let c = 0; c < cols && rk < a.length; c++) {
    let p = rk;
    for (let r = rk + 1; r < a.length; r++) if (Math.abs(a[r]![c]!) > Math.abs(a[p]![c]!)) p = r;
    if (Math.abs(a[p]![c]!) < 1e-9) continue;
    [a[rk], a[p]] = [a[p]!, a[rk]!];
    for (let r = 0; r < a.length; r++) {
      if (r === rk) continue;
      const f = a[r]![c]! / a[rk]![c]!;
      for (let j = c; j < cols; j++) a[r]![j]! -= f * a[rk]![j]!;
    }
    rk++;
  }
  return rk;
}

/**
 * Unknowns a requester could compute from equations (coefficients by row; rows not listed as unknown are known).
 * x_j is determined iff adding the unit vector e_j does not raise the rank of the equations' unknown part.
 */
function recoverableFrom(unknowns: number[], equations: Map<number, number>[]): number[] {
  if (unknowns.length === 0) return [];
  const idx = new Map(unknowns.map((r, i) => [r, i]));
  const A = equations
    .map((eq) => {
      const row = new Array<number>(unknowns.length).fill(0);
      for (const [c, coef] of eq) if (idx.has(c)) row[idx.get(c)!] = coef;
      return row;
    })
    .filter((row) => row.some((x) => x !== 0));
  const base = rank(A);
  return unknowns.filter((_, j) => {
    const e = new Array<number>(unknowns.length).fill(0);
    e[j] = 1;
    return rank([...A, e]) === base;
  });
}

/** Suppressed cells recoverable from released cells and known sums (lists of rows). */
const recoverable = (suppressed: number[], sums: number[][]) =>
  recoverableFrom(
    suppressed,
    sums.map((cells) => new Map(cells.map((c) => [c, 1]))),
  );

/** Every line of a full lattice (rows that differ in one key only), by row index. */
function lines(keys: Cell[][]): number[][] {
  const out: number[][] = [];
  const dims = keys[0]?.length ?? 0;
  for (let d = 0; d < dims; d++) {
    const groups = new Map<string, number[]>();
    keys.forEach((k, r) => {
      const t = [...k];
      t[d] = '*';
      const s = JSON.stringify(t);
      groups.set(s, [...(groups.get(s) ?? []), r]);
    });
    out.push(...groups.values());
  }
  return out;
}

describe('checkTable: ACRO defaults and primary rules', () => {
  it("uses ACRO's defaults", () => {
    assert.deepEqual(ACRO_DEFAULTS, { threshold: 10, zerosDisclosive: true, dominance: { n: 2, k: 0.9 }, pRatio: 0.1 });
  });

  it('suppresses cells under 10, zeros included, and protects them from the total', () => {
    const r = checkTable(
      counts1d([
        ['a', 0],
        ['b', 9],
        ['c', 10],
        ['d', 50],
        ['e', 40],
      ]),
      { keys: ['ward'] },
    );
    assert.equal(r.status, 'suppressed');
    assert.deepEqual(
      r.suppressions.map((s) => [s.key.ward, s.rule]),
      [
        ['a', 'threshold'],
        ['b', 'threshold'],
        ['c', 'secondary'],
      ],
    );
    assert.deepEqual(released(r), [
      ['a', null],
      ['b', null],
      ['c', null],
      ['d', 50],
      ['e', 40],
    ]);
  });

  it('leaves zeros when they are declared not disclosive', () => {
    const r = checkTable(
      counts1d([
        ['a', 0],
        ['b', 30],
        ['c', 40],
      ]),
      { keys: ['ward'], zerosDisclosive: false },
    );
    assert.equal(r.status, 'released');
  });

  it("nk-dominance is ACRO's ≥: two contributors holding exactly 90% hide the value; 89.9% does not", () => {
    const table = (top2: number) => ({
      columns: ['ward', 'count', 'income'],
      rows: [
        ['a', 12, 1000],
        ['b', 15, 1000],
        ['c', 20, 1000],
        ['d', 20, 1000],
      ],
      contributors: {
        income: [
          [top2 - 300, 300],
          [200, 100],
          [300, 100],
          [250, 150],
        ],
      },
    });
    const exact = checkTable(table(900), { keys: ['ward'] });
    assert.deepEqual(
      exact.suppressions.filter((s) => s.rule === 'dominance').map((s) => s.key.ward),
      ['a'],
      'exactly 90% is dominated',
    );
    const below = checkTable(table(899), { keys: ['ward'] });
    assert.deepEqual(below.suppressions, [], '89.9% is not');
  });

  it('nk-dominance: two contributors over 90% of a cell hide that value (not its count)', () => {
    const r = checkTable(
      {
        columns: ['ward', 'count', 'income'],
        rows: [
          ['a', 12, 1000],
          ['b', 15, 1000],
          ['c', 20, 1000],
        ],
        contributors: {
          income: [
            [600, 310, 10],
            [200, 100],
            [100, 90],
          ],
        },
      },
      { keys: ['ward'] },
    );
    assert.deepEqual(
      r.suppressions.map((s) => [s.key.ward, s.column, s.rule]),
      [
        ['a', 'income', 'dominance'],
        ['b', 'income', 'secondary'],
      ],
    );
    assert.equal(released(r)[0]![1], 12);
    assert.equal(r.table?.columns.length, 3);
    assert.ok(!('contributors' in (r.table ?? {})));
  });

  it('p-percent: the runner-up could estimate the largest within 10%', () => {
    // top two hold 89% (passes k = 0.99 dominance), the rest 11 < 0.1 × 85? no: 11 ≥ 8.5 passes; 6 < 9 fails
    const base = { columns: ['ward', 'count', 'v'], rows: [['a', 10, 100] as Cell[], ['b', 10, 100], ['c', 10, 100]] };
    const opts = { keys: ['ward'], dominance: { n: 2, k: 0.99 } };
    const fine = checkTable(
      {
        ...base,
        contributors: {
          v: [
            [85, 4],
            [30, 30],
            [30, 30],
          ],
        },
      },
      opts,
    );
    assert.equal(fine.status, 'released');
    const exposed = checkTable(
      {
        ...base,
        contributors: {
          v: [
            [90, 4],
            [30, 30],
            [30, 30],
          ],
        },
      },
      opts,
    );
    assert.equal(exposed.suppressions[0]?.rule, 'p-percent');
  });

  it('refuses value columns without contributions, or suppresses them on request', () => {
    const t = { columns: ['ward', 'count', 'income'], rows: [['a', 20, 5] as Cell[], ['b', 30, 6]] };
    const refused = checkTable(t, { keys: ['ward'] });
    assert.equal(refused.status, 'refused');
    assert.equal(refused.refusals[0]?.rule, 'dominance');
    const hidden = checkTable(t, { keys: ['ward'], missingContributors: 'suppress' });
    assert.deepEqual(released(hidden), [
      ['a', 20, null],
      ['b', 30, null],
    ]);
  });

  it('refuses contributions that do not add up', () => {
    const r = checkTable(
      {
        columns: ['w', 'count', 'v'],
        rows: [
          ['a', 10, 5],
          ['b', 10, 5],
        ],
        contributors: { v: [[4, 4], [1]] },
      },
      { keys: ['w'] },
    );
    assert.equal(r.refusals[0]?.rule, 'invalid-table');
    assert.deepEqual(
      r.refusals[0]?.cells.map((c) => c.row),
      [0],
    );
  });
});

describe('checkTable: record-level output', () => {
  it('refuses identifier-like columns unless they are declared units', () => {
    for (const c of ['id', 'person_id', 'residentId', 'uuid', 'phone', 'id_card', 'email', 'plate']) {
      assert.ok(looksLikeIdentifier(c), c);
    }
    for (const c of ['district', 'ward_name', 'width', 'valid', 'idle', 'count']) assert.ok(!looksLikeIdentifier(c), c);
    const t = { columns: ['building_id', 'count'], rows: [['b1', 40] as Cell[], ['b2', 50]] };
    assert.equal(checkTable(t, { keys: ['building_id'] }).refusals[0]?.rule, 'record-level');
    assert.equal(checkTable(t, { keys: ['building_id'], allowIdColumns: ['building_id'] }).status, 'released');
  });

  it('refuses a table of single-unit cells', () => {
    const r = checkTable(counts1d(Array.from({ length: 30 }, (_, i): [string, number] => [`p${i}`, 1])), {
      keys: ['ward'],
    });
    assert.equal(r.status, 'refused');
    assert.equal(r.refusals[0]?.rule, 'record-level');
    assert.equal(r.refusals[0]?.cells.length, 30);
  });

  it('refuses more cells than the data can fill at the threshold', () => {
    const r = checkTable(
      counts1d(Array.from({ length: 20 }, (_, i): [string, number] => [`w${i}`, i % 2 === 0 ? 2 : 12])),
      {
        keys: ['ward'],
      },
    );
    assert.equal(r.refusals[0]?.rule, 'record-level');
    assert.match(r.refusals[0]?.reason ?? '', /mean cell count/);
  });

  it('refuses tables without a count, malformed counts and repeated keys', () => {
    assert.equal(
      checkTable({ columns: ['w', 'v'], rows: [['a', 1]] }, { keys: ['w'] }).refusals[0]?.rule,
      'record-level',
    );
    assert.equal(checkTable(counts1d([['a', -1]]), { keys: ['ward'] }).refusals[0]?.rule, 'invalid-table');
    assert.equal(checkTable(counts1d([['a', 2.5]]), { keys: ['ward'] }).refusals[0]?.rule, 'invalid-table');
    const dup = checkTable(
      counts1d([
        ['a', 20],
        ['a', 30],
      ]),
      { keys: ['ward'] },
    );
    assert.equal(dup.refusals[0]?.rule, 'invalid-table');
  });
});

describe('checkTable: secondary suppression', () => {
  it('2-D: a lone small cell takes complements in its row and column, and none is recoverable from the totals', () => {
    const keys: Cell[][] = [];
    const rows: Cell[][] = [];
    const grid = [
      [30, 25, 40],
      [22, 3, 35],
      [50, 45, 60],
    ];
    grid.forEach((line, i) =>
      line.forEach((n, j) => {
        keys.push([`d${i}`, `u${j}`]);
        rows.push([`d${i}`, `u${j}`, n]);
      }),
    );
    const r = checkTable({ columns: ['district', 'use', 'count'], rows }, { keys: ['district', 'use'] });
    assert.equal(r.status, 'suppressed');
    const hidden = r.suppressions.filter((s) => s.column === 'count').map((s) => s.row);
    assert.ok(hidden.length >= 4, 'a 2-D lone cell needs at least a 2×2 pattern');
    assert.deepEqual(recoverable(hidden, lines(keys)), []);
    assert.ok(r.exact);
  });

  it('catches what line rules miss: a cell bridging two suppression cycles is fixed by the totals', () => {
    // small cells: a 2×2 cycle on rows 0-1 × cols 0-1, another on rows 2-3 × cols 2-3, and the bridge (1, 2).
    // Every line holds 0 or ≥ 2 suppressed cells summing to ≥ 10, yet the bridge is determined by the line totals.
    const small = new Set(['0,0', '0,1', '1,0', '1,1', '2,2', '2,3', '3,2', '3,3', '1,2']);
    const keys: Cell[][] = [];
    const rows: Cell[][] = [];
    for (let i = 0; i < 5; i++) {
      for (let j = 0; j < 5; j++) {
        keys.push([`r${i}`, `c${j}`]);
        rows.push([`r${i}`, `c${j}`, small.has(`${i},${j}`) ? 5 : 50]);
      }
    }
    const primary = rows.map((r, i) => (r[2] === 5 ? i : -1)).filter((i) => i >= 0);
    assert.deepEqual(recoverable(primary, lines(keys)), [7], 'the bridge (r1, c2) alone is exposed');
    const r = checkTable({ columns: ['r', 'c', 'count'], rows }, { keys: ['r', 'c'] });
    assert.equal(r.status, 'suppressed');
    const hidden = r.suppressions.filter((s) => s.column === 'count').map((s) => s.row);
    assert.ok(hidden.length > primary.length);
    assert.deepEqual(recoverable(hidden, lines(keys)), []);
  });

  it('margins in the table: the released totals do not give the suppressed cell away', () => {
    const rows: Cell[][] = [
      ['a', 4],
      ['b', 30],
      ['c', 40],
      ['Total', 74],
    ];
    const r = checkTable({ columns: ['ward', 'count'], rows }, { keys: ['ward'], assumeTotalsKnown: false });
    const out = released(r);
    assert.equal(out[3]![1], 74, 'the total is released');
    assert.equal(out[0]![1], null);
    assert.equal(out.filter((row) => row[1] === null).length, 2, 'a complement hides a second cell');
  });

  it('refuses what cannot be protected (a single small cell whose total is known)', () => {
    const r = checkTable(counts1d([['a', 4]]), { keys: ['ward'] });
    assert.equal(r.status, 'refused');
    assert.equal(r.refusals[0]?.rule, 'unprotectable');
    assert.deepEqual(r.refusals[0]?.cells[0]?.key, { ward: 'a' });
  });

  it('hides the whole row of a suppressed count, and never releases contributors or units', () => {
    const r = checkTable(
      {
        columns: ['ward', 'count', 'v'],
        rows: [
          ['a', 5, 50],
          ['b', 30, 300],
          ['c', 40, 400],
        ],
        contributors: {
          v: [
            [10, 10],
            [20, 20],
            [20, 20],
          ],
        },
        units: [['u1'], ['u2'], ['u3']],
      },
      { keys: ['ward'] },
    );
    assert.deepEqual(released(r)[0], ['a', null, null]);
    assert.deepEqual(Object.keys(r.table ?? {}).sort(), ['columns', 'rows']);
  });
});

describe('checkTable: properties (fast-check)', () => {
  const lattice = (dims: number[]) => {
    const keys: Cell[][] = [[]];
    dims.forEach((size, d) => {
      const next: Cell[][] = [];
      for (const k of keys) for (let i = 0; i < size; i++) next.push([...k, `k${d}_${i}`]);
      keys.splice(0, keys.length, ...next);
    });
    return keys;
  };
  const table = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }).chain((dims) => {
    const keys = lattice(dims);
    return fc.record({
      dims: fc.constant(dims),
      keys: fc.constant(keys),
      counts: fc.array(fc.oneof(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 10, max: 90 })), {
        minLength: keys.length,
        maxLength: keys.length,
      }),
    });
  });

  it('after suppression no suppressed cell can be recovered from the released cells and every line total', () => {
    fc.assert(
      fc.property(table, ({ dims, keys, counts }) => {
        const names = dims.map((_, d) => `k${d}`);
        const rows = keys.map((k, i): Cell[] => [...k, counts[i]!]);
        const r = checkTable({ columns: [...names, 'count'], rows }, { keys: names });
        if (r.status === 'refused') return;
        const out = released(r);
        const hidden = out.map((row, i) => (row.at(-1) === null ? i : -1)).filter((i) => i >= 0);
        // released cells are unchanged and safe
        out.forEach((row, i) => {
          const n = row.at(-1);
          if (n !== null) {
            assert.equal(n, counts[i]);
            assert.ok((n as number) >= 10);
          }
        });
        // every primary cell is hidden
        counts.forEach((n, i) => {
          if (n < 10) assert.ok(hidden.includes(i));
        });
        // independent rank check over all line totals (row, column, layer and by implication grand totals)
        assert.deepEqual(recoverable(hidden, lines(keys)), []);
        assert.ok(r.exact);
      }),
      { numRuns: 300 },
    );
  });

  it('with margins in the table and totals not assumed known, released margins never give a cell away', () => {
    fc.assert(
      fc.property(table, ({ dims, keys, counts }) => {
        const names = dims.map((_, d) => `k${d}`);
        const rows: Cell[][] = keys.map((k, i) => [...k, counts[i]!]);
        // one margin per line (the total over each key), as a cross-tab with margins would carry
        const margins = new Map<string, { key: Cell[]; sum: number; cells: number[] }>();
        keys.forEach((k, i) => {
          for (let d = 0; d < k.length; d++) {
            const mk = [...k];
            mk[d] = 'Total';
            const s = JSON.stringify(mk);
            const m = margins.get(s) ?? { key: mk, sum: 0, cells: [] };
            m.sum += counts[i]!;
            m.cells.push(i);
            margins.set(s, m);
          }
        });
        const marginList = [...margins.values()];
        for (const m of marginList) rows.push([...m.key, m.sum]);
        const r = checkTable(
          { columns: [...names, 'count'], rows },
          { keys: names, assumeTotalsKnown: false, recordLevelShare: 1 },
        );
        if (r.status === 'refused') return;
        const out = released(r);
        const hiddenRows = out.map((row, i) => (row.at(-1) === null ? i : -1)).filter((i) => i >= 0);
        // each margin row m: sum of its interior cells − m = 0; released cells are constants
        const equations = marginList.map(
          (m, j) => new Map([...m.cells.map((c): [number, number] => [c, 1]), [keys.length + j, -1]]),
        );
        const exposed = recoverableFrom(hiddenRows, equations).filter((i) => i < keys.length);
        assert.deepEqual(exposed, []);
      }),
      { numRuns: 200 },
    );
  });

  it('the modular elimination agrees with the floating-point rank test', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 7 }).chain((u) =>
          fc.record({
            u: fc.constant(u),
            eqs: fc.array(fc.uniqueArray(fc.integer({ min: 0, max: u - 1 }), { minLength: 1, maxLength: u }), {
              minLength: 1,
              maxLength: 8,
            }),
          }),
        ),
        ({ u, eqs }) => {
          const viaMod = [
            ...determined(
              eqs.map((e) => new Map(e.map((j) => [j, 1]))),
              u,
            ),
          ].sort();
          const cells = [...Array(u).keys()];
          assert.deepEqual(viaMod, recoverable(cells, eqs));
        },
      ),
      { numRuns: 500 },
    );
  });
});
