/**
 * Test-only and single-process adapter of {@link ReleaseHistory}: kept in memory, lost on restart. The gateway uses
 * the durable adapter (pg-release-history.adapter.ts).
 */
import type { AuditScope, ReleaseHistory, ReleaseRecord } from './release-history.port.js';

export class InMemoryReleaseHistory implements ReleaseHistory {
  private readonly byScope = new Map<string, ReleaseRecord[]>();

  async list(scope: AuditScope): Promise<readonly ReleaseRecord[]> {
    return [...(this.byScope.get(key(scope)) ?? [])];
  }

  async append(scope: AuditScope, release: ReleaseRecord): Promise<void> {
    const list = this.byScope.get(key(scope)) ?? [];
    list.push({
      releaseId: release.releaseId,
      cells: release.cells.map((c) => ({ cell: c.cell, units: [...c.units] })),
    });
    this.byScope.set(key(scope), list);
  }
}

const key = (s: AuditScope) => JSON.stringify([s.org, s.population]);
