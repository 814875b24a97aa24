/**
 * Two gateway instances on one PostgreSQL 15 database share their rate-limit counters: a key that uses up its
 * limit on instance A is limited on instance B, and concurrent requests split across both never get more than
 * the limit between them (the counter is bumped atomically in the store).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { dropDatabase, freshDatabase } from '../support/fresh-database.js';
import { errorCode, startTestGateway, type TestGateway } from '../support/test-gateway.js';

const url = process.env.DATABASE_URL;
// A database of its own: the provenance log in a database belongs to the first log key that binds it.
const LIMITS = {
  CITYGATE_RATE_WINDOW_SECONDS: '3600',
  CITYGATE_RATE_LIMITS: JSON.stringify({
    anonymous: { operations: 6, records: 1_000_000 },
    open: { operations: 5, records: 12 },
  }),
};
const REGISTER = `mutation($ip: String!) {
  registerConsumer(name: $ip, email: "two@example.org", intendedUse: "two instances") { apiKey }
}`;

describe(
  'rate limits across two gateway instances on PostgreSQL 15',
  { skip: url ? false : 'DATABASE_URL is not set (run through with-postgres.sh)' },
  () => {
    let a: TestGateway;
    let b: TestGateway;
    let own: string | undefined;
    let n = 0;
    const register = async (on: TestGateway): Promise<string> => {
      const ip = `192.0.2.${++n}`;
      const r = await on.gql(REGISTER, { ip }, { remoteAddress: ip });
      assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
      return (r.body.data!.registerConsumer as { apiKey: string }).apiKey;
    };

    before(async () => {
      own = await freshDatabase(url!, 'citygate_consumers');
      a = await startTestGateway({ rooms: 1000, postgresUrl: own, env: LIMITS });
      b = await startTestGateway({
        rooms: 1000,
        postgresUrl: own,
        env: LIMITS,
        dataDir: a.gw.config.dataDir,
      });
    });
    after(async () => {
      await a?.close();
      await b?.close();
      if (own) await dropDatabase(url!, own);
    });

    it('an API key that exceeds its operation limit on instance A is limited on instance B', async () => {
      const apiKey = await register(a);
      for (let i = 0; i < 5; i++) assert.equal((await a.gql('{ me { sub } }', {}, { apiKey })).body.errors, undefined);
      const onA = await a.gql('{ me { sub } }', {}, { apiKey });
      assert.equal(errorCode(onA), 'RATE_LIMITED');
      const onB = await b.gql('{ me { sub } }', {}, { apiKey });
      assert.equal(errorCode(onB), 'RATE_LIMITED');
      assert.equal(onB.status, 429);
      assert.equal(onB.body.errors?.[0]?.extensions?.limit, 'operations');
    });

    it('records returned through instance A count on instance B', async () => {
      const apiKey = await register(b);
      const q = '{ records(dataset: "business-licences", fields: ["industry"], first: 12) { items { id } } }';
      const r = await a.gql(q, {}, { apiKey });
      assert.equal((r.body.data!.records as { items: unknown[] }).items.length, 12);
      const onB = await b.gql(q, {}, { apiKey });
      assert.equal(errorCode(onB), 'RATE_LIMITED');
      assert.equal(onB.body.errors?.[0]?.extensions?.limit, 'records');
    });

    it('concurrent requests split across both instances get exactly the limit between them', async () => {
      const apiKey = await register(a);
      const results = await Promise.all(
        Array.from({ length: 16 }, (_, i) => (i % 2 ? a : b).gql('{ me { sub } }', {}, { apiKey })),
      );
      const served = results.filter((r) => r.body.errors === undefined).length;
      const limited = results.filter((r) => errorCode(r) === 'RATE_LIMITED').length;
      assert.equal(served, 5);
      assert.equal(limited, 11);
    });

    it('anonymous callers are limited per client address across instances', async () => {
      const ip = '198.51.100.7';
      for (let i = 0; i < 6; i++) {
        const on = i % 2 ? a : b;
        assert.equal((await on.gql('{ health }', {}, { remoteAddress: ip })).body.errors, undefined);
      }
      assert.equal(errorCode(await a.gql('{ health }', {}, { remoteAddress: ip })), 'RATE_LIMITED');
      assert.equal(errorCode(await b.gql('{ health }', {}, { remoteAddress: ip })), 'RATE_LIMITED');
    });
  },
);
