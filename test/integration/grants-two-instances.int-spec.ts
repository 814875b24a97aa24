/**
 * Two gateway instances on one PostgreSQL 15 database keep grants consistent (docs/grants.md): a grant
 * approved or revoked on one is in force on the other at that instance's next request, with or without the
 * change notification; concurrent decisions on one application and observed expiries happen once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { dropDatabase, freshDatabase } from '../support/fresh-database.js';
import { errorCode, startTestGateway, type GqlResult, type TestGateway } from '../support/test-gateway.js';

const url = process.env.DATABASE_URL;
const DS = 'building-energy';
const OWNER = 'housing-construction';
const APPLICANT = 'transport';

const APPLY = `mutation($input: GrantApplicationInput!) { applyForGrant(input: $input) { id } }`;
const DECIDE = `mutation($id: ID!, $narrower: GrantScopeInput) {
  decideGrantApplication(id: $id, decision: approve, narrower: $narrower) { status grantId }
}`;
const REVOKE = `mutation($id: ID!) { revokeGrant(id: $id, reason: "ended") { state } }`;
const READ = (field: string) =>
  `{ records(dataset: "${DS}", fields: ["${field}"], purpose: urban_planning, first: 5) { items { grainId } } }`;

function data(r: GqlResult): Record<string, unknown> {
  assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
  return r.body.data!;
}

describe(
  'grants across two gateway instances on PostgreSQL',
  { skip: url ? false : 'DATABASE_URL is not set (run through with-postgres.sh)' },
  () => {
    let a: TestGateway;
    let b: TestGateway;
    let analyst: string;
    let owner: string;
    // A database of its own: the other integration specs' log belongs to another log key.
    let dbUrl: string | undefined;

    const apply = async (via: TestGateway, fields: string[]) => {
      const input = {
        dataset: DS,
        fields,
        purpose: 'urban_planning',
        extent: ['district:310101'],
        durationDays: 30,
        legalBasis: 'inter-departmental sharing agreement 2026-17',
        contact: 'ops@transport.example',
      };
      return (data(await via.gql(APPLY, { input }, { token: analyst })).applyForGrant as { id: string }).id;
    };

    before(async () => {
      dbUrl = await freshDatabase(url!, 'citygate_grants');
      a = await startTestGateway({ rooms: 800, postgresUrl: dbUrl });
      // The same data directory: one deployment's token issuer keys (the store and the log are PostgreSQL's).
      b = await startTestGateway({ rooms: 800, postgresUrl: dbUrl, dataDir: a.gw.config.dataDir });
      analyst = await a.token(APPLICANT, ['analyst']);
      owner = await a.token(OWNER, ['owner']);
    });
    after(async () => {
      await b?.close();
      await a?.close();
      if (dbUrl) await dropDatabase(url!, dbUrl);
    });

    it('approve on A: B serves the granted field at its next request; revoke on A: B refuses at its next', async () => {
      assert.equal(a.gw.db.kind, 'postgres');
      assert.equal(errorCode(await b.gql(READ('electricity_kwh'), {}, { token: analyst })), 'FORBIDDEN');
      const id = await apply(b, ['electricity_kwh']);
      const before = b.gw.grants.version;
      const approved = data(await a.gql(DECIDE, { id }, { token: owner })).decideGrantApplication as {
        grantId: string;
      };
      // NOTIFY makes B reload on its own, without waiting for a request.
      for (let i = 0; i < 100 && b.gw.grants.version === before; i++) await new Promise((res) => setTimeout(res, 50));
      assert.notEqual(b.gw.grants.version, before, 'B reloaded on the notification');
      const served = await b.gql(READ('electricity_kwh'), {}, { token: analyst });
      assert.equal(served.body.errors, undefined, JSON.stringify(served.body.errors));
      assert.ok((served.body.data!.records as { items: unknown[] }).items.length > 0);
      // B's memoised decision is now warm; the revocation on A must still reach B's very next request.
      data(await b.gql(READ('electricity_kwh'), {}, { token: analyst }));
      data(await a.gql(REVOKE, { id: approved.grantId }, { token: owner }));
      assert.equal(errorCode(await b.gql(READ('electricity_kwh'), {}, { token: analyst })), 'FORBIDDEN');
    });

    it('without notifications (B stopped listening) the version check alone keeps B current', async () => {
      await b.gw.grants.close(); // B no longer hears NOTIFY
      const checks = b.gw.grants.versionChecks;
      const id = await apply(a, ['gas_m3']);
      const { grantId } = data(await a.gql(DECIDE, { id }, { token: owner })).decideGrantApplication as {
        grantId: string;
      };
      data(await b.gql(READ('gas_m3'), {}, { token: analyst }));
      assert.ok(b.gw.grants.versionChecks > checks, 'B read grants_version before deciding');
      data(await a.gql(REVOKE, { id: grantId }, { token: owner }));
      assert.equal(errorCode(await b.gql(READ('gas_m3'), {}, { token: analyst })), 'FORBIDDEN');
      await b.gw.grants.watch();
    });

    it('two owners deciding one application on both instances at once: exactly one decision', async () => {
      const id = await apply(a, ['meter_id']);
      const owner2 = await a.token(OWNER, ['owner'], { sub: 'second.owner' });
      const results = await Promise.all([
        a.gql(DECIDE, { id }, { token: owner }),
        b.gql(DECIDE, { id }, { token: owner2 }),
      ]);
      const codes = results.map((r) => errorCode(r) ?? 'OK').sort();
      assert.deepEqual(codes, ['BAD_USER_INPUT', 'OK']);
      const grants = await a.gw.db.query<{ n: number }>(
        'select count(*)::int as n from grants where application_id = $1',
        [id],
      );
      assert.equal(grants[0]!.n, 1);
      const steps = await a.gw.db.query<{ n: number }>(
        `select count(*)::int as n from audit_index where kind = 'grant-approved' and application_id = $1`,
        [id],
      );
      assert.equal(steps[0]!.n, 1);
    });

    it('an expiry both instances observe is logged once', async () => {
      const id = await apply(b, ['electricity_kwh', 'gas_m3']);
      const validUntil = new Date(Date.now() + 1_500).toISOString();
      const { grantId } = data(await a.gql(DECIDE, { id, narrower: { validUntil } }, { token: owner }))
        .decideGrantApplication as { grantId: string };
      data(await b.gql(READ('gas_m3'), {}, { token: analyst }));
      await new Promise((res) => setTimeout(res, 2_000));
      // Both instances look (their timers may already have): only one record results.
      await Promise.all([a.gw.grantsService.recordExpiries(), b.gw.grantsService.recordExpiries()]);
      const steps = await a.gw.db.query<{ n: number }>(
        `select count(*)::int as n from audit_index where kind = 'grant-expired' and grant_id = $1`,
        [grantId],
      );
      assert.equal(steps[0]!.n, 1);
      assert.equal(errorCode(await b.gql(READ('gas_m3'), {}, { token: analyst })), 'FORBIDDEN');
      assert.equal(errorCode(await a.gql(READ('gas_m3'), {}, { token: analyst })), 'FORBIDDEN');
    });
  },
);
