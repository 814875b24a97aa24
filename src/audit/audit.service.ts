import type { Db } from '../store/db.port.js';

/** Filters of the auditors' trail; every one optional. */
export interface TrailFilter {
  /** `access`, or a grant step (`grant-applied`, `grant-approved`, ...). */
  kind?: string | null;
  sub?: string | null;
  org?: string | null;
  dataset?: string | null;
  /** Any of these datasets (an owner's usage view); an empty list matches nothing. */
  datasets?: readonly string[] | null;
  purpose?: string | null;
  tier?: string | null;
  released?: boolean | null;
  from?: Date | null;
  to?: Date | null;
}

export interface TrailEntry {
  index: number;
  kind: string;
  at: Date;
  sub: string;
  org: string | null;
  roles: string[];
  purpose: string | null;
  dataset: string;
  mode: string | null;
  fields: string[];
  tier: string | null;
  released: boolean;
  refusal: string | null;
  grantId: string | null;
  rows: number;
  within: string | null;
  reasons: string[];
  applicationId: string | null;
  extent: string[] | null;
  reason: string | null;
}

export interface ReportLine {
  org: string | null;
  purpose: string | null;
  released: boolean;
  requests: number;
  rows: number;
}

export type FlagKind = 'burst' | 'repeated-refusals' | 'outside-grant-purpose' | 'outside-grant-extent';

export interface Flag {
  kind: FlagKind;
  sub: string;
  org: string | null;
  dataset: string | null;
  /** When: the minute of a burst, the last refusal, or the flagged request. */
  at: Date;
  count: number;
  /** Index of the flagged log entry, when one entry is flagged. */
  index: number | null;
  detail: string;
}

interface Row {
  idx: number;
  kind: string;
  at: Date | string;
  sub: string;
  org: string | null;
  roles: string[];
  purpose: string | null;
  dataset: string;
  mode: string | null;
  fields: string[];
  tier: string | null;
  released: boolean;
  refusal: string | null;
  grant_id: string | null;
  rows: number;
  within: string | null;
  reasons: string[];
  application_id: string | null;
  extent: string[] | null;
  reason: string | null;
}

const MAX_EXPORT = 10_000;

/** The auditors' queries over the audit index: trail search, grain access, reports, anomaly flags, CSV. */
export class AuditService {
  constructor(private readonly db: Db) {}

  async search(filter: TrailFilter, first: number, offset: number, grain: string | null = null): Promise<TrailEntry[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const p = (v: unknown) => {
      params.push(v);
      return `$${params.length}`;
    };
    if (filter.kind) where.push(`a.kind = ${p(filter.kind)}`);
    if (filter.sub) where.push(`a.sub = ${p(filter.sub)}`);
    if (filter.org) where.push(`a.org = ${p(filter.org)}`);
    if (filter.dataset) where.push(`a.dataset = ${p(filter.dataset)}`);
    if (filter.datasets) where.push(`a.dataset = any(${p(filter.datasets)}::text[])`);
    if (filter.purpose) where.push(`a.purpose = ${p(filter.purpose)}`);
    if (filter.tier) where.push(`a.tier = ${p(filter.tier)}`);
    // Released or refused is said of requests for data; grant steps release nothing and are neither.
    if (filter.released !== undefined && filter.released !== null)
      where.push(`a.kind = 'access' and a.released = ${p(filter.released)}`);
    if (filter.from) where.push(`a.at >= ${p(filter.from.toISOString())}`);
    if (filter.to) where.push(`a.at < ${p(filter.to.toISOString())}`);
    if (grain) where.push(`a.idx in (select idx from audit_grains where grain_id = ${p(grain)})`);
    const rows = await this.db.query<Row>(
      `select a.* from audit_index a ${where.length ? 'where ' + where.join(' and ') : ''}
       order by a.idx desc limit ${p(first)} offset ${p(offset)}`,
      params,
    );
    return rows.map(toEntry);
  }

  async report(dataset: string, from: Date | null, to: Date | null): Promise<ReportLine[]> {
    const rows = await this.db.query<{
      org: string | null;
      purpose: string | null;
      released: boolean;
      requests: number;
      rows: number;
    }>(
      `select org, purpose, released, count(*)::int as requests, coalesce(sum(rows), 0)::int as rows
       from audit_index
       where kind = 'access' and dataset = $1 and ($2::timestamptz is null or at >= $2) and ($3::timestamptz is null or at < $3)
       group by org, purpose, released order by org nulls first, purpose nulls first, released`,
      [dataset, from?.toISOString() ?? null, to?.toISOString() ?? null],
    );
    return rows;
  }

  async flags(opts: { from: Date | null; to: Date | null; burstPerMinute: number; refusals: number }): Promise<Flag[]> {
    const range = [opts.from?.toISOString() ?? null, opts.to?.toISOString() ?? null];
    // Flags are about requests for data; grant steps are not counted.
    const inRange = `kind = 'access' and ($1::timestamptz is null or at >= $1) and ($2::timestamptz is null or at < $2)`;
    const inRangeA = `a.kind = 'access' and ($1::timestamptz is null or a.at >= $1) and ($2::timestamptz is null or a.at < $2)`;
    const flags: Flag[] = [];
    const bursts = await this.db.query<{ sub: string; org: string | null; m: Date | string; n: number }>(
      `select sub, org, date_trunc('minute', at) as m, count(*)::int as n from audit_index where ${inRange}
       group by sub, org, m having count(*) > $3 order by m`,
      [...range, opts.burstPerMinute],
    );
    for (const b of bursts) {
      flags.push({
        kind: 'burst',
        sub: b.sub,
        org: b.org,
        dataset: null,
        at: new Date(b.m),
        count: b.n,
        index: null,
        detail: `${b.n} requests in one minute`,
      });
    }
    const refusals = await this.db.query<{ sub: string; org: string | null; last: Date | string; n: number }>(
      `select sub, org, max(at) as last, count(*)::int as n from audit_index where not released and ${inRange}
       group by sub, org having count(*) >= $3 order by last`,
      [...range, opts.refusals],
    );
    for (const r of refusals) {
      flags.push({
        kind: 'repeated-refusals',
        sub: r.sub,
        org: r.org,
        dataset: null,
        at: new Date(r.last),
        count: r.n,
        index: null,
        detail: `${r.n} refused requests`,
      });
    }
    // A department that holds a grant on the dataset but asks without it, or for another purpose (also when the
    // request was answered as the public's, docs/policy.md §5: its reasons end with "outside-grant:department").
    const purpose = await this.db.query<Row>(
      `select a.* from audit_index a
       where (a.tier = 'department' or a.reasons @> '["outside-grant:department"]'::jsonb)
         and a.org is not null and ${inRangeA}
         and exists (select 1 from grants g where g.org = a.org and g.dataset_id = a.dataset
                     and g.revoked_at is null and g.valid_from <= a.at and a.at < g.valid_to)
       order by a.idx`,
      range,
    );
    for (const a of purpose) {
      flags.push({
        kind: 'outside-grant-purpose',
        sub: a.sub,
        org: a.org,
        dataset: a.dataset,
        at: new Date(a.at),
        count: 1,
        index: a.idx,
        detail: a.purpose ? `purpose ${a.purpose} is not the grant's` : 'no purpose given',
      });
    }
    // A granted request that asked to look outside the grant's extent.
    const extent = await this.db.query<Row & { extent: string[]; unit_ids: (string | null)[] | null }>(
      `select a.*, g.extent, array[u.id, u.district_id, u.subdistrict_id, u.community_id] as unit_ids
       from audit_index a join grants g on g.id = a.grant_id
       left join units u on u.id = a.within
       where a.tier = 'granted' and a.within is not null and ${inRangeA}
       order by a.idx`,
      range,
    );
    for (const a of extent) {
      if (a.extent.length === 0) continue; // a city-wide grant
      const chain = (a.unit_ids ?? []).filter((x): x is string => x !== null);
      if (chain.some((id) => a.extent.includes(id))) continue;
      flags.push({
        kind: 'outside-grant-extent',
        sub: a.sub,
        org: a.org,
        dataset: a.dataset,
        at: new Date(a.at),
        count: 1,
        index: a.idx,
        detail: `asked within ${a.within}, outside the grant's extent`,
      });
    }
    return flags;
  }

  /** The trail as CSV (RFC 4180; cells that a spreadsheet would run as formulas are neutralised). */
  async exportCsv(filter: TrailFilter): Promise<string> {
    const entries = await this.search(filter, MAX_EXPORT, 0);
    const header = [
      'index',
      'at',
      'sub',
      'org',
      'roles',
      'purpose',
      'dataset',
      'mode',
      'fields',
      'tier',
      'released',
      'refusal',
      'grant_id',
      'rows',
      'within',
      'kind',
      'application_id',
      'reason',
    ];
    const lines = entries.map((e) =>
      [
        e.index,
        e.at.toISOString(),
        e.sub,
        e.org,
        e.roles.join(' '),
        e.purpose,
        e.dataset,
        e.mode,
        e.fields.join(' '),
        e.tier,
        e.released,
        e.refusal,
        e.grantId,
        e.rows,
        e.within,
        e.kind,
        e.applicationId,
        e.reason,
      ]
        .map(csvCell)
        .join(','),
    );
    return [header.join(','), ...lines].join('\r\n') + '\r\n';
  }
}

export function csvCell(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return '';
  let s = String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n']/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

function toEntry(r: Row): TrailEntry {
  return {
    index: r.idx,
    kind: r.kind,
    at: new Date(r.at),
    sub: r.sub,
    org: r.org,
    roles: r.roles,
    purpose: r.purpose,
    dataset: r.dataset,
    mode: r.mode,
    fields: r.fields,
    tier: r.tier,
    released: r.released,
    refusal: r.refusal,
    grantId: r.grant_id,
    rows: r.rows,
    within: r.within,
    reasons: r.reasons,
    applicationId: r.application_id,
    extent: r.extent,
    reason: r.reason,
  };
}
