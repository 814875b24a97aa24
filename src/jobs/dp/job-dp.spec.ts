import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ColumnarInput } from '../../query/query-engine.js';
import { buildDeclaredTables, type DeclaredTable, type Domains } from '../job-outputs.js';
import type { SandboxTable } from '../output-check.js';
import type { DpDatasetSettings } from './dp-settings.js';
import { dpRelease, jobDpQueryKey } from './job-dp.js';

const SETTINGS: DpDatasetSettings = {
  datasetId: 'ds',
  mechanism: 'laplace',
  epsilonMicroPerQuery: 100_000,
  budgetMicroPerOrg: 1_000_000,
  sumBounds: { residents: { lower: 0, upper: 12 } },
  version: '1',
};

/** Five records in two communities of one subdistrict; one resident count over the bound, one missing. */
const INPUT: ColumnarInput = {
  rowCount: 5,
  recordIds: ['r1', 'r2', 'r3', 'r4', 'r5'],
  hierarchy: {
    district_id: Array(5).fill('district:1') as string[],
    subdistrict_id: Array(5).fill('subdistrict:1') as string[],
    community_id: ['community:a', 'community:a', 'community:a', 'community:b', 'community:b'],
    building_id: ['building:1', 'building:1', 'building:2', 'building:3', 'building:3'],
  },
  fields: { residents: [2, 40, 3, null, 5] },
};

const BY_COMMUNITY: DeclaredTable = {
  name: 't',
  keys: [{ column: 'community_id', domain: { kind: 'unit', level: 'community', within: null } }],
  sums: [{ column: 'people', field: 'residents' }],
  margins: true,
};
const BY_BUILDING: DeclaredTable = {
  name: 'u',
  keys: [{ column: 'building_id', domain: { kind: 'unit', level: 'building', within: null } }],
  sums: [],
  margins: false,
};
/** community:c has no record: its cells are noised like any other. */
const COMMUNITIES: Domains = [[['community:a', 'community:b', 'community:c']]];
const assign = (name: string, column: string, values: (string | null)[]): SandboxTable => ({
  name,
  columns: [column],
  rows: values.map((v) => [v]),
});

function built(declared: DeclaredTable[], domains: Domains, tables: SandboxTable[]) {
  const b = buildDeclaredTables(declared, domains, tables, INPUT, true);
  if (!b.ok) throw new Error(`${b.rule}: ${b.reason}`);
  return b.tables;
}

describe('dpRelease (a DP release of the gateway’s own tables)', () => {
  it('computes each cell from the records behind its row; empty combinations are cells; margins sum the noise', () => {
    const tables = built([BY_COMMUNITY], COMMUNITIES, [assign('t', 'community_id', INPUT.hierarchy.community_id)]);
    const v = dpRelease(tables, INPUT, SETTINGS);
    assert.ok(v.ok);
    // Rows: community:a, community:b, community:c, Total. Sums clamped to [0, 12]: 2 + 12 + 3, and 0 (missing) + 5.
    assert.deepEqual(
      v.cells.map((c) => [c.key, c.value]),
      [
        ['0:0:1', 3],
        ['0:0:2', 17],
        ['0:1:1', 2],
        ['0:1:2', 5],
        ['0:2:1', 0],
        ['0:2:2', 0],
      ],
    );
    // Two measure columns: each noised at ε/2, i.e. sensitivity 2·Δ at ε (counts Δ 1, sums Δ 12).
    assert.deepEqual(v.sensitivities, [2, 24, 2, 24, 2, 24]);
    const noisy = v.cells.map((c) => ({ ...c, value: c.value + 1 }));
    assert.deepEqual(v.build(noisy)[0]!.rows, [
      ['community:a', 4, 18],
      ['community:b', 3, 6],
      ['community:c', 1, 1],
      ['Total', 8, 25],
    ]);
  });

  it('sensitivity grows with every measure column of every table (composition)', () => {
    const tables = built(
      [BY_COMMUNITY, BY_BUILDING],
      [...COMMUNITIES, [['building:1', 'building:2', 'building:3']]],
      [
        assign('t', 'community_id', INPUT.hierarchy.community_id),
        assign('u', 'building_id', INPUT.hierarchy.building_id),
      ],
    );
    const v = dpRelease(tables, INPUT, SETTINGS);
    assert.ok(v.ok);
    assert.deepEqual(v.sensitivities.slice(0, 2), [3, 36]);
    assert.deepEqual(
      v.cells.filter((c) => c.key.startsWith('1:')).map((c) => c.value),
      [2, 1, 2],
    );
  });

  it('the code cannot move a record: a placement other than its own unit is refused (dp-keys)', () => {
    const moved = ['community:a', 'community:a', 'community:a', 'community:a', 'community:b'];
    const left = ['community:a', 'community:a', 'community:a', null, 'community:b'];
    for (const values of [moved, left]) {
      const b = buildDeclaredTables([BY_COMMUNITY], COMMUNITIES, [assign('t', 'community_id', values)], INPUT, true);
      assert.equal(b.ok ? 'ok' : b.rule, 'dp-keys');
    }
  });

  it('the query key holds for the same job and changes with code, declaration, domains or extent', () => {
    const base = {
      datasetId: 'ds',
      datasetVersion: '1',
      codeHash: 'c'.repeat(64),
      fields: ['residents', 'tenure'],
      declared: [BY_COMMUNITY],
      domains: COMMUNITIES,
      extent: ['district:1'],
    };
    const k = jobDpQueryKey(base);
    assert.equal(jobDpQueryKey({ ...base, fields: ['tenure', 'residents'], extent: ['district:1', 'district:1'] }), k);
    for (const change of [
      { codeHash: 'd'.repeat(64) },
      { declared: [BY_BUILDING] },
      { domains: [[['community:a']]] },
      { extent: null },
      { datasetVersion: '2' },
    ]) {
      assert.notEqual(jobDpQueryKey({ ...base, ...change }), k);
    }
  });
});
