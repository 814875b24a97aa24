/**
 * Seeds the demo city into a migrated store, in one transaction: the demo organisations, the catalogue (datasets
 * with their classification = the highest of their fields'), one record table `ds_*` per dataset, then the units,
 * grains and records streamed from the generator in multi-row parameterised INSERT batches.
 */
import { DEMO_DATASETS, DEMO_ORGS } from '../catalogue/demo-catalogue.js';
import type { DatasetDef, FieldDef } from '../catalogue/catalogue.types.js';
import { highestClassification } from '../catalogue/classification.js';
import { ident, type Db, type Queryable } from '../store/db.port.js';
import { GRAIN_COLUMNS, UNIT_COLUMNS, generateDemoCity, type DemoCityBatch } from './demo-city.generator.js';

export interface SeedProgress {
  phase: string;
  done: number;
  total: number;
}

export interface SeedDemoCityOptions {
  rooms: number;
  seed: string;
  onProgress?: (p: SeedProgress) => void;
}

export interface SeedDemoCityStats {
  rooms: number;
  boxes: number;
  segments: number;
  /** Records inserted per dataset id. */
  records: Record<string, number>;
  ms: number;
}

/** PostgreSQL allows 65,535 parameters per statement; stay well below. */
const MAX_PARAMS = 60_000;
const MAX_ROWS_PER_INSERT = 2_000;

const SQL_TYPES: Record<FieldDef['type'], string> = {
  string: 'text',
  int: 'bigint',
  float: 'double precision',
  bool: 'boolean',
  date: 'date',
};

/** True once the demo catalogue is in the store (start-up seeds only when this is false). */
export async function isDemoSeeded(db: Queryable): Promise<boolean> {
  const rows = await db.query<{ seeded: boolean }>('select exists (select 1 from catalogue_datasets) as seeded');
  return rows[0]?.seeded === true;
}

/** `insert into t (cols) values ($1, ...), (...)` for `rows` rows. */
function insertSql(table: string, columns: readonly string[], rows: number): string {
  const tuples: string[] = [];
  for (let r = 0; r < rows; r++) {
    const base = r * columns.length;
    tuples.push(`(${columns.map((_, c) => `$${base + c + 1}`).join(', ')})`);
  }
  return `insert into ${ident(table)} (${columns.map(ident).join(', ')}) values ${tuples.join(', ')}`;
}

const sqlCache = new Map<string, string>();

function cachedInsertSql(table: string, columns: readonly string[], rows: number): string {
  const key = `${table}(${columns.join(',')}):${rows}`;
  let sql = sqlCache.get(key);
  if (!sql) {
    sql = insertSql(table, columns, rows);
    if (sqlCache.size < 256) sqlCache.set(key, sql);
  }
  return sql;
}

/** Objects (GeoJSON) go in as JSON text; everything else as is. */
function param(v: unknown): unknown {
  return v !== null && typeof v === 'object' ? JSON.stringify(v) : (v ?? null);
}

/** Inserts rows in multi-row statements of at most MAX_PARAMS parameters. */
export async function insertRows<T extends object>(
  tx: Queryable,
  table: string,
  columns: readonly string[],
  rows: readonly T[],
): Promise<void> {
  const perStatement = Math.max(1, Math.min(MAX_ROWS_PER_INSERT, Math.floor(MAX_PARAMS / columns.length)));
  for (let start = 0; start < rows.length; start += perStatement) {
    const chunk = rows.slice(start, start + perStatement);
    const params: unknown[] = [];
    for (const row of chunk) for (const c of columns) params.push(param((row as Record<string, unknown>)[c]));
    await tx.query(cachedInsertSql(table, columns, chunk.length), params);
  }
}

async function insertOrgs(tx: Queryable): Promise<void> {
  const rows = DEMO_ORGS.map((o) => ({ id: o.id, name: o.name, name_zh: o.nameZh, kind: o.kind }));
  await insertRows(tx, 'orgs', ['id', 'name', 'name_zh', 'kind'], rows);
}

async function insertDataset(tx: Queryable, ds: DatasetDef): Promise<void> {
  const c = highestClassification(ds.fields);
  await insertRows(
    tx,
    'catalogue_datasets',
    [
      'id',
      'title',
      'title_zh',
      'description',
      'owner_org',
      'grain_kind',
      'table_name',
      'grade',
      'personal',
      'open_class',
    ],
    [
      {
        id: ds.id,
        title: ds.title,
        title_zh: ds.titleZh,
        description: ds.description,
        owner_org: ds.ownerOrg,
        grain_kind: ds.grainKind,
        table_name: ds.tableName,
        grade: c.grade,
        personal: c.personal,
        open_class: c.openClass,
      },
    ],
  );
  const fields = ds.fields.map((f, i) => ({
    dataset_id: ds.id,
    name: f.name,
    ordinal: i + 1,
    type: f.type,
    grade: f.grade,
    personal: f.personal,
    open_class: f.openClass,
    mask_kind: f.maskKind,
    unit: f.unit ?? null,
    description: f.description,
    categories: f.categories ? JSON.stringify(f.categories) : null,
  }));
  await insertRows(tx, 'catalogue_fields', Object.keys(fields[0] ?? {}), fields);
}

/** DDL of a dataset's record table: id, grain_id (references grains), then the fields; indexed on grain_id. */
export function recordTableDdl(ds: DatasetDef): string[] {
  const cols = ds.fields.map((f) => `${ident(f.name)} ${SQL_TYPES[f.type]}`);
  return [
    `create table ${ident(ds.tableName)} (id text primary key, grain_id text not null references grains(id), ${cols.join(', ')})`,
    `create index ${ident(`${ds.tableName}_grain_idx`)} on ${ident(ds.tableName)} (grain_id)`,
  ];
}

async function insertBatch(tx: Queryable, batch: DemoCityBatch, stats: SeedDemoCityStats): Promise<void> {
  await insertRows(tx, 'units', UNIT_COLUMNS, batch.units);
  await insertRows(tx, 'grains', GRAIN_COLUMNS, batch.grains);
  for (const g of batch.grains) {
    if (g.kind === 'box') stats.boxes++;
    else if (g.kind === 'segment') stats.segments++;
  }
  for (const ds of DEMO_DATASETS) {
    const rows = batch.records[ds.id] ?? [];
    await insertRows(tx, ds.tableName, ['id', 'grain_id', ...ds.fields.map((f) => f.name)], rows);
    stats.records[ds.id] = (stats.records[ds.id] ?? 0) + rows.length;
  }
  stats.rooms = batch.roomsDone;
}

/** Seeds the demo city (throws if the store already has the demo catalogue). Same seed and size, same city. */
export async function seedDemoCity(db: Db, opts: SeedDemoCityOptions): Promise<SeedDemoCityStats> {
  const started = performance.now();
  const progress = opts.onProgress ?? (() => {});
  if (await isDemoSeeded(db)) throw new Error('the demo city is already seeded in this store');
  const stats: SeedDemoCityStats = { rooms: 0, boxes: 0, segments: 0, records: {}, ms: 0 };
  for (const ds of DEMO_DATASETS) stats.records[ds.id] = 0;
  await db.transaction(async (tx) => {
    await insertOrgs(tx);
    for (const ds of DEMO_DATASETS) {
      await insertDataset(tx, ds);
      for (const stmt of recordTableDdl(ds)) await tx.query(stmt);
    }
    progress({ phase: 'catalogue', done: DEMO_DATASETS.length, total: DEMO_DATASETS.length });
    progress({ phase: 'rooms', done: 0, total: opts.rooms });
    for (const batch of generateDemoCity({ rooms: opts.rooms, seed: opts.seed })) {
      await insertBatch(tx, batch, stats);
      progress({ phase: 'rooms', done: batch.roomsDone, total: opts.rooms });
    }
  });
  // Fresh planner statistics: without them the query planner misjudges the hierarchy filters badly.
  await db.exec('analyze');
  stats.ms = Math.round(performance.now() - started);
  return stats;
}
