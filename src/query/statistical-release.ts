/**
 * The statistical release (issue #13, point 1): public statistics are published, not queried. For a dataset
 * the public may aggregate, the gateway computes once, per data version, every official partition the public may
 * see (city total; districts, subdistricts, communities; H3 resolutions 7 and 8), for the count and the sum of
 * each public measure, and solves suppression JOINTLY across all of them: the hierarchy equations (a unit is the
 * sum of its child units, an H3 cell of its children, the city of its districts and of its resolution-7 cells)
 * are handed to the exact linear protection (`protect`: no equation with a lone suppressed cell, suppressed cells
 * of an equation holding at least k records together, and Gaussian elimination so that no suppressed cell is
 * determined by any linear combination of released ones). The release is stored and logged once, with its hash;
 * public `aggregate` answers select its cells and never scan the data, so differencing across queries (regions,
 * hierarchy levels, H3 parents and children) finds only what was published.
 */
import { createHash } from 'node:crypto';
import { badInput } from '../errors/domain.error.js';
import { protect, type Equation } from '../jobs/disclosure/linear-protection.js';
import { fastCanonicalJson } from '../ledger/canonical-json.js';
import { ident, type Queryable } from '../store/db.port.js';
import type { AccessRequest } from '../access/access-request.js';
import type { AggregateCell, AggregateResult } from './query.types.js';
import { measureName } from './query-engine.js';

export const RELEASE_LEVELS = ['district', 'subdistrict', 'community'] as const;
export const RELEASE_H3 = [7, 8] as const;

/** One published cell: its partition, key, parent cells and values (null when suppressed). */
export interface ReleaseCell {
  partition: string; // 'total' | 'district' | 'subdistrict' | 'community' | 'h3r7' | 'h3r8'
  key: string;
  label: string | null;
  /** The admin units the cell lies in (for `within`), admin partitions only. */
  within: string[];
  count: number | null;
  /** Sum of each measure field, in `fields` order; null when suppressed. */
  sums: (number | null)[];
  suppressed: boolean;
}

export interface StatisticalRelease {
  dataset: string;
  version: string;
  minCell: number;
  /** Numeric fields whose sums are published. */
  fields: string[];
  cells: ReleaseCell[];
  /** Cells suppressed because they were small, and complements added to protect them. */
  primary: number;
  secondary: number;
  /**
   * A DP release (datasets answered with differential privacy): every cell is noised once, from the dataset's
   * public budget; nothing is suppressed. Counts below zero are shown as 0 (post-processing).
   */
  dp?: { mechanism: string; epsilonMicro: number };
  /** SHA-256 of the canonical JSON of the release (what the provenance log records). */
  hash: string;
}

/** A cell before suppression (the solver's input). */
export interface TrueCell {
  partition: string;
  key: string;
  label: string | null;
  within: string[];
  count: number;
  sums: number[];
}

/** A hierarchy equation: `parent` is the sum of `children` (cell indices). */
export interface Relation {
  parent: number;
  children: number[];
}

/**
 * Joint suppression over all tables of the release. Returns the suppressed cell indices; throws when a cell
 * cannot be protected (the release is then not published).
 */
export function solveSuppression(
  cells: readonly TrueCell[],
  relations: readonly Relation[],
  k: number,
): { suppressed: Set<number>; primary: number; secondary: number } {
  const primary = new Set<number>();
  cells.forEach((c, i) => {
    if (c.count < k) primary.add(i);
  });
  const equations: Equation[] = relations.map((r) => ({ cells: r.children, margin: r.parent }));
  const result = protect({
    size: cells.length,
    equations,
    suppressed: primary,
    magnitude: (row) => cells[row]!.count,
    eligible: () => true,
    width: k,
    exactLimit: 20_000,
  });
  if (!result.exact || result.unprotectable.length > 0) {
    throw new Error(
      `the release cannot be protected (${result.unprotectable.length} cells stay determined; exact: ${result.exact})`,
    );
  }
  return { suppressed: result.suppressed, primary: primary.size, secondary: result.complements.length };
}

/** Reads the true cells and relations of every partition of a dataset (one scan per partition). */
export async function readTrueCells(
  db: Queryable,
  dataset: { id: string; tableName: string },
  fields: readonly string[],
  /** Clamp each value to these integer bounds before summing (a DP release: the bounds fix the sensitivity). */
  bounds?: Readonly<Record<string, { lower: number; upper: number }>>,
): Promise<{ cells: TrueCell[]; relations: Relation[] }> {
  const sums = fields.map((f, i) => {
    const b = bounds?.[f];
    const v = b ? `least(greatest(r.${ident(f)}, ${Math.trunc(b.lower)}), ${Math.trunc(b.upper)})` : `r.${ident(f)}`;
    return `coalesce(sum(${v}), 0)::float8 as s${i}`;
  });
  const select = `count(*)::int as n${sums.length ? ', ' + sums.join(', ') : ''}`;
  const from = `from ${ident(dataset.tableName)} r join grains g on g.id = r.grain_id`;
  const cells: TrueCell[] = [];
  const index = new Map<string, number>();
  const add = (c: TrueCell) => {
    index.set(`${c.partition}|${c.key}`, cells.length);
    cells.push(c);
  };
  const values = (row: Record<string, unknown> | undefined) => fields.map((_, i) => Number(row?.[`s${i}`] ?? 0));

  const [total] = await db.query<Record<string, unknown>>(`select ${select} ${from}`);
  add({ partition: 'total', key: 'total', label: null, within: [], count: Number(total?.n ?? 0), sums: values(total) });

  const relations: Relation[] = [];
  const childrenOf = new Map<number, number[]>();
  const link = (parent: number | undefined, child: number) => {
    if (parent === undefined) return;
    childrenOf.set(parent, [...(childrenOf.get(parent) ?? []), child]);
  };
  for (const level of RELEASE_LEVELS) {
    const col = `${level}_id`;
    const rows = await db.query<Record<string, unknown>>(`select g.${col} as k, ${select} ${from} group by g.${col}`);
    const byKey = new Map(rows.map((r) => [String(r.k), r]));
    const units = await db.query<{
      id: string;
      name: string;
      parent_id: string | null;
      district_id: string | null;
      subdistrict_id: string | null;
    }>(
      `select id, coalesce(name_zh, name) as name, parent_id, district_id, subdistrict_id from units where level = $1 order by id`,
      [level],
    );
    for (const u of units) {
      const row = byKey.get(u.id);
      const within = [u.district_id, u.subdistrict_id, u.id].filter((x): x is string => typeof x === 'string');
      add({
        partition: level,
        key: u.id,
        label: u.name,
        within: [...new Set(within)],
        count: Number(row?.n ?? 0),
        sums: values(row),
      });
      const parent =
        level === 'district' ? 0 : index.get(`${RELEASE_LEVELS[RELEASE_LEVELS.indexOf(level) - 1]}|${u.parent_id}`);
      link(parent, cells.length - 1);
    }
  }
  const pairs = await db.query<{ r7: string; r8: string }>(`select distinct h3_r7 as r7, h3_r8 as r8 from grains`);
  for (const res of RELEASE_H3) {
    const col = `h3_r${res}`;
    const rows = await db.query<Record<string, unknown>>(`select g.${col} as k, ${select} ${from} group by g.${col}`);
    const byKey = new Map(rows.map((r) => [String(r.k), r]));
    const keys = [...new Set(pairs.map((p) => (res === 7 ? p.r7 : p.r8)))].sort();
    for (const key of keys) {
      add({
        partition: `h3r${res}`,
        key,
        label: null,
        within: [],
        count: Number(byKey.get(key)?.n ?? 0),
        sums: values(byKey.get(key)),
      });
    }
  }
  for (const key of [...new Set(pairs.map((p) => p.r7))]) link(0, index.get(`h3r7|${key}`)!);
  for (const p of pairs) link(index.get(`h3r7|${p.r7}`), index.get(`h3r8|${p.r8}`)!);
  // The city is the sum of its districts and, separately, of its resolution-7 cells: two equations.
  const cityDistricts = (childrenOf.get(0) ?? []).filter((i) => cells[i]!.partition === 'district');
  const cityCells = (childrenOf.get(0) ?? []).filter((i) => cells[i]!.partition === 'h3r7');
  relations.push({ parent: 0, children: cityDistricts }, { parent: 0, children: cityCells });
  for (const [parent, children] of childrenOf) {
    if (parent === 0) continue;
    relations.push({ parent, children: [...new Set(children)] });
  }
  return { cells, relations };
}

/** Builds the release of a dataset: true cells, joint suppression, hash. */
export async function buildRelease(
  db: Queryable,
  dataset: { id: string; tableName: string },
  fields: readonly string[],
  minCell: number,
): Promise<StatisticalRelease> {
  const { cells, relations } = await readTrueCells(db, dataset, fields);
  return publishRelease(dataset.id, fields, minCell, cells, relations);
}

/** Suppresses jointly and hashes: the release of these true cells. */
export function publishRelease(
  datasetId: string,
  fields: readonly string[],
  minCell: number,
  cells: readonly TrueCell[],
  relations: readonly Relation[],
): StatisticalRelease {
  const { suppressed, primary, secondary } = solveSuppression(cells, relations, minCell);
  const published: ReleaseCell[] = cells.map((c, i) => {
    const hidden = suppressed.has(i);
    return {
      partition: c.partition,
      key: c.key,
      label: c.label,
      within: c.within,
      count: hidden ? null : c.count,
      sums: hidden ? c.sums.map(() => null) : c.sums,
      suppressed: hidden,
    };
  });
  const version = createHash('sha256')
    .update(fastCanonicalJson(cells.map((c) => [c.partition, c.key, c.count, c.sums])))
    .digest('hex')
    .slice(0, 16);
  const body = { dataset: datasetId, version, minCell, fields: [...fields], cells: published, primary, secondary };
  const hash = createHash('sha256').update(fastCanonicalJson(body)).digest('hex');
  return { ...body, hash };
}

/**
 * A public aggregate answered from the release: the cells of one partition (inside a unit for `within`), and the
 * total only where it is itself a released cell. Anything the release does not hold is refused with the reason.
 */
export function answerFromRelease(release: StatisticalRelease, r: AccessRequest): AggregateResult {
  if (r.bbox !== null || r.polygon) {
    throw badInput(
      'Public statistics of this dataset are published for official units and H3 cells only: arbitrary regions (bbox, polygon) are not answered. Use groupBy with within a unit.',
    );
  }
  if (r.filters.length > 0) throw badInput('Public statistics of this dataset are published without filters.');
  const g = r.groupBy;
  if (!g || g.kind === 'field') {
    throw badInput('Public statistics of this dataset are published by district, subdistrict, community and H3 cell.');
  }
  let partition: string;
  if (g.kind === 'level') {
    if (!(RELEASE_LEVELS as readonly string[]).includes(g.level)) {
      throw badInput('Public statistics go no finer than communities.');
    }
    partition = g.level;
  } else {
    if (!(RELEASE_H3 as readonly number[]).includes(g.resolution)) {
      throw badInput('Public statistics are published for H3 resolutions 7 and 8.');
    }
    if (r.within !== null) throw badInput('H3 cells are published for the whole city: use groupBy level with within.');
    partition = `h3r${g.resolution}`;
  }
  const measureIndex = r.measures.map((m) => {
    if (m.fn === 'count' || m.field === null) return -1;
    const i = release.fields.indexOf(m.field);
    if (i < 0 || (m.fn !== 'sum' && m.fn !== 'mean')) {
      throw badInput(
        `Public statistics publish counts, and sums and means of: ${release.fields.join(', ') || 'no field'}.`,
      );
    }
    return i;
  });
  const values = (c: ReleaseCell) =>
    r.measures.map((m, j) => {
      const i = measureIndex[j]!;
      const name = measureName(m);
      if (c.suppressed || c.count === null) return { measure: name, value: null };
      if (i < 0) return { measure: name, value: c.count };
      const sum = c.sums[i] ?? null;
      if (sum === null) return { measure: name, value: null };
      return { measure: name, value: m.fn === 'mean' ? (c.count > 0 ? sum / c.count : null) : sum };
    });
  const asCell = (c: ReleaseCell, key = c.key): AggregateCell => ({
    key,
    label: c.label,
    count: c.suppressed ? null : c.count,
    values: values(c),
    suppressed: c.suppressed,
  });
  const inScope = release.cells.filter(
    (c) => c.partition === partition && (r.within === null || c.within.includes(r.within)),
  );
  let total: ReleaseCell | undefined;
  if (r.within === null) total = release.cells.find((c) => c.partition === 'total');
  else {
    total = release.cells.find(
      (c) => c.key === r.within && (RELEASE_LEVELS as readonly string[]).includes(c.partition),
    );
    if (!total) throw badInput('within must be a district, subdistrict or community for public statistics.');
  }
  const cells = inScope.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map((c) => asCell(c));
  return {
    groupBy: g.kind === 'level' ? g.level : `h3:${g.resolution}`,
    minCell: release.minCell,
    cells,
    total: asCell(total!, 'total'),
    primarySuppressed: cells.filter((c) => c.suppressed).length,
    secondarySuppressed: 0,
  };
}

/** Each record lies in one cell of every published partition: the city, each level, each H3 resolution. */
export const PARTITIONS_PER_RECORD = 1 + RELEASE_LEVELS.length + RELEASE_H3.length;

/**
 * The DP release of these true cells, from their noised values (noised once and stored by the privacy budget:
 * src/jobs/dp/privacy-budget.repository.ts). No cell is suppressed: the noise protects them all, and the whole
 * release is one answer charged to the dataset's public budget.
 */
export function publishDpRelease(
  datasetId: string,
  fields: readonly string[],
  cells: readonly TrueCell[],
  noisy: readonly { count: number; sums: number[] }[],
  dp: { mechanism: string; epsilonMicro: number; version: string },
): StatisticalRelease {
  const published: ReleaseCell[] = cells.map((c, i) => ({
    partition: c.partition,
    key: c.key,
    label: c.label,
    within: c.within,
    count: Math.max(0, noisy[i]!.count),
    sums: noisy[i]!.sums,
    suppressed: false,
  }));
  const body = {
    dataset: datasetId,
    version: dp.version,
    minCell: 1,
    fields: [...fields],
    cells: published,
    primary: 0,
    secondary: 0,
    dp: { mechanism: dp.mechanism, epsilonMicro: dp.epsilonMicro },
  };
  const hash = createHash('sha256').update(fastCanonicalJson(body)).digest('hex');
  return { ...body, hash };
}
