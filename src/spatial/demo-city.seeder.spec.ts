import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEMO_DATASETS, DEMO_ORGS } from '../catalogue/demo-catalogue.js';
import {
  GRADES,
  OPEN_CLASSES,
  PERSONAL_LEVELS,
  highestClassification,
  type Classification,
} from '../catalogue/classification.js';
import { migrate } from '../store/migrate.js';
import { PgliteDb } from '../store/pglite.adapter.js';
import { isDemoSeeded, seedDemoCity, type SeedDemoCityStats } from './demo-city.seeder.js';

const ROOMS = 2_000;

describe('seedDemoCity on in-memory PGlite', () => {
  let db: PgliteDb;
  let stats: SeedDemoCityStats;
  let wasSeeded: boolean;
  const phases = new Map<string, { done: number; total: number }>();

  before(async () => {
    db = await PgliteDb.open(null);
    await migrate(db);
    wasSeeded = await isDemoSeeded(db);
    stats = await seedDemoCity(db, {
      rooms: ROOMS,
      seed: 'seeder-spec',
      onProgress: (p) => phases.set(p.phase, { done: p.done, total: p.total }),
    });
  });

  after(async () => {
    await db.close();
  });

  const count = async (sql: string, params: unknown[] = []) => (await db.query<{ n: number }>(sql, params))[0]!.n;

  it('reports seeded only afterwards, and refuses to seed twice', async () => {
    assert.equal(wasSeeded, false);
    assert.equal(await isDemoSeeded(db), true);
    await assert.rejects(seedDemoCity(db, { rooms: 10, seed: 'again' }), /already seeded/);
    assert.equal(
      await count(`select count(*)::int as n from grains where kind = 'room'`),
      ROOMS,
      'the failed re-seed left nothing',
    );
  });

  it('stores exactly the requested rooms and the counts it reports', async () => {
    assert.equal(stats.rooms, ROOMS);
    assert.equal(await count(`select count(*)::int as n from grains where kind = 'room'`), ROOMS);
    assert.equal(await count(`select count(*)::int as n from grains where kind = 'box'`), stats.boxes);
    assert.equal(await count(`select count(*)::int as n from grains where kind = 'segment'`), stats.segments);
    assert.ok(stats.boxes > 0 && stats.segments > 0);
    for (const ds of DEMO_DATASETS) {
      const n = await count(`select count(*)::int as n from ${ds.tableName}`);
      assert.equal(n, stats.records[ds.id], ds.id);
      assert.ok(n > 0, `${ds.id} has records`);
    }
    assert.deepEqual(phases.get('rooms'), { done: ROOMS, total: ROOMS });
    assert.ok(stats.ms > 0);
  });

  it('stores the real hierarchy with GeoJSON geometry', async () => {
    const levels = await db.query<{ level: string; n: number }>(
      `select level, count(*)::int as n from units group by level`,
    );
    const byLevel = Object.fromEntries(levels.map((l) => [l.level, l.n]));
    assert.equal(byLevel.city, 1);
    assert.equal(byLevel.district, 16);
    assert.equal(byLevel.subdistrict, 234);
    assert.equal(byLevel.community, 6509);
    const [bund] = await db.query<{ name_zh: string; parent_id: string }>(
      `select name_zh, parent_id from units where name_zh = '外滩街道'`,
    );
    assert.equal(bund?.parent_id, 'district:310101');
    assert.equal(await count(`select count(*)::int as n from grains where jsonb_typeof(geom) <> 'object'`), 0);
    assert.equal(
      await count(
        `select count(*)::int as n from grains g left join units c on c.id = g.community_id where c.id is null`,
      ),
      0,
    );
  });

  it('inserts the demo organisations', async () => {
    assert.equal(await count(`select count(*)::int as n from orgs`), DEMO_ORGS.length);
  });

  it('classifies each dataset as the highest of its fields, and the catalogue covers every class', async () => {
    const datasets = await db.query<{
      id: string;
      grade: string;
      personal: string;
      open_class: string;
      table_name: string;
    }>(`select id, grade, personal, open_class, table_name from catalogue_datasets order by id`);
    assert.equal(datasets.length, DEMO_DATASETS.length);
    const fields = await db.query<{
      dataset_id: string;
      name: string;
      ordinal: number;
      grade: string;
      personal: string;
      open_class: string;
    }>(
      `select dataset_id, name, ordinal, grade, personal, open_class from catalogue_fields order by dataset_id, ordinal`,
    );
    for (const d of datasets) {
      const own = fields.filter((f) => f.dataset_id === d.id);
      const def = DEMO_DATASETS.find((x) => x.id === d.id)!;
      assert.deepEqual(
        own.map((f) => f.name),
        def.fields.map((f) => f.name),
      );
      const expected = highestClassification(
        own.map((f) => ({ grade: f.grade, personal: f.personal, openClass: f.open_class }) as Classification),
      );
      assert.deepEqual({ grade: d.grade, personal: d.personal, openClass: d.open_class }, expected, d.id);
    }
    const covered = (col: 'grade' | 'personal' | 'open_class') => new Set([...datasets, ...fields].map((r) => r[col]));
    assert.deepEqual(covered('grade'), new Set(GRADES));
    assert.deepEqual(covered('personal'), new Set(PERSONAL_LEVELS));
    assert.deepEqual(covered('open_class'), new Set(OPEN_CLASSES));
    assert.deepEqual(new Set(datasets.map((d) => d.grade)), new Set(GRADES), 'datasets of every grade');
    assert.deepEqual(
      new Set(datasets.map((d) => d.personal)),
      new Set(PERSONAL_LEVELS),
      'datasets of every personal level',
    );
    assert.deepEqual(new Set(datasets.map((d) => d.open_class)), new Set(OPEN_CLASSES), 'datasets of every open class');
  });

  it('creates typed record tables keyed to grains of the right kind', async () => {
    const cols = await db.query<{ column_name: string; data_type: string }>(
      `select column_name, data_type from information_schema.columns where table_name = 'ds_building_energy' order by ordinal_position`,
    );
    assert.deepEqual(
      cols.map((c) => `${c.column_name}:${c.data_type}`),
      [
        'id:text',
        'grain_id:text',
        'month:text',
        'electricity_kwh:double precision',
        'gas_m3:double precision',
        'meter_id:text',
      ],
    );
    const [dateCol] = await db.query<{ data_type: string }>(
      `select data_type from information_schema.columns where table_name = 'ds_residents_per_room' and column_name = 'registered_since'`,
    );
    assert.equal(dateCol?.data_type, 'date');
    const [intCol] = await db.query<{ data_type: string }>(
      `select data_type from information_schema.columns where table_name = 'ds_road_condition' and column_name = 'pci'`,
    );
    assert.equal(intCol?.data_type, 'bigint');
    for (const ds of DEMO_DATASETS) {
      const wrong = await count(
        `select count(*)::int as n from ${ds.tableName} r join grains g on g.id = r.grain_id where g.kind <> $1`,
        [ds.grainKind],
      );
      assert.equal(wrong, 0, ds.id);
    }
    const idx = await db.query(
      `select 1 from pg_indexes where tablename = 'ds_building_energy' and indexdef like '%(grain_id)%'`,
    );
    assert.equal(idx.length, 1);
  });
});
