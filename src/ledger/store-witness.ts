/**
 * The store as a witness of the provenance log (issue #12): the latest signed tree head and the last verified
 * point of each log, kept in the store's `kv` table, apart from the log's own files. Deleting or rolling back the
 * log together with its derived files (checkpoint, hashes, heads, the acknowledgement mark) then no longer passes:
 * the log must still contain the head the store saw. The Fabric anchors (#14) are the witness other
 * organisations keep; this one is the gateway's own second place.
 */
import type { Db } from '../store/db.port.js';
import type { LogWitness, VerifiedPoint } from './integrity.js';
import type { SignedTreeHead } from './signed-tree-head.js';

export class StoreLogWitness implements LogWitness {
  readonly name = "the store's log witness";

  constructor(private readonly db: Db) {}

  async load(logId: string): Promise<{ head: SignedTreeHead | null; verified: VerifiedPoint | null }> {
    const rows = await this.db.query<{ key: string; value: unknown }>(
      `select key, value from kv where key in ($1, $2)`,
      [`log-head:${logId}`, `log-verified:${logId}`],
    );
    const by = new Map(rows.map((r) => [r.key, r.value]));
    const head = by.get(`log-head:${logId}`) as SignedTreeHead | undefined;
    const verified = by.get(`log-verified:${logId}`) as VerifiedPoint | undefined;
    return {
      head: head && typeof head === 'object' ? head : null,
      verified: verified && Number.isSafeInteger(verified.size) && typeof verified.root === 'string' ? verified : null,
    };
  }

  /** Keeps the larger head: several instances sharing a log may report out of order. */
  async saveHead(logId: string, sth: SignedTreeHead): Promise<void> {
    await this.db.query(
      `insert into kv (key, value) values ($1, $2::jsonb)
       on conflict (key) do update set value = excluded.value
       where (kv.value->>'treeSize')::bigint <= (excluded.value->>'treeSize')::bigint`,
      [`log-head:${logId}`, JSON.stringify(sth)],
    );
  }

  async saveVerified(logId: string, point: VerifiedPoint): Promise<void> {
    await this.db.query(
      `insert into kv (key, value) values ($1, $2::jsonb)
       on conflict (key) do update set value = excluded.value
       where (kv.value->>'size')::bigint <= (excluded.value->>'size')::bigint`,
      [`log-verified:${logId}`, JSON.stringify({ size: point.size, root: point.root })],
    );
  }
}
