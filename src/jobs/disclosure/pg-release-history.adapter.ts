/**
 * Durable adapter of {@link ReleaseHistory} in the store (table `job_release_history`, migration 0005_jobs): the
 * cells each organisation has been given, per population, survive restarts and are shared by every gateway on
 * the same database. `append` is idempotent per release id.
 */
import type { Db } from '../../store/db.port.js';
import type { AuditScope, AuditedCell, ReleaseHistory, ReleaseRecord } from './release-history.port.js';

export class PgReleaseHistory implements ReleaseHistory {
  constructor(private readonly db: Db) {}

  async list(scope: AuditScope): Promise<readonly ReleaseRecord[]> {
    const rows = await this.db.query<{ release_id: string; cells: AuditedCell[] }>(
      `select release_id, cells from job_release_history where org = $1 and population = $2 order by seq`,
      [scope.org, scope.population],
    );
    return rows.map((r) => ({ releaseId: r.release_id, cells: r.cells }));
  }

  async append(scope: AuditScope, release: ReleaseRecord): Promise<void> {
    const cells = release.cells.map((c) => ({ cell: c.cell, units: [...c.units] }));
    await this.db.query(
      `insert into job_release_history (org, population, release_id, cells) values ($1, $2, $3, $4::jsonb)
       on conflict (org, population, release_id) do nothing`,
      [scope.org, scope.population, release.releaseId, JSON.stringify(cells)],
    );
  }
}
