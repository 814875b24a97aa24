/** Shapes of the gateway's GraphQL answers that the console reads (see schema.gql). */
import type { Geometry } from 'geojson';

export interface Me {
  sub: string;
  org: string | null;
  roles: string[];
  /** anonymous, api-key or jwt */
  via: string;
}

export type Effect = 'allow' | 'mask' | 'generalise' | 'aggregate_only' | 'deny';

export interface DatasetField {
  name: string;
  type: string;
  unit: string | null;
  description: string;
  grade: string;
  personal: string;
  openClass: string;
}

export interface Dataset {
  id: string;
  title: string;
  titleZh: string;
  description: string;
  ownerOrg: string;
  ownerName: string;
  grainKind: string;
  grade: string;
  personal: string;
  openClass: string;
  /** Whether sandbox releases from it wait for an owner's review; only where a query asks for it. */
  jobReviewRequired?: boolean;
  fields: DatasetField[];
  access: {
    tier: string;
    records: boolean;
    aggregates: boolean;
    minCell: number;
    note: string | null;
    fields: { field: string; records: Effect; aggregates: Effect }[];
  };
}

export interface FieldValue {
  field: string;
  value: string | number | boolean | null;
  masked: 'hash' | 'truncate' | 'redact' | null;
}

export interface DataRecord {
  id: string;
  grainId: string | null;
  cell: string | null;
  geometry: Geometry | null;
  values: FieldValue[];
}

export interface RecordPage {
  items: DataRecord[];
  nextCursor: string | null;
  geometry: 'allow' | 'generalise' | 'deny';
  receiptIndex: number;
}

export interface AggregateCell {
  key: string;
  label: string | null;
  count: number | null;
  suppressed: boolean;
  values: { measure: string; value: number | null }[];
}

export interface AggregateResult {
  groupBy: string;
  minCell: number;
  primarySuppressed: number;
  secondarySuppressed: number;
  receiptIndex: number;
  cells: AggregateCell[];
  total: AggregateCell;
}

export interface Unit {
  id: string;
  level: string;
  name: string;
  nameZh: string | null;
  parentId: string | null;
  geometry: Geometry | null;
}

export interface TrailEntry {
  index: number;
  at: string;
  sub: string;
  org: string | null;
  roles: string[];
  dataset: string;
  mode: string;
  fields: string[];
  purpose: string | null;
  tier: string;
  released: boolean;
  rows: number;
  refusal: string | null;
  reasons: string[];
  grantId: string | null;
  within: string | null;
}

export interface AuditFlag {
  kind: string;
  sub: string;
  org: string | null;
  dataset: string | null;
  at: string;
  count: number;
  detail: string;
  index: number | null;
}

export const PURPOSES = ['urban_planning', 'emergency_response', 'public_service', 'research', 'statistics'] as const;

export type ApplicationStatus = 'pending' | 'approved' | 'rejected';
export type GrantState = 'scheduled' | 'active' | 'expired' | 'revoked';

/** A department's application for a grant, and the owner's decision (metadata only). */
export interface GrantApplication {
  id: string;
  dataset: string;
  applicantOrg: string;
  applicantSub: string;
  ownerOrg: string;
  fields: string[];
  purpose: string;
  extent: string[];
  validFrom: string;
  validUntil: string;
  legalBasis: string;
  contact: string;
  status: ApplicationStatus;
  reason: string | null;
  decidedBy: string | null;
  decidedAt: string | null;
  grantId: string | null;
  createdAt: string;
}

export interface Grant {
  id: string;
  applicationId: string | null;
  dataset: string;
  org: string;
  fields: string[];
  purpose: string;
  extent: string[];
  validFrom: string;
  validUntil: string;
  state: GrantState;
  approvedBy: string;
  revokedBy: string | null;
  revokeReason: string | null;
}

export type JobStatus = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'REFUSED' | 'FAILED' | 'AWAITING_REVIEW' | 'CANCELLED';

export interface JobOutputTable {
  name: string;
  columns: string[];
  rows: { cells: (string | number | boolean | null)[] }[];
  suppressed: { row: number; column: string; rule: string }[];
}

export interface Job {
  id: string;
  datasetId: string;
  fields: string[];
  purpose: string | null;
  runOn: 'DUMMY' | 'REAL';
  status: JobStatus;
  dummy: boolean;
  attempts: number;
  submittedBy: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  error: string | null;
  receiptIndex: number | null;
  outputHash: string | null;
  reviewedBy: string | null;
  reviewReason: string | null;
  log: { at: string; message: string }[];
  outputs: JobOutputTable[] | null;
  refusal: { rule: string; reason: string; table: string | null; cells: string[] } | null;
}

/** Statuses after which a job changes no more. */
export const JOB_SETTLED: JobStatus[] = ['SUCCEEDED', 'REFUSED', 'FAILED', 'CANCELLED', 'AWAITING_REVIEW'];
