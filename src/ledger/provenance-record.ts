import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { DecisionSummary } from '../access/access.service.js';
import type { Mode, Purpose, Role } from '../access/decision.js';

/**
 * One provenance record: a request for data (AccessRecord), a step of a data-sharing grant (GrantRecord), an
 * owner's decision on encrypted computations (EncryptedDecisionRecord, EncryptedRuleRecord), or the note that a
 * logged release never reached its caller (ReleaseUndeliveredRecord).
 */
export type ProvenanceRecord =
  | AccessRecord
  | GrantRecord
  | EncryptedDecisionRecord
  | EncryptedRuleRecord
  | ReleaseUndeliveredRecord
  | StatisticalReleaseRecord;

/** A statistical release published by the gateway (src/query/statistical-release.ts): what it holds and its hash. */
export interface StatisticalReleaseRecord {
  v: 1;
  kind: 'statistical-release';
  id: string;
  at: string;
  requester: { sub: string; org: string | null; roles: Role[]; via: string };
  dataset: string;
  version: string;
  /** SHA-256 of the release's canonical JSON. */
  hash: string;
  minCell: number;
  fields: string[];
  cells: number;
  suppressed: number;
  /** A DP release: the mechanism and the epsilon (µε) charged once to the dataset's public budget. */
  dp?: { mechanism: string; epsilonMicro: number };
}

/** A decision on a request for data (DESIGN.md §1): who, what, why, the decision, the outcome and when. */
export interface AccessRecord {
  v: 1;
  kind: 'access';
  /** Unique id of the decision (the plan id for allowed requests). */
  id: string;
  at: string;
  requester: { sub: string; org: string | null; roles: Role[]; via: string };
  purpose: Purpose | null;
  dataset: string;
  mode: Mode;
  fields: string[];
  /** sha256 of the canonical request (fields, filters, grouping, paging). */
  queryHash: string;
  /** Where the request asked to look (a hierarchy unit, a bounding box): for auditing extents. */
  scope?: { within: string | null; bbox: { minLon: number; minLat: number; maxLon: number; maxLat: number } | null };
  decision: DecisionSummary;
  outcome: {
    released: boolean;
    rows: number;
    /** sha256 of the canonical released result; null when refused, and for streamed downloads (not known before). */
    resultHash: string | null;
    /** Error code when refused. */
    refusal: string | null;
    /** Space grains (or units) the release touched, at most a bounded sample; aggregates list their cells' units. */
    grains: string[];
  };
  /**
   * Mode `encrypted` only: the computation on ciphertexts. It is the approval the owner's key holder checks
   * (keyholder.ts): it decrypts only a ciphertext whose SHA-256 is one of these cells' `resultHash`.
   */
  encrypted?: {
    computationId: string;
    column: string;
    kind: string;
    scheme: string;
    keyId: string;
    /** True only when a standing rule approved it as it was logged; otherwise it waits for the owner. */
    approved: boolean;
    /**
     * `pending`: the owner approves or refuses it later (an EncryptedDecisionRecord naming this record);
     * `approved`: the owner's standing rule `ruleId`, set by the record at log index `ruleIndex`, covers it.
     */
    approval?: { status: 'pending' } | { status: 'approved'; ruleId: string; ruleIndex: number };
    cells: { group: string | null; records: number; unitsCovered: number; resultHash: string | null }[];
  };
  /**
   * Differentially private aggregates only (src/jobs/dp/): the canonical query key, the mechanism, what this
   * release charged (0 when answered from the stored answer), and the budget after it.
   */
  dp?: {
    queryKey: string;
    mechanism: 'laplace' | 'gaussian';
    epsilonMicro: number;
    chargedMicro: number;
    cached: boolean;
    spentMicro: number;
    totalMicro: number;
  };
  /**
   * Mode `sandbox` only: the job behind a release or refusal (src/jobs/). Appended before any output is visible;
   * `outcome.resultHash` is the hash of the released tables exactly as the job shows them.
   */
  job?: JobProvenance;
}

/** The steps of a data-sharing grant's life, each logged before it takes effect (docs/grants.md). */
export const GRANT_EVENTS = [
  'grant-applied',
  'grant-approved',
  'grant-rejected',
  'grant-revoked',
  'grant-expired',
] as const;
export type GrantEvent = (typeof GRANT_EVENTS)[number];

/**
 * One step of a grant application or grant. `requester` is who took the step (the system, `via: 'system'`,
 * for an observed expiry); `scope` is what was applied for or granted.
 */
export interface GrantRecord {
  v: 1;
  kind: GrantEvent;
  id: string;
  at: string;
  requester: { sub: string; org: string | null; roles: Role[]; via: string };
  purpose: Purpose;
  dataset: string;
  applicationId: string | null;
  grantId: string | null;
  /** The department the application or grant is for, and the dataset's owner. */
  grantee: string;
  ownerOrg: string;
  scope: { fields: string[]; extent: string[]; validFrom: string; validUntil: string };
  /** Applications: the legal basis and contact given. */
  legalBasis?: string;
  contact?: string;
  /** Rejection and revocation: why. */
  reason: string | null;
}

/** Who took a step (the requester of an access record, the actor of every other record). */
type Actor = { sub: string; org: string | null; roles: Role[]; via: string };

/**
 * The owner's decision on one pending encrypted computation (docs/encrypted-columns.md): logged before it takes
 * effect; the key holder decrypts a pending computation only with an `he-approved` record naming it.
 */
export interface EncryptedDecisionRecord {
  v: 1;
  kind: 'he-approved' | 'he-refused';
  id: string;
  at: string;
  requester: Actor;
  dataset: string;
  ownerOrg: string;
  /** The computation's own record: its id, log index and leaf hash (binding the decision to that record). */
  computation: { id: string; index: number; leafHash: string; column: string; keyId: string };
  reason: string | null;
}

/**
 * A standing approval rule of an owner for one encrypted column, or its revocation: computations by one of
 * `orgs`, for one of `purposes` and `kinds` (null: any), whose every cell covers at least `minUnits` units, are
 * approved as they are logged.
 */
export interface EncryptedRuleRecord {
  v: 1;
  kind: 'he-rule-set' | 'he-rule-revoked';
  id: string;
  at: string;
  requester: Actor;
  dataset: string;
  ownerOrg: string;
  rule: EncryptedApprovalRule;
  reason: string | null;
}

export interface EncryptedApprovalRule {
  id: string;
  column: string;
  orgs: string[];
  purposes: Purpose[] | null;
  kinds: string[] | null;
  minUnits: number;
}

/**
 * Why a logged release did not reach its caller (docs/operations.md, "Deadlines and undelivered releases"):
 * - `deadline`: the request's deadline passed before the release was part of the response; the caller got
 *   DEADLINE_EXCEEDED;
 * - `connection-closed`: the connection closed before the whole response was written (the caller went away, or
 *   the response stream broke);
 * - `response-failed`: the response was a server error instead of the result (e.g. it could not be serialised);
 * - `not-in-response`: the response went out without it (the request failed after the release was logged).
 */
export const UNDELIVERED_REASONS = ['deadline', 'connection-closed', 'response-failed', 'not-in-response'] as const;
export type UndeliveredReason = (typeof UNDELIVERED_REASONS)[number];

/**
 * A release whose access record is in the log (appended before anything left) but whose response did not reach
 * the caller, so that the log does not claim more than the caller got. `requester` and `dataset` are the
 * release's (auditors find it beside the release); the gateway appends it, never a caller.
 */
export interface ReleaseUndeliveredRecord {
  v: 1;
  kind: 'release.undelivered';
  id: string;
  at: string;
  requester: Actor;
  dataset: string;
  /** The release's own record: its id, log index and leaf hash. */
  release: { id: string; index: number; leafHash: string };
  reason: UndeliveredReason;
}

export function isEncryptedStep(r: ProvenanceRecord): r is EncryptedDecisionRecord | EncryptedRuleRecord {
  return (
    r.kind === 'he-approved' || r.kind === 'he-refused' || r.kind === 'he-rule-set' || r.kind === 'he-rule-revoked'
  );
}

export function isAccessRecord(r: ProvenanceRecord): r is AccessRecord {
  return r.kind === 'access';
}

/** What a sandbox job's record says about the job: code, inputs, checks and verdicts, review. */
export interface JobProvenance {
  jobId: string;
  /** sha256 of the submitted code (the code itself stays in the job store). */
  codeHash: string;
  language: 'js' | 'ts';
  runOn: 'real';
  /** Datasets read, with their catalogue version (not their row counts: the submitter may read this record). */
  inputs: { dataset: string; version: string }[];
  /** Every check applied, in order, with its verdict. */
  checks: { check: string; verdict: 'passed' | 'suppressed' | 'refused' | 'approved' | 'rejected'; detail: string }[];
  /** Owner review, when the dataset requires it: who decided, how and why. */
  review: { by: string; approved: boolean; reason: string } | null;
  /**
   * Differential privacy (datasets whose settings ask for it, src/jobs/dp/job-dp.ts): the mechanism, the release's
   * epsilon, what this run charged (0 when the stored noisy tables were returned), and the budget after it; null
   * for datasets without DP.
   */
  dpSpend: {
    queryKey: string;
    mechanism: 'laplace' | 'gaussian';
    epsilonMicro: number;
    chargedMicro: number;
    cached: boolean;
    spentMicro: number;
    totalMicro: number;
    org: string;
  } | null;
}

/** RFC 8785 canonical JSON. */
export function canonicalJson(value: unknown): string {
  const s = canonicalize(value);
  if (s === undefined) throw new Error('value cannot be canonicalised');
  return s;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** RFC 9162 leaf hash: SHA-256(0x00 || leaf). */
export function leafHash(record: ProvenanceRecord): string {
  return createHash('sha256')
    .update(Buffer.from([0]))
    .update(canonicalJson(record), 'utf8')
    .digest('hex');
}
