/**
 * Declared outputs (job-outputs.ts): the gateway owns every label and every number of a job's tables. Written as
 * the attacks of issue 13 point 1–2 were: labels chosen after seeing the data, numbers of the code's making, row
 * order, and empty combinations left out.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { determinedCells } from '../../test/support/exact-elimination.js';
import type { Dataset } from '../catalogue/catalogue.service.js';
import type { ColumnarInput } from '../query/query-engine.js';
import {
  asCheckedTable,
  buildDeclaredTables,
  MAX_TABLE_CELLS,
  validateDeclaration,
  type DeclaredTable,
  type DeclaredTableInput,
  type Domains,
} from './job-outputs.js';
import { canonicalTable, checkOutput, type SandboxTable } from './output-check.js';

const DATASET = {
  id: 'elderly',
  fields: [
    { name: 'care_level', type: 'string', categories: ['0', '1', '2'] },
    { name: 'name', type: 'string' },
    { name: 'visits', type: 'int' },
  ],
} as unknown as Dataset;
const FIELDS = ['care_level', 'name', 'visits'];
const units = async (level: string, within: string | null) => (level === 'building' ? 20_000 : within ? 3 : 16);
const declare = (tables: DeclaredTableInput[]) => validateDeclaration(DATASET, FIELDS, tables, units, null);

/** 40 records in 3 communities; care levels by record; visits. */
const N = 40;
const COMMUNITY = Array.from({ length: N }, (_, i) => `community:${['a', 'b', 'c'][i % 3]}`);
const CARE = Array.from({ length: N }, (_, i) => String(i % 2));
const INPUT: ColumnarInput = {
  rowCount: N,
  recordIds: Array.from({ length: N }, (_, i) => `r${i}`),
  hierarchy: {
    district_id: Array(N).fill('district:1') as string[],
    subdistrict_id: Array(N).fill('subdistrict:1') as string[],
    community_id: COMMUNITY,
    building_id: Array(N).fill(null) as null[],
  },
  fields: { care_level: CARE, name: CARE.map((_, i) => `Person ${i}`), visits: CARE.map((_, i) => i) },
};
const BY_COMMUNITY_CARE: DeclaredTable = {
  name: 'by_community',
  keys: [
    { column: 'community_id', domain: { kind: 'unit', level: 'community', within: null } },
    { column: 'care', domain: { kind: 'field', field: 'care_level' } },
  ],
  sums: [{ column: 'visits', field: 'visits' }],
  margins: true,
};
const DOMAINS: Domains = [
  [
    ['community:a', 'community:b', 'community:c'],
    ['0', '1', '2'],
  ],
];
const assignment = (rows: SandboxTable['rows'], name = 'by_community'): SandboxTable => ({
  name,
  columns: ['community_id', 'care'],
  rows,
});
const honest = () => assignment(COMMUNITY.map((c, i) => [c, CARE[i]!]));

describe('validateDeclaration', () => {
  it('takes unit levels, code lists and fixed lists, with margins by default', async () => {
    const d = await declare([
      {
        name: 'by_community',
        keys: [
          { column: 'community_id', level: 'community', within: 'subdistrict:1' },
          { column: 'care', field: 'care_level' },
        ],
        sums: [{ column: 'visits', field: 'visits' }],
      },
      { name: 'area', keys: [{ column: 'area', values: ['inside', 'outside'] }], margins: false },
    ]);
    assert.deepEqual(d[0]!.keys[0]!.domain, { kind: 'unit', level: 'community', within: 'subdistrict:1' });
    assert.equal(d[0]!.margins, true);
    assert.deepEqual(d[1]!.keys[0]!.domain, { kind: 'list', values: ['inside', 'outside'] });
  });

  it('refuses a job without a declaration, bad names, two domains, reserved values and oversized tables', async () => {
    const bad: [string, DeclaredTableInput[], RegExp][] = [
      ['none', [], /Declare the output tables/],
      ['name', [{ name: 'Room 12/care 3', keys: [{ column: 'k', values: ['a'] }] }], /table name/],
      ['twice', [1, 2].map(() => ({ name: 't', keys: [{ column: 'k', values: ['a'] }] })), /twice/],
      ['count', [{ name: 't', keys: [{ column: 'count', values: ['a'] }] }], /taken/],
      ['two domains', [{ name: 't', keys: [{ column: 'k', level: 'district', values: ['a'] }] }], /exactly one/],
      ['no code list', [{ name: 't', keys: [{ column: 'k', field: 'name' }] }], /no code list/],
      ['unread field', [{ name: 't', keys: [{ column: 'k', field: 'other' }] }], /one of the job's fields/],
      ['Total', [{ name: 't', keys: [{ column: 'k', values: ['Total'] }] }], /reserved/],
      ['dupes', [{ name: 't', keys: [{ column: 'k', values: ['a', 'a'] }] }], /distinct/],
      [
        'text sum',
        [{ name: 't', keys: [{ column: 'k', values: ['a'] }], sums: [{ column: 's', field: 'name' }] }],
        /not numeric/,
      ],
      ['within below', [{ name: 't', keys: [{ column: 'k', level: 'district', within: 'community:1' }] }], /above/],
      ['huge', [{ name: 't', keys: [{ column: 'k', level: 'building' }] }], new RegExp(`at most ${MAX_TABLE_CELLS}`)],
    ];
    for (const [what, tables, message] of bad) {
      await assert.rejects(declare(tables), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'BAD_USER_INPUT', what);
        assert.match(e.message, message, what);
        return true;
      });
    }
  });

  it('on a DP dataset: no fixed lists (the gateway places records by their own values), bounded sums only', async () => {
    const dp = { datasetId: 'elderly', sumBounds: {} } as never;
    await assert.rejects(
      validateDeclaration(DATASET, FIELDS, [{ name: 't', keys: [{ column: 'k', values: ['a'] }] }], units, dp),
      /differential privacy/,
    );
    await assert.rejects(
      validateDeclaration(
        DATASET,
        FIELDS,
        [{ name: 't', keys: [{ column: 'k', level: 'district' }], sums: [{ column: 's', field: 'visits' }] }],
        units,
        dp,
      ),
      /declared bounds/,
    );
  });
});

describe('buildDeclaredTables: the gateway builds every row and every number', () => {
  it('lists every combination, empty ones included, with counts and sums of its own', () => {
    const b = buildDeclaredTables([BY_COMMUNITY_CARE], DOMAINS, [honest()], INPUT);
    assert.ok(b.ok);
    const t = b.tables[0]!;
    assert.deepEqual(t.columns, ['community_id', 'care', 'count', 'visits']);
    // (3 communities + Total) × (3 care levels + Total).
    assert.equal(t.rows.length, 16);
    const row = (c: string, k: string) => t.rows.find((r) => r[0] === c && r[1] === k)!;
    // Care level 2 has no record: the empty combination is a row like any other.
    assert.deepEqual(row('community:a', '2').slice(2), [0, 0]);
    const aZero = INPUT.recordIds.map((_, i) => i).filter((i) => COMMUNITY[i] === 'community:a' && CARE[i] === '0');
    assert.deepEqual(row('community:a', '0').slice(2), [aZero.length, aZero.reduce((s, i) => s + i, 0)]);
    assert.deepEqual(row('Total', 'Total').slice(2), [N, (N * (N - 1)) / 2]);
  });

  it('label smuggling: a table name, a column or a key value the code made up refuses the run', () => {
    const leakName = assignment(honest().rows, 'room_12_care_3');
    const leakColumn: SandboxTable = { ...honest(), columns: ['community_id', 'care_3_in_room_12'] };
    const leakKey = honest();
    leakKey.rows[0] = ['community:a', 'Person 0 is level 1'];
    const leakUnit = honest();
    leakUnit.rows[0] = ['community:zz-Person0', '0'];
    const half = honest();
    half.rows[1] = ['community:a', null];
    const cases: [string, SandboxTable[], string][] = [
      ['table name', [leakName], 'invalid-table'],
      ['extra table', [honest(), assignment(honest().rows, 'extra')], 'invalid-table'],
      ['column', [leakColumn], 'invalid-table'],
      ['key value', [leakKey], 'key-domain'],
      ['unit id', [leakUnit], 'key-domain'],
      ['half a key', [half], 'key-domain'],
      ['short', [assignment(honest().rows.slice(1))], 'invalid-table'],
      ['units', [{ ...honest(), units: [['r1']] }], 'invalid-table'],
    ];
    for (const [what, tables, rule] of cases) {
      const b = buildDeclaredTables([BY_COMMUNITY_CARE], DOMAINS, tables, INPUT);
      assert.equal(b.ok ? 'ok' : b.rule, rule, what);
      // A refusal's reason names declared things only, never what the code made up.
      if (!b.ok) assert.doesNotMatch(b.reason, /Person|room_12|care_3|zz/, what);
    }
  });

  it('job-made numbers have nowhere to go: 8^k-weighted or low-digit values are not output', () => {
    // The code can only place records; whatever it computed, the cells are the gateway's counts and sums.
    const b = buildDeclaredTables([BY_COMMUNITY_CARE], DOMAINS, [honest()], INPUT);
    assert.ok(b.ok);
    for (const r of b.tables[0]!.rows) {
      for (const v of r.slice(2))
        assert.ok(Number.isInteger(v), `${String(v)} is a whole count or a sum of whole values`);
    }
  });

  it('row order and released values do not depend on the order the code saw or emitted records in', () => {
    const once = buildDeclaredTables([BY_COMMUNITY_CARE], DOMAINS, [honest()], INPUT);
    // The same placement, computed by code that walked the records backwards: the same rows, in the same order.
    const rows = honest().rows.map((r) => [...r]);
    const again = buildDeclaredTables([BY_COMMUNITY_CARE], DOMAINS, [assignment(rows)], INPUT);
    assert.ok(once.ok && again.ok);
    assert.deepEqual(
      canonicalTable(asCheckedTable(once.tables[0]!, INPUT)).rows,
      canonicalTable(asCheckedTable(again.tables[0]!, INPUT)).rows,
    );
  });

  it('disclosure control suppresses small and empty cells of the gateway’s own counts', () => {
    const b = buildDeclaredTables([BY_COMMUNITY_CARE], DOMAINS, [honest()], INPUT);
    assert.ok(b.ok);
    const checked = canonicalTable(asCheckedTable(b.tables[0]!, INPUT));
    const verdict = checkOutput([checked], INPUT, 1, true);
    assert.ok(verdict.ok, JSON.stringify(!verdict.ok && verdict.refusal));
    const t = verdict.tables[0]!;
    const count = t.columns.indexOf('count');
    // Interior cells hold 6 or 7 records, care level 2 none: every interior count is below 10 or zero, so hidden.
    for (const r of t.rows) {
      if (r[0] !== 'Total' && r[1] !== 'Total') assert.equal(r[count], null, JSON.stringify(r));
    }
    // Every released cell is tied to the records behind it for the differencing audit.
    assert.ok(verdict.cells.every((c) => c.units.every((u) => INPUT.recordIds.includes(u))));
  });

  it('a record left out (every key null) counts nowhere', () => {
    const rows = honest().rows.map((r, i) => (i < 10 ? [null, null] : r));
    const b = buildDeclaredTables([BY_COMMUNITY_CARE], DOMAINS, [assignment(rows)], INPUT);
    assert.ok(b.ok);
    assert.equal(b.tables[0]!.rows.find((r) => r[0] === 'Total' && r[1] === 'Total')![2], N - 10);
  });
});

describe('declared tables under disclosure control: no hidden count is ever determined (exact oracle)', () => {
  it('random domains, margins or not, and skewed assignments with many empty cells: 300 tables', () => {
    let seed = 20261204;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    let suppressedSeen = 0;
    for (let run = 0; run < 300; run++) {
      const sizes = [1 + Math.floor(rand() * 4), 1 + Math.floor(rand() * 4)];
      const margins = rand() < 0.7;
      const values = sizes.map((n, k) => Array.from({ length: n }, (_, i) => `k${k}v${i}`));
      const declared: DeclaredTable = {
        name: 't',
        keys: values.map((v, k) => ({ column: `k${k}`, domain: { kind: 'list' as const, values: v } })),
        sums: [],
        margins,
      };
      const n = Math.floor(rand() * 120);
      // Skewed: a few cells hold most records, others are small or empty.
      const weights = values[0]!.flatMap(() => values[1]!.map(() => rand() ** 3));
      const total = weights.reduce((a, b) => a + b, 0) || 1;
      const rows: SandboxTable['rows'] = [];
      for (let i = 0; i < n; i++) {
        let x = rand() * total;
        let cell = 0;
        while (cell < weights.length - 1 && x > weights[cell]!) x -= weights[cell++]!;
        rows.push(
          rand() < 0.05 ? [null, null] : [values[0]![Math.floor(cell / sizes[1]!)]!, values[1]![cell % sizes[1]!]!],
        );
      }
      const input: ColumnarInput = {
        rowCount: n,
        recordIds: Array.from({ length: n }, (_, i) => `r${i}`),
        hierarchy: { district_id: [], subdistrict_id: [], community_id: [], building_id: [] },
        fields: {},
      };
      const b = buildDeclaredTables([declared], [values], [{ name: 't', columns: ['k0', 'k1'], rows }], input);
      assert.ok(b.ok);
      const checked = canonicalTable(asCheckedTable(b.tables[0]!, input));
      const verdict = checkOutput([checked], input, 1, true);
      if (!verdict.ok) {
        assert.equal(verdict.refusal.rule, 'unprotectable', JSON.stringify(verdict.refusal));
        continue;
      }
      const t = verdict.tables[0]!;
      const count = t.columns.indexOf('count');
      const key = (r: number) => [t.rows[r]![0], t.rows[r]![1]];
      const interior = t.rows.map((_, r) => r).filter((r) => !key(r).includes('Total'));
      const equations: Map<number, number>[] = [];
      const released = new Set(t.rows.map((_, r) => r).filter((r) => t.rows[r]![count] !== null));
      if (margins) {
        t.rows.forEach((_, m) => {
          const mk = key(m);
          if (!mk.includes('Total')) return;
          const e = new Map<number, number>([[m, -1]]);
          for (const r of interior) if (key(r).every((v, i) => mk[i] === 'Total' || mk[i] === v)) e.set(r, 1);
          equations.push(e);
        });
      } else {
        // Every line total assumed known from elsewhere: a released pseudo-cell per line.
        let pseudo = t.rows.length;
        for (let d = 0; d < 2; d++) {
          const lines = new Map<string, number[]>();
          for (const r of interior) {
            const k = key(r);
            k[d] = '*';
            lines.set(JSON.stringify(k), [...(lines.get(JSON.stringify(k)) ?? []), r]);
          }
          for (const cells of lines.values()) {
            released.add(pseudo);
            equations.push(new Map([[pseudo++, -1], ...cells.map((c) => [c, 1] as [number, number])]));
          }
        }
      }
      const determined = determinedCells(equations, released);
      assert.deepEqual([...determined], [], `run ${run}: ${JSON.stringify(t.rows)}`);
      for (const r of released) {
        if (r < t.rows.length) assert.ok((t.rows[r]![count] as number) >= 10, `run ${run}: a released small cell`);
      }
      suppressedSeen += t.rows.length - [...released].filter((r) => r < t.rows.length).length;
    }
    assert.ok(suppressedSeen > 100, 'the generator makes tables that need suppression');
  });
});
