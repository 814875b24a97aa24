import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RATE_LIMIT_DEFAULTS, type Config } from '../config/config.js';
import { migrate } from '../store/migrate.js';
import { PgliteDb } from '../store/pglite.adapter.js';
import { RateLimitedError, RateLimiter, rateSubject, type RateSubject } from './rate-limiter.js';

const LIMITS: Config['rateLimits'] = {
  windowSeconds: 60,
  tiers: { ...RATE_LIMIT_DEFAULTS, open: { operations: 3, records: 100 } },
  registrationsPerHour: 2,
};

describe('rate limiter (on the store)', () => {
  let db: PgliteDb;
  let now = Date.UTC(2026, 10, 24, 10, 0, 5);
  const limited: string[] = [];
  let limiter: RateLimiter;
  let n = 0;
  const subject = (): RateSubject => ({ key: `apikey:test-${++n}`, tier: 'open' });
  const refused = (kind: string, retry?: number) => (err: unknown) =>
    err instanceof RateLimitedError &&
    err.code === 'RATE_LIMITED' &&
    err.kind === kind &&
    (retry === undefined || err.retryAfterSeconds === retry);

  before(async () => {
    db = await PgliteDb.open(null);
    await migrate(db);
    limiter = new RateLimiter(
      db,
      LIMITS,
      () => now,
      (kind, tier) => limited.push(`${kind}:${tier}`),
    );
  });
  after(async () => {
    await db.close();
  });

  it('counts operations and refuses past the limit, with the seconds left in the window', async () => {
    const s = subject();
    for (let i = 0; i < 3; i++) await limiter.begin(s);
    await assert.rejects(limiter.begin(s), refused('operations', 55));
    assert.deepEqual(limited.splice(0), ['operations:open']);
  });

  it('starts afresh in the next window', async () => {
    const s = subject();
    for (let i = 0; i < 3; i++) await limiter.begin(s);
    await assert.rejects(limiter.begin(s), refused('operations'));
    now += 60_000;
    await limiter.begin(s);
    limited.length = 0;
  });

  it('charges records after the fact and refuses the next request once at or over the limit', async () => {
    const s = subject();
    await limiter.begin(s);
    await limiter.charge(s, 99);
    await limiter.begin(s); // 99 < 100: may start
    await limiter.charge(s, 50); // ends over the limit
    await assert.rejects(limiter.begin(s), refused('records'));
    const usage = await limiter.usage(s);
    assert.equal(usage.records, 149);
    assert.equal(usage.operations, 3);
    limited.length = 0;
  });

  it('keeps subjects apart and counts concurrent bumps exactly', async () => {
    const a = subject();
    const b = subject();
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => limiter.begin(a)));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 3);
    await limiter.begin(b);
    limited.length = 0;
  });

  it('limits registrations per address per hour', async () => {
    await limiter.registration('10.1.1.1');
    await limiter.registration('10.1.1.1');
    await assert.rejects(limiter.registration('10.1.1.1'), refused('registrations'));
    await limiter.registration('10.1.1.2');
    assert.deepEqual(limited.splice(0), ['registrations:registration']);
  });

  it('derives the subject from the credential: address, key or token subject', async () => {
    const tier = async () => 'partner' as const;
    assert.deepEqual(
      await rateSubject({ sub: 'anonymous', org: null, roles: ['public'], via: 'anonymous' }, '10.0.0.9', tier),
      { key: 'addr:10.0.0.9', tier: 'anonymous' },
    );
    assert.deepEqual(
      await rateSubject({ sub: 'apikey:k1', org: null, roles: ['public'], via: 'api-key' }, '10.0.0.9', tier),
      { key: 'apikey:k1', tier: 'partner' },
    );
    // A token whose subject looks like a key's id is still counted apart from that key.
    assert.deepEqual(
      await rateSubject({ sub: 'apikey:k1', org: 'transport', roles: ['analyst'], via: 'jwt' }, '10.0.0.9', tier),
      { key: 'jwt:apikey:k1', tier: 'department' },
    );
  });
});
