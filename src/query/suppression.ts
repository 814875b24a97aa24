/**
 * Small-cell suppression with secondary suppression (DESIGN.md §2, issue: aggregates with minimum cells).
 * Primary: every cell with fewer than k records is suppressed (zeros count: an empty cell is suppressed too).
 * Secondary: the released total would let a reader recover a lone suppressed cell (total minus the rest),
 * so while the suppressed cells number fewer than two, or together hold fewer than k records, the smallest
 * released cell is suppressed as well. If that cannot protect them, the total is suppressed.
 */
export interface CountedCell {
  key: string;
  n: number;
}

export interface SuppressionResult {
  suppressed: Set<string>;
  totalSuppressed: boolean;
  primary: number;
  secondary: number;
}

export function suppressSmallCells(cells: readonly CountedCell[], total: number, k: number): SuppressionResult {
  const suppressed = new Set<string>();
  if (k <= 1) return { suppressed, totalSuppressed: false, primary: 0, secondary: 0 };
  for (const c of cells) if (c.n < k) suppressed.add(c.key);
  const primary = suppressed.size;
  let secondary = 0;
  if (primary > 0) {
    const released = cells
      .filter((c) => !suppressed.has(c.key))
      .sort((a, b) => a.n - b.n || a.key.localeCompare(b.key));
    let hidden = cells.filter((c) => suppressed.has(c.key)).reduce((s, c) => s + c.n, 0);
    while ((suppressed.size < 2 || hidden < k) && released.length > 0) {
      const next = released.shift() as CountedCell;
      suppressed.add(next.key);
      hidden += next.n;
      secondary += 1;
    }
  }
  const unprotected =
    primary > 0 && (suppressed.size < 2 || cells.filter((c) => suppressed.has(c.key)).reduce((s, c) => s + c.n, 0) < k);
  const totalSuppressed = total < k || unprotected;
  return { suppressed, totalSuppressed, primary, secondary };
}
