import type { VerifiableLog } from '../ledger/verifiable-log.js';
import type { Db } from '../store/db.port.js';
import { MIGRATIONS } from '../store/migrations.js';

export interface ReadinessReport {
  ready: boolean;
  /** One line per check: `ok` or why not. */
  checks: { store: string; migrations: string; log: string; server: string };
}

/**
 * Readiness of one gateway instance: the store answers, every migration this build knows is applied, the
 * provenance log can append (nothing is released otherwise), and the instance is not shutting down.
 */
export class Readiness {
  private draining = false;

  constructor(
    private readonly db: Db,
    private readonly log: Pick<VerifiableLog, 'writable'> & Partial<Pick<VerifiableLog, 'integrity'>>,
  ) {}

  /** Called when shutdown starts: load balancers stop sending traffic while in-flight requests drain. */
  startDraining(): void {
    this.draining = true;
  }

  async check(): Promise<ReadinessReport> {
    const checks = { store: 'ok', migrations: 'ok', log: 'ok', server: 'ok' };
    try {
      const rows = await this.db.query<{ id: string }>('select id from schema_migrations');
      const applied = new Set(rows.map((r) => r.id));
      const missing = MIGRATIONS.filter((m) => !applied.has(m.id)).map((m) => m.id);
      if (missing.length > 0) checks.migrations = `pending: ${missing.join(', ')}`;
    } catch {
      checks.store = 'unreachable';
      checks.migrations = 'unknown';
    }
    const integrity = this.log.integrity?.();
    if (integrity && !integrity.ok) checks.log = `failed its integrity check: ${integrity.reason}`;
    else if (!this.log.writable) checks.log = 'not writable';
    if (this.draining) checks.server = 'shutting down';
    return { ready: Object.values(checks).every((c) => c === 'ok'), checks };
  }
}
