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
