/**
 * Output checking (statistical disclosure control) for tables that leave the sandbox (DESIGN.md §7). The rules and
 * their defaults follow ACRO (PyPI `acro`): minimum cell count 10 with zeros disclosive, nk-dominance with n = 2 and
 * k = 0.9, p-percent with p = 0.1; plus secondary suppression, refusal of record-level output and (in
 * differencing-auditor.ts) query auditing against differencing.
 *
 * Framework-free: plain data in, plain data out. The table shape is the sandbox's output table
 * (sandbox/src/protocol.ts `OutputTable`), restated here because the root project never imports the sandbox package.
 */

export type Cell = string | number | boolean | null;

/** An aggregate table: one row per cell, group keys, a count and magnitude (sum) columns. */
export interface AggregateTable {
  name?: string;
  columns: string[];
  rows: Cell[][];
  /**
   * Per value column, per row: the largest contributions to that cell (any order; at least the top two are needed).
   * Reported by the job and never released. Needed by the dominance and p-percent rules.
   */
  contributors?: Record<string, number[][]>;
  /** Per row: the ids of the units that make the cell. Never released; used by the differencing audit. */
  units?: string[][];
}

export interface DisclosureOptions {
  /** Group-key columns. A row whose key holds `totalMarker` is a margin (a total over that key). */
  keys: string[];
  /** The count column. Default `count`. */
  count?: string;
  /** Magnitude columns checked by dominance and p-percent. Default: every column that is neither a key nor the count. */
  values?: string[];
  /** Minimum count of a released cell. Default 10. */
  threshold?: number;
  /** A cell with count 0 is disclosive (it says nobody has the attribute). Default true. */
  zerosDisclosive?: boolean;
  /** nk-dominance: a cell is sensitive when its n largest contributions exceed k of its total. Default n 2, k 0.9. */
  dominance?: { n: number; k: number };
  /** p-percent: sensitive when total − x1 − x2 < p · x1 (the second largest could estimate the largest within p). */
  pRatio?: number;
  /** Key value that marks a margin row. Default `'Total'`. */
  totalMarker?: Cell;
  /**
   * Assume every line total (row, column and grand totals) is known to the requester, from this table's margins or
   * from elsewhere. Default true, the safe assumption: secondary suppression then protects against all of them.
   */
  assumeTotalsKnown?: boolean;
  /** Columns whose id-like names are known aggregation units (e.g. `district_id`), not record identifiers. */
  allowIdColumns?: string[];
  /** Refuse as record-level when more than this share of non-empty cells has a count of 1. Default 0.5. */
  recordLevelShare?: number;
  /**
   * Check for record-level output (default true). A table whose rows are every combination of declared domains
   * and whose counts are the checker's own (a declared job output) cannot be record-level by shape: its small and
   * empty cells are suppressed like any other.
   */
  recordLevel?: boolean;
  /**
   * Margin rows may be complements of secondary suppression (default false: interior cells only). For a table that
   * holds every margin and does not assume other totals known: a hidden margin derived from other margins (the
   * grand total minus the released column totals) can then be protected by hiding one of those.
   */
  marginComplements?: boolean;
  /** Value columns without contributors: refuse the table (default) or suppress the column. */
  missingContributors?: 'refuse' | 'suppress';
  /** Largest group of linked suppressed cells checked exactly (linear algebra); beyond it only line rules apply. */
  exactLimit?: number;
}

/** ACRO's defaults (acro.yaml: safe_threshold 10, safe_dominance_n 2, safe_dominance_ratio 0.9, safe_p_percent 0.1). */
export const ACRO_DEFAULTS = Object.freeze({
  threshold: 10,
  zerosDisclosive: true,
  dominance: Object.freeze({ n: 2, k: 0.9 }),
  pRatio: 0.1,
});

export type DisclosureRule =
  | 'invalid-table'
  | 'record-level'
  | 'threshold'
  | 'dominance'
  | 'p-percent'
  | 'secondary'
  | 'unprotectable'
  | 'differencing';

/** A cell of the checked table: its row, the statistic column and the row's group key. */
export interface CellRef {
  row: number;
  column: string;
  key: Record<string, Cell>;
}

export interface Suppression extends CellRef {
  rule: 'threshold' | 'dominance' | 'p-percent' | 'secondary';
}

export interface Refusal {
  rule: DisclosureRule;
  /** A fixed explanation (no data values). */
  reason: string;
  cells: CellRef[];
}

export interface TableCheck {
  /** `released`: nothing hidden; `suppressed`: released with some cells null; `refused`: nothing may leave. */
  status: 'released' | 'suppressed' | 'refused';
  /** The releasable table (suppressed cells null, disclosure metadata removed); absent when refused. */
  table?: { name?: string; columns: string[]; rows: Cell[][] };
  suppressions: Suppression[];
  refusals: Refusal[];
  /** Whether the exact (linear algebra) check covered every group of linked suppressed cells. */
  exact: boolean;
}
