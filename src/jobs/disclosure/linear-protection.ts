/**
 * Secondary suppression on the linear relations of a table (one statistic column at a time).
 *
 * The requester knows the released cells and (by assumption) some totals: each total is an equation over the cells it
 * sums. A suppressed cell is disclosed exactly when it is determined by those equations, i.e. when its unit vector
 * lies in the row space of the equations restricted to the suppressed cells. `protect` adds complementary
 * suppressions until no suppressed cell is determined:
 * 1. line rules (cheap): no equation may hold exactly one suppressed cell, and, for counts, the suppressed cells of an
 *    equation must together hold at least the threshold (so no zero or tiny cell is pinned by non-negativity);
 * 2. the exact rule: Gaussian elimination over GF(2^31 − 1) per group of linked suppressed cells; a determined cell
 *    gets a complement from one of its equations.
 * Complements are the released cell of smallest positive magnitude in an equation of the exposed cell (least
 * information lost). A cell that cannot be protected is reported; the caller refuses the table.
 */

/** An equation: the cells (row indices) it sums and, for a margin released in the table, that margin's row. */
export interface Equation {
  cells: number[];
  /** Row of a margin cell equal to the sum, if the margin is a cell of the table (coefficient −1). */
  margin?: number;
}

export interface ProtectInput {
  /** Number of rows (cells) in the table. */
  size: number;
  equations: Equation[];
  /** Initially suppressed rows. */
  suppressed: ReadonlySet<number>;
  /** Magnitude of each row's cell (for choosing complements and the count width rule); null when missing. */
  magnitude: (row: number) => number | null;
  /** Rows that may serve as complements (interior, released, present). */
  eligible: (row: number) => boolean;
  /** For a count column: suppressed cells of an equation must together hold at least this. 0 to skip. */
  width: number;
  /** Largest linked group of suppressed cells checked exactly. */
  exactLimit: number;
}

export interface ProtectResult {
  suppressed: Set<number>;
  /** Added by this step. */
  complements: number[];
  /** Suppressed rows that remain determined and cannot be protected. */
  unprotectable: number[];
  exact: boolean;
}

const P = 2147483647;

function mulmod(a: number, b: number): number {
  return (((a * (b >>> 16)) % P) * 65536 + a * (b & 0xffff)) % P;
}

function powmod(a: number, e: number): number {
  let r = 1;
  let b = a % P;
  while (e > 0) {
    if (e & 1) r = mulmod(r, b);
    b = mulmod(b, b);
    e = Math.floor(e / 2);
  }
  return r;
}

const inverse = (a: number) => powmod(a, P - 2);
const norm = (a: number) => ((a % P) + P) % P;

/**
 * Which unknowns (columns 0..u−1) are determined by the equations (rows of coefficients over the unknowns).
 * Reduced row echelon form mod p: unknown j is determined iff it is a pivot column whose pivot row has no entry in a
 * free column.
 */
export function determined(rows: Map<number, number>[], u: number): Set<number> {
  const m: number[][] = rows.map((r) => {
    const dense = new Array<number>(u).fill(0);
    for (const [j, c] of r) dense[j] = norm(c);
    return dense;
  });
  const pivotOfRow: number[] = [];
  let rank = 0;
  for (let col = 0; col < u && rank < m.length; col++) {
    let pivot = -1;
    for (let r = rank; r < m.length; r++) {
      if (m[r]![col] !== 0) {
        pivot = r;
        break;
      }
    }
    if (pivot < 0) continue;
    [m[rank], m[pivot]] = [m[pivot]!, m[rank]!];
    const row = m[rank]!;
    const inv = inverse(row[col]!);
    for (let j = col; j < u; j++) if (row[j] !== 0) row[j] = mulmod(row[j]!, inv);
    for (let r = 0; r < m.length; r++) {
      if (r === rank) continue;
      const other = m[r]!;
      const f = other[col]!;
      if (f === 0) continue;
      for (let j = col; j < u; j++) {
        if (row[j] !== 0) other[j] = norm(other[j]! - mulmod(f, row[j]!));
      }
    }
    pivotOfRow[rank] = col;
    rank++;
  }
  const isPivot = new Set(pivotOfRow);
  const out = new Set<number>();
  for (let r = 0; r < rank; r++) {
    const row = m[r]!;
    let free = false;
    for (let j = 0; j < u && !free; j++) if (!isPivot.has(j) && row[j] !== 0) free = true;
    if (!free) out.add(pivotOfRow[r]!);
  }
  return out;
}

export function protect(input: ProtectInput): ProtectResult {
  const suppressed = new Set(input.suppressed);
  const complements: number[] = [];
  const members = (e: Equation) => (e.margin === undefined ? e.cells : [...e.cells, e.margin]);
  const byCell = new Map<number, number[]>();
  input.equations.forEach((e, i) => {
    for (const c of members(e)) byCell.set(c, [...(byCell.get(c) ?? []), i]);
  });
  const mag = (r: number) => Math.abs(input.magnitude(r) ?? 0);
  const hiddenIn = (e: Equation) => members(e).filter((c) => suppressed.has(c));

  /** The released member of these equations with the smallest positive magnitude (zeros last), or undefined. */
  const complementFor = (equations: readonly number[]): number | undefined => {
    let best: number | undefined;
    for (const ei of equations) {
      for (const c of members(input.equations[ei]!)) {
        if (suppressed.has(c) || !input.eligible(c)) continue;
        const better =
          best === undefined ||
          (mag(c) > 0 && (mag(best) === 0 || mag(c) < mag(best))) ||
          (mag(c) === mag(best) && c < best);
        if (better) best = c;
      }
    }
    return best;
  };

  /**
   * The equations linked to a cell through suppressed cells: an exposure may come from a combination of them (a
   * margin of margins: the grand total minus the released column totals gives the hidden one), and a complement in
   * any of them can break it.
   */
  const linkedEquations = (cell: number): number[] => {
    const seen = new Set<number>();
    const cells = [cell];
    const visited = new Set<number>([cell]);
    while (cells.length > 0) {
      for (const ei of byCell.get(cells.pop()!) ?? []) {
        if (seen.has(ei)) continue;
        seen.add(ei);
        for (const c of hiddenIn(input.equations[ei]!)) {
          if (!visited.has(c)) {
            visited.add(c);
            cells.push(c);
          }
        }
      }
    }
    return [...seen].sort((a, b) => a - b);
  };

  /** Linked groups of suppressed cells (sharing an equation), each with the unknowns it determines. */
  const exposedByGroup = (): { exposed: number[]; exact: boolean } => {
    const parent = new Map<number, number>();
    const find = (c: number): number => {
      let r = c;
      while (parent.get(r) !== r) r = parent.get(r)!;
      return r;
    };
    for (const c of suppressed) if (byCell.has(c)) parent.set(c, c);
    for (const e of input.equations) {
      const hidden = hiddenIn(e);
      for (let i = 1; i < hidden.length; i++) parent.set(find(hidden[i]!), find(hidden[0]!));
    }
    const groups = new Map<number, number[]>();
    for (const c of parent.keys()) groups.set(find(c), [...(groups.get(find(c)) ?? []), c]);
    const exposed: number[] = [];
    let exact = true;
    for (const cells of groups.values()) {
      if (cells.length > input.exactLimit) {
        exact = false;
        continue;
      }
      const index = new Map(cells.map((c, i) => [c, i]));
      const rows = [...new Set(cells.flatMap((c) => byCell.get(c) ?? []))].map((ei) => {
        const e = input.equations[ei]!;
        const row = new Map<number, number>();
        for (const c of e.cells) if (index.has(c)) row.set(index.get(c)!, 1);
        if (e.margin !== undefined && index.has(e.margin)) row.set(index.get(e.margin)!, P - 1);
        return row;
      });
      for (const j of determined(rows, cells.length)) exposed.push(cells[j]!);
    }
    return { exposed, exact };
  };

  for (let round = 0; round <= input.size; round++) {
    let changed = false;
    // 1. line rules
    input.equations.forEach((e, ei) => {
      const hidden = hiddenIn(e);
      if (hidden.length === 0) return;
      const short = hidden.length === 1 || (input.width > 0 && hidden.reduce((s, c) => s + mag(c), 0) < input.width);
      if (!short) return;
      const c = complementFor([ei]);
      if (c === undefined) return;
      suppressed.add(c);
      complements.push(c);
      changed = true;
    });
    if (changed) continue;
    // 2. exact rule: give the first exposed cell that can have one a complement, then look again
    for (const cell of exposedByGroup().exposed) {
      const c = complementFor(byCell.get(cell) ?? []) ?? complementFor(linkedEquations(cell));
      if (c === undefined) continue;
      suppressed.add(c);
      complements.push(c);
      changed = true;
      break;
    }
    if (!changed) break;
  }
  const final = exposedByGroup();
  const lone = input.equations
    .map(hiddenIn)
    .filter((h) => h.length === 1)
    .map((h) => h[0]!);
  return {
    suppressed,
    complements,
    unprotectable: [...new Set([...final.exposed, ...lone])].sort((a, b) => a - b),
    exact: final.exact,
  };
}
