import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { PURPOSES, type Purpose } from '../access/decision.js';
import type { CatalogueService, Dataset } from '../catalogue/catalogue.service.js';
import type { Requester } from '../identity/requester.js';
import type { GrantRecord } from '../ledger/provenance-record.js';
import type { ProvenanceRecorder } from '../ledger/provenance-recorder.js';
import type { Receipt } from '../ledger/provenance-log.port.js';
import type { Db, Queryable } from '../store/db.port.js';
import {
  grantState,
  type ApplicationStatus,
  type Grant,
  type GrantApplication,
  type GrantState,
} from './grant.types.js';
import { GrantErrorCode as E, grantError } from './grants.errors.js';
import type { GrantsRepository } from './grants.repository.js';

/** Longest grant an application may ask for. */
export const MAX_GRANT_DAYS = 366;
/** How far ahead a grant may start. */
export const MAX_START_DAYS = 90;
const MAX_EXTENT_UNITS = 50;
const MAX_TEXT = 1000;
const DAY_MS = 86_400_000;
const SKEW_MS = 60_000;
const EXTENT_LEVELS = ['district', 'subdistrict', 'community'];
const FIELD_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const UNIT_ID = /^(district|subdistrict|community):[0-9A-Za-z_-]{1,40}$/;
/** setTimeout's longest delay. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const log = new Logger('GrantsService');

export interface ApplyInput {
  datasetId: string;
  fields: string[];
  purpose: string;
  /** Hierarchy unit ids (district, subdistrict or community); empty: the whole city. */
  extent: string[];
  /** Default: now. */
  validFrom?: Date | null;
  /** Exactly one of validUntil and durationDays. */
  validUntil?: Date | null;
  durationDays?: number | null;
  legalBasis: string;
  contact: string;
}

export interface DecideInput {
  applicationId: string;
  approve: boolean;
  /** Approval only: a narrower scope; each part defaults to the application's. */
  fields?: string[] | null;
  extent?: string[] | null;
  validUntil?: Date | null;
  /** Required to reject; optional to approve. */
  reason?: string | null;
}

export interface ApplicationFilter {
  status?: ApplicationStatus | null;
  datasetId?: string | null;
}

export interface GrantFilter {
  datasetId?: string | null;
  state?: GrantState | null;
}

interface ApplicationRow {
  id: string;
  applicant_org: string;
  applicant_sub: string;
  dataset_id: string;
  owner_org: string;
  fields: string[];
  purpose: Purpose;
  extent: string[];
  valid_from: Date | string;
  valid_until: Date | string;
  legal_basis: string;
  contact: string;
  status: ApplicationStatus;
  created_at: Date | string;
  decided_by: string | null;
  decided_at: Date | string | null;
  reason: string | null;
  grant_id: string | null;
}

/**
 * Data-sharing applications and grants (docs/grants.md): a department's analyst applies, an owner of the
 * dataset's department approves (possibly narrower) or rejects, the owner or an admin revokes, grants expire.
 * Every step is appended durably to the provenance log inside the transaction that makes it, before the
 * commit: nothing changes that the log does not show. Grant changes then reload the repository (and so
 * casbin and every memoised decision) before the call returns; other instances follow (GrantsRepository).
 */
export class GrantsService {
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly db: Db,
    private readonly catalogue: CatalogueService,
    private readonly grants: GrantsRepository,
    private readonly recorder: ProvenanceRecorder,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Logs expiries missed while down, then watches for the next one. */
  async start(): Promise<void> {
    this.grants.onChange(() => this.schedule());
    await this.recordExpiries();
    this.schedule();
  }

  stop(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  async apply(requester: Requester, input: ApplyInput): Promise<GrantApplication> {
    const org = requester.via === 'jwt' ? requester.org : null;
    if (!org || !requester.roles.includes('analyst')) throw grantError(E.NotAnApplicant);
    const kind = await this.db.query<{ kind: string }>('select kind from orgs where id = $1', [org]);
    if (kind[0]?.kind !== 'department') throw grantError(E.NotAnApplicant);
    const dataset = this.catalogue.get(input.datasetId);
    if (!dataset) throw grantError(E.NoSuchDataset);
    if (dataset.ownerOrg === org) throw grantError(E.OwnDataset);
    if (dataset.fields.every((f) => f.openClass === 'unconditional')) throw grantError(E.NothingToGrant);
    const fields = checkFields(dataset, input.fields);
    if (!(PURPOSES as readonly string[]).includes(input.purpose)) throw grantError(E.BadPurpose);
    const purpose = input.purpose as Purpose;
    const extent = await this.checkExtent(input.extent);
    const now = this.now();
    const validFrom = input.validFrom ?? now;
    if (Number.isNaN(validFrom.getTime()) || validFrom.getTime() < now.getTime() - SKEW_MS)
      throw grantError(E.BadPeriod, 'validFrom may not lie in the past.');
    if (validFrom.getTime() > now.getTime() + MAX_START_DAYS * DAY_MS)
      throw grantError(E.BadPeriod, `A grant may start at most ${MAX_START_DAYS} days ahead.`);
    const hasUntil = input.validUntil !== null && input.validUntil !== undefined;
    const hasDays = input.durationDays !== null && input.durationDays !== undefined;
    if (hasUntil === hasDays) throw grantError(E.BadPeriod, 'Give exactly one of validUntil and durationDays.');
    let validUntil: Date;
    if (hasDays) {
      const days = input.durationDays!;
      if (!Number.isInteger(days) || days < 1 || days > MAX_GRANT_DAYS)
        throw grantError(E.BadPeriod, `durationDays must be a whole number from 1 to ${MAX_GRANT_DAYS}.`);
      validUntil = new Date(validFrom.getTime() + days * DAY_MS);
    } else {
      validUntil = input.validUntil!;
    }
    if (Number.isNaN(validUntil.getTime()) || validUntil <= validFrom)
      throw grantError(E.BadPeriod, 'validUntil must come after validFrom.');
    if (validUntil.getTime() - validFrom.getTime() > MAX_GRANT_DAYS * DAY_MS)
      throw grantError(E.BadPeriod, `A grant may last at most ${MAX_GRANT_DAYS} days.`);
    const legalBasis = checkText(input.legalBasis, 'legalBasis');
    const contact = checkText(input.contact, 'contact');
    const app: GrantApplication = {
      id: `app-${randomUUID()}`,
      applicantOrg: org,
      applicantSub: requester.sub,
      datasetId: dataset.id,
      ownerOrg: dataset.ownerOrg,
      fields,
      purpose,
      extent,
      validFrom,
      validUntil,
      legalBasis,
      contact,
      status: 'pending',
      createdAt: now,
      decidedBy: null,
      decidedAt: null,
      reason: null,
      grantId: null,
    };
    const record = this.recorder.grantRecord(
      requester,
      {
        kind: 'grant-applied',
        purpose,
        dataset: dataset.id,
        applicationId: app.id,
        grantId: null,
        grantee: org,
        ownerOrg: dataset.ownerOrg,
        scope: scopeOf(fields, extent, validFrom, validUntil),
        legalBasis,
        contact,
        reason: null,
      },
      now,
    );
    await this.logged(record, async (tx) => {
      await tx.query(
        `insert into grant_applications (id, applicant_org, applicant_sub, dataset_id, owner_org, fields, purpose,
           extent, valid_from, valid_until, legal_basis, contact, status, created_at)
         values ($1, $2, $3, $4, $5, $6::jsonb, $7, $8::jsonb, $9, $10, $11, $12, 'pending', $13)`,
        [
          app.id,
          org,
          requester.sub,
          dataset.id,
          dataset.ownerOrg,
          JSON.stringify(fields),
          purpose,
          JSON.stringify(extent),
          validFrom.toISOString(),
          validUntil.toISOString(),
          legalBasis,
          contact,
          now.toISOString(),
        ],
      );
    });
    return app;
  }

  async decide(requester: Requester, input: DecideInput): Promise<GrantApplication> {
    const now = this.now();
    let record: GrantRecord | null = null;
    const decided = await this.db.transaction(async (tx) => {
      const rows = await tx.query<ApplicationRow>('select * from grant_applications where id = $1 for update', [
        input.applicationId,
      ]);
      const app = rows[0] ? fromRow(rows[0]) : null;
      if (!app || !this.maySeeApplication(requester, app)) throw grantError(E.NoSuchApplication);
      if (!(requester.org === app.ownerOrg && requester.roles.includes('owner'))) throw grantError(E.NotTheOwner);
      if (app.status !== 'pending') throw grantError(E.AlreadyDecided);
      const dataset = this.catalogue.get(app.datasetId);
      if (!dataset) throw grantError(E.NoSuchApplication);
      const reason = input.reason === null || input.reason === undefined ? null : checkText(input.reason, 'reason');
      const base = {
        purpose: app.purpose,
        dataset: app.datasetId,
        applicationId: app.id,
        grantee: app.applicantOrg,
        ownerOrg: app.ownerOrg,
        reason,
      };
      if (!input.approve) {
        if (!reason) throw grantError(E.ReasonRequired, 'A rejection needs a reason.');
        record = this.recorder.grantRecord(
          requester,
          {
            ...base,
            kind: 'grant-rejected',
            grantId: null,
            scope: scopeOf(app.fields, app.extent, app.validFrom, app.validUntil),
          },
          now,
        );
        await tx.query(
          `update grant_applications set status = 'rejected', decided_by = $2, decided_at = $3, reason = $4 where id = $1`,
          [app.id, requester.sub, now.toISOString(), reason],
        );
        await this.appendWithin(record);
        return { ...app, status: 'rejected' as const, decidedBy: requester.sub, decidedAt: now, reason };
      }
      const fields = input.fields ? checkFields(dataset, input.fields) : app.fields;
      const notApplied = fields.filter((f) => !app.fields.includes(f));
      if (notApplied.length > 0)
        throw grantError(E.NotNarrower, `Field "${notApplied[0]}" was not applied for: an approval may only narrow.`);
      const extent = input.extent ? await this.checkExtent(input.extent, tx) : app.extent;
      await this.checkWithin(extent, app.extent, tx);
      const validUntil = input.validUntil ?? app.validUntil;
      if (Number.isNaN(validUntil.getTime()) || validUntil > app.validUntil)
        throw grantError(E.NotNarrower, 'validUntil may not be later than the application asked.');
      const validFrom = app.validFrom > now ? app.validFrom : now;
      if (validUntil <= validFrom) throw grantError(E.BadPeriod, 'validUntil must lie ahead.');
      const grantId = `grant-${randomUUID()}`;
      record = this.recorder.grantRecord(
        requester,
        { ...base, kind: 'grant-approved', grantId, scope: scopeOf(fields, extent, validFrom, validUntil) },
        now,
      );
      await this.grants.insert(tx, {
        id: grantId,
        org: app.applicantOrg,
        datasetId: app.datasetId,
        fields,
        purpose: app.purpose,
        extent,
        validFrom,
        validTo: validUntil,
        approvedBy: requester.sub,
        applicationId: app.id,
      });
      await tx.query(
        `update grant_applications set status = 'approved', decided_by = $2, decided_at = $3, reason = $4, grant_id = $5
         where id = $1`,
        [app.id, requester.sub, now.toISOString(), reason, grantId],
      );
      await this.appendWithin(record);
      return { ...app, status: 'approved' as const, decidedBy: requester.sub, decidedAt: now, reason, grantId };
    });
    await this.afterCommit(record, decided.status === 'approved');
    return decided;
  }

  async revoke(requester: Requester, grantId: string, reasonIn: string): Promise<Grant> {
    await this.grants.sync();
    const g = this.grants.get(grantId);
    if (!g || !this.maySeeGrant(requester, g)) throw grantError(E.NoSuchGrant);
    const ownerOrg = this.catalogue.get(g.datasetId)?.ownerOrg;
    const isOwner = requester.org === ownerOrg && requester.roles.includes('owner');
    if (!isOwner && !requester.roles.includes('admin')) throw grantError(E.MayNotRevoke);
    const reason = checkText(reasonIn, 'reason');
    const now = this.now();
    if (grantState(g, now) === 'revoked' || grantState(g, now) === 'expired') throw grantError(E.AlreadyEnded);
    const record = this.recorder.grantRecord(
      requester,
      {
        kind: 'grant-revoked',
        purpose: g.purpose,
        dataset: g.datasetId,
        applicationId: g.applicationId,
        grantId: g.id,
        grantee: g.org,
        ownerOrg: ownerOrg ?? '',
        scope: scopeOf(g.fields, g.extent, g.validFrom, g.validTo),
        reason,
      },
      now,
    );
    await this.db.transaction(async (tx) => {
      if (!(await this.grants.markRevoked(tx, g.id, now, requester.sub, reason))) throw grantError(E.AlreadyEnded);
      await this.appendWithin(record);
    });
    await this.afterCommit(record, true);
    return { ...g, revokedAt: now, revokedBy: requester.sub, revokeReason: reason };
  }

  async applications(
    requester: Requester,
    filter: ApplicationFilter,
    first: number,
    offset: number,
  ): Promise<GrantApplication[]> {
    const all = this.seesAll(requester);
    if (!all && !this.isDepartmentMember(requester)) throw grantError(E.NotForCaller);
    const rows = await this.db.query<ApplicationRow>(
      `select * from grant_applications
       where ($1::text is null or applicant_org = $1 or owner_org = $1)
         and ($2::text is null or status = $2) and ($3::text is null or dataset_id = $3)
       order by created_at desc, id limit $4 offset $5`,
      [all ? null : requester.org, filter.status ?? null, filter.datasetId ?? null, first, offset],
    );
    return rows.map(fromRow);
  }

  async application(requester: Requester, id: string): Promise<GrantApplication> {
    const rows = await this.db.query<ApplicationRow>('select * from grant_applications where id = $1', [id]);
    const app = rows[0] ? fromRow(rows[0]) : null;
    if (!app || !this.maySeeApplication(requester, app)) throw grantError(E.NoSuchApplication);
    return app;
  }

  /** Grants the caller may see: its department's and those on its department's datasets (auditors, admins: all). */
  async list(requester: Requester, filter: GrantFilter, first: number, offset: number): Promise<Grant[]> {
    if (!this.seesAll(requester) && !this.isDepartmentMember(requester)) throw grantError(E.NotForCaller);
    await this.grants.sync();
    await this.recordExpiries();
    const now = this.now();
    return this.grants
      .list()
      .filter((g) => this.maySeeGrant(requester, g))
      .filter((g) => !filter.datasetId || g.datasetId === filter.datasetId)
      .filter((g) => !filter.state || grantState(g, now) === filter.state)
      .sort((a, b) => b.validFrom.getTime() - a.validFrom.getTime() || a.id.localeCompare(b.id))
      .slice(offset, offset + first);
  }

  /**
   * Logs the expiry of every grant past its end that no instance has logged yet. Exactly one instance logs
   * each (the row is claimed in the transaction that appends the record).
   */
  async recordExpiries(): Promise<number> {
    const now = this.now();
    const due = await this.db.query<{ id: string }>(
      `select id from grants where valid_to <= $1 and revoked_at is null and expiry_logged_at is null order by valid_to`,
      [now.toISOString()],
    );
    let n = 0;
    for (const { id } of due) {
      let record: GrantRecord | null = null;
      await this.db.transaction(async (tx) => {
        const claimed = await tx.query<{ id: string }>(
          `update grants set expiry_logged_at = $2 where id = $1 and expiry_logged_at is null and revoked_at is null
           returning id`,
          [id, now.toISOString()],
        );
        const g = this.grants.get(id);
        if (claimed.length === 0 || !g) return;
        record = this.recorder.grantRecord(
          null,
          {
            kind: 'grant-expired',
            purpose: g.purpose,
            dataset: g.datasetId,
            applicationId: g.applicationId,
            grantId: g.id,
            grantee: g.org,
            ownerOrg: this.catalogue.get(g.datasetId)?.ownerOrg ?? '',
            scope: scopeOf(g.fields, g.extent, g.validFrom, g.validTo),
            reason: null,
          },
          now,
        );
        await this.appendWithin(record);
      });
      if (record) {
        await this.afterCommit(record, false);
        n += 1;
      }
    }
    return n;
  }

  /** Arms one timer at the next grant end, so that expiries are logged when they happen. */
  private schedule(): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const now = this.now().getTime();
    let next = Number.POSITIVE_INFINITY;
    for (const g of this.grants.list()) {
      const t = g.validTo.getTime();
      if (!g.revokedAt && t > now && t < next) next = t;
    }
    if (!Number.isFinite(next)) return;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.recordExpiries()
          .catch((err: unknown) => log.warn(`logging expiries: ${(err as Error).message}`))
          .finally(() => this.schedule());
      },
      Math.min(next - now + 5, MAX_TIMER_MS),
    );
    this.timer.unref();
  }

  // --- logging -------------------------------------------------------------------------------------------------

  /** Appends durably while the caller's transaction is still open: no commit without its record. */
  private async appendWithin(record: GrantRecord): Promise<void> {
    receipts.set(record, await this.recorder.appendDurable(record));
  }

  private async logged(record: GrantRecord, change: (tx: Queryable) => Promise<void>): Promise<void> {
    await this.db.transaction(async (tx) => {
      await change(tx);
      await this.appendWithin(record);
    });
    await this.afterCommit(record, false);
  }

  /** After the commit: grant changes take effect here at once, and the auditors' index learns the step. */
  private async afterCommit(record: GrantRecord | null, grantsChanged: boolean): Promise<void> {
    if (!record) return;
    if (grantsChanged) await this.grants.load();
    const receipt = receipts.get(record);
    if (receipt) await this.recorder.index(receipt, record);
  }

  // --- who may see what ----------------------------------------------------------------------------------------

  private seesAll(r: Requester): boolean {
    return r.via === 'jwt' && (r.roles.includes('auditor') || r.roles.includes('admin'));
  }

  private isDepartmentMember(r: Requester): boolean {
    return r.via === 'jwt' && r.org !== null && (r.roles.includes('analyst') || r.roles.includes('owner'));
  }

  private maySeeApplication(r: Requester, app: GrantApplication): boolean {
    if (this.seesAll(r)) return true;
    return this.isDepartmentMember(r) && (r.org === app.applicantOrg || r.org === app.ownerOrg);
  }

  private maySeeGrant(r: Requester, g: Grant): boolean {
    if (this.seesAll(r)) return true;
    return this.isDepartmentMember(r) && (r.org === g.org || r.org === this.catalogue.get(g.datasetId)?.ownerOrg);
  }

  // --- validation ----------------------------------------------------------------------------------------------

  /** Unit ids that exist at an extent level, deduplicated and sorted. */
  private async checkExtent(extent: string[], q: Queryable = this.db): Promise<string[]> {
    if (extent.length > MAX_EXTENT_UNITS)
      throw grantError(E.BadExtent, `An extent has at most ${MAX_EXTENT_UNITS} units.`);
    const ids = [...new Set(extent)].sort();
    for (const id of ids) {
      if (!UNIT_ID.test(id)) throw grantError(E.BadExtent, 'Extent units are district, subdistrict or community ids.');
    }
    if (ids.length === 0) return [];
    const rows = await q.query<{ id: string }>(
      'select id from units where id = any($1::text[]) and level = any($2::text[])',
      [ids, EXTENT_LEVELS],
    );
    const known = new Set(rows.map((r) => r.id));
    const missing = ids.find((id) => !known.has(id));
    if (missing) throw grantError(E.BadExtent, `Unknown unit "${missing}".`);
    return ids;
  }

  /** Every unit of `narrow` lies within a unit of `wide` (empty `wide`: the whole city). */
  private async checkWithin(narrow: string[], wide: string[], q: Queryable): Promise<void> {
    if (wide.length === 0) return;
    if (narrow.length === 0) throw grantError(E.NotNarrower, 'The application covers part of the city only.');
    const rows = await q.query<{ id: string; chain: (string | null)[] }>(
      'select id, array[district_id, subdistrict_id, community_id] as chain from units where id = any($1::text[])',
      [narrow],
    );
    for (const id of narrow) {
      const chain = rows.find((r) => r.id === id)?.chain ?? [];
      if (!chain.some((c) => c !== null && wide.includes(c)))
        throw grantError(E.NotNarrower, `Unit "${id}" lies outside the extent applied for.`);
    }
  }
}

/** Receipts of appended steps, until their index entry is written after the commit. */
const receipts = new WeakMap<GrantRecord, Receipt>();

function checkFields(dataset: Dataset, fields: string[]): string[] {
  if (fields.length === 0) throw grantError(E.BadFields, 'Name at least one field.');
  if (fields.length > dataset.fields.length) throw grantError(E.BadFields, 'Too many fields.');
  const out = [...new Set(fields)];
  for (const name of out) {
    const def = dataset.fields.find((f) => f.name === name);
    if (!def) {
      const shown = FIELD_NAME.test(name) ? `"${name}"` : '(not a valid field name)';
      throw grantError(E.BadFields, `Unknown field ${shown} for dataset ${dataset.id}.`);
    }
    if (def.openClass === 'unconditional')
      throw grantError(E.BadFields, `Field "${name}" is open without a grant: apply only for fields that need one.`);
  }
  return dataset.fields.map((f) => f.name).filter((n) => out.includes(n));
}

function checkText(value: string, name: string): string {
  const v = value.trim();
  // eslint-disable-next-line no-control-regex
  if (v.length === 0 || v.length > MAX_TEXT || /[\u0000-\u0008\u000b-\u001f\u007f]/.test(v))
    throw grantError(E.BadText, `${name} must be 1 to ${MAX_TEXT} characters of text.`);
  return v;
}

function scopeOf(fields: string[], extent: string[], from: Date, until: Date): GrantRecord['scope'] {
  return { fields: [...fields], extent: [...extent], validFrom: from.toISOString(), validUntil: until.toISOString() };
}

function fromRow(r: ApplicationRow): GrantApplication {
  return {
    id: r.id,
    applicantOrg: r.applicant_org,
    applicantSub: r.applicant_sub,
    datasetId: r.dataset_id,
    ownerOrg: r.owner_org,
    fields: r.fields,
    purpose: r.purpose,
    extent: r.extent,
    validFrom: new Date(r.valid_from),
    validUntil: new Date(r.valid_until),
    legalBasis: r.legal_basis,
    contact: r.contact,
    status: r.status,
    createdAt: new Date(r.created_at),
    decidedBy: r.decided_by,
    decidedAt: r.decided_at ? new Date(r.decided_at) : null,
    reason: r.reason,
    grantId: r.grant_id,
  };
}
