/**
 * The storage a gateway gets when its log's files cannot even be opened (shorter than their checkpoint, not a
 * log file, ...): it holds nothing and refuses every write, and `problems` says why, so the gateway starts
 * degraded (readiness 503 with the reason, releases UNAVAILABLE) instead of not at all, and the operator sees
 * what is wrong. The files are left exactly as found.
 */
import { LogCorruptionError, type LogIdentity, type LogStorage, type StoredLeaf } from '../log-storage.port.js';
import type { NodeId } from '../merkle/tree-math.js';
import type { SignedTreeHead } from '../signed-tree-head.js';

export class UnopenableLogStorage implements LogStorage {
  readonly problems: readonly string[];

  constructor(
    readonly kind: 'file' | 'postgres',
    reason: string,
  ) {
    this.problems = [reason];
  }

  private refuse(): never {
    throw new LogCorruptionError(`the provenance log could not be opened: ${this.problems[0]}`);
  }

  async bind(_identity: LogIdentity): Promise<void> {}
  async identity(): Promise<LogIdentity | null> {
    return null;
  }
  async append(): Promise<number> {
    return this.refuse();
  }
  async size(): Promise<number> {
    return 0;
  }
  async getLeaves(start: number, end: number): Promise<StoredLeaf[]> {
    if (start === end) return [];
    return this.refuse();
  }
  async getNodes(ids: readonly NodeId[]): Promise<Buffer[]> {
    if (ids.length === 0) return [];
    return this.refuse();
  }
  async list(): Promise<StoredLeaf[]> {
    return [];
  }
  async putTreeHead(_sth: SignedTreeHead): Promise<void> {
    this.refuse();
  }
  async latestTreeHead(): Promise<SignedTreeHead | null> {
    return null;
  }
  async treeHeads(): Promise<SignedTreeHead[]> {
    return [];
  }
  async close(): Promise<void> {}
}
