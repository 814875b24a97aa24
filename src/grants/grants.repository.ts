import fs from 'node:fs';
import path from 'node:path';
import { Logger } from '@nestjs/common';
import type { Enforcer } from 'casbin';
import { REPO_ROOT } from '../config/config.js';
import type { Db, Queryable } from '../store/db.port.js';
import { PURPOSES, type Purpose } from '../access/decision.js';
import { CasbinStoreAdapter, casbin } from './casbin-store.adapter.js';
import type { Grant, NewGrant } from './grant.types.js';

interface GrantRow {
  id: string;
  org: string;
  dataset_id: string;
  fields: string[];
  purpose: Purpose;
  extent: string[];
  valid_from: Date | string;
  valid_to: Date | string;
  approved_by: string;
  revoked_at: Date | string | null;
  application_id: string | null;
  revoked_by: string | null;
  revoke_reason: string | null;
}

/** Roles of a department that may use the department's grants (seeded per org as casbin `g` lines). */
export const GRANTEE_ROLES = ['analyst', 'owner', 'admin'] as const;

/** NOTIFY channel of grant changes; the payload is the new grants_version. */
export const GRANTS_CHANNEL = 'citygate_grants';

const MODEL_PATH = path.join(REPO_ROOT, 'policies/casbin/citygate_model.conf');
const log = new Logger('GrantsRepository');

/**
 * Grants and their casbin side. The store is the source of truth; this class keeps an in-memory
 * snapshot and a casbin enforcer loaded from casbin_rules. Every reload bumps `version`, which keys
 * memoised facts and decisions, and tells `onChange` listeners (the access service drops its memo).
 *
 * Several gateway instances on one PostgreSQL: every change bumps the store's grants_version in its own
 * transaction and NOTIFYs the others, who reload at once; and `sync()`, which the access service awaits
 * before each decision, reads grants_version and reloads when it moved, so a lost notification cannot leave
 * an instance deciding on grants older than the store's at the moment the request arrived (docs/grants.md).
 * On PGlite one process owns the store and reloads after its own writes, so `sync()` reads nothing.
 */
export class GrantsRepository {
  private grants = new Map<string, Grant>();
  private enforcer!: Enforcer;
  private factsCache = new Map<string, string[]>();
  private listeners = new Set<() => void>();
  private loadedVersion = 0;
  private reloading: Promise<void> | null = null;
  private loadQueue: Promise<void> = Promise.resolve();
  private versionRead: Promise<number> | null = null;
  private nextVersionRead: Promise<number> | null = null;
  private unlisten: (() => Promise<void>) | null = null;
  /** Local snapshot counter: changes on every reload. */
  version = 0;
  /** Store version reads made by `sync()` (observability and tests). */
  versionChecks = 0;

  constructor(private readonly db: Db) {}

  /** Whether decisions must check the store's version (other processes may change grants). */
  get shared(): boolean {
    return this.db.kind === 'postgres';
  }

  /** Reloads grants and casbin from the store. Loads run one after another, so a later one never loses to an earlier. */
  load(): Promise<void> {
    const next = this.loadQueue.then(() => this.loadNow());
    this.loadQueue = next.catch(() => undefined);
    return next;
  }

  private async loadNow(): Promise<void> {
    // The version first: a change committed between the two reads makes the snapshot newer than the
    // version it records, which costs one extra reload, never a stale decision.
    const storeVersion = await this.readStoreVersion();
    const model = casbin.newModelFromString(fs.readFileSync(MODEL_PATH, 'utf8'));
    const enforcer = await casbin.newEnforcer(model, new CasbinStoreAdapter(this.db));
    const rows = await this.db.query<GrantRow>('select * from grants');
    this.grants = new Map(rows.map((r) => [r.id, fromRow(r)]));
    this.enforcer = enforcer;
    this.factsCache.clear();
    this.loadedVersion = Math.max(this.loadedVersion, storeVersion);
    this.version += 1;
    for (const l of this.listeners) l();
  }

  /** Runs `listener` after every reload. */
  onChange(listener: () => void): void {
    this.listeners.add(listener);
  }

  /** On a shared store, reloads as soon as another instance announces a change. */
  async watch(): Promise<void> {
    if (!this.shared || this.unlisten) return;
    this.unlisten = await this.db.listen(GRANTS_CHANNEL, (payload) => {
      const v = Number(payload);
      if (Number.isSafeInteger(v) && v > this.loadedVersion) {
        this.atLeast(v).catch((err: unknown) => log.warn(`reload after notification: ${(err as Error).message}`));
      }
    });
  }

  async close(): Promise<void> {
    const u = this.unlisten;
    this.unlisten = null;
    await u?.();
  }

  /**
   * Makes the snapshot at least as new as the store was when this call began (shared store only). Concurrent
   * callers share one version read, but only one that started after they arrived.
   */
  async sync(): Promise<void> {
    if (!this.shared) return;
    await this.atLeast(await this.freshVersion());
  }

  private async atLeast(v: number): Promise<void> {
    while (this.loadedVersion < v) {
      this.reloading ??= this.load().finally(() => {
        this.reloading = null;
      });
      await this.reloading;
    }
  }

  private freshVersion(): Promise<number> {
    if (!this.versionRead) {
      this.versionChecks += 1;
      this.versionRead = this.readStoreVersion().finally(() => {
        this.versionRead = null;
      });
      return this.versionRead;
    }
    // The read in flight may have started before this caller arrived: wait for the next one.
    this.nextVersionRead ??= this.versionRead
      .catch(() => 0)
      .then(() => {
        this.nextVersionRead = null;
        return this.freshVersion();
      });
    return this.nextVersionRead;
  }

  private async readStoreVersion(): Promise<number> {
    const rows = await this.db.query<{ version: number }>('select version from grants_version where id = 1');
    return rows[0]?.version ?? 0;
  }

  /** Adds the casbin role lines that let GRANTEE_ROLES of `org` use its grants. Idempotent. */
  async enableGrantee(org: string, tx: Queryable = this.db): Promise<void> {
    for (const role of GRANTEE_ROLES) {
      const exists = await tx.query(
        `select 1 from casbin_rules where ptype = 'g' and v0 = $1 and v1 = 'grantee' and v2 = $2`,
        [role, org],
      );
      if (exists.length === 0) {
        await tx.query(`insert into casbin_rules (ptype, v0, v1, v2) values ('g', $1, 'grantee', $2)`, [role, org]);
      }
    }
  }

  /** Within `tx`: stores a grant and its casbin lines, and bumps the version. */
  async insert(tx: Queryable, grant: NewGrant): Promise<void> {
    if (!(PURPOSES as readonly string[]).includes(grant.purpose)) throw new Error(`unknown purpose ${grant.purpose}`);
    await tx.query(
      `insert into grants (id, org, dataset_id, fields, purpose, extent, valid_from, valid_to, approved_by, application_id)
       values ($1, $2, $3, $4::jsonb, $5, $6::jsonb, $7, $8, $9, $10)`,
      [
        grant.id,
        grant.org,
        grant.datasetId,
        JSON.stringify(grant.fields),
        grant.purpose,
        JSON.stringify(grant.extent),
        grant.validFrom.toISOString(),
        grant.validTo.toISOString(),
        grant.approvedBy,
        grant.applicationId ?? null,
      ],
    );
    await tx.query(`insert into casbin_rules (ptype, v0, v1, v2, v3, v4) values ('p', 'grantee', $1, $2, $3, $4)`, [
      grant.org,
      grant.datasetId,
      grant.purpose,
      grant.id,
    ]);
    await this.enableGrantee(grant.org, tx);
    await this.bumpVersion(tx);
  }

  /** Within `tx`: marks a grant revoked and removes its casbin line. False when it was already revoked. */
  async markRevoked(
    tx: Queryable,
    id: string,
    at: Date,
    by: string | null = null,
    reason: string | null = null,
  ): Promise<boolean> {
    const rows = await tx.query(
      'update grants set revoked_at = $2, revoked_by = $3, revoke_reason = $4 where id = $1 and revoked_at is null returning id',
      [id, at.toISOString(), by, reason],
    );
    await tx.query(`delete from casbin_rules where ptype = 'p' and v4 = $1`, [id]);
    if (rows.length > 0) await this.bumpVersion(tx);
    return rows.length > 0;
  }

  /** Within `tx`: the store's grants_version moves on, and other instances are told once `tx` commits. */
  private async bumpVersion(tx: Queryable): Promise<void> {
    const rows = await tx.query<{ version: number }>(
      'update grants_version set version = version + 1 where id = 1 returning version',
    );
    await tx.query('select pg_notify($1, $2)', [GRANTS_CHANNEL, String(rows[0]?.version ?? 0)]);
  }

  /** Stores an approved grant and its casbin line in one transaction, then reloads. */
  async create(grant: NewGrant): Promise<Grant> {
    await this.db.transaction((tx) => this.insert(tx, grant));
    await this.load();
    return {
      ...grant,
      applicationId: grant.applicationId ?? null,
      revokedAt: null,
      revokedBy: null,
      revokeReason: null,
    };
  }

  /** Revokes a grant: marks it and removes its casbin line; the next decision no longer sees it. */
  async revoke(id: string, at = new Date()): Promise<void> {
    await this.db.transaction((tx) => this.markRevoked(tx, id, at));
    await this.load();
  }

  get(id: string): Grant | undefined {
    return this.grants.get(id);
  }

  /**
   * Grant ids that `roles` of `org` may use on `datasetId`, through casbin (role inheritance within the
   * org's domain). Memoised per (org, roles, dataset) until the next change.
   */
  async grantIdsFor(org: string, roles: readonly string[], datasetId: string): Promise<string[]> {
    const key = `${org}\u0000${[...roles].sort().join(',')}\u0000${datasetId}`;
    const hit = this.factsCache.get(key);
    if (hit) return hit;
    const ids = new Set<string>();
    for (const role of roles) {
      const perms = await this.enforcer.getImplicitPermissionsForUser(role, org);
      for (const p of perms) {
        // p = [sub, dom, obj, act, grant]
        if (p[1] === org && p[2] === datasetId && p[4]) ids.add(p[4]);
      }
    }
    const out = [...ids].sort();
    this.factsCache.set(key, out);
    return out;
  }

  /** Grants usable at `now`: known to casbin, not revoked, inside their validity window. */
  async activeGrants(org: string, roles: readonly string[], datasetId: string, now: Date): Promise<Grant[]> {
    const ids = await this.grantIdsFor(org, roles, datasetId);
    const out: Grant[] = [];
    for (const id of ids) {
      const g = this.grants.get(id);
      if (g && g.org === org && g.datasetId === datasetId && !g.revokedAt && g.validFrom <= now && now < g.validTo)
        out.push(g);
    }
    return out;
  }

  /**
   * The earliest instant after `now` at which the set of active grants of (org, dataset) can change by
   * the passage of time alone (a grant starting or expiring); memoised decisions must not outlive it.
   */
  nextBoundary(org: string, datasetId: string, now: Date): number {
    let next = Number.POSITIVE_INFINITY;
    for (const g of this.grants.values()) {
      if (g.org !== org || g.datasetId !== datasetId || g.revokedAt) continue;
      for (const t of [g.validFrom.getTime(), g.validTo.getTime()]) if (t > now.getTime() && t < next) next = t;
    }
    return next;
  }

  list(): Grant[] {
    return [...this.grants.values()];
  }
}

function fromRow(r: GrantRow): Grant {
  return {
    id: r.id,
    org: r.org,
    datasetId: r.dataset_id,
    fields: r.fields,
    purpose: r.purpose,
    extent: r.extent,
    validFrom: new Date(r.valid_from),
    validTo: new Date(r.valid_to),
    approvedBy: r.approved_by,
    revokedAt: r.revoked_at ? new Date(r.revoked_at) : null,
    applicationId: r.application_id ?? null,
    revokedBy: r.revoked_by ?? null,
    revokeReason: r.revoke_reason ?? null,
  };
}
