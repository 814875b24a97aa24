/**
 * The canonical key of a DP aggregate query. Two requests that ask the same question must share one key, or a
 * caller could buy fresh noise for free by rewriting a query (reordering conditions, starting a polygon at
 * another vertex) and average the answers; so the query is normalised first and the key is the SHA-256 of the
 * normalised form's canonical JSON (RFC 8785).
 *
 * The normal form uses the query and the dataset's schema only, never its data: a key that depended on the
 * records selected (two forms "equal" because they select the same rows) would tell the caller, by a cached
 * answer, a fact about the data. With the field types it is a normal form of each field's conditions: on
 * integers and dates a strict bound is the inclusive one next to it (`gt 3` is `gte 4`), non-integers match
 * nothing, a bounded range of at most 100 values is the list of them; on true/false `ne true` is `eq false`;
 * an exclusion at an inclusive bound makes it strict. Polygons drop collinear vertices.
 */
import { createHash } from 'node:crypto';
import { HIERARCHY_LEVELS, type FilterOp, type HierarchyLevel } from '../../access/access-request.js';
import type { FieldType } from '../../catalogue/classification.js';
import { badInput } from '../../errors/domain.error.js';
import { fastCanonicalJson } from '../../ledger/canonical-json.js';

export type DpValue = string | number | boolean;

export interface DpCondition {
  field: string;
  op: FilterOp;
  /** Scalar for most ops; a list for `in`. */
  value: DpValue | DpValue[];
}

export type DpMeasure = { kind: 'count' } | { kind: 'sum'; field: string; lower: number; upper: number };

/** GeoJSON Polygon coordinates: an outer ring, then holes; each ring a list of [lon, lat]. */
export type PolygonCoordinates = number[][][];

export interface DpQuery {
  datasetId: string;
  /** The dataset's version: a new version is new data, so it is a new question. */
  datasetVersion: string;
  measure: DpMeasure;
  groupBy: HierarchyLevel[];
  filter?: {
    /** Hierarchy units the query is restricted to; absent or empty: no restriction. */
    unitIds?: string[];
    conditions?: DpCondition[];
    polygon?: PolygonCoordinates;
  };
  /** The row filter the access decision imposed (a grant's extent), if any: it changes the answer. */
  extent?: string[] | null;
  /**
   * The types of the dataset's fields (its schema, not its data): conditions on typed fields get their full
   * normal form. Not part of the key (the dataset and its version fix them).
   */
  fieldTypes?: Readonly<Record<string, FieldType>>;
}

/** The normalised conditions on one field (all ANDed). When `in` is present it absorbs every other form. */
export interface CanonicalFieldCondition {
  field: string;
  in?: DpValue[];
  notIn?: DpValue[];
  lower?: { value: number | string; inclusive: boolean };
  upper?: { value: number | string; inclusive: boolean };
  prefix?: string;
  /** No value can satisfy the conditions. */
  empty?: true;
}

export interface CanonicalDpQuery {
  v: 1;
  datasetId: string;
  datasetVersion: string;
  measure: DpMeasure;
  groupBy: HierarchyLevel[];
  unitIds: string[];
  conditions: CanonicalFieldCondition[];
  /** Rings of integer coordinates in units of 1e-7 degree, open, outer ring counter-clockwise. */
  polygon: [number, number][][] | null;
  extent: string[] | null;
}

const MAX_CONDITIONS = 50;
const MAX_LIST = 100;
const MAX_VERTICES = 2_000;
const COORD_SCALE = 1e7;

/** The key: hex SHA-256 of the canonical form's canonical JSON. */
export function dpQueryKey(q: DpQuery): string {
  return createHash('sha256')
    .update(fastCanonicalJson(canonicalDpQuery(q)))
    .digest('hex');
}

/** Normalises a query; refuses malformed ones with BAD_USER_INPUT. */
export function canonicalDpQuery(q: DpQuery): CanonicalDpQuery {
  if (typeof q.datasetId !== 'string' || q.datasetId === '') throw badInput('datasetId is required.');
  if (typeof q.datasetVersion !== 'string' || q.datasetVersion === '') throw badInput('datasetVersion is required.');
  const unitIds = [...new Set(q.filter?.unitIds ?? [])].sort(compareValues);
  if (unitIds.length > MAX_LIST) throw badInput(`At most ${MAX_LIST} unit ids.`);
  return {
    v: 1,
    datasetId: q.datasetId,
    datasetVersion: q.datasetVersion,
    measure: canonicalMeasure(q.measure),
    groupBy: canonicalGroupBy(q.groupBy),
    unitIds,
    conditions: canonicalConditions(q.filter?.conditions ?? [], q.fieldTypes ?? {}),
    polygon: q.filter?.polygon ? canonicalPolygon(q.filter.polygon) : null,
    extent: q.extent ? [...new Set(q.extent)].sort(compareValues) : null,
  };
}

function canonicalMeasure(m: DpMeasure): DpMeasure {
  if (m.kind === 'count') return { kind: 'count' };
  if (m.kind !== 'sum') throw badInput('measure must be count or sum.');
  if (!m.field) throw badInput('A sum needs a field.');
  if (!Number.isSafeInteger(m.lower) || !Number.isSafeInteger(m.upper) || m.lower > m.upper)
    throw badInput('A sum needs integer bounds with lower ≤ upper.');
  return { kind: 'sum', field: m.field, lower: m.lower + 0, upper: m.upper + 0 };
}

function canonicalGroupBy(levels: readonly string[]): HierarchyLevel[] {
  for (const l of levels)
    if (!(HIERARCHY_LEVELS as readonly string[]).includes(l))
      throw badInput(`groupBy levels are ${HIERARCHY_LEVELS.join(', ')}.`);
  // A grouping is a set of levels; list them coarse to fine.
  return HIERARCHY_LEVELS.filter((l) => levels.includes(l));
}

/** Orders values by type (boolean, number, string), then by value; strings by UTF-16 code units. */
export function compareValues(a: DpValue, b: DpValue): number {
  const ta = typeof a;
  const tb = typeof b;
  if (ta !== tb) return ta < tb ? -1 : 1;
  if (ta === 'number') return (a as number) - (b as number);
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

function checkValue(field: string, v: unknown): DpValue {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw badInput(`Condition on "${field}" needs a finite number.`);
    return v + 0; // -0 and 0 are one value
  }
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  throw badInput(`Condition on "${field}" needs a string, number or boolean.`);
}

interface FieldState {
  inSet: DpValue[] | null;
  notIn: DpValue[];
  lower?: { value: number | string; inclusive: boolean };
  upper?: { value: number | string; inclusive: boolean };
  prefixes: string[];
}

function canonicalConditions(
  conditions: readonly DpCondition[],
  types: Readonly<Record<string, FieldType>>,
): CanonicalFieldCondition[] {
  if (conditions.length > MAX_CONDITIONS) throw badInput(`At most ${MAX_CONDITIONS} conditions.`);
  const byField = new Map<string, FieldState>();
  for (const c of conditions) {
    if (typeof c.field !== 'string' || c.field === '') throw badInput('A condition needs a field.');
    const st = byField.get(c.field) ?? { inSet: null, notIn: [], prefixes: [] };
    byField.set(c.field, st);
    const scalar = () => {
      if (Array.isArray(c.value)) throw badInput(`"${c.op}" needs a single value.`);
      return checkValue(c.field, c.value);
    };
    const ordered = () => {
      const v = scalar();
      if (typeof v === 'boolean') throw badInput(`"${c.op}" does not apply to true/false.`);
      return v;
    };
    switch (c.op) {
      case 'eq':
      case 'in': {
        const list = c.op === 'in' ? c.value : [c.value];
        if (!Array.isArray(list) || list.length === 0 || list.length > MAX_LIST)
          throw badInput(`"in" needs a list of 1 to ${MAX_LIST} values.`);
        const values = list.map((v) => checkValue(c.field, v));
        st.inSet = st.inSet === null ? values : st.inSet.filter((x) => values.some((y) => compareValues(x, y) === 0));
        break;
      }
      case 'ne':
        st.notIn.push(scalar());
        break;
      case 'gt':
      case 'gte': {
        const b = { value: ordered(), inclusive: c.op === 'gte' };
        if (!st.lower || tighterLower(b, st.lower)) st.lower = b;
        break;
      }
      case 'lt':
      case 'lte': {
        const b = { value: ordered(), inclusive: c.op === 'lte' };
        if (!st.upper || tighterUpper(b, st.upper)) st.upper = b;
        break;
      }
      case 'prefix': {
        const v = scalar();
        if (typeof v !== 'string') throw badInput('"prefix" needs a string.');
        st.prefixes.push(v);
        break;
      }
    }
  }
  return [...byField.entries()]
    .sort(([a], [b]) => compareValues(a, b))
    .map(([field, st]) => {
      const type = Object.hasOwn(types, field) ? types[field] : undefined;
      if (type === 'int' || type === 'date') return canonicalDiscrete(field, st, type);
      if (type === 'bool') return canonicalBool(field, st);
      return canonicalField(field, st);
    });
}

/** Integers beyond this are left unbounded: the columns hold nothing there (and ±1 is no longer exact). */
const DISCRETE_LIMIT = 2 ** 52;
const DAY_MS = 86_400_000;

/**
 * An integer or date field's conditions as a set of integers (dates as day numbers): the in-list when it has at
 * most MAX_LIST members, else the inclusive bounds and the exclusions strictly inside them.
 */
function canonicalDiscrete(field: string, st: FieldState, type: 'int' | 'date'): CanonicalFieldCondition {
  if (st.prefixes.length > 0) throw badInput('"prefix" applies to text fields only.');
  /** The value as an integer, or null when no stored value can equal it (a non-integer on an int field). */
  const toN = (v: DpValue): number | null => {
    if (type === 'int') {
      if (typeof v !== 'number') throw badInput(`Condition on "${field}" needs a number.`);
      return Number.isInteger(v) ? v : null;
    }
    if (typeof v !== 'string') throw badInput(`Condition on "${field}" needs a date YYYY-MM-DD.`);
    return dayNumber(field, v);
  };
  const fromN = (n: number): DpValue => (type === 'int' ? n + 0 : new Date(n * DAY_MS).toISOString().slice(0, 10));
  const real = (v: number | string): number => {
    if (type === 'int') {
      if (typeof v !== 'number') throw badInput(`Condition on "${field}" needs a number.`);
      return v;
    }
    return toN(v)!;
  };
  let lo = -Infinity;
  let hi = Infinity;
  if (st.lower) {
    const v = real(st.lower.value);
    lo = st.lower.inclusive ? Math.ceil(v) : Math.floor(v) + 1;
  }
  if (st.upper) {
    const v = real(st.upper.value);
    hi = st.upper.inclusive ? Math.floor(v) : Math.ceil(v) - 1;
  }
  if (lo < -DISCRETE_LIMIT) lo = -Infinity;
  if (hi > DISCRETE_LIMIT) hi = Infinity;
  const excluded = new Set(st.notIn.map(toN).filter((n): n is number => n !== null && n >= lo && n <= hi));
  const empty: CanonicalFieldCondition = { field, empty: true };
  if (st.inSet !== null) {
    const members = [
      ...new Set(st.inSet.map(toN).filter((n): n is number => n !== null && n >= lo && n <= hi && !excluded.has(n))),
    ].sort((a, b) => a - b);
    return members.length === 0 ? empty : { field, in: members.map(fromN) };
  }
  // An exclusion at a bound moves the bound.
  while (Number.isFinite(lo) && excluded.has(lo)) excluded.delete(lo++);
  while (Number.isFinite(hi) && excluded.has(hi)) excluded.delete(hi--);
  if (lo > hi) return empty;
  if (Number.isFinite(lo) && Number.isFinite(hi) && hi - lo + 1 - excluded.size <= MAX_LIST) {
    const members: DpValue[] = [];
    for (let n = lo; n <= hi; n++) if (!excluded.has(n)) members.push(fromN(n));
    return { field, in: members };
  }
  const out: CanonicalFieldCondition = { field };
  const notIn = [...excluded].sort((a, b) => a - b);
  if (notIn.length > 0) out.notIn = notIn.map(fromN);
  if (Number.isFinite(lo)) out.lower = { value: fromN(lo) as number | string, inclusive: true };
  if (Number.isFinite(hi)) out.upper = { value: fromN(hi) as number | string, inclusive: true };
  return out;
}

/** A date YYYY-MM-DD as days since 1970-01-01; refuses what is not a calendar date. */
function dayNumber(field: string, v: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
  const ms = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  if (!m || Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== v) {
    throw badInput(`Condition on "${field}" needs a date YYYY-MM-DD.`);
  }
  return ms / DAY_MS;
}

/** A true/false field's conditions as the set of values they leave: both is "not null", the field alone. */
function canonicalBool(field: string, st: FieldState): CanonicalFieldCondition {
  if (st.lower || st.upper || st.prefixes.length > 0) throw badInput('Only eq, ne and in apply to true/false.');
  const check = (v: DpValue): boolean => {
    if (typeof v !== 'boolean') throw badInput(`Condition on "${field}" needs true or false.`);
    return v;
  };
  const excluded = st.notIn.map(check);
  const left = (st.inSet ?? [false, true]).map(check).filter((v) => !excluded.includes(v));
  const members = [false, true].filter((v) => left.includes(v));
  if (members.length === 0) return { field, empty: true };
  return members.length === 2 ? { field } : { field, in: members };
}

/** b is a tighter lower bound than a: larger, or equal and exclusive. */
function tighterLower(b: { value: number | string; inclusive: boolean }, a: typeof b): boolean {
  const c = compareOrdered(b.value, a.value);
  return c > 0 || (c === 0 && !b.inclusive);
}

function tighterUpper(b: { value: number | string; inclusive: boolean }, a: typeof b): boolean {
  const c = compareOrdered(b.value, a.value);
  return c < 0 || (c === 0 && !b.inclusive);
}

function compareOrdered(a: DpValue, b: DpValue): number {
  if (typeof a !== typeof b) throw badInput('Conditions on one field mix numbers and strings.');
  return compareValues(a, b);
}

function canonicalField(field: string, state: FieldState): CanonicalFieldCondition {
  let st = state;
  const empty: CanonicalFieldCondition = { field, empty: true };
  // Prefixes: all must hold, so they form a chain and the longest one says it all.
  let prefix: string | undefined;
  for (const p of [...st.prefixes].sort((a, b) => a.length - b.length)) {
    if (prefix !== undefined && !p.startsWith(prefix)) return empty;
    prefix = p;
  }
  if (prefix === '') prefix = undefined; // every string starts with ''
  // Whether v meets the prefix and the bounds (a value of another type than a bound cannot meet it).
  const inRange = (v: DpValue): boolean => {
    if (prefix !== undefined && !(typeof v === 'string' && v.startsWith(prefix))) return false;
    if (st.lower) {
      if (typeof v !== typeof st.lower.value) return false;
      const c = compareValues(v, st.lower.value);
      if (c < 0 || (c === 0 && !st.lower.inclusive)) return false;
    }
    if (st.upper) {
      if (typeof v !== typeof st.upper.value) return false;
      const c = compareValues(v, st.upper.value);
      if (c > 0 || (c === 0 && !st.upper.inclusive)) return false;
    }
    return true;
  };
  if (st.lower && st.upper) {
    const c = compareOrdered(st.lower.value, st.upper.value);
    if (c > 0 || (c === 0 && !(st.lower.inclusive && st.upper.inclusive))) return empty;
    // lower = upper, both inclusive: the one value.
    if (c === 0 && st.inSet === null) st = { ...st, inSet: [st.lower.value] };
  }
  if (st.inSet !== null) {
    const excluded = st.notIn;
    const values = dedupe(st.inSet.filter((v) => inRange(v) && !excluded.some((x) => compareValues(x, v) === 0)));
    return values.length === 0 ? empty : { field, in: values };
  }
  // An exclusion at an inclusive bound makes the bound strict.
  const at = (b: { value: number | string; inclusive: boolean } | undefined) =>
    b?.inclusive === true && st.notIn.some((x) => typeof x === typeof b.value && compareValues(x, b.value) === 0);
  if (at(st.lower)) st = { ...st, lower: { value: st.lower!.value, inclusive: false } };
  if (at(st.upper)) st = { ...st, upper: { value: st.upper!.value, inclusive: false } };
  // Exclusions outside the range, or not matching the prefix, exclude nothing.
  const notIn = dedupe(st.notIn.filter(inRange));
  const out: CanonicalFieldCondition = { field };
  if (notIn.length > 0) out.notIn = notIn;
  if (st.lower) out.lower = st.lower;
  if (st.upper) out.upper = st.upper;
  if (prefix !== undefined) out.prefix = prefix;
  return out;
}

function dedupe(values: DpValue[]): DpValue[] {
  const sorted = [...values].sort(compareValues);
  return sorted.filter((v, i) => i === 0 || compareValues(sorted[i - 1]!, v) !== 0);
}

/**
 * Normalises a polygon: coordinates rounded to 1e-7 degree (about 1 cm) as integers; the closing point and
 * repeated consecutive vertices dropped; the outer ring counter-clockwise and holes clockwise (RFC 7946);
 * each ring starting at its least vertex; holes in a fixed order.
 */
export function canonicalPolygon(coords: PolygonCoordinates): [number, number][][] {
  if (!Array.isArray(coords) || coords.length === 0 || coords.length > 100)
    throw badInput('A polygon needs an outer ring and at most 99 holes.');
  const rings = coords.map((ring, i) => canonicalRing(ring, i === 0));
  const [outer, ...holes] = rings;
  holes.sort((a, b) => compareRings(a, b));
  return [outer!, ...holes];
}

function canonicalRing(ring: number[][], outer: boolean): [number, number][] {
  if (!Array.isArray(ring) || ring.length > MAX_VERTICES + 1)
    throw badInput(`A polygon ring has at most ${MAX_VERTICES} vertices.`);
  let pts: [number, number][] = ring.map((p) => {
    if (!Array.isArray(p) || p.length < 2) throw badInput('A polygon vertex is [lon, lat].');
    const [lon, lat] = p as [number, number];
    if (!Number.isFinite(lon) || !Number.isFinite(lat) || Math.abs(lon) > 180 || Math.abs(lat) > 90)
      throw badInput('Polygon vertices must be WGS84 degrees.');
    return [Math.round(lon * COORD_SCALE) + 0, Math.round(lat * COORD_SCALE) + 0];
  });
  // Drop repeated consecutive vertices, cyclically (this also drops the closing point).
  pts = pts.filter((p, i) => i === 0 || !samePoint(p, pts[i - 1]!));
  while (pts.length > 1 && samePoint(pts[0]!, pts[pts.length - 1]!)) pts.pop();
  pts = dropCollinear(pts);
  if (pts.length < 3) throw badInput('A polygon ring needs at least 3 distinct vertices.');
  const area = twiceSignedArea(pts);
  if (area === 0n) throw badInput('A polygon ring must enclose an area.');
  if (area > 0n !== outer) pts.reverse();
  return leastRotation(pts);
}

/**
 * Drops every vertex that lies on the straight segment between its neighbours (exactly: integer cross product
 * zero, the vertex between them): the ring's edges cover the same points, so the filter selects the same grains.
 */
function dropCollinear(ring: [number, number][]): [number, number][] {
  let pts = ring;
  for (let changed = true; changed && pts.length > 3;) {
    changed = false;
    for (let i = 0; i < pts.length && pts.length > 3; i++) {
      const a = pts[(i + pts.length - 1) % pts.length]!;
      const b = pts[i]!;
      const c = pts[(i + 1) % pts.length]!;
      const cross = BigInt(b[0] - a[0]) * BigInt(c[1] - a[1]) - BigInt(b[1] - a[1]) * BigInt(c[0] - a[0]);
      const between =
        Math.min(a[0], c[0]) <= b[0] &&
        b[0] <= Math.max(a[0], c[0]) &&
        Math.min(a[1], c[1]) <= b[1] &&
        b[1] <= Math.max(a[1], c[1]);
      if (cross === 0n && between) {
        pts = [...pts.slice(0, i), ...pts.slice(i + 1)];
        changed = true;
        i--;
      }
    }
  }
  return pts;
}

function samePoint(a: [number, number], b: [number, number]): boolean {
  return a[0] === b[0] && a[1] === b[1];
}

/** Shoelace formula on BigInt: exact for integer coordinates; positive means counter-clockwise. */
function twiceSignedArea(pts: [number, number][]): bigint {
  let s = 0n;
  for (let i = 0; i < pts.length; i++) {
    const [x1, y1] = pts[i]!;
    const [x2, y2] = pts[(i + 1) % pts.length]!;
    s += BigInt(x1) * BigInt(y2) - BigInt(x2) * BigInt(y1);
  }
  return s;
}

/** The rotation of the ring that is least in lexicographic order of vertices (it starts at a least vertex). */
function leastRotation(pts: [number, number][]): [number, number][] {
  let least = pts[0]!;
  for (const p of pts) if (p[0] < least[0] || (p[0] === least[0] && p[1] < least[1])) least = p;
  let best: [number, number][] | null = null;
  for (let i = 0; i < pts.length; i++) {
    if (!samePoint(pts[i]!, least)) continue;
    const rotated = [...pts.slice(i), ...pts.slice(0, i)];
    if (best === null || compareRings(rotated, best) < 0) best = rotated;
  }
  return best!;
}

function compareRings(a: [number, number][], b: [number, number][]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const d = a[i]![0] - b[i]![0] || a[i]![1] - b[i]![1];
    if (d !== 0) return d;
  }
  return a.length - b.length;
}
