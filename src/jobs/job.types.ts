/** The domain of sandbox jobs (docs/sandbox-jobs.md): what is stored, what a caller sees. */
import type { Purpose } from '../access/decision.js';
import type { Requester } from '../identity/requester.js';
import type { Cell } from './disclosure/disclosure.types.js';
import type { AuditedCell } from './disclosure/release-history.port.js';
import type { DeclaredTable, DeclaredTableInput } from './job-outputs.js';

export const JOB_STATUSES = [
  'queued',
  'running',
  'awaiting_review',
  'succeeded',
  'refused',
  'failed',
  'cancelled',
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** A job that will not change any more. */
export const FINAL_STATUSES: readonly JobStatus[] = ['succeeded', 'refused', 'failed', 'cancelled'];

export type JobLanguage = 'js' | 'ts';
export type RunOn = 'dummy' | 'real';

/** A released (or pending) output table: plain cells only, never disclosure metadata. */
export interface JobTable {
  name: string;
  columns: string[];
  rows: Cell[][];
  /** Cells hidden by disclosure control (row, column, rule). */
  suppressed: { row: number; column: string; rule: string }[];
}

/** Why nothing left: the rule and the cells it concerns (labels, never values beyond the group keys). */
export interface JobRefusal {
  rule: string;
  reason: string;
  table: string | null;
  cells: string[];
}

/** What a DP release drew on the privacy budget (provenance `job.dpSpend`, and the job's view). */
export interface JobDpSpend {
  queryKey: string;
  mechanism: 'laplace' | 'gaussian';
  /** The epsilon of the release (µε), charged when it was first computed. */
  epsilonMicro: number;
  /** What this run charged: 0 when answered from the stored answer. */
  chargedMicro: number;
  cached: boolean;
  /** The organisation's budget on the dataset after this run (µε). */
  spentMicro: number;
  totalMicro: number;
  /** Whose budget: the submitter's organisation (or the shared `public` one). */
  org: string;
}

/** A check applied to a real run's output, and its verdict, as logged. */
export interface JobCheck {
  check: string;
  verdict: 'passed' | 'suppressed' | 'refused' | 'approved' | 'rejected';
  detail: string;
}

/** Output waiting for an owner's review: checked tables and the cells to record for differencing. */
export interface PendingRelease {
  tables: JobTable[];
  cells: AuditedCell[];
  checks: JobCheck[];
  rows: number;
  /** Records the job read. */
  inputRows: number;
  datasetVersion: string;
  /** A DP release: the budget it drew on (its tables are already noised); absent otherwise. */
  dpSpend?: JobDpSpend;
}

export interface LogLine {
  at: string;
  message: string;
}

export interface JobRecord {
  id: string;
  submitter: Requester;
  datasetId: string;
  ownerOrg: string;
  fields: string[];
  purpose: Purpose | null;
  language: JobLanguage;
  runOn: RunOn;
  code: string;
  codeHash: string;
  /** The output tables declared at submission (job-outputs.ts); null for a job queued before declarations. */
  declared: DeclaredTable[] | null;
  /** What a DP release drew on the budget (also after a budget refusal); null otherwise. */
  dpSpend: JobDpSpend | null;
  status: JobStatus;
  attempts: number;
  log: LogLine[];
  outputs: JobTable[] | null;
  pending: PendingRelease | null;
  refusal: JobRefusal | null;
  error: string | null;
  receiptIndex: number | null;
  outputHash: string | null;
  reviewedBy: string | null;
  reviewReason: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export interface SubmitJobInput {
  datasetId: string;
  fields: string[];
  purpose: string | null;
  code: string;
  language: JobLanguage;
  runOn: RunOn;
  outputs: DeclaredTableInput[];
}
