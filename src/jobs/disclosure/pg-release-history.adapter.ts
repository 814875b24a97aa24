/**
 * Durable adapter of {@link ReleaseHistory} in the store: the cells each organisation has been given, per
 * population, survive restarts and are shared by every gateway on the same database.
 * - `job_release_history` (migration 0005_jobs) keeps each release as it was appended (idempotent per release id);
 * - `disclosure_cells` and `disclosure_units` (0023_disclosure_index) index each distinct cell once and unit ->
 *   cells, so `overlapping` reads only the earlier cells that share a unit with the new ones;
 * - `locked` takes a transaction-scoped advisory lock on the scope, so that releases of one organisation are
 *   serialised across gateway instances, not only within one process.
 */
import { createHash } from 'node:crypto';
import type { Db, Queryable } from '../../store/db.port.js';
import type { AuditScope, AuditedCell, ReleaseHistory, ReleaseRecord } from './release-history.port.js';

export class PgReleaseHistory implements ReleaseHistory {
  constructor(
    private readonly db: Queryable,
    /** The store that can open transactions (absent for a history bound to one). */
    private readonly store: Db | null = 'transaction' in db ? (db as Db) : null,
  ) {}

  async list(scope: AuditScope): Promise<readonly ReleaseRecord[]> {
    const rows = await this.db.query<{ release_id: string; cells: AuditedCell[] }>(
      `select release_id, cells from job_release_history where org = $1 and population = $2 order by seq`,
      [scope.org, scope.population],
    );
    return rows.map((r) => ({ releaseId: r.release_id, cells: r.cells }));
  }

  async overlapping(scope: AuditScope, units: readonly string[]): Promise<readonly ReleaseRecord[]> {
    if (units.length === 0) return [];
    const rows = await this.db.query<{ release_id: string; cell: string; units: string[] }>(
      `select c.release_id, c.cell, c.units from disclosure_cells c
        where c.id in (select cell_id from disclosure_units where org = $1 and population = $2 and unit = any($3::text[]))
        order by c.id`,
      [scope.org, scope.population, [...new Set(units)]],
    );
    return rows.map((r) => ({ releaseId: r.release_id, cells: [{ cell: r.cell, units: r.units }] }));
  }

  async append(scope: AuditScope, release: ReleaseRecord): Promise<void> {
    const cells = release.cells.map((c) => ({ cell: c.cell, units: [...new Set(c.units)] }));
    const added = await this.db.query<{ seq: string }>(
      `insert into job_release_history (org, population, release_id, cells) values ($1, $2, $3, $4::jsonb)
       on conflict (org, population, release_id) do nothing returning seq`,
      [scope.org, scope.population, release.releaseId, JSON.stringify(cells)],
    );
    if (added.length === 0) return; // the same release again
    for (const c of cells) {
      const [row] = await this.db.query<{ id: string }>(
        `insert into disclosure_cells (org, population, release_id, cell, signature, units)
         values ($1, $2, $3, $4, $5, $6::jsonb) on conflict (org, population, signature) do nothing returning id`,
        [scope.org, scope.population, release.releaseId, c.cell, signature(c.units), JSON.stringify(c.units)],
      );
      if (!row || c.units.length === 0) continue; // a cell released before adds nothing
      await this.db.query(
        `insert into disclosure_units (org, population, unit, cell_id)
         select $1, $2, u, $3::bigint from unnest($4::text[]) u on conflict do nothing`,
        [scope.org, scope.population, row.id, c.units],
      );
    }
  }

  async locked<T>(scope: AuditScope, fn: (history: ReleaseHistory) => Promise<T>): Promise<T> {
    if (!this.store) return fn(this); // already inside the scope's transaction
    return this.store.transaction(async (tx) => {
      await tx.query('select pg_advisory_xact_lock($1::bigint)', [lockKey(scope)]);
      return fn(new PgReleaseHistory(tx, null));
    });
  }
}

/** The same units, in any order and with repeats, are one cell (the one the SQL backfill computes too). */
export function signature(units: readonly string[]): string {
  return createHash('sha256')
    .update([...new Set(units)].sort().join('\u0001'))
    .digest('hex');
}

/** A signed 64-bit advisory lock key for the scope. */
function lockKey(scope: AuditScope): string {
  const h = createHash('sha256')
    .update(JSON.stringify(['disclosure', scope.org, scope.population]))
    .digest();
  return h.readBigInt64BE(0).toString();
}
