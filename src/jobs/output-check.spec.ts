import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { ColumnarInput } from '../query/query-engine.js';
import { canonicalTable, checkOutput, keyColumns, unitsOf, type SandboxTable } from './output-check.js';

/** 40 records in community A, 12 in B, 3 in C; care level 1 for the first half of each. */
function input(): ColumnarInput {
  const ids: string[] = [];
  const community: string[] = [];
  const care: string[] = [];
  for (const [c, n] of [
    ['community:A', 40],
    ['community:B', 12],
    ['community:C', 3],
  ] as const) {
    for (let i = 0; i < n; i++) {
      ids.push(`${c}#${i}`);
      community.push(c);
      care.push(i < n / 2 ? '1' : '2');
    }
  }
  return {
    rowCount: ids.length,
    recordIds: ids,
    hierarchy: {
      district_id: ids.map(() => 'district:1'),
      subdistrict_id: ids.map(() => 'subdistrict:1'),
      community_id: community,
      building_id: ids.map(() => null),
    },
    fields: { care_level: care },
  };
}

const perCommunity: SandboxTable = {
  name: 't',
  columns: ['community_id', 'count'],
  rows: [
    ['community:A', 40],
    ['community:B', 12],
    ['community:C', 3],
    ['Total', 55],
  ],
};

describe('checkOutput', () => {
  it('suppresses the small cell and a complement; units come from the input, margins from the table', () => {
    const v = checkOutput([perCommunity], input(), 1);
    assert.ok(v.ok);
    const rows = v.tables[0]!.rows;
    assert.deepEqual(
      rows.map((r) => r[1]),
      [40, null, null, 55],
    );
    assert.deepEqual(v.tables[0]!.suppressed.map((s) => s.rule).sort(), ['secondary', 'threshold']);
    // Only released cells are audited: A and the Total (every record).
    assert.deepEqual(
      v.cells.map((c) => [c.cell, c.units.length]),
      [
        ['table 1 row 1 (community_id=community:A)', 40],
        ['table 1 row 4 (community_id=Total)', 55],
      ],
    );
  });

  it('uses the decision’s minimum cell when it is above the default of 10', () => {
    const rule = (minCell: number) => {
      const v = checkOutput([perCommunity], input(), minCell);
      assert.ok(v.ok);
      return v.tables[0]!.suppressed.find((s) => s.row === 1)?.rule;
    };
    assert.equal(rule(1), 'secondary');
    assert.equal(rule(13), 'threshold');
  });

  it('refuses record-level output, naming the rule', () => {
    const raw: SandboxTable = { name: 'raw', columns: ['record_id', 'care_level'], rows: [['x', '1']] };
    const v = checkOutput([raw], input(), 1);
    assert.equal(v.ok, false);
    assert.equal(!v.ok && v.refusal.rule, 'record-level');
  });

  it('refuses a cell that counts part of its group when the job reports no units', () => {
    const partial: SandboxTable = {
      name: 'p',
      columns: ['community_id', 'count'],
      rows: [
        ['community:A', 20],
        ['community:B', 12],
      ],
    };
    const v = checkOutput([partial], input(), 1);
    assert.equal(!v.ok && v.refusal.rule, 'differencing');
    assert.deepEqual(!v.ok && v.refusal.cells, ['table 1 row 1 (community_id=community:A)']);
  });

  it('accepts reported units that are input records matching the counts, and nothing else', () => {
    const ids = input().recordIds.slice(0, 20);
    const good: SandboxTable = { name: 'g', columns: ['area', 'count'], rows: [['x', 20]], units: [ids] };
    assert.ok(checkOutput([good], input(), 1).ok);
    for (const units of [[...ids.slice(0, 19), 'forged'], ids.slice(0, 19), [...ids.slice(0, 19), ids[0]!]]) {
      const bad = { ...good, units: [units] };
      const v = checkOutput([bad], input(), 1);
      assert.equal(!v.ok && v.refusal.rule, 'invalid-table', JSON.stringify(units.slice(-2)));
    }
  });

  it('a refusal never echoes what the code chose (names, keys) and names at most five cells', () => {
    const secret = 'Zhang San, 1949-03-02';
    const rows = Array.from({ length: 40 }, (_, i) => [`${secret} #${i}`, 1]);
    const v = checkOutput([{ name: secret, columns: [secret, 'count'], rows }], input(), 1);
    assert.equal(!v.ok && v.refusal.rule, 'record-level');
    const said = JSON.stringify(v);
    assert.ok(!said.includes('Zhang'), said);
    assert.deepEqual(!v.ok && v.refusal.cells.slice(-2), ['table 1 row 5, count', 'and 35 more']);
  });

  it('takes text columns as keys and numbers (other than count) as magnitudes', () => {
    assert.deepEqual(keyColumns({ name: 'x', columns: ['a', 'b', 'count', 'sum'], rows: [['k', true, 3, 1.5]] }), [
      'a',
      'b',
    ]);
    const u = unitsOf(perCommunity, ['community_id'], input());
    assert.ok(u.ok && u.units[3]!.length === 55);
  });
});

describe('canonical order', () => {
  // Two communities with three records each (both small) beside equal larger ones: which complement secondary
  // suppression picks is a tie, broken by position unless the rows are put in canonical order first.
  const tied = (): ColumnarInput => {
    const ids: string[] = [];
    const community: string[] = [];
    for (const [c, n] of [
      ['community:A', 3],
      ['community:B', 20],
      ['community:C', 20],
      ['community:D', 20],
    ] as const) {
      for (let i = 0; i < n; i++) {
        ids.push(`${c}#${i}`);
        community.push(c);
      }
    }
    return {
      rowCount: ids.length,
      recordIds: ids,
      hierarchy: {
        district_id: ids.map(() => 'district:1'),
        subdistrict_id: ids.map(() => 'subdistrict:1'),
        community_id: community,
        building_id: ids.map(() => null),
      },
      fields: {},
    };
  };
  const table: SandboxTable = {
    name: 't',
    columns: ['community_id', 'count'],
    rows: [
      ['community:A', 3],
      ['community:B', 20],
      ['community:C', 20],
      ['community:D', 20],
      ['Total', 63],
    ],
  };

  it('released rows and suppressed cells depend on the values only, never on the order the code chose', () => {
    const reference = checkOutput([canonicalTable(table)], tied(), 1);
    assert.ok(reference.ok);
    assert.equal(reference.tables[0]!.suppressed.length, 2, 'the small cell and one complement');
    fc.assert(
      fc.property(
        fc.shuffledSubarray(
          table.rows.map((_, i) => i),
          { minLength: table.rows.length },
        ),
        (order) => {
          const shuffled = { ...table, rows: order.map((i) => table.rows[i]!) };
          assert.deepEqual(checkOutput([canonicalTable(shuffled)], tied(), 1), reference);
        },
      ),
      { numRuns: 200, seed: 13 },
    );
  });

  it('reported units move with their rows', () => {
    const t: SandboxTable = {
      name: 't',
      columns: ['k', 'count'],
      rows: [
        ['b', 1],
        ['a', 2],
      ],
      units: [['x'], ['y', 'z']],
    };
    const c = canonicalTable(t);
    assert.deepEqual(c.rows, [
      ['a', 2],
      ['b', 1],
    ]);
    assert.deepEqual(c.units, [['y', 'z'], ['x']]);
  });
});
