import type { Db } from '../store/db.port.js';
import type { ProvenanceLog, Receipt } from './provenance-log.port.js';
import { canonicalJson, leafHash, type ProvenanceRecord } from './provenance-record.js';

const APPEND_LOCK = 7_340_002;

/**
 * ProvenanceLog over an append-only table in the store (an update/delete trigger refuses changes).
 * Appends are serialised with a transaction-scoped advisory lock so indices are dense and ordered,
 * also across gateway instances sharing one PostgreSQL. Durable once the transaction commits.
 */
export class TableProvenanceLog implements ProvenanceLog {
  constructor(private readonly db: Db) {}

  async append(record: ProvenanceRecord): Promise<Receipt> {
    const hash = leafHash(record);
    const json = canonicalJson(record);
    const index = await this.db.transaction(async (tx) => {
      await tx.query('select pg_advisory_xact_lock($1)', [APPEND_LOCK]);
      const rows = await tx.query<{ idx: number }>(
        `insert into provenance_records (idx, leaf_hash, record)
         select coalesce(max(idx) + 1, 0), $1, $2::jsonb from provenance_records returning idx`,
        [hash, json],
      );
      const idx = rows[0]?.idx;
      if (idx === undefined) throw new Error('append returned no index');
      return idx;
    });
    return { index, leafHash: hash };
  }

  async size(): Promise<number> {
    const rows = await this.db.query<{ n: number }>('select count(*)::int as n from provenance_records');
    return rows[0]?.n ?? 0;
  }

  async get(index: number) {
    const rows = await this.db.query<{ record: ProvenanceRecord; leaf_hash: string }>(
      'select record, leaf_hash from provenance_records where idx = $1',
      [index],
    );
    const r = rows[0];
    return r ? { record: r.record, leafHash: r.leaf_hash } : null;
  }

  async list(opts: { first: number; offset: number; dataset?: string | null; org?: string | null }) {
    const rows = await this.db.query<{ idx: number; record: ProvenanceRecord; leaf_hash: string }>(
      `select idx, record, leaf_hash from provenance_records
       where ($1::text is null or record->>'dataset' = $1)
         and ($2::text is null or record->'requester'->>'org' = $2)
       order by idx desc limit $3 offset $4`,
      [opts.dataset ?? null, opts.org ?? null, opts.first, opts.offset],
    );
    return rows.map((r) => ({ index: r.idx, record: r.record, leafHash: r.leaf_hash }));
  }
}
