/**
 * Rate limits per tier, counted per operation and per returned record, in fixed windows.
 *
 * Counters live in the store (table rate_counters), so every gateway instance on one database sees the same
 * counts: each bump is one atomic `insert ... on conflict do update ... returning`. An operation is counted when
 * it starts; records are charged after the query that returned them. A request that would start over either
 * limit is refused with RATE_LIMITED and a retry-after hint (the end of the window).
 */
import { Logger } from '@nestjs/common';
import type { Config, RateTier } from '../config/config.js';
import { DomainError } from '../errors/domain.error.js';
import type { Requester } from '../identity/requester.js';
import type { Queryable } from '../store/db.port.js';

export type RateKind = 'operations' | 'records' | 'registrations';

/** Whom a request is counted against. */
export interface RateSubject {
  /** `addr:<ip>` (anonymous), `apikey:<id>` (API keys) or `jwt:<sub>` (bearer tokens). */
  key: string;
  tier: RateTier;
}

export class RateLimitedError extends DomainError {
  constructor(
    readonly kind: RateKind,
    readonly retryAfterSeconds: number,
  ) {
    super('RATE_LIMITED', rateMessage(kind), `rate limit (${kind}) reached`, {
      limit: kind,
      retryAfterSeconds,
    });
  }
}

function rateMessage(kind: RateKind): string {
  switch (kind) {
    case 'operations':
      return 'Too many requests in this window; retry later.';
    case 'records':
      return 'Too many records returned in this window; retry later.';
    case 'registrations':
      return 'Too many registrations from your address; retry later.';
  }
}

const log = new Logger('RateLimiter');
const HOUR_MS = 3_600_000;

export class RateLimiter {
  private readonly windowMs: number;
  private lastSweep = 0;

  constructor(
    private readonly db: Queryable,
    private readonly limits: Config['rateLimits'],
    private readonly now: () => number = Date.now,
    /** Called once per refusal (metrics). */
    private readonly onLimited: (kind: RateKind, tier: RateTier | 'registration') => void = () => undefined,
  ) {
    this.windowMs = limits.windowSeconds * 1000;
  }

  /**
   * Counts one operation of `subject` and refuses it when that passes the tier's operation limit or when the
   * records already returned in this window reach the tier's record limit. One round trip.
   */
  async begin(subject: RateSubject): Promise<void> {
    const { start, retryAfter } = this.window(this.windowMs);
    this.sweep();
    const rows = await this.db.query<{ ops: number; records: number }>(
      `with ops as (
         insert into rate_counters (subject, kind, window_start, count) values ($1, 'operations', $2, 1)
         on conflict (subject, kind, window_start) do update set count = rate_counters.count + 1
         returning count)
       select (select count from ops) as ops,
              coalesce((select count from rate_counters where subject = $1 and kind = 'records' and window_start = $2), 0) as records`,
      [subject.key, start],
    );
    const row = rows[0] ?? { ops: 0, records: 0 };
    const limit = this.limits.tiers[subject.tier];
    if (Number(row.ops) > limit.operations) this.refuse('operations', subject.tier, retryAfter);
    if (Number(row.records) >= limit.records) this.refuse('records', subject.tier, retryAfter);
  }

  /** Charges records returned to `subject` in the current window. */
  async charge(subject: RateSubject, records: number): Promise<void> {
    if (!(records > 0)) return;
    const { start } = this.window(this.windowMs);
    await this.bump(subject.key, 'records', start, records);
  }

  /** Counts one self-service registration from a client address; refuses past the hourly limit. */
  async registration(address: string): Promise<void> {
    const { start, retryAfter } = this.window(HOUR_MS);
    const count = await this.bump(`addr:${address}`, 'registrations', start, 1);
    if (count > this.limits.registrationsPerHour) this.refuse('registrations', 'registration', retryAfter);
  }

  /** Usage of `subject` in the current window (for the consumer's own view). */
  async usage(subject: RateSubject): Promise<{ operations: number; records: number; resetsAt: Date }> {
    const { start } = this.window(this.windowMs);
    const rows = await this.db.query<{ kind: string; count: number }>(
      `select kind, count from rate_counters where subject = $1 and window_start = $2 and kind in ('operations', 'records')`,
      [subject.key, start],
    );
    const get = (k: string) => Number(rows.find((r) => r.kind === k)?.count ?? 0);
    return {
      operations: get('operations'),
      records: get('records'),
      resetsAt: new Date(start.getTime() + this.windowMs),
    };
  }

  private async bump(key: string, kind: RateKind, start: Date, n: number): Promise<number> {
    const rows = await this.db.query<{ count: number }>(
      `insert into rate_counters (subject, kind, window_start, count) values ($1, $2, $3, $4)
       on conflict (subject, kind, window_start) do update set count = rate_counters.count + excluded.count
       returning count`,
      [key, kind, start, n],
    );
    return Number(rows[0]?.count ?? n);
  }

  private refuse(kind: RateKind, tier: RateTier | 'registration', retryAfter: number): never {
    this.onLimited(kind, tier);
    throw new RateLimitedError(kind, retryAfter);
  }

  private window(ms: number): { start: Date; retryAfter: number } {
    const now = this.now();
    const start = Math.floor(now / ms) * ms;
    return { start: new Date(start), retryAfter: Math.max(1, Math.ceil((start + ms - now) / 1000)) };
  }

  /** Drops counters of windows long past, at most once a window per instance, off the request path. */
  private sweep(): void {
    const now = this.now();
    const every = Math.max(this.windowMs, 60_000);
    if (now - this.lastSweep < every) return;
    this.lastSweep = now;
    const before = new Date(now - Math.max(2 * this.windowMs, 2 * HOUR_MS));
    this.db
      .query('delete from rate_counters where window_start < $1', [before])
      .catch((err: unknown) => log.warn(`sweeping old rate counters: ${(err as Error).message}`));
  }
}

/** The subject a request is counted against; API-key tiers come from `tierOfKey` (the consumers table). */
export async function rateSubject(
  requester: Requester,
  clientAddress: string,
  tierOfKey: (apiKeyId: string) => Promise<RateTier>,
): Promise<RateSubject> {
  switch (requester.via) {
    case 'anonymous':
      return { key: `addr:${clientAddress}`, tier: 'anonymous' };
    case 'api-key':
      return { key: requester.sub, tier: await tierOfKey(requester.sub.slice('apikey:'.length)) };
    case 'jwt':
      return { key: `jwt:${requester.sub}`, tier: 'department' };
  }
}
