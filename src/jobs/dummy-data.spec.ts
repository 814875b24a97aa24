import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Dataset } from '../catalogue/catalogue.service.js';
import { DEMO_DATASETS } from '../catalogue/demo-catalogue.js';
import type { Db } from '../store/db.port.js';
import { dummyColumns, profileOf } from './dummy-data.js';

const elderly = DEMO_DATASETS.find((d) => d.id === 'elderly-living-alone')!;
const dataset: Dataset = {
  ...elderly,
  grade: 'important',
  personal: 'sensitive',
  openClass: 'closed',
  updatedAt: new Date(0),
};

/** Test helper: a Db that answers only the grain sample and records every statement it is given. */
function grainsOnly(): { db: Db; statements: string[] } {
  const statements: string[] = [];
  const grains = Array.from({ length: 50 }, (_, i) => ({
    district_id: `district:${i % 3}`,
    subdistrict_id: `subdistrict:${i % 7}`,
    community_id: `community:${i}`,
    building_id: `building:${i}`,
  }));
  const db = {
    kind: 'pglite',
    async query(sql: string) {
      statements.push(sql);
      return sql.includes('from grains') ? grains : [];
    },
    async exec() {},
    async transaction() {
      throw new Error('not used');
    },
    async close() {},
  } as unknown as Db;
  return { db, statements };
}

const rank = (xs: number[]) => {
  const order = xs.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0]);
  const r = new Array<number>(xs.length);
  order.forEach(([, i], k) => (r[i] = k));
  return r;
};
function spearman(a: number[], b: number[]): number {
  const ra = rank(a);
  const rb = rank(b);
  const n = a.length;
  const mean = (n - 1) / 2;
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < n; i++) {
    num += (ra[i]! - mean) * (rb[i]! - mean);
    da += (ra[i]! - mean) ** 2;
    db += (rb[i]! - mean) ** 2;
  }
  return num / Math.sqrt(da * db);
}

describe('dummy data', () => {
  it('reads value lists and ranges from the catalogue descriptions', () => {
    const f = (n: string) => profileOf(elderly.fields.find((x) => x.name === n)!);
    assert.deepEqual(f('age_band'), { kind: 'ordinal', values: ['65-74', '75-84', '85+'] });
    assert.deepEqual(f('care_level'), { kind: 'ordinal', values: ['0', '1', '2', '3', '4', '5', '6'] });
    assert.deepEqual(f('elder_count'), { kind: 'int', min: 1, max: 3 });
    assert.deepEqual(f('last_visit'), { kind: 'date', days: 365 });
  });

  it('has the schema and ranges, plausible correlations, and is the same for the same seed', async () => {
    const { db } = grainsOnly();
    const fields = ['age_band', 'care_level', 'elder_count', 'last_visit'];
    const a = await dummyColumns(db, dataset, fields, 2000, 'job-1', new Date('2026-01-01'));
    const b = await dummyColumns(db, dataset, fields, 2000, 'job-1', new Date('2026-01-01'));
    const c = await dummyColumns(db, dataset, fields, 2000, 'job-2', new Date('2026-01-01'));
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.fields.care_level, c.fields.care_level);
    assert.equal(a.rowCount, 2000);
    assert.ok(a.fields.age_band!.every((v) => ['65-74', '75-84', '85+'].includes(v as string)));
    assert.ok(a.fields.care_level!.every((v) => /^[0-6]$/.test(v as string)));
    assert.ok(a.fields.last_visit!.every((v) => /^2025-|^2026-01-01$/.test(v as string)));
    assert.ok(a.hierarchy.community_id.every((v) => v?.startsWith('community:')));
    const band = a.fields.age_band!.map((v) => ['65-74', '75-84', '85+'].indexOf(v as string));
    const care = a.fields.care_level!.map(Number);
    assert.ok(spearman(band, care) > 0.2, 'older bands come with higher care levels');
  });

  it('never reads the dataset’s records', async () => {
    const { db, statements } = grainsOnly();
    await dummyColumns(db, dataset, ['care_level'], 100, 'job-3');
    assert.ok(statements.length > 0);
    for (const s of statements) assert.ok(!s.includes(dataset.tableName), s);
  });
});
