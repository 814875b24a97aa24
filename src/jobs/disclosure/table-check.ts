/**
 * `checkTable`: disclosure control of one aggregate table, in this order:
 * 1. shape (keys and count present, counts whole and non-negative, one row per key) — else `invalid-table`;
 * 2. record-level output — `record-level`: an identifier-like column, mostly single-unit cells, or more cells than
 *    the data can fill at the threshold (mean cell count below it), or no count column at all;
 * 3. primary suppression: `threshold` (count below 10, zeros included: the whole row's statistics), `dominance`
 *    (top n contributions over k of the cell) and `p-percent` (a value cell only);
 * 4. secondary suppression per statistic column (linear-protection.ts) so that no suppressed cell can be recovered
 *    from released cells and totals; a cell that cannot be protected refuses the table (`unprotectable`).
 * Each refusal names its rule and the cells concerned. The released table never carries contributors or units.
 */
import {
  ACRO_DEFAULTS,
  type AggregateTable,
  type Cell,
  type CellRef,
  type DisclosureOptions,
  type Refusal,
  type Suppression,
  type TableCheck,
} from './disclosure.types.js';
import { type Equation, protect } from './linear-protection.js';

/** Names that identify a record or a person rather than a group (checked case-insensitively, per word). */
const ID_LIKE =
  /(^|[_\-\s.])(id|ids|uuid|guid|pk|ssn|idcard|id_card|id_no|passport|phone|mobile|email|imei|mac|licen[cs]e_?plate|plate)$/i;
const CAMEL_ID = /[a-z0-9](Id|ID|Uuid|UUID)$/;

export function looksLikeIdentifier(column: string): boolean {
  return ID_LIKE.test(column) || CAMEL_ID.test(column) || /^(id|uuid|guid)$/i.test(column);
}

interface Resolved {
  keys: string[];
  count: string;
  values: string[];
  threshold: number;
  zerosDisclosive: boolean;
  n: number;
  k: number;
  p: number;
  marker: Cell;
  assumeTotalsKnown: boolean;
  allowIdColumns: Set<string>;
  recordLevelShare: number;
  recordLevel: boolean;
  marginComplements: boolean;
  missingContributors: 'refuse' | 'suppress';
  exactLimit: number;
}

function resolve(table: AggregateTable, o: DisclosureOptions): Resolved {
  const count = o.count ?? 'count';
  return {
    keys: o.keys,
    count,
    values: o.values ?? table.columns.filter((c) => c !== count && !o.keys.includes(c)),
    threshold: o.threshold ?? ACRO_DEFAULTS.threshold,
    zerosDisclosive: o.zerosDisclosive ?? ACRO_DEFAULTS.zerosDisclosive,
    n: o.dominance?.n ?? ACRO_DEFAULTS.dominance.n,
    k: o.dominance?.k ?? ACRO_DEFAULTS.dominance.k,
    p: o.pRatio ?? ACRO_DEFAULTS.pRatio,
    marker: o.totalMarker === undefined ? 'Total' : o.totalMarker,
    assumeTotalsKnown: o.assumeTotalsKnown ?? true,
    allowIdColumns: new Set(o.allowIdColumns ?? []),
    recordLevelShare: o.recordLevelShare ?? 0.5,
    recordLevel: o.recordLevel ?? true,
    marginComplements: o.marginComplements ?? false,
    missingContributors: o.missingContributors ?? 'refuse',
    exactLimit: o.exactLimit ?? 400,
  };
}

export function checkTable(table: AggregateTable, options: DisclosureOptions): TableCheck {
  const o = resolve(table, options);
  const col = new Map(table.columns.map((c, i) => [c, i]));
  const at = (row: number, column: string): Cell => table.rows[row]?.[col.get(column) ?? -1] ?? null;
  const keyOf = (row: number): Record<string, Cell> => Object.fromEntries(o.keys.map((k) => [k, at(row, k)]));
  const ref = (row: number, column: string): CellRef => ({ row, column, key: keyOf(row) });
  const refused = (refusals: Refusal[]): TableCheck => ({ status: 'refused', suppressions: [], refusals, exact: true });

  // ---- 1. shape --------------------------------------------------------------------------------------------------
  if (!col.has(o.count)) {
    return refused([
      { rule: 'record-level', reason: `no count column '${o.count}': only aggregate tables can be checked`, cells: [] },
    ]);
  }
  const missing = [...o.keys, ...o.values].filter((c) => !col.has(c));
  if (missing.length > 0 || new Set(table.columns).size !== table.columns.length) {
    return refused([
      { rule: 'invalid-table', reason: `columns missing or repeated: ${missing.join(', ')}`, cells: [] },
    ]);
  }
  const rows = table.rows.length;
  const counts: number[] = [];
  const badCounts: CellRef[] = [];
  for (let r = 0; r < rows; r++) {
    const c = at(r, o.count);
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 0) badCounts.push(ref(r, o.count));
    counts.push(typeof c === 'number' ? c : 0);
  }
  const badValues: CellRef[] = [];
  for (const v of o.values) {
    for (let r = 0; r < rows; r++) {
      const x = at(r, v);
      if (x !== null && (typeof x !== 'number' || !Number.isFinite(x))) badValues.push(ref(r, v));
    }
  }
  const seen = new Map<string, number>();
  const duplicates: CellRef[] = [];
  for (let r = 0; r < rows; r++) {
    const k = JSON.stringify(o.keys.map((key) => at(r, key)));
    if (seen.has(k)) duplicates.push(ref(r, o.count));
    seen.set(k, r);
  }
  const shape: Refusal[] = [];
  if (badCounts.length > 0)
    shape.push({ rule: 'invalid-table', reason: 'counts must be whole numbers ≥ 0', cells: badCounts });
  if (badValues.length > 0)
    shape.push({ rule: 'invalid-table', reason: 'values must be numbers or null', cells: badValues });
  if (duplicates.length > 0) shape.push({ rule: 'invalid-table', reason: 'one row per group key', cells: duplicates });
  if (shape.length > 0) return refused(shape);

  const isMargin = (r: number) => o.keys.some((k) => at(r, k) === o.marker);
  const interior = [...Array(rows).keys()].filter((r) => !isMargin(r));

  // ---- 2. record-level output ------------------------------------------------------------------------------------
  const recordLevel: Refusal[] = [];
  const idColumns = table.columns.filter((c) => looksLikeIdentifier(c) && !o.allowIdColumns.has(c));
  if (idColumns.length > 0) {
    recordLevel.push({
      rule: 'record-level',
      reason: `identifier-like column(s) ${idColumns.join(', ')}: records, not groups (allow known unit codes explicitly)`,
      cells: [],
    });
  }
  const nonEmpty = interior.filter((r) => counts[r]! > 0);
  const singles = nonEmpty.filter((r) => counts[r] === 1);
  if (
    nonEmpty.length > 0 &&
    (singles.length === nonEmpty.length || singles.length / nonEmpty.length > o.recordLevelShare)
  ) {
    recordLevel.push({
      rule: 'record-level',
      reason: 'most cells describe a single unit: this is record-level output',
      cells: singles.map((r) => ref(r, o.count)),
    });
  }
  const total = interior.reduce((s, r) => s + counts[r]!, 0);
  if (interior.length > 1 && interior.length > total / o.threshold) {
    recordLevel.push({
      rule: 'record-level',
      reason: 'more cells than the data can fill at the minimum cell count (mean cell count below the threshold)',
      cells: interior.filter((r) => counts[r]! < o.threshold).map((r) => ref(r, o.count)),
    });
  }
  if (o.recordLevel && recordLevel.length > 0) return refused(recordLevel);

  // ---- 3. primary suppression ------------------------------------------------------------------------------------
  const suppressions: Suppression[] = [];
  const hidden = new Map<string, Set<number>>([[o.count, new Set()]]);
  for (const v of o.values) hidden.set(v, new Set());
  const hide = (row: number, column: string, rule: Suppression['rule']) => {
    const set = hidden.get(column)!;
    if (set.has(row)) return;
    set.add(row);
    suppressions.push({ ...ref(row, column), rule });
  };
  for (let r = 0; r < rows; r++) {
    const c = counts[r]!;
    if (c < o.threshold && (c > 0 || o.zerosDisclosive)) {
      hide(r, o.count, 'threshold');
      for (const v of o.values) hide(r, v, 'threshold');
    }
  }
  const refusals: Refusal[] = [];
  for (const v of o.values) {
    const perRow = table.contributors?.[v];
    if (perRow === undefined || perRow.length !== rows) {
      if (o.missingContributors === 'refuse') {
        refusals.push({
          rule: 'dominance',
          reason: `no contributions reported for '${v}': dominance and p-percent cannot be checked`,
          cells: [],
        });
      } else {
        for (let r = 0; r < rows; r++) hide(r, v, 'dominance');
      }
      continue;
    }
    const inconsistent: CellRef[] = [];
    for (let r = 0; r < rows; r++) {
      const value = at(r, v);
      if (value === null || hidden.get(v)!.has(r)) continue;
      const totalAbs = Math.abs(value as number);
      const top = (perRow[r] ?? []).map(Math.abs).sort((a, b) => b - a);
      const reported = top.reduce((s, x) => s + x, 0);
      if (top.length > counts[r]! || reported > totalAbs * (1 + 1e-9) + 1e-9) {
        inconsistent.push(ref(r, v));
        continue;
      }
      if (totalAbs === 0) continue;
      const topN = top.slice(0, o.n).reduce((s, x) => s + x, 0);
      // ACRO's rule is ≥: a cell whose n largest hold exactly k of it is dominated. The ratio (not o.k × total,
      // where 0.9 × 100 rounds above 90) keeps "exactly k" exact for the round shares it is tested on.
      if (topN / totalAbs >= o.k) {
        hide(r, v, 'dominance');
        continue;
      }
      const x1 = top[0] ?? 0;
      const x2 = top[1] ?? 0;
      if (totalAbs - x1 - x2 < o.p * x1) hide(r, v, 'p-percent');
    }
    if (inconsistent.length > 0) {
      refusals.push({
        rule: 'invalid-table',
        reason: `contributions inconsistent with the cells of '${v}'`,
        cells: inconsistent,
      });
    }
  }
  if (refusals.length > 0) return refused(refusals);

  // ---- 4. secondary suppression ------------------------------------------------------------------------------------
  const equations = buildEquations(o, rows, (r, k) => at(r, k), isMargin);
  let exact = true;
  const unprotectable: CellRef[] = [];
  for (const column of [o.count, ...o.values]) {
    if (column !== o.count) {
      for (const r of hidden.get(o.count)!) hide(r, column, 'secondary');
    }
    const result = protect({
      size: rows,
      equations: equations.filter((e) => e.cells.length > 0),
      suppressed: hidden.get(column)!,
      magnitude: (r) => {
        const x = at(r, column);
        return typeof x === 'number' ? x : null;
      },
      eligible: (r) => (o.marginComplements || !isMargin(r)) && at(r, column) !== null,
      width: column === o.count ? o.threshold : 0,
      exactLimit: o.exactLimit,
    });
    for (const r of result.complements) {
      hide(r, column, 'secondary');
      if (column === o.count) for (const v of o.values) hide(r, v, 'secondary');
    }
    exact &&= result.exact;
    for (const r of result.unprotectable) unprotectable.push(ref(r, column));
  }
  if (unprotectable.length > 0) {
    return {
      ...refused([
        {
          rule: 'unprotectable',
          reason: 'suppressed cells would still be recoverable from the released cells and totals',
          cells: unprotectable,
        },
      ]),
      exact,
    };
  }

  const released = table.rows.map((row, r) =>
    row.map((cell, c) => (hidden.get(table.columns[c]!)?.has(r) === true ? null : cell)),
  );
  const out: TableCheck['table'] = { columns: [...table.columns], rows: released };
  if (table.name !== undefined) out.name = table.name;
  return {
    status: suppressions.length > 0 ? 'suppressed' : 'released',
    table: out,
    suppressions,
    refusals: [],
    exact,
  };
}

/**
 * The totals a requester can use: every line (cells that differ in one key only) of the interior when totals are
 * assumed known; otherwise the margins present in the table, each equal to the interior cells it sums.
 */
function buildEquations(
  o: Resolved,
  rows: number,
  at: (row: number, column: string) => Cell,
  isMargin: (row: number) => boolean,
): Equation[] {
  const tuple = (r: number) => o.keys.map((k) => at(r, k));
  const interior = [...Array(rows).keys()].filter((r) => !isMargin(r));
  const equations: Equation[] = [];
  if (o.assumeTotalsKnown) {
    for (let d = 0; d < o.keys.length; d++) {
      const lines = new Map<string, number[]>();
      for (const r of interior) {
        const t = tuple(r);
        t[d] = o.marker;
        const k = JSON.stringify(t);
        lines.set(k, [...(lines.get(k) ?? []), r]);
      }
      for (const cells of lines.values()) equations.push({ cells });
    }
    return equations;
  }
  for (let m = 0; m < rows; m++) {
    if (!isMargin(m)) continue;
    const mt = tuple(m);
    const cells = interior.filter((r) => tuple(r).every((v, i) => mt[i] === o.marker || mt[i] === v));
    equations.push({ cells, margin: m });
  }
  return equations;
}
