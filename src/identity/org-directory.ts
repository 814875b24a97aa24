/**
 * The organisation directory as identity sees it: is a token's `org` a registered department?
 *
 * A signed token names its organisation, but only the directory (the `orgs` table) says that the organisation
 * exists here. A token for a made-up or removed organisation is refused, so that it cannot be served at a
 * department's tier nor open a budget or rate-limit bucket of its own.
 *
 * Known ids are cached for `maxAgeMs` (so a removed organisation is refused at most that much later); an id not
 * in the cache is looked up in the directory each time (one indexed query), so a newly registered organisation
 * is served at once. Only the issuer's signed tokens reach this check, so misses are not an attacker's free
 * amplifier.
 */
import type { Queryable } from '../store/db.port.js';

export interface OrgDirectoryOptions {
  /** How long a known id is trusted before it is looked up again. Default 60000 ms. */
  maxAgeMs?: number;
  /** Clock (tests). */
  now?: () => number;
}

export class OrgDirectory {
  /** Known id → when it was last seen in the directory. */
  private readonly known = new Map<string, number>();
  private readonly maxAgeMs: number;
  private readonly now: () => number;

  constructor(
    private readonly db: Queryable,
    options: OrgDirectoryOptions = {},
  ) {
    this.maxAgeMs = options.maxAgeMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  /** True when `org` is a registered organisation. A database error propagates (the caller fails closed). */
  async has(org: string): Promise<boolean> {
    const seen = this.known.get(org);
    const now = this.now();
    if (seen !== undefined && now - seen < this.maxAgeMs) return true;
    const rows = await this.db.query<{ id: string }>('select id from orgs where id = $1', [org]);
    if (rows.length === 1) {
      this.known.set(org, now);
      return true;
    }
    this.known.delete(org);
    return false;
  }
}
