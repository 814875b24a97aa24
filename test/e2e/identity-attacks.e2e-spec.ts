/**
 * Issue #13 (identity and the small items), as an attacker would try them through /graphql:
 * made-up organisations, long-lived and post-dated tokens, mutations over GET, unbounded filter lists, and a
 * catalogue preview that promises what the query path then refuses.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { importJWK, SignJWT, type JWK } from 'jose';
import { errorCode, startTestGateway, type TestGateway } from '../support/test-gateway.js';

describe('identity attacks (#13)', () => {
  let t: TestGateway;
  let issuerKey: CryptoKey;
  let kid: string;

  /** A token signed by the gateway's own issuer key with the claims an attacker (or a sloppy issuer) chose. */
  async function forge(claims: Record<string, unknown>, times: { iat?: number; exp: number }): Promise<string> {
    let jwt = new SignJWT(claims)
      .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid })
      .setIssuer('citygate-local')
      .setAudience('citygate')
      .setSubject(typeof claims.sub === 'string' ? claims.sub : 'mallory')
      .setExpirationTime(times.exp);
    if (times.iat !== undefined) jwt = jwt.setIssuedAt(times.iat);
    return jwt.sign(issuerKey);
  }
  const now = () => Math.floor(Date.now() / 1000);

  before(async () => {
    t = await startTestGateway({ rooms: 600 });
    const jwk = JSON.parse(fs.readFileSync(path.join(t.gw.config.dataDir, 'keys/issuer.jwk.json'), 'utf8')) as JWK;
    issuerKey = (await importJWK(jwk, 'EdDSA')) as CryptoKey;
    kid = t.gw.identity.localIssuer!.kid;
  });
  after(async () => {
    await t?.close();
  });

  describe('organisations not in the directory', () => {
    it('an analyst token of a made-up org is UNAUTHENTICATED, not served at the department tier', async () => {
      const token = await t.token('shadow-bureau', ['analyst']);
      const r = await t.gql(
        '{ records(dataset: "business-licences", fields: ["business_name"], first: 5) { items { grainId } } }',
        {},
        { token },
      );
      assert.equal(errorCode(r), 'UNAUTHENTICATED');
      assert.equal(r.status, 401);
      assert.equal(r.body.data ?? null, null);
      assert.ok(!r.raw.includes('shadow-bureau'), 'the refusal does not echo the claimed org');
    });

    it('public-role tokens of made-up orgs cannot each open a privacy budget of their own', async () => {
      const codes = new Set<string | undefined>();
      for (const org of ['sock-puppet-1', 'sock-puppet-2', 'sock-puppet-3']) {
        const token = await t.token(org, ['public']);
        const r = await t.gql('{ me { sub org roles } }', {}, { token });
        codes.add(errorCode(r));
      }
      assert.deepEqual([...codes], ['UNAUTHENTICATED']);
    });

    it('an org registered after start is served at once, and a real org still works', async () => {
      const org = 'newly-registered';
      const before = await t.gql('{ me { org } }', {}, { token: await t.token(org, ['analyst']) });
      assert.equal(errorCode(before), 'UNAUTHENTICATED');
      await t.gw.db.query(`insert into orgs (id, name, name_zh, kind) values ($1, $1, $1, 'department')`, [org]);
      const after = await t.gql('{ me { org } }', {}, { token: await t.token(org, ['analyst']) });
      assert.equal(after.body.errors, undefined);
      assert.deepEqual(after.body.data, { me: { org } });
      const real = await t.gql('{ me { org } }', {}, { token: await t.token('planning-bureau', ['analyst']) });
      assert.deepEqual(real.body.data, { me: { org: 'planning-bureau' } });
    });
  });

  describe('token lifetimes', () => {
    const claims = { sub: 'analyst@planning-bureau', org: 'planning-bureau', roles: ['analyst'] };
    const me = '{ me { sub } }';

    it('a token valid for 100 years is UNAUTHENTICATED', async () => {
      const token = await forge(claims, { iat: now(), exp: now() + 100 * 365 * 24 * 3600 });
      assert.equal(errorCode(await t.gql(me, {}, { token })), 'UNAUTHENTICATED');
    });

    it('a long-lived token without iat is UNAUTHENTICATED', async () => {
      const token = await forge(claims, { exp: now() + 30 * 24 * 3600 });
      assert.equal(errorCode(await t.gql(me, {}, { token })), 'UNAUTHENTICATED');
    });

    it('a token issued in the future (post-dated to stretch its life) is UNAUTHENTICATED', async () => {
      const token = await forge(claims, { iat: now() + 3600, exp: now() + 3600 + 600 });
      assert.equal(errorCode(await t.gql(me, {}, { token })), 'UNAUTHENTICATED');
    });

    it('a 12-hour token and one issued 20 s ahead (clock skew) are accepted', async () => {
      for (const token of [
        await forge(claims, { iat: now(), exp: now() + 12 * 3600 }),
        await forge(claims, { iat: now() + 20, exp: now() + 600 }),
      ]) {
        const r = await t.gql(me, {}, { token });
        assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
      }
    });
  });

  describe('small items', () => {
    it('a mutation over GET is BAD_USER_INPUT, not INTERNAL, and does nothing', async () => {
      const fastify = t.app.getHttpAdapter().getInstance();
      const token = await t.token('planning-bureau', ['analyst']);
      const before = await t.gw.db.query<{ n: number }>('select count(*)::int as n from grant_applications');
      const mutation =
        'mutation { applyForGrant(input: { dataset: "building-energy", fields: ["electricity_kwh"], purpose: urban_planning, ' +
        'contact: "x", legalBasis: "x", durationDays: 30 }) { id } }';
      const res = await fastify.inject({
        method: 'GET',
        url: `/graphql?query=${encodeURIComponent(mutation)}`,
        headers: { authorization: `Bearer ${token}` },
      });
      const body = JSON.parse(res.body) as { errors?: { extensions?: { code?: string }; message: string }[] };
      assert.equal(body.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
      assert.match(body.errors?.[0]?.message ?? '', /POST/);
      assert.notEqual(res.statusCode, 500);
      const afterRows = await t.gw.db.query<{ n: number }>('select count(*)::int as n from grant_applications');
      assert.equal(afterRows[0]?.n, before[0]?.n);
    });

    it('filter lists are bounded: 51 filters are LIMIT_EXCEEDED, never silently truncated', async () => {
      const q = `query ($f: [FieldFilterInput!]) {
        records(dataset: "business-licences", fields: ["industry"], filter: $f, first: 5) { items { grainId } } }`;
      const filters = (n: number) => Array.from({ length: n }, () => ({ field: 'industry', op: 'ne', value: 'x' }));
      const ok = await t.gql(q, { f: filters(50) });
      assert.equal(ok.body.errors, undefined, JSON.stringify(ok.body.errors));
      for (const n of [51, 2000]) {
        const r = await t.gql(q, { f: filters(n) });
        assert.equal(errorCode(r), 'LIMIT_EXCEEDED', `${n} filters`);
      }
      const agg = await t.gql(
        `query ($f: [FieldFilterInput!]) { aggregate(dataset: "business-licences", groupBy: { level: district },
           measures: [{ fn: count }], filter: $f) { cells { key } } }`,
        { f: filters(51) },
      );
      assert.equal(errorCode(agg), 'LIMIT_EXCEEDED');
      const many = await t.gql(q, {
        f: [{ field: 'industry', op: 'in', values: Array.from({ length: 1001 }, (_, i) => `v${i}`) }],
      });
      assert.equal(errorCode(many), 'LIMIT_EXCEEDED');
    });

    it('the catalogue preview promises records and aggregates exactly when the query path serves them', async () => {
      const callers: [string, string | undefined][] = [
        ['anonymous', undefined],
        ['department without grant', await t.token('transport', ['analyst'])],
        ['department with grant', await t.token('planning-bureau', ['analyst'])],
        ['owner', await t.token('public-security', ['owner'])],
        ['auditor', await t.token('data-bureau', ['auditor'])],
      ];
      const mismatches: string[] = [];
      for (const [who, token] of callers) {
        const cat = await t.gql(
          '{ datasets { id access { records aggregates fields { field records } } } }',
          {},
          { token },
        );
        assert.equal(cat.body.errors, undefined, JSON.stringify(cat.body.errors));
        const list = (cat.body.data as { datasets: Preview[] }).datasets;
        for (const d of list) {
          const visible = d.access.fields
            .filter((f) => ['allow', 'mask', 'generalise'].includes(f.records))
            .map((f) => f.field);
          const rec = await t.gql(
            `query ($d: ID!, $f: [String!]!) { records(dataset: $d, fields: $f, first: 1) { items { id } } }`,
            { d: d.id, f: visible.length > 0 ? visible : [d.access.fields[0]!.field] },
            { token },
          );
          const served = rec.body.errors === undefined;
          if (served !== d.access.records) mismatches.push(`${who} ${d.id} records: preview ${d.access.records}`);
          const agg = await t.gql(
            `query ($d: ID!) { aggregate(dataset: $d, groupBy: { level: community }, measures: [{ fn: count }]) { minCell } }`,
            { d: d.id },
            { token },
          );
          const aggServed = agg.body.errors === undefined;
          if (aggServed !== d.access.aggregates)
            mismatches.push(`${who} ${d.id} aggregates: preview ${d.access.aggregates} (${errorCode(agg)})`);
        }
      }
      assert.deepEqual(mismatches, []);
    });
  });
});

interface Preview {
  id: string;
  access: { records: boolean; aggregates: boolean; fields: { field: string; records: string }[] };
}
