/**
 * TEST ORACLE: exact rational Gaussian elimination (BigInt, no modular shortcut), independent of the gateway's
 * GF(p) code. Given linear equations over cell values (coefficients on cell indices, = 0) and the set of cells
 * whose values were released, it returns every unreleased cell whose value those equations determine.
 */
function gcd(a: bigint, b: bigint): bigint {
  a = a < 0n ? -a : a;
  b = b < 0n ? -b : b;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

export function determinedCells(equations: readonly Map<number, number>[], released: ReadonlySet<number>): Set<number> {
  // Restrict each equation to its unknowns (released values move to the constant side, which does not matter).
  const unknowns = [...new Set(equations.flatMap((e) => [...e.keys()]).filter((c) => !released.has(c)))].sort(
    (a, b) => a - b,
  );
  const col = new Map(unknowns.map((c, i) => [c, i]));
  const rows: bigint[][] = [];
  for (const e of equations) {
    const row = new Array<bigint>(unknowns.length).fill(0n);
    let any = false;
    for (const [c, v] of e) {
      const j = col.get(c);
      if (j === undefined || v === 0) continue;
      row[j] = row[j]! + BigInt(v);
      any = true;
    }
    if (any) rows.push(row);
  }
  // Reduced row echelon form over the integers (rows scaled, then divided by their gcd).
  const pivots: number[] = [];
  let r = 0;
  for (let j = 0; j < unknowns.length && r < rows.length; j++) {
    let p = -1;
    for (let i = r; i < rows.length; i++)
      if (rows[i]![j] !== 0n) {
        p = i;
        break;
      }
    if (p < 0) continue;
    [rows[r], rows[p]] = [rows[p]!, rows[r]!];
    const pr = rows[r]!;
    for (let i = 0; i < rows.length; i++) {
      if (i === r || rows[i]![j] === 0n) continue;
      const a = pr[j]!;
      const b = rows[i]![j]!;
      const row = rows[i]!.map((v, k) => v * a - pr[k]! * b);
      const g = row.reduce((acc, v) => gcd(acc, v), 0n);
      rows[i] = g > 1n ? row.map((v) => v / g) : row;
    }
    pivots.push(j);
    r++;
  }
  const out = new Set<number>();
  pivots.forEach((j, i) => {
    const row = rows[i]!;
    if (row.every((v, k) => k === j || v === 0n)) out.add(unknowns[j]!);
  });
  return out;
}
