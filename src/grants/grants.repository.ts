import fs from 'node:fs';
import path from 'node:path';
import type { Enforcer } from 'casbin';
import { REPO_ROOT } from '../config/config.js';
import type { Db, Queryable } from '../store/db.port.js';
import { PURPOSES, type Purpose } from '../access/decision.js';
import { CasbinStoreAdapter, casbin } from './casbin-store.adapter.js';
import type { Grant } from './grant.types.js';

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
}

/** Roles of a department that may use the department's grants (seeded per org as casbin `g` lines). */
export const GRANTEE_ROLES = ['analyst', 'owner', 'admin'] as const;

const MODEL_PATH = path.join(REPO_ROOT, 'policies/casbin/citygate_model.conf');

/**
 * Grants and their casbin side. The store is the source of truth; this class keeps an in-memory
 * snapshot and a casbin enforcer loaded from casbin_rules. Every write bumps `version`, which keys
 * memoised facts and decisions, so a change is seen by the next request.
 */
export class GrantsRepository {
  private grants = new Map<string, Grant>();
  private enforcer!: Enforcer;
  private factsCache = new Map<string, string[]>();
  version = 0;

  constructor(private readonly db: Db) {}

  async load(): Promise<void> {
    const model = casbin.newModelFromString(fs.readFileSync(MODEL_PATH, 'utf8'));
    const enforcer = await casbin.newEnforcer(model, new CasbinStoreAdapter(this.db));
    const rows = await this.db.query<GrantRow>('select * from grants');
    this.grants = new Map(rows.map((r) => [r.id, fromRow(r)]));
    this.enforcer = enforcer;
    this.factsCache.clear();
    this.version += 1;
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

  /** Stores an approved grant and its casbin line in one transaction, then reloads. */
  async create(grant: Omit<Grant, 'revokedAt'>): Promise<Grant> {
    if (!(PURPOSES as readonly string[]).includes(grant.purpose)) throw new Error(`unknown purpose ${grant.purpose}`);
    await this.db.transaction(async (tx) => {
      await tx.query(
        `insert into grants (id, org, dataset_id, fields, purpose, extent, valid_from, valid_to, approved_by)
         values ($1, $2, $3, $4::jsonb, $5, $6::jsonb, $7, $8, $9)`,
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
        ],
      );
      await tx.query(`insert into casbin_rules (ptype, v0, v1, v2, v3, v4) values ('p', 'grantee', $1, $2, $3, $4)`, [
        grant.org,
        grant.datasetId,
        grant.purpose,
        grant.id,
      ]);
      await this.enableGrantee(grant.org, tx);
    });
    await this.load();
    return { ...grant, revokedAt: null };
  }

  /** Revokes a grant: marks it and removes its casbin line; the next decision no longer sees it. */
  async revoke(id: string, at = new Date()): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query('update grants set revoked_at = $2 where id = $1 and revoked_at is null', [id, at.toISOString()]);
      await tx.query(`delete from casbin_rules where ptype = 'p' and v4 = $1`, [id]);
    });
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
  };
}
