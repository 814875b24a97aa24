import type { AccessRequest, FieldFilter, GroupBy } from '../access/access-request.js';
import { PURPOSES, type Purpose } from '../access/decision.js';
import { badInput, limitExceeded } from '../errors/domain.error.js';
import {
  AggFuncEnum,
  FilterOpEnum,
  type AggregateArgs,
  type FieldFilterInput,
  type RecordsArgs,
} from './dto/records.args.js';

const MAX_LIST = 50;
/** Most values of one `in` filter. */
const MAX_IN_VALUES = 1000;
/** Most sort keys. */
const MAX_SORT = 5;

/** Turns GraphQL arguments into an AccessRequest, refusing malformed input with BAD_USER_INPUT. */
export function recordsRequest(args: RecordsArgs, headerPurpose: string | null, maxPageSize: number): AccessRequest {
  if (!Number.isInteger(args.first) || args.first < 1) throw badInput('first must be at least 1.');
  if (args.first > maxPageSize) throw limitExceeded(`first may be at most ${maxPageSize}.`);
  if (args.fields.length > MAX_LIST) throw badInput(`At most ${MAX_LIST} fields.`);
  if ((args.sort?.length ?? 0) > MAX_SORT) throw limitExceeded(`At most ${MAX_SORT} sort keys.`);
  return {
    ...scope(args, headerPurpose),
    mode: 'raw',
    fields: [...new Set(args.fields)],
    sort: (args.sort ?? []).map((s) => ({ field: s.field, descending: s.descending })),
    groupBy: null,
    measures: [],
    first: args.first,
    offset: decodeCursor(args.after ?? null),
  };
}

export function aggregateRequest(args: AggregateArgs, headerPurpose: string | null): AccessRequest {
  if (args.measures.length === 0 || args.measures.length > 10) throw badInput('Give 1 to 10 measures.');
  const g = args.groupBy;
  const chosen = [g.level, g.h3Resolution, g.field].filter((v) => v !== undefined && v !== null).length;
  if (chosen !== 1) throw badInput('groupBy takes exactly one of level, h3Resolution, field.');
  let groupBy: GroupBy;
  if (g.level) groupBy = { kind: 'level', level: g.level };
  else if (g.field) groupBy = { kind: 'field', field: g.field };
  else if (g.h3Resolution === 7 || g.h3Resolution === 8 || g.h3Resolution === 9)
    groupBy = { kind: 'h3', resolution: g.h3Resolution };
  else throw badInput('h3Resolution must be 7, 8 or 9.');
  return {
    ...scope(args, headerPurpose),
    mode: 'aggregate',
    fields: [],
    sort: [],
    groupBy,
    measures: args.measures.map((m) => {
      if (m.fn !== AggFuncEnum.count && !m.field) throw badInput(`${m.fn} needs a field.`);
      return { fn: m.fn, field: m.field ?? null };
    }),
    first: 0,
    offset: 0,
  };
}

function scope(args: RecordsArgs | AggregateArgs, headerPurpose: string | null) {
  // Refused, never truncated: silently dropping a filter would answer a broader question than was asked.
  if ((args.filter?.length ?? 0) > MAX_LIST) throw limitExceeded(`At most ${MAX_LIST} filters.`);
  return {
    datasetId: args.dataset,
    purpose: purposeOf(args.purpose ?? null, headerPurpose),
    filters: (args.filter ?? []).map(toFieldFilter),
    within: args.within ?? null,
    bbox: args.bbox ? bbox(args.bbox) : null,
  };
}

/** The purpose of a request: the argument or the X-Purpose header, which must agree. */
export function purposeOf(arg: Purpose | null, header: string | null): Purpose | null {
  if (arg && header && arg !== header) throw badInput('The purpose argument and the X-Purpose header disagree.');
  const p = arg ?? header;
  if (p === null) return null;
  if (!(PURPOSES as readonly string[]).includes(p))
    throw badInput(`Unknown purpose; use one of ${PURPOSES.join(', ')}.`);
  return p as Purpose;
}

/** A GraphQL filter input as a FieldFilter; refuses a malformed one. */
export function toFieldFilter(f: FieldFilterInput): FieldFilter {
  if (f.op === FilterOpEnum.in) {
    if (!f.values || f.values.some((v) => v === null || typeof v === 'boolean'))
      throw badInput('"in" needs `values`: strings or numbers.');
    if (f.values.length > MAX_IN_VALUES) throw limitExceeded(`An "in" filter takes at most ${MAX_IN_VALUES} values.`);
    return { field: f.field, op: 'in', value: f.values as (string | number)[] };
  }
  if (f.value === undefined || f.value === null) throw badInput(`Filter "${f.op}" needs a value.`);
  return { field: f.field, op: f.op, value: f.value };
}

function bbox(b: { minLon: number; minLat: number; maxLon: number; maxLat: number }) {
  const ok = (v: number, lim: number) => Number.isFinite(v) && Math.abs(v) <= lim;
  if (
    !ok(b.minLon, 180) ||
    !ok(b.maxLon, 180) ||
    !ok(b.minLat, 90) ||
    !ok(b.maxLat, 90) ||
    b.minLon > b.maxLon ||
    b.minLat > b.maxLat
  ) {
    throw badInput('bbox must be valid WGS84 degrees with min ≤ max.');
  }
  return { ...b };
}

export function encodeCursor(offset: number): string {
  return Buffer.from(`o:${offset}`).toString('base64url');
}

export function decodeCursor(cursor: string | null): number {
  if (cursor === null) return 0;
  const m = /^o:(\d{1,9})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m) throw badInput('Invalid cursor.');
  return Number(m[1]);
}
