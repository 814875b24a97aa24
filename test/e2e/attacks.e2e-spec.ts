import assert from 'node:assert/strict';
import { generateKeyPairSync, createHmac, sign } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { importJWK, SignJWT, type JWK } from 'jose';
import { after, before, describe, it } from 'node:test';
import { errorCode, startTestGateway, type GqlResult, type TestGateway } from '../support/test-gateway.js';

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

function assertNoLeak(r: GqlResult, ...secrets: string[]) {
  for (const s of secrets) assert.ok(!r.raw.includes(s), `response leaks ${s.slice(0, 20)}…`);
}

describe('attacks on the gateway are refused with the right code and leak nothing', () => {
  let t: TestGateway;
  let analyst: string;
  before(async () => {
    t = await startTestGateway({ rooms: 1500 });
    analyst = await t.token('planning-bureau', ['analyst']);
  });
  after(async () => {
    await t?.close();
  });

  describe('tokens', () => {
    const claims = () => {
      const now = Math.floor(Date.now() / 1000);
      return {
        iss: 'citygate-local',
        aud: 'citygate',
        sub: 'mallory',
        org: 'public-security',
        roles: ['owner'],
        iat: now,
        nbf: now,
        exp: now + 600,
      };
    };
    const q = '{ me { sub roles } }';

    it('a token signed by another key is UNAUTHENTICATED', async () => {
      const { privateKey } = generateKeyPairSync('ed25519');
      const header = { alg: 'EdDSA', typ: 'JWT', kid: t.gw.identity.localIssuer!.kid };
      const input = `${b64(header)}.${b64(claims())}`;
      const token = `${input}.${sign(null, Buffer.from(input), privateKey).toString('base64url')}`;
      const r = await t.gql(q, {}, { token });
      assert.equal(errorCode(r), 'UNAUTHENTICATED');
      assert.equal(r.status, 401);
      assertNoLeak(r, token);
    });

    it('alg none is UNAUTHENTICATED', async () => {
      const token = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims())}.`;
      const r = await t.gql(q, {}, { token });
      assert.equal(errorCode(r), 'UNAUTHENTICATED');
    });

    it('HS256 keyed with the public key is UNAUTHENTICATED', async () => {
      const jwk = JSON.stringify(t.gw.identity.localIssuer!.publicJwks().keys[0]);
      const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims())}`;
      const token = `${input}.${createHmac('sha256', jwk).update(input).digest('base64url')}`;
      assert.equal(errorCode(await t.gql(q, {}, { token })), 'UNAUTHENTICATED');
    });

    it('correctly signed tokens that are expired, not yet valid, for another audience or issuer are UNAUTHENTICATED', async () => {
      // Sign with the issuer's own private key, so only the claims are wrong.
      const jwk = JSON.parse(fs.readFileSync(path.join(t.gw.config.dataDir, 'keys/issuer.jwk.json'), 'utf8')) as JWK;
      const key = await importJWK(jwk, 'EdDSA');
      const now = Math.floor(Date.now() / 1000);
      const signed = (c: Record<string, unknown>) =>
        new SignJWT({ org: 'planning-bureau', roles: ['analyst'], ...c })
          .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid: t.gw.identity.localIssuer!.kid })
          .sign(key);
      const base = { iss: 'citygate-local', aud: 'citygate', sub: 'eve', iat: now, nbf: now, exp: now + 600 };
      const control = await signed(base);
      assert.equal(
        errorCode(await t.gql(q, {}, { token: control })),
        undefined,
        'control: the same key and good claims pass',
      );
      for (const bad of [
        { exp: now - 3600 },
        { nbf: now + 3600 },
        { aud: 'another-service' },
        { iss: 'someone-else' },
        { sub: undefined },
        { roles: ['superuser'] },
      ]) {
        const token = await signed({ ...base, ...bad });
        const r = await t.gql(q, {}, { token });
        assert.equal(errorCode(r), 'UNAUTHENTICATED', JSON.stringify(bad));
        assertNoLeak(r, token);
      }
    });

    it('a garbage credential does not fall back to public', async () => {
      const r = await t.gql(q, {}, { token: 'not-a-jwt' });
      assert.equal(errorCode(r), 'UNAUTHENTICATED');
      const k = await t.gql(q, {}, { apiKey: 'cg_abcdefgh_' + 'A'.repeat(43) });
      assert.equal(errorCode(k), 'UNAUTHENTICATED');
    });
  });

  describe("another department's data", () => {
    it('rows outside the grant extent are never served, even when asked for by unit', async () => {
      const outside = await t.gw.db.query<{ community_id: string }>(
        `select community_id from grains where district_id <> 'district:310101' and kind = 'room' limit 1`,
      );
      const r = await t.gql(
        `query($w: ID) { records(dataset: "building-energy", fields: ["electricity_kwh"], purpose: urban_planning, within: $w) { items { grainId } } }`,
        { w: outside[0]!.community_id },
        { token: analyst },
      );
      assert.equal(r.body.errors, undefined);
      assert.deepEqual((r.body.data!.records as { items: unknown[] }).items, []);
    });

    it('records cannot be addressed by id or grain id: only catalogue fields can be filtered', async () => {
      for (const field of ['id', 'grain_id', 'r.id']) {
        const r = await t.gql(
          `query($f: String!) { records(dataset: "building-energy", fields: ["electricity_kwh"], purpose: urban_planning, filter: [{ field: $f, op: eq, value: "x" }]) { items { id } } }`,
          { f: field },
          { token: analyst },
        );
        assert.equal(errorCode(r), 'BAD_USER_INPUT');
      }
    });

    it("another department's closed data is FORBIDDEN whatever the purpose", async () => {
      for (const purpose of ['urban_planning', 'emergency_response', 'research']) {
        const r = await t.gql(
          `{ records(dataset: "elderly-living-alone", fields: ["elder_count"], purpose: ${purpose}) { items { id } } }`,
          {},
          { token: analyst },
        );
        assert.equal(errorCode(r), 'FORBIDDEN');
      }
    });
  });

  describe('a field the caller may not see, reached sideways', () => {
    const field = 'legal_representative'; // personal: aggregate-only for the public
    it('through aliases and fragments', async () => {
      const aliased = await t.gql(
        `{ a: records(dataset: "business-licences", fields: ["industry", "${field}"]) { items { v: values { value } } } }`,
      );
      assert.equal(errorCode(aliased), 'FORBIDDEN');
      const frag = await t.gql(
        `query { ...F } fragment F on Query { records(dataset: "business-licences", fields: ["${field}"]) { items { ... on DataRecord { values { value } } } } }`,
      );
      assert.equal(errorCode(frag), 'FORBIDDEN');
    });
    it('through filters, sorting and grouping', async () => {
      const filter = await t.gql(
        `{ records(dataset: "business-licences", fields: ["industry"], filter: [{ field: "${field}", op: prefix, value: "王" }]) { items { id } } }`,
      );
      assert.equal(errorCode(filter), 'FORBIDDEN');
      const sort = await t.gql(
        `{ records(dataset: "business-licences", fields: ["industry"], sort: [{ field: "${field}" }]) { items { id } } }`,
      );
      assert.equal(errorCode(sort), 'FORBIDDEN');
      const group = await t.gql(
        `{ aggregate(dataset: "business-licences", groupBy: { field: "${field}" }, measures: [{ fn: count }]) { cells { key } } }`,
      );
      assert.equal(errorCode(group), 'FORBIDDEN');
      const minmax = await t.gql(
        `{ aggregate(dataset: "residents-per-room", groupBy: { level: district }, measures: [{ fn: max, field: "resident_count" }]) { cells { key } } }`,
      );
      assert.equal(errorCode(minmax), 'FORBIDDEN');
    });
    it('through a grouping key of a masked field for a granted department', async () => {
      const r = await t.gql(
        `{ aggregate(dataset: "residents-per-room", purpose: urban_planning, groupBy: { field: "tenure" }, measures: [{ fn: count }]) { cells { key } } }`,
        {},
        { token: analyst },
      );
      assert.equal(errorCode(r), 'FORBIDDEN');
    });
  });

  describe('abusive operations', () => {
    it('depth 7 is LIMIT_EXCEEDED, checked before validation', async () => {
      const nest = (n: number): string => (n === 1 ? 'id' : `f${n} { ${nest(n - 1)} }`);
      const seven = await t.gql(`{ datasets { ${nest(6)} } }`);
      assert.equal(errorCode(seven), 'LIMIT_EXCEEDED');
      const six = await t.gql(`{ datasets { ${nest(5)} } }`);
      assert.equal(errorCode(six), 'BAD_USER_INPUT', 'depth 6 passes the limit and fails validation instead');
      const real = await t.gql(
        '{ records(dataset: "public-facilities", fields: ["name"], first: 2) { items { values { field value } } } }',
      );
      assert.equal(real.body.errors, undefined);
    });

    it('16 aliases on real fields are LIMIT_EXCEEDED, 15 pass', async () => {
      const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: me { sub }`).join(' ')} }`;
      assert.equal((await t.gql(aliases(15))).body.errors, undefined);
      const r = await t.gql(aliases(16));
      assert.equal(errorCode(r), 'LIMIT_EXCEEDED');
    });

    it('500 duplicated fields are LIMIT_EXCEEDED', async () => {
      const r = await t.gql(`{ me { ${'sub '.repeat(500)} } }`);
      assert.equal(errorCode(r), 'LIMIT_EXCEEDED');
    });

    it('51 directives are LIMIT_EXCEEDED', async () => {
      const r = await t.gql(`{ me { sub ${'@include(if: true) '.repeat(51)} } }`);
      assert.equal(errorCode(r), 'LIMIT_EXCEEDED');
    });

    it('a 10 MB variable is LIMIT_EXCEEDED before it is parsed', async () => {
      const r = await t.gql('query($x: String) { me { sub } }', { x: 'A'.repeat(10 * 1024 * 1024) });
      assert.equal(errorCode(r), 'LIMIT_EXCEEDED');
      assert.equal(r.status, 413);
    });

    it('introspection is FORBIDDEN for non-admins and suggestions are stripped', async () => {
      const r = await t.gql('{ __schema { types { name } } }');
      assert.equal(errorCode(r), 'FORBIDDEN');
      const typo = await t.gql('{ datasetz { id } }');
      assert.equal(errorCode(typo), 'BAD_USER_INPUT');
      assert.ok(!typo.raw.includes('Did you mean'));
      const admin = await t.token('data-bureau', ['admin']);
      const ok = await t.gql('{ __schema { queryType { name } } }', {}, { token: admin });
      assert.equal(ok.body.errors, undefined);
    });

    it('batched queries are refused', async () => {
      const fastify = t.app.getHttpAdapter().getInstance();
      const res = await fastify.inject({
        method: 'POST',
        url: '/graphql',
        payload: [{ query: '{ me { sub } }' }, { query: '{ me { sub } }' }],
      });
      const body = JSON.parse(res.body) as { errors?: { extensions?: { code?: string } }[] };
      assert.equal(body.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    });
  });

  describe('SQL metacharacters in every string argument', () => {
    const evil = [
      `'; drop table grains; --`,
      `" or 1=1 --`,
      `\\'; select pg_sleep(5); --`,
      `%_*`,
      `$1`,
      `district:310101' or '1'='1`,
    ];
    it('are data, never SQL', async () => {
      const before = await t.gw.db.query<{ n: number }>('select count(*)::int as n from grains');
      for (const s of evil) {
        const cases: [string, Record<string, unknown>][] = [
          ['query($s: ID!) { records(dataset: $s, fields: ["name"]) { items { id } } }', { s }],
          ['query($s: String!) { records(dataset: "public-facilities", fields: [$s]) { items { id } } }', { s }],
          [
            'query($s: ID) { records(dataset: "public-facilities", fields: ["name"], within: $s) { items { id } } }',
            { s },
          ],
          [
            'query($s: Value) { records(dataset: "public-facilities", fields: ["name"], filter: [{ field: "name", op: eq, value: $s }]) { items { id } } }',
            { s },
          ],
          [
            'query($s: Value) { records(dataset: "public-facilities", fields: ["name"], filter: [{ field: "name", op: prefix, value: $s }]) { items { id } } }',
            { s },
          ],
          [
            'query($s: String!) { records(dataset: "public-facilities", fields: ["name"], sort: [{ field: $s }]) { items { id } } }',
            { s },
          ],
          [
            'query($s: String) { records(dataset: "public-facilities", fields: ["name"], after: $s) { items { id } } }',
            { s },
          ],
          [
            'query($s: String!) { aggregate(dataset: "public-facilities", groupBy: { field: $s }, measures: [{ fn: count }]) { cells { key } } }',
            { s },
          ],
          ['query($s: ID!) { dataset(id: $s) { id } }', { s }],
          ['query($s: ID) { units(level: district, parent: $s) { id } }', { s }],
        ];
        for (const [q, v] of cases) {
          const r = await t.gql(q, v);
          const code = errorCode(r);
          assert.ok(
            code === undefined || ['BAD_USER_INPUT', 'NOT_FOUND', 'FORBIDDEN'].includes(code),
            `${q} with ${s}: ${code} ${r.raw.slice(0, 200)}`,
          );
          if (code === undefined) {
            const items = (r.body.data?.records as { items?: unknown[] } | undefined)?.items ?? [];
            assert.equal(items.length, 0, `${q} with ${s} matched rows`);
          }
          const messages = (r.body.errors ?? []).map((e) => e.message.split(s).join('<input>')).join(' | ');
          assert.ok(!/syntax error|relation|column|pg_|sql/i.test(messages), `database error leaked: ${messages}`);
        }
      }
      const afterCount = await t.gw.db.query<{ n: number }>('select count(*)::int as n from grains');
      assert.equal(afterCount[0]!.n, before[0]!.n);
    });
  });
});
