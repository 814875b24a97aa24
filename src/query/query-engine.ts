import { cellToBoundary } from 'h3-js';
import { isIssuedPlan, type AccessPlan } from '../access/access.service.js';
import type { FieldFilter, GroupBy, Measure } from '../access/access-request.js';
import type { FieldDef } from '../catalogue/catalogue.types.js';
import { badInput, deadlineExceeded, DomainError, limitExceeded } from '../errors/domain.error.js';
import { ident, type Db, type Queryable } from '../store/db.port.js';
import type { Masker, Scalar } from './masking.js';
import type { AggregateCell, AggregateResult, OutRecord, RecordsResult, UnsuppressedCell } from './query.types.js';
import { suppressSmallCells } from './suppression.js';

const UNIT_COLUMN: Record<string, string> = {
  district: 'district_id',
  subdistrict: 'subdistrict_id',
  community: 'community_id',
  building: 'building_id',
};
const LEVEL_ORDER = ['district', 'subdistrict', 'community', 'building'];

/** Maximum cells an aggregate may return (zero cells included). */
export const MAX_AGGREGATE_CELLS = 10_000;

/** Accumulates WHERE clauses and their positional parameters. */
export class Sql {
  readonly where: string[] = [];
  readonly params: unknown[] = [];
  p(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }
}

/**
 * Executes plans issued by the access service: parameterised SQL with the plan's row filter, then the
 * plan's obligations (masks, geometry generalisation, small-cell suppression). It accepts nothing else.
 */
export class QueryEngine {
  constructor(
    private readonly db: Db,
    private readonly masker: Masker,
  ) {}

  async records(plan: AccessPlan, deadline: number): Promise<RecordsResult> {
    assertPlan(plan);
    const r = plan.request;
    const sql = new Sql();
    const order = [...r.sort.map((s) => `r.${ident(s.field)} ${s.descending ? 'desc' : 'asc'} nulls last`), 'r.id asc'];
    const text = this.selectRecords(plan, sql, order, `limit ${sql.p(r.first + 1)} offset ${sql.p(r.offset)}`);
    checkDeadline(deadline);
    const rows = await this.db.query<Record<string, unknown>>(text, sql.params);
    checkDeadline(deadline);
    const hasMore = rows.length > r.first;
    const items = rows.slice(0, r.first).map((row) => this.toRecord(plan, row));
    return { items, nextOffset: hasMore ? r.offset + r.first : null, geometry: plan.decision.geometry.effect };
  }

  /** How many records the plan covers (its row filter and scope applied): for downloads, before streaming. */
  async count(plan: AccessPlan): Promise<number> {
    assertPlan(plan);
    const sql = new Sql();
    this.scope(plan, sql, true);
    const rows = await this.db.query<{ n: number }>(
      `select count(*)::int8 as n from ${ident(plan.dataset.tableName)} r join grains g on g.id = r.grain_id
       ${sql.where.length ? 'where ' + sql.where.join(' and ') : ''}`,
      sql.params,
    );
    return Number(rows[0]?.n ?? 0);
  }

  /**
   * Every record of the plan, in record-id order, one batch at a time (keyset pagination): the caller pulls
   * the next batch only when it has written the last, so memory stays constant whatever the dataset's size.
   * The plan's sort and paging are ignored.
   */
  async *recordBatches(plan: AccessPlan, batchSize: number): AsyncGenerator<OutRecord[]> {
    assertPlan(plan);
    let after: string | null = null;
    for (;;) {
      const sql = new Sql();
      const text = this.selectRecords(plan, sql, ['r.id asc'], `limit ${sql.p(batchSize)}`, after);
      const rows = await this.db.query<Record<string, unknown>>(text, sql.params);
      if (rows.length === 0) return;
      after = String(rows[rows.length - 1]?.id);
      yield rows.map((row) => this.toRecord(plan, row));
      if (rows.length < batchSize) return;
    }
  }

  /** The one SELECT of records: the plan's fields and scope, then the given order and tail (limit, offset). */
  private selectRecords(
    plan: AccessPlan,
    sql: Sql,
    order: string[],
    tail: string,
    afterId: string | null = null,
  ): string {
    const { dataset, request: r } = plan;
    this.scope(plan, sql, true);
    if (afterId !== null) sql.where.push(`r.id > ${sql.p(afterId)}`);
    const cols = r.fields.map((f) => {
      const def = dataset.fields.find((d) => d.name === f);
      return def?.type === 'date' ? `to_char(r.${ident(f)}, 'YYYY-MM-DD') as ${ident(f)}` : `r.${ident(f)}`;
    });
    return `select r.id, r.grain_id, g.geom, g.h3_r7, g.h3_r8, g.h3_r9${cols.length ? ', ' + cols.join(', ') : ''}
      from ${ident(dataset.tableName)} r join grains g on g.id = r.grain_id
      ${sql.where.length ? 'where ' + sql.where.join(' and ') : ''}
      order by ${order.join(', ')} ${tail}`;
  }

  /** One row with the plan's obligations applied: masks, geometry generalisation or withholding, pseudonyms. */
  private toRecord(plan: AccessPlan, row: Record<string, unknown>): OutRecord {
    const { dataset, request: r, decision } = plan;
    const geometry = decision.geometry.effect;
    const values = r.fields.map((name) => {
      const fd = dataset.fields.find((d) => d.name === name) as FieldDef;
      const d = decision.fields[fd.name];
      const raw = toScalar(row[fd.name]);
      if (d?.effect === 'mask' && d.mask) {
        return { field: fd.name, value: this.masker.apply(d.mask, fd.type, dataset.id, raw), masked: d.mask };
      }
      if (d?.effect === 'allow' || d?.effect === 'generalise') return { field: fd.name, value: raw, masked: null };
      // The access service refuses raw requests for any other effect; withhold rather than trust that.
      return { field: fd.name, value: null, masked: 'redact' as const };
    });
    const id = String(row.id);
    const grainId = String(row.grain_id);
    if (geometry === 'allow') {
      return { id, grainId, geometry: row.geom as Record<string, unknown>, cell: null, values };
    }
    const pseudoId = this.masker.pseudonym(dataset.id, id);
    if (geometry === 'generalise') {
      const cell = String(row[cellColumn(decision.geometry.h3Resolution)]);
      return { id: pseudoId, grainId: null, geometry: cellPolygon(cell), cell, values };
    }
    return { id: pseudoId, grainId: null, geometry: null, cell: null, values };
  }

  /**
   * A sandbox job's input: the plan's fields as columns (one value per record), with each record's id and its
   * place in the hierarchy, under the same row filter (grant extent) and obligations as `records`. Refuses more
   * than `maxRows` records.
   */
  async columns(plan: AccessPlan, deadline: number, maxRows: number): Promise<ColumnarInput> {
    assertPlan(plan);
    const { dataset, request: r, decision } = plan;
    const sql = new Sql();
    this.scope(plan, sql);
    const fieldDefs = r.fields.map((f) => dataset.fields.find((d) => d.name === f) as FieldDef);
    const cols = fieldDefs.map((def) =>
      def.type === 'date'
        ? `to_char(r.${ident(def.name)}, 'YYYY-MM-DD') as ${ident(def.name)}`
        : `r.${ident(def.name)}`,
    );
    const text = `select r.id, g.district_id, g.subdistrict_id, g.community_id, g.building_id${cols.length ? ', ' + cols.join(', ') : ''}
      from ${ident(dataset.tableName)} r join grains g on g.id = r.grain_id
      ${sql.where.length ? 'where ' + sql.where.join(' and ') : ''}
      order by r.id limit ${sql.p(maxRows + 1)}`;
    checkDeadline(deadline);
    const rows = await this.db.query<Record<string, unknown>>(text, sql.params);
    checkDeadline(deadline);
    if (rows.length > maxRows) throw limitExceeded(`A job may read at most ${maxRows} records; narrow it.`);
    const out: ColumnarInput = {
      rowCount: rows.length,
      recordIds: rows.map((row) => String(row.id)),
      hierarchy: {
        district_id: rows.map((row) => nullableText(row.district_id)),
        subdistrict_id: rows.map((row) => nullableText(row.subdistrict_id)),
        community_id: rows.map((row) => nullableText(row.community_id)),
        building_id: rows.map((row) => nullableText(row.building_id)),
      },
      fields: {},
    };
    for (const fd of fieldDefs) {
      const d = decision.fields[fd.name];
      out.fields[fd.name] = rows.map((row) => {
        const raw = toScalar(row[fd.name]);
        if (d?.effect === 'mask' && d.mask) return this.masker.apply(d.mask, fd.type, dataset.id, raw);
        if (d?.effect === 'allow' || d?.effect === 'generalise') return raw;
        return null; // withheld: the access service refuses sandbox requests for any other effect
      });
    }
    return out;
  }

  async aggregate(plan: AccessPlan, deadline: number): Promise<AggregateResult> {
    assertPlan(plan);
    const { request: r, decision } = plan;
    const groupBy = r.groupBy!;
    const { byKey, labels, totalSql } = await this.groupedCells(plan, deadline, this.db);
    const totals = await this.db.query<Record<string, unknown>>(totalSql.text, totalSql.params);
    checkDeadline(deadline);
    const keys = [...byKey.keys()].sort();
    const cellsIn = keys.map((k) => ({ key: k, n: Number(byKey.get(k)?.n ?? 0) }));
    const totalRow = totals[0] ?? { n: 0 };
    const sup = suppressSmallCells(cellsIn, Number(totalRow.n), decision.minCell);
    const labelOf = (k: string) => labels.get(k) ?? null;
    const cell = (k: string, row: Record<string, unknown> | undefined, hidden: boolean): AggregateCell => ({
      key: k,
      label: labelOf(k),
      count: hidden ? null : Number(row?.n ?? 0),
      values: r.measures.map((m, i) => ({
        measure: measureName(m),
        value: hidden || row?.[`m${i}`] === undefined || row[`m${i}`] === null ? null : Number(row[`m${i}`]),
      })),
      suppressed: hidden,
    });
    return {
      groupBy: groupByName(groupBy),
      minCell: decision.minCell,
      cells: keys.map((k) => cell(k, byKey.get(k), sup.suppressed.has(k))),
      total: cell('total', totalRow, sup.totalSuppressed),
      primarySuppressed: sup.primary,
      secondarySuppressed: sup.secondary,
    };
  }

  /**
   * The true cells of an aggregate, zeros included, with no small-cell suppression. Only for callers that
   * protect the values otherwise before anything leaves (differential privacy, src/jobs/dp/): never return
   * them as they are. `via` lets the caller read inside its own transaction.
   */
  async unsuppressedCells(plan: AccessPlan, deadline: number, via: Queryable): Promise<UnsuppressedCell[]> {
    assertPlan(plan);
    const { byKey, labels } = await this.groupedCells(plan, deadline, via);
    return [...byKey.keys()].sort().map((k) => {
      const row = byKey.get(k);
      return {
        key: k,
        label: labels.get(k) ?? null,
        count: Number(row?.n ?? 0),
        values: plan.request.measures.map((_, i) => {
          const v = row?.[`m${i}`];
          return v === undefined || v === null ? null : Number(v);
        }),
      };
    });
  }

  /**
   * The records behind each cell of an aggregate (and behind its total, key `total`), for the differencing audit
   * (src/jobs/disclosure/differencing-auditor.ts): the record ids, never values.
   */
  async cellUnits(plan: AccessPlan, deadline: number): Promise<Map<string, string[]>> {
    assertPlan(plan);
    const { dataset, request: r } = plan;
    const sql = new Sql();
    this.scope(plan, sql);
    const key = groupKey(r.groupBy!);
    const from = `from ${ident(dataset.tableName)} r join grains g on g.id = r.grain_id ${sql.where.length ? 'where ' + sql.where.join(' and ') : ''}`;
    checkDeadline(deadline);
    const rows = await this.db.query<{ k: unknown; ids: string[] }>(
      `select ${key} as k, array_agg(r.id::text order by r.id) as ids ${from} group by k`,
      sql.params,
    );
    checkDeadline(deadline);
    const out = new Map<string, string[]>(rows.map((row) => [String(row.k), row.ids]));
    out.set(
      'total',
      rows.flatMap((row) => row.ids),
    );
    return out;
  }

  /** Grouped rows by cell key (every unit of a level in scope listed, zeros included), and the totals query. */
  private async groupedCells(plan: AccessPlan, deadline: number, via: Queryable) {
    const { dataset, request: r } = plan;
    const groupBy = r.groupBy;
    if (!groupBy) throw badInput('An aggregate needs a groupBy.');
    const sql = new Sql();
    this.scope(plan, sql);
    const key = groupKey(groupBy);
    const measures = r.measures.map((m, i) => `${aggSql(m)} as m${i}`);
    const from = `from ${ident(dataset.tableName)} r join grains g on g.id = r.grain_id ${sql.where.length ? 'where ' + sql.where.join(' and ') : ''}`;
    const select = `count(*)::int as n${measures.length ? ', ' + measures.join(', ') : ''}`;
    checkDeadline(deadline);
    const grouped = await via.query<Record<string, unknown>>(
      `select ${key} as k, ${select} ${from} group by k order by k limit ${MAX_AGGREGATE_CELLS + 1}`,
      sql.params,
    );
    if (grouped.length > MAX_AGGREGATE_CELLS)
      throw limitExceeded(`An aggregate may return at most ${MAX_AGGREGATE_CELLS} cells; narrow it.`);
    const byKey = new Map<string, Record<string, unknown>>(grouped.map((g) => [String(g.k), g]));
    const labels = new Map<string, string>();
    if (groupBy.kind === 'level') {
      // Zeros count: list every unit of the level inside the scope, so empty cells appear (and are suppressed).
      for (const u of await this.unitsInScope(plan, groupBy.level, via)) {
        labels.set(u.id, u.name);
        if (!byKey.has(u.id)) byKey.set(u.id, { k: u.id, n: 0 });
      }
      if (byKey.size > MAX_AGGREGATE_CELLS)
        throw limitExceeded(`An aggregate may return at most ${MAX_AGGREGATE_CELLS} cells; narrow it.`);
    }
    checkDeadline(deadline);
    return { byKey, labels, totalSql: { text: `select ${select} ${from}`, params: sql.params } };
  }

  /**
   * The WHERE clauses every query of the plan carries: row filter (grant extent), within, bbox, filters.
   * `records`: the query returns records (records, their count, downloads), whose spatial filters are taken to
   * whole cells where the geometry is generalised; aggregates keep exact units (the official partitions).
   */
  private scope(plan: AccessPlan, sql: Sql, records = false): void {
    const { request: r, decision, dataset } = plan;
    if (decision.extent !== null) {
      const ids = sql.p(decision.extent);
      sql.where.push(
        `(g.district_id = any(${ids}::text[]) or g.subdistrict_id = any(${ids}::text[]) or g.community_id = any(${ids}::text[]) or g.building_id = any(${ids}::text[]))`,
      );
    }
    // Where the geometry is generalised (or withheld), a spatial filter is evaluated on the generalised
    // geometry: it selects whole cells (those holding a grain in the region), never part of one, so no filter
    // localises a record below the advertised resolution (issue 13: a tiny bbox, or `within` one building).
    const cell = !records || decision.geometry.effect === 'allow' ? null : cellColumn(decision.geometry.h3Resolution);
    const a = cell === null ? 'g' : 'g2';
    const spatial = (clauses: string[]) => {
      if (cell === null) sql.where.push(...clauses);
      else sql.where.push(`g.${cell} in (select g2.${cell} from grains g2 where ${clauses.join(' and ')})`);
    };
    if (r.within !== null) spatial([`${a}.${unitColumn(r.within)} = ${sql.p(r.within)}`]);
    if (r.bbox !== null) {
      const b = r.bbox;
      spatial([
        `${a}.lon between ${sql.p(b.minLon)} and ${sql.p(b.maxLon)} and ${a}.lat between ${sql.p(b.minLat)} and ${sql.p(b.maxLat)}`,
      ]);
    }
    if (r.polygon) spatial(polygonClauses(r.polygon, sql, a));
    for (const f of r.filters) {
      const def = dataset.fields.find((d) => d.name === f.field) as FieldDef;
      sql.where.push(filterSql(def, f, sql));
    }
  }

  private async unitsInScope(plan: AccessPlan, level: string, via: Queryable): Promise<{ id: string; name: string }[]> {
    const { request: r, decision } = plan;
    const sql = new Sql();
    sql.where.push(`u.level = ${sql.p(level)}`);
    if (r.within !== null) {
      const wl = r.within.split(':')[0] ?? '';
      if (LEVEL_ORDER.indexOf(wl) < LEVEL_ORDER.indexOf(level)) {
        sql.where.push(`(u.${UNIT_COLUMN[wl]} = ${sql.p(r.within)} or u.parent_id = ${sql.p(r.within)})`);
      } else {
        sql.where.push(
          `u.id in (select g.${UNIT_COLUMN[level]} from grains g where g.${unitColumn(r.within)} = ${sql.p(r.within)})`,
        );
      }
    }
    if (decision.extent !== null) {
      const ids = sql.p(decision.extent);
      sql.where.push(
        `(u.id = any(${ids}::text[]) or u.district_id = any(${ids}::text[]) or u.subdistrict_id = any(${ids}::text[]) or u.community_id = any(${ids}::text[]))`,
      );
    }
    if (r.bbox !== null) return []; // with a bbox only observed cells are listed
    return via.query<{ id: string; name: string }>(
      `select u.id, coalesce(u.name_zh, u.name) as name from units u where ${sql.where.join(' and ')} order by u.id limit ${MAX_AGGREGATE_CELLS + 1}`,
      sql.params,
    );
  }
}

function assertPlan(plan: AccessPlan): void {
  if (!isIssuedPlan(plan))
    throw new DomainError(
      'INTERNAL',
      'Internal error.',
      'query engine received a plan the access service did not issue',
    );
}

export function checkDeadline(deadline: number): void {
  if (Date.now() > deadline) throw deadlineExceeded();
}

function unitColumn(unitId: string): string {
  const level = unitId.split(':')[0] ?? '';
  const col = UNIT_COLUMN[level];
  if (!col) throw badInput('within must be a district, subdistrict, community or building id.');
  return col;
}

function groupKey(g: GroupBy): string {
  switch (g.kind) {
    case 'level':
      return `g.${UNIT_COLUMN[g.level]}`;
    case 'h3':
      return `g.h3_r${g.resolution}`;
    case 'field':
      return `r.${ident(g.field)}::text`;
  }
}

function groupByName(g: GroupBy): string {
  switch (g.kind) {
    case 'level':
      return g.level;
    case 'h3':
      return `h3:${g.resolution}`;
    case 'field':
      return `field:${g.field}`;
  }
}

function aggSql(m: Measure): string {
  if (m.fn === 'count') return m.field === null ? 'count(*)::int' : `count(r.${ident(m.field)})::int`;
  if (m.field === null) throw badInput(`${m.fn} needs a field.`);
  let col = `r.${ident(m.field)}`;
  if (m.clamp) {
    const { lower, upper } = m.clamp;
    // Integers checked here, so inlining them is safe.
    if (m.fn !== 'sum' || !Number.isSafeInteger(lower) || !Number.isSafeInteger(upper) || lower > upper)
      throw badInput('Clamping applies to sums, with integer bounds lower ≤ upper.');
    col = `least(greatest(${col}, ${lower}), ${upper})`;
  }
  switch (m.fn) {
    case 'sum':
      return `sum(${col})::float8`;
    case 'mean':
      return `avg(${col})::float8`;
    case 'min':
      return `min(${col})::float8`;
    case 'max':
      return `max(${col})::float8`;
  }
}

export function measureName(m: Measure): string {
  return m.field === null ? m.fn : `${m.fn}(${m.field})`;
}

function filterSql(def: FieldDef, f: FieldFilter, sql: Sql): string {
  const col = `r.${ident(def.name)}`;
  const numeric = def.type === 'int' || def.type === 'float';
  const check = (v: unknown): unknown => {
    if (numeric && (typeof v !== 'number' || !Number.isFinite(v)))
      throw badInput(`Filter on "${def.name}" needs a number.`);
    if (def.type === 'bool' && typeof v !== 'boolean') throw badInput(`Filter on "${def.name}" needs true or false.`);
    if ((def.type === 'string' || def.type === 'date') && typeof v !== 'string')
      throw badInput(`Filter on "${def.name}" needs a string.`);
    if (def.type === 'date' && !/^\d{4}-\d{2}-\d{2}$/.test(v as string))
      throw badInput(`Filter on "${def.name}" needs a date YYYY-MM-DD.`);
    return v;
  };
  const cast = numeric ? '::float8' : def.type === 'bool' ? '::boolean' : def.type === 'date' ? '::date' : '::text';
  switch (f.op) {
    case 'eq':
      return `${col} = ${sql.p(check(f.value))}${cast}`;
    case 'ne':
      return `${col} <> ${sql.p(check(f.value))}${cast}`;
    case 'lt':
    case 'lte':
    case 'gt':
    case 'gte': {
      if (def.type === 'bool') throw badInput(`"${f.op}" does not apply to a true/false field.`);
      const op = { lt: '<', lte: '<=', gt: '>', gte: '>=' }[f.op];
      return `${col} ${op} ${sql.p(check(f.value))}${cast}`;
    }
    case 'in': {
      if (!Array.isArray(f.value) || f.value.length === 0 || f.value.length > 100)
        throw badInput('"in" needs a list of 1 to 100 values.');
      const values = f.value.map(check);
      return `${col} = any(${sql.p(values)}${cast}[])`;
    }
    case 'prefix': {
      if (def.type !== 'string') throw badInput('"prefix" applies to text fields only.');
      const v = check(f.value) as string;
      return `left(${col}, ${sql.p(v.length)}) = ${sql.p(v)}`;
    }
  }
}

/**
 * Point-in-polygon for the grain's point, by the even-odd rule over every ring's edges (holes included),
 * after a bounding-box test that the indexes can serve. Pure SQL: no PostGIS needed.
 */
export function polygonSql(polygon: number[][][], sql: Sql): void {
  sql.where.push(...polygonClauses(polygon, sql, 'g'));
}

/** The clauses of `polygonSql` over the grains alias `alias` (a subquery's, for cell-level filters). */
function polygonClauses(polygon: number[][][], sql: Sql, alias: 'g' | 'g2'): string[] {
  const x1: number[] = [];
  const y1: number[] = [];
  const x2: number[] = [];
  const y2: number[] = [];
  let vertices = 0;
  for (const ring of polygon) {
    const pts = ring.map((p) => {
      const [lon, lat] = p;
      if (typeof lon !== 'number' || typeof lat !== 'number' || !Number.isFinite(lon) || !Number.isFinite(lat))
        throw badInput('Polygon vertices must be [lon, lat] numbers.');
      return [lon, lat] as const;
    });
    vertices += pts.length;
    if (pts.length < 3 || vertices > 10_000) throw badInput('A polygon ring needs 3 to 10,000 vertices.');
    for (let i = 0; i < pts.length; i++) {
      const a = pts[i]!;
      const b = pts[(i + 1) % pts.length]!;
      x1.push(a[0]);
      y1.push(a[1]);
      x2.push(b[0]);
      y2.push(b[1]);
    }
  }
  const outer = polygon[0]!;
  const lons = outer.map((p) => p[0]!);
  const lats = outer.map((p) => p[1]!);
  const g = alias;
  return [
    `${g}.lon between ${sql.p(Math.min(...lons))} and ${sql.p(Math.max(...lons))} and ${g}.lat between ${sql.p(Math.min(...lats))} and ${sql.p(Math.max(...lats))}`,
    `(select count(*) from unnest(${sql.p(x1)}::float8[], ${sql.p(y1)}::float8[], ${sql.p(x2)}::float8[], ${sql.p(y2)}::float8[]) as e(x1, y1, x2, y2)
      where (e.y1 > ${g}.lat) <> (e.y2 > ${g}.lat)
        and ${g}.lon < (e.x2 - e.x1) * (${g}.lat - e.y1) / nullif(e.y2 - e.y1, 0) + e.x1) % 2 = 1`,
  ];
}

/** Columns of a sandbox job's input, one entry per record in record-id order. */
export interface ColumnarInput {
  rowCount: number;
  recordIds: string[];
  hierarchy: Record<'district_id' | 'subdistrict_id' | 'community_id' | 'building_id', (string | null)[]>;
  fields: Record<string, Scalar[]>;
}

function nullableText(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

function toScalar(v: unknown): Scalar {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return v.toISOString().slice(0, 10);
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (typeof v === 'bigint') return Number(v);
  return JSON.stringify(v);
}

/** The grains column holding a record's generalised cell: the one `toRecord` shows (resolution 7 unless 8 or 9). */
function cellColumn(resolution: number | undefined): string {
  const res = resolution ?? 8;
  return res === 8 || res === 9 ? `h3_r${res}` : 'h3_r7';
}

function cellPolygon(cell: string): Record<string, unknown> {
  const ring = cellToBoundary(cell, true);
  return { type: 'Polygon', coordinates: [ring] };
}
