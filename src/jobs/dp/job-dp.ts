/**
 * Differential privacy for sandbox job releases (docs/sandbox-jobs.md, docs/differential-privacy.md). On a dataset
 * whose DP settings exist, a real job's numbers never leave as the code computed them:
 *
 * - The job declares its measure columns at submission (`dpMeasures`): counts, and sums of a field whose bounds the
 *   dataset's settings fix. Declared before the code sees any data, so the sensitivity cannot depend on the data.
 * - Tables are keyed by hierarchy unit columns only (public ids, never field values the code chose), and the gateway
 *   ties each row to its records itself: the input records whose unit columns equal the row's keys (a margin row
 *   `Total` is the union of the table's rows it sums). Reported `units` are refused: the code would choose them.
 * - The gateway computes every measure cell from those records (count = records; sum = Σ of the field clamped to
 *   its bounds) and discards the code's numbers; a non-key column that is not a declared measure is refused.
 * - Rows of one table have distinct keys, so each record is in at most one interior row of each table: one record
 *   moves one cell per (table, measure column) by at most that column's sensitivity Δ (1 for a count, max(|lower|,
 *   |upper|) for a sum). With m measure columns over all tables the release is a composition of m queries, and the
 *   charge ε is split evenly: each cell is noised at ε/m, i.e. with sensitivity m·Δ at ε.
 * - Margin rows are not noised: they are the sums of the noisy interior cells they cover (post-processing, free,
 *   and consistent with the table).
 * - No small-cell suppression, dominance or p-percent: they decide on the true values, which is itself a disclosure
 *   the noise does not cover; the noise protects every cell instead.
 */
import { badInput } from '../../errors/domain.error.js';
import { canonicalJson, sha256Hex } from '../../ledger/provenance-record.js';
import type { ColumnarInput } from '../../query/query-engine.js';
import type { Cell } from '../disclosure/disclosure.types.js';
import type { JobCheck, JobDpMeasure, JobRefusal, JobTable } from '../job.types.js';
import { cellLabel, named, UNIT_CODE_COLUMNS, type SandboxTable } from '../output-check.js';
import { sumSensitivity } from './discrete-noise.js';
import type { DpDatasetSettings } from './dp-settings.js';
import type { TrueCell } from './privacy-budget.repository.js';

const MARGIN = 'Total';
const UNIT_ID = /^(district|subdistrict|community|building):[0-9A-Za-z-]{1,40}$/;
const COLUMN = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
/** Most measure columns a job may declare. */
export const MAX_DP_MEASURES = 16;
/** Most noised cells in one release (they are stored as one answer). */
export const MAX_DP_CELLS = 20_000;

/**
 * Checks a job's declared measures at submission against the dataset's DP settings and the fields the job reads.
 * Returns them in a canonical order (by column).
 */
export function validateDpMeasures(
  settings: DpDatasetSettings,
  fields: readonly string[],
  measures: readonly JobDpMeasure[],
): JobDpMeasure[] {
  if (measures.length === 0) {
    throw badInput(
      `${settings.datasetId} releases job outputs only with differential privacy: declare the measure columns ` +
        '(dpMeasures: counts, and sums of a bounded field) that your tables hold.',
    );
  }
  if (measures.length > MAX_DP_MEASURES) throw badInput(`dpMeasures may declare at most ${MAX_DP_MEASURES} columns.`);
  const seen = new Set<string>();
  const out: JobDpMeasure[] = [];
  for (const m of measures) {
    if (!COLUMN.test(m.column)) throw badInput('A dpMeasures column must be a plain column name.');
    if (UNIT_CODE_COLUMNS.includes(m.column)) throw badInput('A hierarchy column is a key, not a measure.');
    if (seen.has(m.column)) throw badInput(`dpMeasures declares column "${m.column}" twice.`);
    seen.add(m.column);
    if (m.kind === 'count') {
      if (m.field) throw badInput('A COUNT measure takes no field.');
      out.push({ column: m.column, kind: 'count', field: null });
      continue;
    }
    const bounds = m.field ? settings.sumBounds[m.field] : undefined;
    if (!m.field || !bounds) {
      const allowed = Object.keys(settings.sumBounds).join(', ') || 'none';
      throw badInput(`A SUM measure needs a field with declared bounds; ${settings.datasetId} allows: ${allowed}.`);
    }
    if (!fields.includes(m.field)) throw badInput(`The summed field "${m.field}" must be one of the job's fields.`);
    out.push({ column: m.column, kind: 'sum', field: m.field });
  }
  return out.sort((a, b) => (a.column < b.column ? -1 : a.column > b.column ? 1 : 0));
}

/** The shape of a checked DP table: which rows and columns it has, before any value is put in. */
interface DpTablePlan {
  table: SandboxTable;
  keys: string[];
  /** Measure columns (index into columns) with their measure. */
  measures: { at: number; measure: JobDpMeasure }[];
  /** Interior rows' record indexes; null for margin rows. */
  groups: (number[] | null)[];
  /** For margin rows, the interior rows they sum. */
  marginOf: number[][];
}

export type DpOutputVerdict =
  | {
      ok: true;
      /** True cells to noise, keyed `table:row:column`. */
      cells: TrueCell[];
      /** Sensitivity of each cell in `cells` at the full ε (m·Δ). */
      sensitivities: number[];
      /** The release's shape, hashed into the query key. */
      shape: unknown;
      checks: JobCheck[];
      rows: number;
      /** Builds the released tables from the noisy cells (margins summed from them). */
      build(noisy: readonly TrueCell[]): JobTable[];
    }
  | { ok: false; refusal: JobRefusal; checks: JobCheck[] };

/** Checks a real run's tables for a DP release and computes their true cells from the records (see the header). */
export function checkDpOutput(
  tables: readonly SandboxTable[],
  input: ColumnarInput,
  declared: readonly JobDpMeasure[],
  settings: DpDatasetSettings,
): DpOutputVerdict {
  const checks: JobCheck[] = [];
  const refuse = (rule: string, reason: string, table: string | null, cells: string[] = []): DpOutputVerdict => {
    checks.push({ check: table ? `dp-shape:${table}` : 'dp-shape', verdict: 'refused', detail: rule });
    return { ok: false, refusal: { rule, reason, table, cells: named(cells) }, checks };
  };
  if (tables.length === 0) return refuse('invalid-table', 'the job returned no table', null);
  const byColumn = new Map(declared.map((m) => [m.column, m]));
  const plans: DpTablePlan[] = [];
  let measureColumns = 0;
  let cellCount = 0;
  for (const [ti, t] of tables.entries()) {
    const label = `table ${ti + 1}`;
    if (t.units !== undefined) {
      return refuse(
        'dp-units',
        'on a differentially private dataset the gateway ties cells to records itself: report no units',
        label,
      );
    }
    const width = t.columns.length;
    if (new Set(t.columns).size !== width || t.rows.some((r) => r.length !== width)) {
      return refuse('invalid-table', 'the table is not well formed (distinct columns, one cell per column)', label);
    }
    const keys = t.columns.filter((c) => UNIT_CODE_COLUMNS.includes(c));
    const measures: DpTablePlan['measures'] = [];
    for (const [at, c] of t.columns.entries()) {
      if (keys.includes(c)) continue;
      const m = byColumn.get(c);
      if (!m) {
        return refuse(
          'dp-undeclared',
          `column ${at + 1} is neither a hierarchy key (district_id, subdistrict_id, community_id, building_id) ` +
            'nor a measure declared in dpMeasures',
          label,
        );
      }
      measures.push({ at, measure: m });
    }
    if (keys.length === 0 || measures.length === 0) {
      return refuse(
        'dp-undeclared',
        'a table needs hierarchy key columns and at least one declared measure column',
        label,
      );
    }
    const keyAt = keys.map((k) => t.columns.indexOf(k));
    const badKey: string[] = [];
    const badMeasure: string[] = [];
    const seenKeys = new Set<string>();
    const duplicate: string[] = [];
    t.rows.forEach((r, ri) => {
      const ks = keyAt.map((at) => r[at]);
      if (ks.some((k) => typeof k !== 'string' || (k !== MARGIN && !UNIT_ID.test(k))))
        badKey.push(cellLabel(t, ti, ri));
      if (measures.some((m) => r[m.at] !== null && typeof r[m.at] !== 'number')) badMeasure.push(cellLabel(t, ti, ri));
      const sig = JSON.stringify(ks);
      if (seenKeys.has(sig)) duplicate.push(cellLabel(t, ti, ri));
      seenKeys.add(sig);
    });
    if (badKey.length > 0) {
      return refuse('dp-keys', 'key cells must be hierarchy unit ids (or Total for a margin)', label, badKey);
    }
    if (badMeasure.length > 0) return refuse('invalid-table', 'measure cells must be numbers', label, badMeasure);
    if (duplicate.length > 0)
      return refuse('invalid-table', 'two rows of a table have the same keys', label, duplicate);

    // The records behind each interior row: input records whose unit columns equal the row's keys.
    const keyOf = (r: Cell[]) => JSON.stringify(keyAt.map((at) => r[at]));
    const isMargin = (r: Cell[]) => keyAt.some((at) => r[at] === MARGIN);
    const rowOfKey = new Map<string, number>();
    t.rows.forEach((r, ri) => {
      if (!isMargin(r)) rowOfKey.set(keyOf(r), ri);
    });
    const groups: (number[] | null)[] = t.rows.map((r) => (isMargin(r) ? null : []));
    const cols = keys.map((k) => input.hierarchy[k as keyof ColumnarInput['hierarchy']]);
    for (let i = 0; i < input.rowCount; i++) {
      const ri = rowOfKey.get(JSON.stringify(cols.map((c) => c[i] ?? null)));
      if (ri !== undefined) groups[ri]!.push(i);
    }
    const marginOf = t.rows.map((r) => {
      if (!isMargin(r)) return [];
      return t.rows
        .map((_, i) => i)
        .filter((i) => groups[i] !== null && keyAt.every((at) => r[at] === MARGIN || t.rows[i]![at] === r[at]));
    });
    measureColumns += measures.length;
    cellCount += measures.length * groups.filter((g) => g !== null).length;
    if (cellCount > MAX_DP_CELLS) {
      return refuse('invalid-table', `a release may hold at most ${MAX_DP_CELLS} noised cells`, label);
    }
    plans.push({ table: t, keys, measures, groups, marginOf });
  }

  const cells: TrueCell[] = [];
  const sensitivities: number[] = [];
  for (const [ti, p] of plans.entries()) {
    p.groups.forEach((g, ri) => {
      if (g === null) return;
      for (const { at, measure } of p.measures) {
        cells.push({ key: `${ti}:${ri}:${at}`, label: null, value: trueValue(measure, g, input, settings) });
        sensitivities.push(measureColumns * sensitivityOf(measure, settings));
      }
    });
  }
  const shape = plans.map((p) => ({
    name: p.table.name,
    columns: p.table.columns,
    keys: p.table.rows.map((r) => p.keys.map((k) => r[p.table.columns.indexOf(k)] ?? null)),
  }));
  checks.push({
    check: 'dp-shape',
    verdict: 'passed',
    detail: `${plans.length} table(s), ${measureColumns} measure column(s), ${cells.length} cell(s) computed by the gateway`,
  });
  return {
    ok: true,
    cells,
    sensitivities,
    shape,
    checks,
    rows: plans.reduce((n, p) => n + p.table.rows.length, 0),
    build: (noisy) => buildTables(plans, noisy),
  };
}

function sensitivityOf(m: JobDpMeasure, settings: DpDatasetSettings): number {
  if (m.kind === 'count') return 1;
  const b = settings.sumBounds[m.field!]!;
  return sumSensitivity(b.lower, b.upper);
}

function trueValue(m: JobDpMeasure, group: readonly number[], input: ColumnarInput, s: DpDatasetSettings): number {
  if (m.kind === 'count') return group.length;
  const b = s.sumBounds[m.field!]!;
  const values = input.fields[m.field!] ?? [];
  let sum = 0;
  for (const i of group) {
    const v = values[i];
    if (typeof v !== 'number' || Number.isNaN(v)) continue; // a missing value adds nothing
    sum += Math.round(Math.min(b.upper, Math.max(b.lower, v)));
  }
  return sum;
}

function buildTables(plans: readonly DpTablePlan[], noisy: readonly TrueCell[]): JobTable[] {
  const value = new Map(noisy.map((c) => [c.key, c.value]));
  return plans.map((p, ti) => {
    const rows: Cell[][] = p.table.rows.map((r) => [...r]);
    const at = (ri: number, col: number): number => {
      const v = value.get(`${ti}:${ri}:${col}`);
      if (v === undefined) throw new Error('a stored DP answer lacks a cell of this release');
      return v;
    };
    rows.forEach((r, ri) => {
      for (const { at: col } of p.measures) {
        r[col] = p.groups[ri] === null ? p.marginOf[ri]!.reduce((s, i) => s + at(i, col), 0) : at(ri, col);
      }
    });
    return { name: p.table.name, columns: p.table.columns, rows, suppressed: [] };
  });
}

/**
 * The query key of a job release: the same code over the same fields, measures, dataset version and grant extent,
 * giving tables of the same shape, is the same question (answered from the stored answer, free); anything else is
 * a new one (charged).
 */
export function jobDpQueryKey(q: {
  datasetId: string;
  datasetVersion: string;
  codeHash: string;
  fields: readonly string[];
  measures: readonly JobDpMeasure[];
  extent: readonly string[] | null;
  shape: unknown;
}): string {
  return sha256Hex(
    canonicalJson({
      kind: 'sandbox-job',
      datasetId: q.datasetId,
      datasetVersion: q.datasetVersion,
      codeHash: q.codeHash,
      fields: [...q.fields].sort(),
      measures: q.measures,
      extent: q.extent === null ? null : [...new Set(q.extent)].sort(),
      shape: q.shape,
    }),
  );
}
