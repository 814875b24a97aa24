/**
 * Disclosure control of a real run's output, before anything is released (DESIGN.md §7): every table passes
 * `checkTable` (ACRO defaults; record-level output refused), and the units behind each released cell are
 * established for the differencing audit. Units come from the gateway when it can compute them (the table's keys
 * are input columns and each cell's count is its whole group), otherwise from the job's `units`, which must name
 * input records and match the counts. A table whose cells cannot be tied to units is refused: it cannot be audited.
 *
 * Conventions of an output table (docs/sandbox-jobs.md): a `count` column (records per cell); key columns are the
 * columns whose cells are text (or true/false); other numeric columns are magnitudes and need `contributors`; a
 * key cell `Total` marks a margin row.
 *
 * What a refusal may say: table and column names and key values are chosen by the job's code, which has seen the
 * data, and which cells a rule names is under its control too. So a refusal names tables and rows by position, keys
 * only when they are official hierarchy unit ids (public), and at most MAX_NAMED cells: the channel a refusal opens
 * stays a few dozen bits per job, and every refusal is logged (repeated refusals are flagged for auditors).
 */
import type { ColumnarInput } from '../query/query-engine.js';
import type { AuditedCell } from './disclosure/release-history.port.js';
import type { Cell, Refusal } from './disclosure/disclosure.types.js';
import { checkTable } from './disclosure/table-check.js';
import type { JobCheck, JobRefusal, JobTable } from './job.types.js';

/** A table as the sandbox returns it (sandbox/src/protocol.ts OutputTable). */
export interface SandboxTable {
  name: string;
  columns: string[];
  rows: Cell[][];
  contributors?: Record<string, number[][]>;
  units?: string[][];
}

export type OutputVerdict =
  | { ok: true; tables: JobTable[]; cells: AuditedCell[]; checks: JobCheck[]; rows: number }
  | { ok: false; refusal: JobRefusal; checks: JobCheck[] };

const COUNT = 'count';
const MARGIN = 'Total';
/** Most cells a refusal names. */
export const MAX_NAMED = 5;
const UNIT_ID = /^(district|subdistrict|community|building):[0-9A-Za-z-]{1,40}$/;

/** A cell as a refusal may name it: positions, the count column, and public unit ids only. */
export function cellLabel(t: SandboxTable, tableIndex: number, row: number, column?: string): string {
  const keys = keyColumns(t)
    .filter((k) => UNIT_CODE_COLUMNS.includes(k))
    .map((k) => [k, t.rows[row]?.[t.columns.indexOf(k)]] as const)
    .filter(([, v]) => typeof v === 'string' && (UNIT_ID.test(v) || v === MARGIN))
    .map(([k, v]) => `${k}=${String(v)}`);
  const col = column === undefined ? '' : column === COUNT ? ', count' : `, column ${t.columns.indexOf(column) + 1}`;
  return `table ${tableIndex + 1} row ${row + 1}${col}${keys.length ? ` (${keys.join(', ')})` : ''}`;
}

/** At most MAX_NAMED labels, then how many more. */
export function named(labels: readonly string[]): string[] {
  const unique = [...new Set(labels)];
  if (unique.length <= MAX_NAMED) return unique;
  return [...unique.slice(0, MAX_NAMED), `and ${unique.length - MAX_NAMED} more`];
}
/** Hierarchy unit codes are groups, not record identifiers. */
export const UNIT_CODE_COLUMNS = ['district_id', 'subdistrict_id', 'community_id', 'building_id'];

export function inputColumn(input: ColumnarInput, name: string): readonly (Cell | undefined)[] | undefined {
  if (name in input.hierarchy) return input.hierarchy[name as keyof ColumnarInput['hierarchy']];
  return input.fields[name];
}

/** Key columns: every column but the count whose cells are text, true/false or null. */
export function keyColumns(t: SandboxTable): string[] {
  return t.columns.filter(
    (c, i) =>
      c !== COUNT && t.rows.every((r) => r[i] === null || typeof r[i] === 'string' || typeof r[i] === 'boolean'),
  );
}

/**
 * The table with its rows in canonical order: by the key columns (nulls first, then by code unit), ties by the
 * whole row. Reported units and contributors move with their rows. Released rows, and every decision that
 * breaks ties by position (which complement secondary suppression picks), then depend on the values only,
 * never on the order the job's code chose.
 */
export function canonicalTable(t: SandboxTable): SandboxTable {
  const keyAt = keyColumns(t).map((k) => t.columns.indexOf(k));
  const text = (v: Cell) => (v === null ? '' : `${typeof v}:${String(v)}`);
  const whole = t.rows.map((r) => JSON.stringify(r));
  const order = t.rows.map((_, i) => i);
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  order.sort((a, b) => {
    for (const k of keyAt) {
      const va = t.rows[a]![k] ?? null;
      const vb = t.rows[b]![k] ?? null;
      if (va === null || vb === null) {
        if (va !== vb) return va === null ? -1 : 1;
        continue;
      }
      const c = cmp(text(va), text(vb));
      if (c !== 0) return c;
    }
    return cmp(whole[a]!, whole[b]!);
  });
  const out: SandboxTable = { name: t.name, columns: t.columns, rows: order.map((i) => t.rows[i]!) };
  if (t.units !== undefined) out.units = order.map((i) => t.units![i]!);
  if (t.contributors !== undefined) {
    out.contributors = Object.fromEntries(
      Object.entries(t.contributors).map(([col, perRow]) => [col, order.map((i) => perRow[i]!)]),
    );
  }
  return out;
}

export function checkOutput(
  tables: readonly SandboxTable[],
  input: ColumnarInput,
  minCell: number,
  /** The gateway built the tables from a declaration (job-outputs.ts): no record-level shape to look for. */
  declared = false,
): OutputVerdict {
  const checks: JobCheck[] = [];
  const released: JobTable[] = [];
  const cells: AuditedCell[] = [];
  let rows = 0;
  if (tables.length === 0) {
    return refuse(checks, { rule: 'invalid-table', reason: 'the job returned no table', table: null, cells: [] });
  }
  for (const [ti, t] of tables.entries()) {
    const keys = keyColumns(t);
    const tableLabel = `table ${ti + 1}`;
    // A declared table with margins holds every margin of its domains: those are the totals to protect against,
    // and a hidden margin may need another margin hidden. Without margins, every line total is assumed known.
    const allMargins = declared && t.rows.some((r) => keys.some((k) => r[t.columns.indexOf(k)] === MARGIN));
    const result = checkTable(t, {
      keys,
      count: COUNT,
      threshold: Math.max(10, minCell),
      allowIdColumns: UNIT_CODE_COLUMNS,
      totalMarker: MARGIN,
      recordLevel: !declared,
      ...(allMargins ? { assumeTotalsKnown: false, marginComplements: true } : {}),
    });
    if (result.status === 'refused' || result.table === undefined) {
      const first = result.refusals[0];
      checks.push({ check: `disclosure:${tableLabel}`, verdict: 'refused', detail: first?.rule ?? 'refused' });
      return refuse(checks, {
        rule: first?.rule ?? 'invalid-table',
        // The rule's fixed reason, without the column names it may quote (they are the job's).
        reason: fixedReason(first?.rule ?? 'invalid-table'),
        table: tableLabel,
        cells: named((first?.cells ?? []).map((c) => cellLabel(t, ti, c.row, c.column))),
      });
    }
    checks.push({
      check: `disclosure:${tableLabel}`,
      verdict: result.status === 'suppressed' ? 'suppressed' : 'passed',
      detail: `${result.suppressions.length} cell(s) suppressed (threshold ${Math.max(10, minCell)}, dominance, p-percent, secondary)`,
    });
    const units = unitsOf(t, keys, input, ti);
    if (!units.ok) {
      checks.push({ check: `units:${tableLabel}`, verdict: 'refused', detail: units.reason });
      return refuse(checks, { rule: units.rule, reason: units.reason, table: tableLabel, cells: named(units.cells) });
    }
    const countAt = t.columns.indexOf(COUNT);
    const releasedRows = new Set<number>();
    result.table.rows.forEach((r, i) => {
      if (r[countAt] !== null) releasedRows.add(i);
    });
    result.table.rows.forEach((r, i) => {
      if (!releasedRows.has(i)) return;
      cells.push({ cell: cellLabel(t, ti, i), units: units.units[i]! });
    });
    released.push({
      name: t.name,
      columns: result.table.columns,
      rows: result.table.rows,
      suppressed: result.suppressions.map((s) => ({ row: s.row, column: s.column, rule: s.rule })),
    });
    rows += result.table.rows.length;
  }
  return { ok: true, tables: released, cells, checks, rows };
}

function refuse(checks: JobCheck[], refusal: JobRefusal): OutputVerdict {
  return { ok: false, refusal, checks };
}

const FIXED_REASONS: Record<string, string> = {
  'invalid-table': 'the table is not a well-formed aggregate (count, keys, one row per key, numbers)',
  'record-level': 'record-level output: cells describe single records, or there is no count column',
  threshold: 'cells below the minimum count',
  dominance: 'cells dominated by their largest contributions',
  'p-percent': 'cells whose largest contribution could be estimated closely',
  secondary: 'suppressed cells could be recovered',
  unprotectable: 'suppressed cells could be recovered from the totals and cannot be protected',
  differencing: 'a cell would differ from another released cell by fewer than the minimum count',
};

function fixedReason(rule: string): string {
  return FIXED_REASONS[rule] ?? 'the table failed disclosure control';
}

type Units = { ok: true; units: string[][] } | { ok: false; rule: Refusal['rule']; reason: string; cells: string[] };

/** The record ids behind each row of a table, computed by the gateway or taken (checked) from the job. */
export function unitsOf(t: SandboxTable, keys: readonly string[], input: ColumnarInput, tableIndex = 0): Units {
  const countAt = t.columns.indexOf(COUNT);
  const keyAt = keys.map((k) => t.columns.indexOf(k));
  const rowLabel = (r: number) => cellLabel(t, tableIndex, r);
  if (t.units !== undefined) {
    const known = new Set(input.recordIds);
    const bad: string[] = [];
    t.units.forEach((u, r) => {
      const count = t.rows[r]?.[countAt];
      if (new Set(u).size !== u.length || u.some((id) => !known.has(id)) || u.length !== count) bad.push(rowLabel(r));
    });
    if (bad.length > 0) {
      return {
        ok: false,
        rule: 'invalid-table',
        reason: 'the units reported for a cell must be distinct input records, as many as its count',
        cells: bad,
      };
    }
    return { ok: true, units: t.units };
  }
  // The gateway's own units: records whose input columns equal the row's keys (a margin key matches any).
  const cols = keys.map((k) => inputColumn(input, k));
  if (keys.length === 0 || cols.some((c) => c === undefined)) {
    return {
      ok: false,
      rule: 'differencing',
      reason:
        'the cells cannot be tied to input records for the differencing audit: group by input columns or report units',
      cells: [],
    };
  }
  // Group the input once by the full key. A margin row (a key cell `Total`) is the union of the table's interior
  // rows it sums: the margin of this table, not of the whole input.
  const groups = new Map<string, string[]>();
  for (let i = 0; i < input.rowCount; i++) {
    const k = JSON.stringify(cols.map((c) => c![i] ?? null));
    const g = groups.get(k);
    if (g) g.push(input.recordIds[i]!);
    else groups.set(k, [input.recordIds[i]!]);
  }
  const keysOf = (r: number) => keyAt.map((at) => t.rows[r]?.[at] ?? null);
  const isMargin = (r: number) => keysOf(r).includes(MARGIN);
  const interior = t.rows.map((_, r) => r).filter((r) => !isMargin(r));
  const out: string[][] = t.rows.map((_, r) => (isMargin(r) ? [] : (groups.get(JSON.stringify(keysOf(r))) ?? [])));
  t.rows.forEach((_, r) => {
    if (!isMargin(r)) return;
    const want = keysOf(r);
    const ids = new Set<string>();
    for (const i of interior) {
      const key = keysOf(i);
      if (want.every((w, k) => w === MARGIN || key[k] === w)) for (const id of out[i]!) ids.add(id);
    }
    out[r] = [...ids];
  });
  const mismatched = t.rows
    .map((_, r) => r)
    .filter((r) => out[r]!.length !== t.rows[r]?.[countAt])
    .map(rowLabel);
  if (mismatched.length > 0) {
    return {
      ok: false,
      rule: 'differencing',
      reason: 'a cell counts part of its group, so the gateway cannot tell which records it covers: report units',
      cells: mismatched,
    };
  }
  return { ok: true, units: out };
}
