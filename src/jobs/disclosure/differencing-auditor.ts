/**
 * Query auditing against differencing. Two released counts over cells A and B reveal the count of A \ B and of
 * B \ A when one contains the other, and their difference in any case: "the ward" and "the ward minus one building",
 * or "this polygon" and "this polygon minus a sliver", give away the building or the sliver. So a new cell is refused
 * when, against any cell this organisation already holds (or another cell of the same new release), either one-sided
 * difference is non-empty and smaller than the threshold (weighted by records per unit when units are grains).
 *
 * Cells that share no unit are never compared (their differences are the cells themselves, which passed the
 * threshold). Identical cells are fine. What this does not catch: differences that need three or more releases
 * (A − B − C), which would need a linear audit over all releases; the threshold on each one-sided difference keeps
 * the common two-query attacks out, and the DP budget (separate work) bounds the rest.
 */
import type { AuditScope, AuditedCell, ReleaseHistory, ReleaseRecord } from './release-history.port.js';

export interface DifferencingOptions {
  /** Smallest difference (in weighted units) that may be revealed. Default 10. */
  threshold?: number;
  /** Records per unit (e.g. residents of a grain). Default 1: units are records. */
  weight?: (unit: string) => number;
}

export interface DifferencingPair {
  cell: string;
  against: { releaseId: string; cell: string };
  /** Weighted size of the difference. */
  difference: number;
  /** Which side holds the small difference. */
  side: 'new-not-earlier' | 'earlier-not-new';
}

/** Which rule, which new cells (by label) and, for each, the earlier cell it would be differenced with. */
export interface DifferencingRefusal {
  rule: 'differencing';
  reason: string;
  cells: string[];
  pairs: DifferencingPair[];
}

const NEW_RELEASE = '(this release)';

/** Pure check: the new cells against earlier releases and against each other. */
export function findDifferencing(
  candidate: readonly AuditedCell[],
  earlier: readonly ReleaseRecord[],
  options: DifferencingOptions = {},
): DifferencingRefusal | null {
  const threshold = options.threshold ?? 10;
  const weight = options.weight ?? (() => 1);
  const pool: { releaseId: string; cell: string; units: Set<string>; size: number }[] = [];
  const seen = new Set<string>();
  for (const r of earlier) {
    for (const c of r.cells) {
      const units = new Set(c.units);
      const signature = [...units].sort().join('\u0000');
      if (seen.has(signature)) continue; // the same cell released again adds nothing
      seen.add(signature);
      pool.push({ releaseId: r.releaseId, cell: c.cell, units, size: sum(units, weight) });
    }
  }
  const firstNew = pool.length;
  for (const c of candidate) {
    const units = new Set(c.units);
    pool.push({ releaseId: NEW_RELEASE, cell: c.cell, units, size: sum(units, weight) });
  }
  // unit → cells of the pool holding it, so that only overlapping cells are compared
  const holders = new Map<string, number[]>();
  pool.forEach((p, i) => {
    for (const u of p.units) {
      const list = holders.get(u);
      if (list) list.push(i);
      else holders.set(u, [i]);
    }
  });
  const pairs: DifferencingPair[] = [];
  for (let i = firstNew; i < pool.length; i++) {
    const n = pool[i]!;
    const overlap = new Map<number, number>();
    for (const u of n.units) {
      for (const j of holders.get(u) ?? []) if (j !== i) overlap.set(j, (overlap.get(j) ?? 0) + weight(u));
    }
    for (const [j, shared] of overlap) {
      if (j > i && j >= firstNew) continue; // each pair of new cells once
      const e = pool[j]!;
      const newOnly = n.size - shared;
      const earlierOnly = e.size - shared;
      const against = { releaseId: e.releaseId, cell: e.cell };
      if (newOnly > 0 && newOnly < threshold)
        pairs.push({ cell: n.cell, against, difference: newOnly, side: 'new-not-earlier' });
      if (earlierOnly > 0 && earlierOnly < threshold) {
        pairs.push({ cell: n.cell, against, difference: earlierOnly, side: 'earlier-not-new' });
      }
    }
  }
  if (pairs.length === 0) return null;
  return {
    rule: 'differencing',
    reason: `a released cell would differ from another cell of this organisation by fewer than ${threshold} units`,
    cells: [...new Set(pairs.map((p) => p.cell))],
    pairs,
  };
}

function sum(units: ReadonlySet<string>, weight: (u: string) => number): number {
  let s = 0;
  for (const u of units) s += weight(u);
  return s;
}

export interface AuditResult {
  allowed: boolean;
  refusal: DifferencingRefusal | null;
}

export class DifferencingAuditor {
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    private readonly history: ReleaseHistory,
    private readonly options: DifferencingOptions = {},
  ) {}

  /** Would releasing these cells allow differencing against this scope's earlier releases? */
  check(scope: AuditScope, cells: readonly AuditedCell[]): Promise<AuditResult> {
    return checkWith(this.history, scope, cells, this.options);
  }

  /**
   * Checks and, when allowed, records the release, serialised per scope: in this process by a queue, and across
   * gateway instances by the history's lock (check and append in one transaction), so that two concurrent
   * releases cannot each pass against a history that lacks the other.
   */
  release(
    scope: AuditScope,
    releaseId: string,
    cells: readonly AuditedCell[],
    options: DifferencingOptions = {},
  ): Promise<AuditResult> {
    const k = JSON.stringify([scope.org, scope.population]);
    const opts = { ...this.options, ...options };
    const run = (this.queues.get(k) ?? Promise.resolve()).then(() =>
      this.history.locked(scope, async (history) => {
        const result = await checkWith(history, scope, cells, opts);
        if (result.allowed) await history.append(scope, { releaseId, cells });
        return result;
      }),
    );
    const tail = run.catch(() => undefined);
    this.queues.set(k, tail);
    void tail.then(() => {
      if (this.queues.get(k) === tail) this.queues.delete(k);
    });
    return run;
  }
}

/** The check against the earlier cells that share a unit with the new ones (read from the history's index). */
async function checkWith(
  history: ReleaseHistory,
  scope: AuditScope,
  cells: readonly AuditedCell[],
  options: DifferencingOptions,
): Promise<AuditResult> {
  const earlier = await history.overlapping(
    scope,
    cells.flatMap((c) => c.units),
  );
  const refusal = findDifferencing(cells, earlier, options);
  return { allowed: refusal === null, refusal };
}

/** The cells of a checked table that may be audited: released rows with their units, labelled by their key. */
export function auditedCells(
  table: { columns: string[]; rows: (string | number | boolean | null)[][]; units?: string[][] },
  keys: readonly string[],
  releasedRows?: ReadonlySet<number>,
): AuditedCell[] {
  if (table.units === undefined) return [];
  const idx = keys.map((k) => table.columns.indexOf(k));
  const out: AuditedCell[] = [];
  table.rows.forEach((row, r) => {
    if (releasedRows !== undefined && !releasedRows.has(r)) return;
    const units = table.units?.[r];
    if (units === undefined) return;
    out.push({ cell: keys.map((k, i) => `${k}=${String(row[idx[i]!] ?? 'null')}`).join(','), units });
  });
  return out;
}
