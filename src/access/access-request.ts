import type { Mode, Purpose } from './decision.js';

export const FILTER_OPS = ['eq', 'ne', 'lt', 'lte', 'gt', 'gte', 'in', 'prefix'] as const;
export type FilterOp = (typeof FILTER_OPS)[number];

export interface FieldFilter {
  field: string;
  op: FilterOp;
  /** Scalar for most ops; array for `in`. */
  value: string | number | boolean | (string | number)[];
}

export interface SortKey {
  field: string;
  descending: boolean;
}

export const HIERARCHY_LEVELS = ['district', 'subdistrict', 'community', 'building'] as const;
export type HierarchyLevel = (typeof HIERARCHY_LEVELS)[number];

export type GroupBy =
  { kind: 'level'; level: HierarchyLevel } | { kind: 'h3'; resolution: 7 | 8 | 9 } | { kind: 'field'; field: string };

export const AGG_FUNCS = ['count', 'sum', 'mean', 'min', 'max'] as const;
export type AggFunc = (typeof AGG_FUNCS)[number];

export interface Measure {
  fn: AggFunc;
  /** Absent for count. */
  field: string | null;
  /** Sum only: clamp each value to these integer bounds first (DP sums: the bounds fix the sensitivity). */
  clamp?: { lower: number; upper: number };
}

export interface BBox {
  minLon: number;
  minLat: number;
  maxLon: number;
  maxLat: number;
}

/** One request for data, as the access service sees it, before any decision. */
export interface AccessRequest {
  datasetId: string;
  /**
   * `encrypted`: an aggregate computed on an encrypted column (src/encrypted/encrypted-columns.service.ts);
   * `sandbox`: a job reads `fields` as columns inside the sandbox (src/jobs/).
   */
  mode: Mode;
  purpose: Purpose | null;
  /** Raw mode: the fields to return; sandbox mode: the fields the job reads. */
  fields: string[];
  filters: FieldFilter[];
  sort: SortKey[];
  /** Aggregate mode. */
  groupBy: GroupBy | null;
  measures: Measure[];
  /** A hierarchy unit id (district:..., subdistrict:..., community:..., building:...). */
  within: string | null;
  bbox: BBox | null;
  /** GeoJSON Polygon coordinates (outer ring, then holes): only grains whose point lies inside. */
  polygon?: number[][][] | null;
  /** Raw mode paging. */
  first: number;
  offset: number;
}
