import { Logger } from '@nestjs/common';
import type { ProvenanceLog } from '../ledger/provenance-log.port.js';
import {
  isEncryptedStep,
  type EncryptedDecisionRecord,
  type EncryptedRuleRecord,
  type GrantRecord,
  type ProvenanceRecord,
  type ReleaseUndeliveredRecord,
} from '../ledger/provenance-record.js';
import type { Db } from '../store/db.port.js';

const log = new Logger('AuditIndex');

/**
 * A queryable index of the provenance log's metadata (never data values) for the auditors' trail. It is
 * derived: the log is the source of truth, the index can always be rebuilt from it (`catchUp`), and audits
 * verify the log, not the index.
 */
export class AuditIndex {
  constructor(private readonly db: Db) {}

  async add(index: number, r: ProvenanceRecord): Promise<void> {
    if (isEncryptedStep(r)) {
      await this.addEncryptedStep(index, r);
      return;
    }
    if (r.kind === 'release.undelivered') {
      await this.addUndelivered(index, r);
      return;
    }
    if (r.kind === 'statistical-release') return; // the gateway's own publication: in the log, not an access
    if (r.kind !== 'access') {
      await this.addGrantStep(index, r);
      return;
    }
    await this.db.transaction(async (tx) => {
      const inserted = await tx.query(
        `insert into audit_index (idx, at, sub, org, roles, purpose, dataset, mode, fields, tier, allowed, released,
           refusal, grant_id, rows, within, reasons)
         values ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9::jsonb, $10, $11, $12, $13, $14, $15, $16, $17::jsonb)
         on conflict (idx) do nothing returning idx`,
        [
          index,
          r.at,
          r.requester.sub,
          r.requester.org,
          JSON.stringify(r.requester.roles),
          r.purpose,
          r.dataset,
          r.mode,
          JSON.stringify(r.fields),
          r.decision.tier,
          r.decision.allow,
          r.outcome.released,
          r.outcome.refusal,
          r.decision.grantId,
          r.outcome.rows,
          r.scope?.within ?? null,
          JSON.stringify(r.decision.reasons),
        ],
      );
      if (inserted.length === 0 || r.outcome.grains.length === 0) return;
      const grains = [...new Set(r.outcome.grains)];
      await tx.query(
        `insert into audit_grains (grain_id, idx) select g, $2 from unnest($1::text[]) as g on conflict do nothing`,
        [grains, index],
      );
    });
  }

  /** A step of a grant: no mode, no tier, nothing released; the scope applied for or granted, and the reason. */
  private async addGrantStep(index: number, r: GrantRecord): Promise<void> {
    await this.db.query(
      `insert into audit_index (idx, at, sub, org, roles, purpose, dataset, mode, fields, tier, allowed, released,
         refusal, grant_id, rows, within, reasons, kind, application_id, extent, reason)
       values ($1, $2, $3, $4, $5::jsonb, $6, $7, null, $8::jsonb, null, true, false, null, $9, 0, null, '[]'::jsonb,
         $10, $11, $12::jsonb, $13)
       on conflict (idx) do nothing`,
      [
        index,
        r.at,
        r.requester.sub,
        r.requester.org,
        JSON.stringify(r.requester.roles),
        r.purpose,
        r.dataset,
        JSON.stringify(r.scope.fields),
        r.grantId,
        r.kind,
        r.applicationId,
        JSON.stringify(r.scope.extent),
        r.reason,
      ],
    );
  }

  /** A release that did not reach its caller: the release's requester and dataset; the reason names the release. */
  private async addUndelivered(index: number, r: ReleaseUndeliveredRecord): Promise<void> {
    await this.db.query(
      `insert into audit_index (idx, at, sub, org, roles, purpose, dataset, mode, fields, tier, allowed, released,
         refusal, grant_id, rows, within, reasons, kind, application_id, extent, reason)
       values ($1, $2, $3, $4, $5::jsonb, null, $6, null, '[]'::jsonb, null, true, false, null, null, 0, null,
         '[]'::jsonb, 'release.undelivered', null, null, $7)
       on conflict (idx) do nothing`,
      [
        index,
        r.at,
        r.requester.sub,
        r.requester.org,
        JSON.stringify(r.requester.roles),
        r.dataset,
        `${r.reason}: release #${r.release.index}`,
      ],
    );
  }

  /** An owner's decision on an encrypted computation, or a standing rule: the column and the reason. */
  private async addEncryptedStep(index: number, r: EncryptedDecisionRecord | EncryptedRuleRecord): Promise<void> {
    const column = 'computation' in r ? r.computation.column : r.rule.column;
    await this.db.query(
      `insert into audit_index (idx, at, sub, org, roles, purpose, dataset, mode, fields, tier, allowed, released,
         refusal, grant_id, rows, within, reasons, kind, application_id, extent, reason)
       values ($1, $2, $3, $4, $5::jsonb, null, $6, 'encrypted', $7::jsonb, null, true, false, null, null, 0, null,
         '[]'::jsonb, $8, null, null, $9)
       on conflict (idx) do nothing`,
      [
        index,
        r.at,
        r.requester.sub,
        r.requester.org,
        JSON.stringify(r.requester.roles),
        r.dataset,
        JSON.stringify([column]),
        r.kind,
        r.reason,
      ],
    );
  }

  /** Indexes every log entry the index has not seen (after a restart, or after an indexing failure). */
  async catchUp(provenance: ProvenanceLog): Promise<number> {
    const size = await provenance.size();
    const stats = await this.db.query<{ next: number; n: number }>(
      'select coalesce(max(idx) + 1, 0)::int as next, count(*)::int as n from audit_index',
    );
    const next = stats[0]?.next ?? 0;
    // Gaps below the high-water mark (an indexing failure after a durable append) are filled too.
    const gaps =
      (stats[0]?.n ?? 0) < next
        ? (
            await this.db.query<{ i: number }>(
              'select i::int from generate_series(0, $1::bigint - 1) as i where not exists (select 1 from audit_index where idx = i)',
              [next],
            )
          ).map((g) => g.i)
        : [];
    let added = 0;
    for (const i of [...gaps, ...range(next, size)]) {
      const entry = await provenance.get(i);
      if (!entry) break;
      await this.add(i, entry.record);
      added += 1;
    }
    if (added > 0) log.log(`indexed ${added} provenance records`);
    return added;
  }
}

function* range(from: number, to: number): Generator<number> {
  for (let i = from; i < to; i++) yield i;
}
