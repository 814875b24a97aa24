/**
 * Test helper, not for production: an in-memory WorldState with Fabric's semantics where the rules depend on
 * them (range end exclusive and in key order, history oldest first, one event per transaction).
 */
import type { Caller, HistoryEntry, StateEntry, WorldState } from '../src/world-state.port';

export class MemoryLedger {
  readonly values = new Map<string, string>();
  readonly versions = new Map<string, HistoryEntry[]>();
  readonly events: { name: string; payload: string }[] = [];
  private tx = 0;

  /** A transaction context for `caller`; its writes apply when `commit()` is called (as after ordering). */
  begin(caller: Caller, at = `2026-12-04T10:00:${String(this.tx % 60).padStart(2, '0')}.000Z`): MemoryTx {
    this.tx++;
    return new MemoryTx(this, `tx${this.tx}`, at, caller);
  }
}

export class MemoryTx implements WorldState {
  private readonly writes = new Map<string, string>();
  private event: { name: string; payload: string } | null = null;

  constructor(
    private readonly ledger: MemoryLedger,
    readonly txId: string,
    readonly txTime: string,
    readonly caller: Caller,
  ) {}

  async get(key: string): Promise<string | null> {
    return this.ledger.values.get(key) ?? null;
  }

  async put(key: string, value: string): Promise<void> {
    this.writes.set(key, value);
  }

  async range(start: string, end: string, limit: number): Promise<StateEntry[]> {
    return [...this.ledger.values.entries()]
      .filter(([k]) => k >= start && k < end)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .slice(0, limit)
      .map(([key, value]) => ({ key, value }));
  }

  async history(key: string): Promise<HistoryEntry[]> {
    return [...(this.ledger.versions.get(key) ?? [])];
  }

  emit(name: string, payload: string): void {
    this.event = { name, payload };
  }

  /** Applies the writes and the event, as a valid transaction's commit would. */
  commit(): { writes: Map<string, string>; event: { name: string; payload: string } | null } {
    for (const [k, v] of this.writes) {
      this.ledger.values.set(k, v);
      const list = this.ledger.versions.get(k) ?? [];
      list.push({ txId: this.txId, at: this.txTime, value: v });
      this.ledger.versions.set(k, list);
    }
    if (this.event) this.ledger.events.push(this.event);
    return { writes: new Map(this.writes), event: this.event };
  }
}

export const AUTHORITY_ADMIN: Caller = { mspId: 'AuthorityMSP', isAdmin: true, subject: 'CN=Admin@authority,OU=admin' };
export const AUTHORITY_GATEWAY: Caller = {
  mspId: 'AuthorityMSP',
  isAdmin: false,
  subject: 'CN=User1@authority,OU=client',
};
export const HOUSING_ADMIN: Caller = { mspId: 'HousingMSP', isAdmin: true, subject: 'CN=Admin@housing,OU=admin' };
