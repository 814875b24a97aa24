/**
 * The gateway against a real PostgreSQL 15 server (started by deploy/postgres/with-postgres.sh, which
 * exports DATABASE_URL): migrations, the demo city, tiered access, provenance, and two instances
 * sharing one database.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { migrate } from '../../src/store/migrate.js';
import { PostgresDb } from '../../src/store/postgres.adapter.js';
import { errorCode, startTestGateway, type TestGateway } from '../support/test-gateway.js';

const url = process.env.DATABASE_URL;

describe(
  'gateway on PostgreSQL 15',
  { skip: url ? false : 'DATABASE_URL is not set (run through with-postgres.sh)' },
  () => {
    let a: TestGateway;
    let b: TestGateway;
    before(async () => {
      a = await startTestGateway({ rooms: 2000, postgresUrl: url! });
      b = await startTestGateway({ rooms: 2000, postgresUrl: url!, dataDir: a.gw.config.dataDir });
    });
    after(async () => {
      await a?.close();
      await b?.close();
    });

    it('runs on PostgreSQL, not the embedded store', async () => {
      assert.equal(a.gw.db.kind, 'postgres');
      const v = await a.gw.db.query<{ v: string }>("select current_setting('server_version') as v");
      assert.match(v[0]!.v, /^15\./);
    });

    it('migrations are idempotent and safe to race', async () => {
      const dbs = await Promise.all([PostgresDb.open(url!), PostgresDb.open(url!)]);
      const applied = await Promise.all(dbs.map((db) => migrate(db)));
      assert.deepEqual(applied, [[], []]);
      await Promise.all(dbs.map((db) => db.close()));
    });

    it('the demo city was seeded once, with the real hierarchy', async () => {
      const rooms = await a.gw.db.query<{ n: number }>(`select count(*)::int as n from grains where kind = 'room'`);
      assert.equal(rooms[0]!.n, 2000);
      const districts = await a.gw.db.query<{ n: number }>(
        `select count(*)::int as n from units where level = 'district'`,
      );
      assert.equal(districts[0]!.n, 16);
    });

    it('serves the tiers as on the embedded store', async () => {
      const refused = await a.gql(
        '{ records(dataset: "residents-per-room", fields: ["resident_count"]) { items { id } } }',
      );
      assert.equal(errorCode(refused), 'FORBIDDEN');
      const token = await b.token('planning-bureau', ['analyst']);
      const granted = await b.gql(
        '{ records(dataset: "building-energy", fields: ["electricity_kwh"], purpose: urban_planning, first: 500) { items { grainId } } }',
        {},
        { token },
      );
      assert.equal(granted.body.errors, undefined, JSON.stringify(granted.body.errors));
      const grains = (granted.body.data!.records as { items: { grainId: string }[] }).items.map((i) => i.grainId);
      assert.ok(grains.length > 0);
      const d = await a.gw.db.query<{ district_id: string }>(
        'select distinct district_id from grains where id = any($1::text[])',
        [grains],
      );
      assert.deepEqual(
        d.map((x) => x.district_id),
        ['district:310101'],
      );
    });

    it('two instances append to one provenance log with unique, consecutive indices', async () => {
      const q = '{ records(dataset: "public-facilities", fields: ["name"], first: 1) { items { id } } }';
      const results = await Promise.all(Array.from({ length: 64 }, (_, i) => (i % 2 ? a : b).gql(q)));
      const indices = results.map((r) => r.body.extensions!.receipts![0]!.index).sort((x, y) => x - y);
      assert.equal(new Set(indices).size, 64);
      const stats = await a.gw.db.query<{ n: number; lo: number; hi: number }>(
        'select count(*)::int as n, min(idx)::int as lo, max(idx)::int as hi from log_leaves',
      );
      assert.equal(stats[0]!.lo, 0);
      assert.equal(stats[0]!.hi, stats[0]!.n - 1, 'indices are dense');
    });

    it('the log tables refuse updates and deletes', async () => {
      await assert.rejects(a.gw.db.query(`update log_leaves set record = 'x' where idx = 0`), /append-only/);
      await assert.rejects(a.gw.db.query('delete from log_leaves'), /append-only/);
      await assert.rejects(a.gw.db.query('delete from log_nodes'), /append-only/);
    });

    it('a revoked grant is refused at once on both instances', async () => {
      const token = await a.token('citizen-hotline', ['analyst']);
      const q =
        '{ records(dataset: "drain-condition", fields: ["condition_grade"], purpose: public_service, first: 1) { items { id } } }';
      assert.equal(errorCode(await a.gql(q, {}, { token })), undefined);
      await a.gw.grants.revoke('grant-hotline-drains');
      assert.equal(errorCode(await a.gql(q, {}, { token })), 'FORBIDDEN');
      // The other instance follows at its next request (grants_version check; NOTIFY usually got there first).
      const tokenB = await b.token('citizen-hotline', ['analyst']); // each test instance has its own local issuer
      assert.equal(errorCode(await b.gql(q, {}, { token: tokenB })), 'FORBIDDEN');
    });
  },
);
