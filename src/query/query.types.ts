import type { MaskKind } from '../catalogue/classification.js';
import type { Scalar } from './masking.js';

export interface OutValue {
  field: string;
  value: Scalar;
  /** The mask applied to the value, if any. */
  masked: MaskKind | null;
}

export interface OutRecord {
  /** The record id, or a pseudonym when geometry is generalised (so it cannot locate the grain). */
  id: string;
  /** null when geometry is generalised or withheld. */
  grainId: string | null;
  /** GeoJSON geometry: the grain's own, or its H3 cell's boundary when generalised; null when withheld. */
  geometry: Record<string, unknown> | null;
  /** The H3 cell the record was generalised to, when it was. */
  cell: string | null;
  values: OutValue[];
}

export interface RecordsResult {
  items: OutRecord[];
  /** Offset of the next page, or null on the last page. */
  nextOffset: number | null;
  geometry: 'allow' | 'generalise' | 'deny';
}

export interface MeasureValue {
  measure: string;
  value: number | null;
}

export interface AggregateCell {
  key: string;
  /** Human label (unit name) for hierarchy groupings. */
  label: string | null;
  count: number | null;
  values: MeasureValue[];
  suppressed: boolean;
}

export interface AggregateResult {
  groupBy: string;
  minCell: number;
  cells: AggregateCell[];
  total: AggregateCell;
  primarySuppressed: number;
  secondarySuppressed: number;
}

/** A true aggregate cell before any suppression (QueryEngine.unsuppressedCells): for DP noising only. */
export interface UnsuppressedCell {
  key: string;
  label: string | null;
  /** Records in the cell. */
  count: number;
  /** One value per measure of the request, in order. */
  values: (number | null)[];
}
