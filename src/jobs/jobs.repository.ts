/**
 * The durable job queue and job store. A job is claimed with `FOR UPDATE SKIP LOCKED` (so gateways sharing one
 * PostgreSQL never run a job twice) and holds a lease its gateway renews while it runs. Every state change is
 * conditional on the state it expects, so a cancellation, a lost lease or a second gateway cannot be overwritten.
 */
import type { Purpose, Role } from '../access/decision.js';
import type { Db, Queryable } from '../store/db.port.js';
import type { DeclaredTable } from './job-outputs.js';
import type {
  JobDpSpend,
  JobLanguage,
  JobRecord,
  JobRefusal,
  JobStatus,
  JobTable,
  LogLine,
  PendingRelease,
  RunOn,
} from './job.types.js';

interface JobRow {
  id: string;
  submitter_sub: string;
  submitter_org: string | null;
  submitter_roles: Role[];
  submitter_via: 'anonymous' | 'api-key' | 'jwt';
  dataset_id: string;
  owner_org: string;
  fields: string[];
  purpose: string | null;
  language: JobLanguage;
  run_on: RunOn;
  code: string;
  code_hash: string;
  declared_outputs: DeclaredTable[] | null;
  dp_spend: JobDpSpend | null;
  status: JobStatus;
  attempts: number;
  log: LogLine[];
  outputs: JobTable[] | null;
  pending: PendingRelease | null;
  refusal: JobRefusal | null;
  error: string | null;
  receipt_index: number | null;
  output_hash: string | null;
  reviewed_by: string | null;
  review_reason: string | null;
  created_at: Date | string;
  started_at: Date | string | null;
  finished_at: Date | string | null;
}

export interface NewJob {
  id: string;
  submitter: JobRecord['submitter'];
  datasetId: string;
  ownerOrg: string;
  fields: string[];
  purpose: Purpose | null;
  language: JobLanguage;
  runOn: RunOn;
  code: string;
  codeHash: string;
  declared: DeclaredTable[];
}

export interface ListFilter {
  submitterSub?: string;
  ownerOrg?: string;
  first: number;
}

/** What happened to jobs left running by a gateway that stopped. */
export interface Recovery {
  requeued: string[];
  failed: string[];
}

export class JobsRepository {
  constructor(private readonly db: Db) {}

  async insert(j: NewJob): Promise<JobRecord> {
    const rows = await this.db.query<JobRow>(
      `insert into jobs (id, submitter_sub, submitter_org, submitter_roles, submitter_via, dataset_id, owner_org, fields,
         purpose, language, run_on, code, code_hash, status, log, declared_outputs)
       values ($1, $2, $3, $4::jsonb, $5, $6, $7, $8::jsonb, $9, $10, $11, $12, $13, 'queued', $14::jsonb, $15::jsonb)
       returning *`,
      [
        j.id,
        j.submitter.sub,
        j.submitter.org,
        JSON.stringify(j.submitter.roles),
        j.submitter.via,
        j.datasetId,
        j.ownerOrg,
        JSON.stringify(j.fields),
        j.purpose,
        j.language,
        j.runOn,
        j.code,
        j.codeHash,
        JSON.stringify([line('queued')]),
        json(j.declared),
      ],
    );
    return toRecord(rows[0]!);
  }

  async get(id: string): Promise<JobRecord | null> {
    const rows = await this.db.query<JobRow>('select * from jobs where id = $1', [id]);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  /** Newest first; filtered by submitter and/or owner organisation (either matches when both are given). */
  async list(f: ListFilter): Promise<JobRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (f.submitterSub !== undefined) {
      params.push(f.submitterSub);
      where.push(`submitter_sub = $${params.length}`);
    }
    if (f.ownerOrg !== undefined) {
      params.push(f.ownerOrg);
      where.push(`owner_org = $${params.length}`);
    }
    params.push(f.first);
    const rows = await this.db.query<JobRow>(
      `select * from jobs ${where.length ? 'where ' + where.join(' or ') : ''}
       order by created_at desc, id limit $${params.length}`,
      params,
    );
    return rows.map(toRecord);
  }

  /** Claims the oldest queued job for `owner` with a lease of `leaseMs`; null when none is queued. */
  async claim(owner: string, leaseMs: number): Promise<JobRecord | null> {
    return this.db.transaction(async (tx) => {
      const next = await tx.query<{ id: string }>(
        `select id from jobs where status = 'queued' order by created_at, id limit 1 for update skip locked`,
      );
      const id = next[0]?.id;
      if (id === undefined) return null;
      const rows = await tx.query<JobRow>(
        `update jobs set status = 'running', lease_owner = $2, attempts = attempts + 1, started_at = now(),
           lease_expires = now() + ($3::int * interval '1 millisecond'),
           log = log || $4::jsonb
         where id = $1 returning *`,
        [id, owner, leaseMs, JSON.stringify([line('running')])],
      );
      return toRecord(rows[0]!);
    });
  }

  /** Extends the lease; false when the job is no longer this owner's running job (cancelled, taken over). */
  async renew(id: string, owner: string, leaseMs: number): Promise<boolean> {
    const rows = await this.db.query(
      `update jobs set lease_expires = now() + ($3::int * interval '1 millisecond')
       where id = $1 and lease_owner = $2 and status = 'running' returning id`,
      [id, owner, leaseMs],
    );
    return rows.length === 1;
  }

  /**
   * Jobs left 'running' with an expired lease (their gateway stopped): back to the queue if they have run only
   * once, otherwise failed with the reason.
   */
  async recoverExpired(maxAttempts: number): Promise<Recovery> {
    return this.db.transaction(async (tx) => {
      const requeued = await tx.query<{ id: string }>(
        `update jobs set status = 'queued', lease_owner = null, lease_expires = null, log = log || $2::jsonb
         where status = 'running' and lease_expires < now() and attempts < $1 returning id`,
        [maxAttempts, JSON.stringify([line('the gateway running this job stopped; queued again')])],
      );
      const reason = `the gateway running this job stopped ${maxAttempts} times; it is not retried again`;
      const failed = await tx.query<{ id: string }>(
        `update jobs set status = 'failed', lease_owner = null, lease_expires = null, error = $2, finished_at = now(),
           log = log || $3::jsonb
         where status = 'running' and lease_expires < now() and attempts >= $1 returning id`,
        [maxAttempts, reason, JSON.stringify([line(`failed: ${reason}`)])],
      );
      return { requeued: requeued.map((r) => r.id), failed: failed.map((r) => r.id) };
    });
  }

  /**
   * Moves a job from one of `from` to `to` with the given columns, appending log lines. Returns the updated job,
   * or null when it was not in one of `from` (cancelled, reviewed or taken over meanwhile).
   */
  async transition(
    id: string,
    from: readonly JobStatus[],
    to: JobStatus,
    set: Partial<{
      outputs: JobTable[] | null;
      pending: PendingRelease | null;
      refusal: JobRefusal | null;
      error: string | null;
      receiptIndex: number | null;
      outputHash: string | null;
      reviewedBy: string | null;
      reviewReason: string | null;
      dpSpend: JobDpSpend | null;
    }>,
    log: string[],
    tx: Queryable = this.db,
  ): Promise<JobRecord | null> {
    const final = to === 'succeeded' || to === 'refused' || to === 'failed' || to === 'cancelled';
    const cols: string[] = [];
    const params: unknown[] = [id, from, to, JSON.stringify(log.map(line))];
    const put = (col: string, value: unknown, cast = '') => {
      params.push(value);
      cols.push(`${col} = $${params.length}${cast}`);
    };
    if ('outputs' in set) put('outputs', json(set.outputs), '::jsonb');
    if ('pending' in set) put('pending', json(set.pending), '::jsonb');
    if ('refusal' in set) put('refusal', json(set.refusal), '::jsonb');
    if ('error' in set) put('error', set.error);
    if ('receiptIndex' in set) put('receipt_index', set.receiptIndex);
    if ('outputHash' in set) put('output_hash', set.outputHash);
    if ('reviewedBy' in set) put('reviewed_by', set.reviewedBy);
    if ('reviewReason' in set) put('review_reason', set.reviewReason);
    if ('dpSpend' in set) put('dp_spend', json(set.dpSpend), '::jsonb');
    const rows = await tx.query<JobRow>(
      `update jobs set status = $3, log = log || $4::jsonb
         ${to === 'running' ? '' : ', lease_owner = null, lease_expires = null'}
         ${final ? ', finished_at = now()' : ''}
         ${cols.length ? ', ' + cols.join(', ') : ''}
       where id = $1 and status = any($2::text[]) returning *`,
      params,
    );
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async appendLog(id: string, lines: string[]): Promise<void> {
    await this.db.query(`update jobs set log = log || $2::jsonb where id = $1`, [id, JSON.stringify(lines.map(line))]);
  }

  async reviewRequired(datasetId: string): Promise<boolean> {
    const rows = await this.db.query<{ required: boolean }>(
      'select required from job_review_policies where dataset_id = $1',
      [datasetId],
    );
    return rows[0]?.required ?? false;
  }

  async setReviewRequired(datasetId: string, required: boolean, by: string): Promise<void> {
    await this.db.query(
      `insert into job_review_policies (dataset_id, required, set_by) values ($1, $2, $3)
       on conflict (dataset_id) do update set required = excluded.required, set_by = excluded.set_by, set_at = now()`,
      [datasetId, required, by],
    );
  }
}

const line = (message: string): LogLine => ({ at: new Date().toISOString(), message });
const json = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v));
const date = (v: Date | string | null): Date | null => (v === null ? null : new Date(v));

function toRecord(r: JobRow): JobRecord {
  return {
    id: r.id,
    submitter: { sub: r.submitter_sub, org: r.submitter_org, roles: r.submitter_roles, via: r.submitter_via },
    datasetId: r.dataset_id,
    ownerOrg: r.owner_org,
    fields: r.fields,
    purpose: r.purpose as Purpose | null,
    language: r.language,
    runOn: r.run_on,
    code: r.code,
    codeHash: r.code_hash,
    declared: r.declared_outputs ?? null,
    dpSpend: r.dp_spend ?? null,
    status: r.status,
    attempts: r.attempts,
    log: r.log,
    outputs: r.outputs,
    pending: r.pending,
    refusal: r.refusal,
    error: r.error,
    receiptIndex: r.receipt_index === null ? null : Number(r.receipt_index),
    outputHash: r.output_hash,
    reviewedBy: r.reviewed_by,
    reviewReason: r.review_reason,
    createdAt: new Date(r.created_at),
    startedAt: date(r.started_at),
    finishedAt: date(r.finished_at),
  };
}
