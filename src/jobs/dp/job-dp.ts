/**
 * Differential privacy for sandbox job releases (docs/sandbox-jobs.md, docs/differential-privacy.md). On a dataset
 * whose DP settings exist, a real job's release is its declared tables (job-outputs.ts) computed by the gateway:
 *
 * - The declaration is made before the code sees any data, so the sensitivity cannot depend on the data: every
 *   table has a count and the declared sums, each of a field whose bounds the dataset's settings fix.
 * - Keys are unit levels or code lists of fields, and the gateway places each record by its own values (the code's
 *   assignment must equal that placement): one record cannot move another. The rows are every combination of the
 *   domains, so which rows exist never depends on the data either.
 * - Each record is in at most one interior row of each table: it moves one cell per (table, measure column) by at
 *   most that column's sensitivity Δ (1 for a count, max(|lower|, |upper|) for a sum, values clamped to the bounds).
 *   With m measure columns over all tables the release is a composition of m queries, and the charge ε is split
 *   evenly: each cell is noised at ε/m, i.e. with sensitivity m·Δ at ε.
 * - Margin rows are not noised: they are the sums of the noisy interior cells they cover (post-processing, free,
 *   and consistent with the table).
 * - No small-cell suppression, dominance or p-percent: they decide on the true values, which is itself a disclosure
 *   the noise does not cover; the noise protects every cell instead.
 */
import { canonicalJson, sha256Hex } from '../../ledger/provenance-record.js';
import type { ColumnarInput } from '../../query/query-engine.js';
import type { Cell } from '../disclosure/disclosure.types.js';
import type { JobCheck, JobRefusal, JobTable } from '../job.types.js';
import { MARGIN as MARGIN_KEY, type BuiltTable, type DeclaredSum, type Domains } from '../job-outputs.js';
import { sumSensitivity } from './discrete-noise.js';
import type { DpDatasetSettings } from './dp-settings.js';
import type { TrueCell } from './privacy-budget.repository.js';

/** Most noised cells in one release (they are stored as one answer). */
export const MAX_DP_CELLS = 20_000;

type Measure = { kind: 'count' } | { kind: 'sum'; field: string };

export type DpOutputVerdict =
  | {
      ok: true;
      /** True cells to noise, keyed `table:row:column`. */
      cells: TrueCell[];
      /** Sensitivity of each cell in `cells` at the full ε (m·Δ). */
      sensitivities: number[];
      checks: JobCheck[];
      rows: number;
      /** Builds the released tables from the noisy cells (margins summed from them). */
      build(noisy: readonly TrueCell[]): JobTable[];
    }
  | { ok: false; refusal: JobRefusal; checks: JobCheck[] };

const measuresOf = (sums: readonly DeclaredSum[]): Measure[] => [
  { kind: 'count' },
  ...sums.map((s) => ({ kind: 'sum' as const, field: s.field })),
];

/** The true cells of a DP release of the gateway's tables (see the header). */
export function dpRelease(
  tables: readonly BuiltTable[],
  input: ColumnarInput,
  settings: DpDatasetSettings,
): DpOutputVerdict {
  const checks: JobCheck[] = [];
  const measureColumns = tables.reduce((n, t) => n + 1 + t.declared.sums.length, 0);
  const interior = tables.reduce((n, t) => n + t.margin.filter((m) => !m).length * (1 + t.declared.sums.length), 0);
  if (interior > MAX_DP_CELLS) {
    checks.push({ check: 'dp-shape', verdict: 'refused', detail: 'invalid-table' });
    return {
      ok: false,
      refusal: {
        rule: 'invalid-table',
        reason: `a release may hold at most ${MAX_DP_CELLS} noised cells`,
        table: null,
        cells: [],
      },
      checks,
    };
  }
  const cells: TrueCell[] = [];
  const sensitivities: number[] = [];
  for (const [ti, t] of tables.entries()) {
    const measures = measuresOf(t.declared.sums);
    const first = t.declared.keys.length; // the count column's index
    t.records.forEach((recs, ri) => {
      if (t.margin[ri]) return;
      measures.forEach((m, mi) => {
        cells.push({ key: `${ti}:${ri}:${first + mi}`, label: null, value: trueValue(m, recs, input, settings) });
        sensitivities.push(measureColumns * sensitivityOf(m, settings));
      });
    });
  }
  checks.push({
    check: 'dp-shape',
    verdict: 'passed',
    detail: `${tables.length} table(s), ${measureColumns} measure column(s), ${cells.length} cell(s) computed by the gateway`,
  });
  return {
    ok: true,
    cells,
    sensitivities,
    checks,
    rows: tables.reduce((n, t) => n + t.rows.length, 0),
    build: (noisy) => buildTables(tables, noisy),
  };
}

function sensitivityOf(m: Measure, settings: DpDatasetSettings): number {
  if (m.kind === 'count') return 1;
  const b = settings.sumBounds[m.field]!;
  return sumSensitivity(b.lower, b.upper);
}

function trueValue(m: Measure, group: readonly number[], input: ColumnarInput, s: DpDatasetSettings): number {
  if (m.kind === 'count') return group.length;
  const b = s.sumBounds[m.field]!;
  const values = input.fields[m.field] ?? [];
  let sum = 0;
  for (const i of group) {
    const v = values[i];
    if (typeof v !== 'number' || Number.isNaN(v)) continue; // a missing value adds nothing
    sum += Math.round(Math.min(b.upper, Math.max(b.lower, v)));
  }
  return sum;
}

function buildTables(tables: readonly BuiltTable[], noisy: readonly TrueCell[]): JobTable[] {
  const value = new Map(noisy.map((c) => [c.key, c.value]));
  return tables.map((t, ti) => {
    const first = t.declared.keys.length;
    const measureAt = Array.from({ length: 1 + t.declared.sums.length }, (_, i) => first + i);
    const at = (ri: number, col: number): number => {
      const v = value.get(`${ti}:${ri}:${col}`);
      if (v === undefined) throw new Error('a stored DP answer lacks a cell of this release');
      return v;
    };
    // A margin row sums the noisy interior rows it covers: those that agree with it on every key it does not total.
    const keysOf = (ri: number) => t.rows[ri]!.slice(0, first);
    const interior = t.rows.map((_, ri) => ri).filter((ri) => !t.margin[ri]);
    const rows: Cell[][] = t.rows.map((r, ri) => {
      const out = [...r];
      if (!t.margin[ri]) {
        for (const col of measureAt) out[col] = at(ri, col);
        return out;
      }
      const want = keysOf(ri);
      const covered = interior.filter((i) => keysOf(i).every((k, j) => want[j] === MARGIN_KEY || k === want[j]));
      for (const col of measureAt) out[col] = covered.reduce((s, i) => s + at(i, col), 0);
      return out;
    });
    return { name: t.declared.name, columns: t.columns, rows, suppressed: [] };
  });
}

/**
 * The query key of a job release: the same code over the same fields, declared tables, dataset version and grant
 * extent is the same question (answered from the stored answer, free); anything else is
 * a new one (charged).
 */
export function jobDpQueryKey(q: {
  datasetId: string;
  datasetVersion: string;
  codeHash: string;
  fields: readonly string[];
  /** The declared tables and their resolved domains: the release's whole shape. */
  declared: unknown;
  domains: Domains;
  extent: readonly string[] | null;
}): string {
  return sha256Hex(
    canonicalJson({
      kind: 'sandbox-job',
      datasetId: q.datasetId,
      datasetVersion: q.datasetVersion,
      codeHash: q.codeHash,
      fields: [...q.fields].sort(),
      declared: q.declared,
      domains: q.domains,
      extent: q.extent === null ? null : [...new Set(q.extent)].sort(),
    }),
  );
}
