import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ColumnarInput } from '../../query/query-engine.js';
import type { JobDpMeasure } from '../job.types.js';
import type { SandboxTable } from '../output-check.js';
import type { DpDatasetSettings } from './dp-settings.js';
import { checkDpOutput, jobDpQueryKey, validateDpMeasures } from './job-dp.js';

const SETTINGS: DpDatasetSettings = {
  datasetId: 'ds',
  mechanism: 'laplace',
  epsilonMicroPerQuery: 100_000,
  budgetMicroPerOrg: 1_000_000,
  sumBounds: { residents: { lower: 0, upper: 12 } },
  version: '1',
};
const COUNT: JobDpMeasure = { column: 'count', kind: 'count', field: null };
const SUM: JobDpMeasure = { column: 'people', kind: 'sum', field: 'residents' };

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

const table = (rows: (string | number | null)[][], extra: Partial<SandboxTable> = {}): SandboxTable => ({
  name: 't',
  columns: ['community_id', 'count', 'people'],
  rows,
  ...extra,
});

describe('validateDpMeasures', () => {
  it('sorts the declaration and checks kinds, fields and bounds', () => {
    assert.deepEqual(validateDpMeasures(SETTINGS, ['residents'], [SUM, COUNT]), [COUNT, SUM]);
    assert.throws(() => validateDpMeasures(SETTINGS, ['residents'], []), /declare the measure columns/);
    assert.throws(() => validateDpMeasures(SETTINGS, ['residents'], [COUNT, COUNT]), /twice/);
    assert.throws(() => validateDpMeasures(SETTINGS, ['residents'], [{ ...COUNT, field: 'residents' }]), /no field/);
    assert.throws(
      () => validateDpMeasures(SETTINGS, ['tenure'], [{ column: 's', kind: 'sum', field: 'tenure' }]),
      /allows: residents/,
    );
    assert.throws(() => validateDpMeasures(SETTINGS, ['other'], [SUM]), /one of the job's fields/);
    assert.throws(() => validateDpMeasures(SETTINGS, ['residents'], [{ ...COUNT, column: 'community_id' }]), /key/);
  });
});

describe('checkDpOutput', () => {
  it('computes each cell from the records behind its row, whatever numbers the code returned', () => {
    const v = checkDpOutput(
      [
        table([
          ['community:a', 999, 999],
          ['community:b', -1, 0],
          ['Total', 0, 0],
        ]),
      ],
      INPUT,
      [COUNT, SUM],
      SETTINGS,
    );
    assert.ok(v.ok);
    // Sums are clamped to [0, 12]: 2 + 12 + 3 and 0 (missing) + 5. Margins are not cells of their own.
    assert.deepEqual(
      v.cells.map((c) => [c.key, c.value]),
      [
        ['0:0:1', 3],
        ['0:0:2', 17],
        ['0:1:1', 2],
        ['0:1:2', 5],
      ],
    );
    // Two measure columns: each noised at ε/2, i.e. sensitivity 2·Δ at ε (counts Δ 1, sums Δ 12).
    assert.deepEqual(v.sensitivities, [2, 24, 2, 24]);
    // The margin is the sum of the (noisy) interior cells.
    const noisy = v.cells.map((c) => ({ ...c, value: c.value + 1 }));
    assert.deepEqual(v.build(noisy)[0]!.rows, [
      ['community:a', 4, 18],
      ['community:b', 3, 6],
      ['Total', 7, 24],
    ]);
  });

  it('sensitivity grows with every measure column of every table (composition)', () => {
    const second: SandboxTable = { name: 'u', columns: ['building_id', 'count'], rows: [['building:1', 0]] };
    const v = checkDpOutput([table([['community:a', 0, 0]]), second], INPUT, [COUNT, SUM], SETTINGS);
    assert.ok(v.ok);
    assert.deepEqual(v.sensitivities, [3, 36, 3]);
    assert.equal(v.cells[2]!.value, 2, 'building:1 holds two records');
  });

  it('refuses undeclared columns, reported units, non-unit keys, duplicate rows and text measures', () => {
    const rule = (tables: SandboxTable[]) => {
      const v = checkDpOutput(tables, INPUT, [COUNT, SUM], SETTINGS);
      return v.ok ? 'ok' : v.refusal.rule;
    };
    assert.equal(
      rule([{ name: 't', columns: ['community_id', 'count', 'mean'], rows: [['community:a', 1, 2]] }]),
      'dp-undeclared',
    );
    assert.equal(rule([{ name: 't', columns: ['tenure', 'count'], rows: [['rented', 1]] }]), 'dp-undeclared');
    assert.equal(rule([table([['community:a', 1, 1]], { units: [['r1']] })]), 'dp-units');
    assert.equal(rule([table([['Alice Wang', 1, 1]])]), 'dp-keys');
    assert.equal(
      rule([
        table([
          ['community:a', 1, 1],
          ['community:a', 1, 1],
        ]),
      ]),
      'invalid-table',
    );
    assert.equal(rule([table([['community:a', 'many', 1]])]), 'invalid-table');
    assert.equal(rule([]), 'invalid-table');
    assert.equal(rule([table([['community:a', 1, null]])]), 'ok');
  });

  it('the query key holds for the same job and changes with code, measures, extent or shape', () => {
    const v = checkDpOutput([table([['community:a', 0, 0]])], INPUT, [COUNT, SUM], SETTINGS);
    assert.ok(v.ok);
    const base = {
      datasetId: 'ds',
      datasetVersion: '1',
      codeHash: 'c'.repeat(64),
      fields: ['residents', 'tenure'],
      measures: [COUNT, SUM],
      extent: ['district:1'],
      shape: v.shape,
    };
    const k = jobDpQueryKey(base);
    assert.equal(jobDpQueryKey({ ...base, fields: ['tenure', 'residents'], extent: ['district:1', 'district:1'] }), k);
    for (const change of [
      { codeHash: 'd'.repeat(64) },
      { measures: [COUNT] },
      { extent: null },
      { datasetVersion: '2' },
      { shape: [] },
    ]) {
      assert.notEqual(jobDpQueryKey({ ...base, ...change }), k);
    }
  });
});
