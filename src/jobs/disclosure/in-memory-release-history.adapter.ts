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

  async overlapping(scope: AuditScope, units: readonly string[]): Promise<readonly ReleaseRecord[]> {
    const wanted = new Set(units);
    const out: ReleaseRecord[] = [];
    for (const r of this.byScope.get(key(scope)) ?? []) {
      const cells = r.cells.filter((c) => c.units.some((u) => wanted.has(u)));
      if (cells.length > 0) out.push({ releaseId: r.releaseId, cells });
    }
    return out;
  }

  /** One process: the auditor's own queue serialises; nothing to lock. */
  locked<T>(_scope: AuditScope, fn: (history: ReleaseHistory) => Promise<T>): Promise<T> {
    return fn(this);
  }
}

const key = (s: AuditScope) => JSON.stringify([s.org, s.population]);
