/**
 * Identity: attack tests for bearer tokens (local issuer and JWKS modes), the header rules, the issuer key file
 * and API keys. Every refusal must be an AuthError (code UNAUTHENTICATED) whose message is one of the fixed
 * sentences and never contains the credential.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  decodeJwt,
  exportJWK,
  generateKeyPair,
  importJWK,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';
import { RATE_LIMIT_DEFAULTS, type Config } from '../config/config.js';
import type { Db } from '../store/db.port.js';
import { migrate } from '../store/migrate.js';
import { PgliteDb } from '../store/pglite.adapter.js';
import { createApiKey, listApiKeys, revokeApiKey, verifyApiKey } from './api-keys.js';
import { AUTH_MESSAGES, AuthError, type AuthFailure } from './identity.errors.js';
import { IdentityService } from './identity.service.js';
import { LocalIssuer } from './local-issuer.js';
import { ANONYMOUS } from './requester.js';
import { TokenVerifier } from './token-verifier.js';

const ISS = 'citygate-test';
const AUD = 'citygate';
const now = () => Math.floor(Date.now() / 1000);
const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

function makeConfig(overrides: Partial<Config> = {}): Config {
  return {
    host: '127.0.0.1',
    port: 0,
    dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'citygate-identity-')),
    databaseUrl: null,
    jwksUrl: null,
    jwtIssuer: ISS,
    jwtAudience: AUD,
    tokenMaxLifetimeSeconds: 12 * 3600,
    demo: { enabled: false, rooms: 100, seed: 'test' },
    he: { workers: 1, maxOperations: 5000 },
    policyWasmPath: '/nonexistent/policy.wasm',
    consoleDir: '/nonexistent/console',
    requestTimeoutMs: 10_000,
    bodyLimitBytes: 1024 * 1024,
    maxPageSize: 1000,
    ledger: 'embedded',
    jobs: {
      workers: 1,
      concurrency: 1,
      cpuMs: 1000,
      wallMs: 2000,
      memoryMb: 64,
      maxRows: 1000,
      dummyRows: 100,
      leaseMs: 30_000,
      pollMs: 1000,
    },
    logLevel: 'error',
    logVerifyIntervalSeconds: 0,
    rateLimits: { windowSeconds: 60, tiers: structuredClone(RATE_LIMIT_DEFAULTS), registrationsPerHour: 5 },
    shutdownGraceMs: 1000,
    ...overrides,
  };
}

/** Asserts an AuthError of the given reason whose message and detail never contain the secret material. */
async function rejectsAuth(
  p: Promise<unknown>,
  secret: string,
  reason: AuthFailure = 'invalid-token',
): Promise<AuthError> {
  let caught: unknown;
  await assert.rejects(p, (e: unknown) => {
    caught = e;
    return true;
  });
  assert.ok(caught instanceof AuthError, `expected AuthError, got ${String(caught)}`);
  const err = caught;
  assert.equal(err.code, 'UNAUTHENTICATED');
  assert.equal(err.reason, reason, `reason (detail: ${err.detail})`);
  assert.equal(err.message, AUTH_MESSAGES[reason]);
  const pieces = [secret, ...secret.split(/[._]/).filter((s) => s.length >= 12)];
  for (const s of pieces) {
    assert.ok(!err.message.includes(s), 'message must not contain the credential');
    assert.ok(!err.detail.includes(s), 'detail must not contain the credential');
    assert.ok(!JSON.stringify(err).includes(s), 'serialised error must not contain the credential');
    assert.ok(!String(err.stack).includes(s), 'stack must not contain the credential');
  }
  assert.ok(!Object.keys(err).includes('detail'), 'detail is not enumerable');
  return err;
}

let db: Db;
let config: Config;
let service: IdentityService;
let issuer: LocalIssuer;
/** The local issuer's private key read from its file: valid signatures over arbitrary claims. */
let issuerKey: CryptoKey;
let issuerPublic: JWK;

before(async () => {
  db = await PgliteDb.open(null);
  await migrate(db);
  // The directory knows these departments; a token naming any other org is refused (see the unknown-org test).
  for (const org of ['housing', 'planning', 'police']) {
    await db.query(`insert into orgs (id, name, name_zh, kind) values ($1, $1, $1, 'department')`, [org]);
  }
  config = makeConfig();
  service = await IdentityService.create(config, db);
  assert.ok(service.localIssuer);
  issuer = service.localIssuer;
  const stored = JSON.parse(fs.readFileSync(issuer.keyPath, 'utf8')) as JWK;
  issuerKey = (await importJWK(stored, 'EdDSA')) as CryptoKey;
  issuerPublic = issuer.publicJwks().keys[0];
});

after(async () => {
  await db.close();
  fs.rmSync(config.dataDir, { recursive: true, force: true });
});

/** A token with valid local-issuer signature and the given claims (defaults: a valid analyst token). */
async function signLocal(claims: JWTPayload = {}, omit: string[] = [], key: CryptoKey = issuerKey): Promise<string> {
  const t = now();
  const payload: JWTPayload = {
    iss: ISS,
    aud: AUD,
    sub: 'u-1',
    org: 'planning',
    roles: ['analyst'],
    iat: t,
    nbf: t,
    exp: t + 600,
    ...claims,
  };
  for (const k of omit) delete payload[k];
  return new SignJWT(payload).setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid: issuer.kid }).sign(key);
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('local issuer tokens', () => {
  it('accepts a minted token', async () => {
    const token = await issuer.mint({ sub: 'alice', org: 'planning', roles: ['analyst', 'owner'], ttlSeconds: 300 });
    const r = await service.authenticate(bearer(token));
    assert.deepEqual(r, { sub: 'alice', org: 'planning', roles: ['analyst', 'owner'], via: 'jwt' });
    const claims = decodeJwt(token);
    assert.equal(claims.iss, ISS);
    assert.equal(claims.aud, AUD);
    assert.equal(typeof claims.jti, 'string');
    assert.equal(claims.exp, (claims.iat as number) + 300);
    assert.equal(claims.nbf, claims.iat);
  });

  it('accepts a public-only token without org; roles default to public', async () => {
    const token = await issuer.mint({ sub: 'bob', roles: ['public'], ttlSeconds: 60 });
    assert.deepEqual(await service.authenticate(bearer(token)), {
      sub: 'bob',
      org: null,
      roles: ['public'],
      via: 'jwt',
    });
    const noRoles = await signLocal({ org: undefined }, ['roles', 'org']);
    assert.deepEqual(await service.authenticate(bearer(noRoles)), {
      sub: 'u-1',
      org: null,
      roles: ['public'],
      via: 'jwt',
    });
  });

  it('accepts the lower-case bearer scheme', async () => {
    const token = await signLocal();
    assert.equal((await service.authenticate({ authorization: `bearer ${token}` })).sub, 'u-1');
  });

  it('kid is the RFC 7638 thumbprint of the public key', async () => {
    const { x } = issuerPublic;
    const canonical = JSON.stringify({ crv: 'Ed25519', kty: 'OKP', x });
    assert.equal(issuer.kid, createHash('sha256').update(canonical).digest('base64url'));
    assert.equal(issuerPublic.kid, issuer.kid);
    assert.equal((issuerPublic as { d?: string }).d, undefined, 'the public JWKS has no private part');
  });

  it('refuses a forged signature (another Ed25519 key, same kid)', async () => {
    const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const token = await signLocal({ roles: ['admin'] }, [], privateKey);
    await rejectsAuth(service.authenticate(bearer(token)), token);
  });

  it('refuses an expired token with "token expired"', async () => {
    const token = await signLocal({ iat: now() - 3600, nbf: now() - 3600, exp: now() - 120 });
    await rejectsAuth(service.authenticate(bearer(token)), token, 'token-expired');
  });

  it('tolerates 30 s of clock skew on exp', async () => {
    const token = await signLocal({ exp: now() - 10 });
    assert.equal((await service.authenticate(bearer(token))).sub, 'u-1');
  });

  it('refuses a token that is not yet valid (nbf in the future)', async () => {
    const token = await signLocal({ nbf: now() + 300, exp: now() + 900 });
    await rejectsAuth(service.authenticate(bearer(token)), token);
  });

  it('refuses the wrong audience', async () => {
    const token = await signLocal({ aud: 'someone-else' });
    await rejectsAuth(service.authenticate(bearer(token)), token);
  });

  it('refuses the wrong issuer', async () => {
    const token = await signLocal({ iss: 'https://evil.example' });
    await rejectsAuth(service.authenticate(bearer(token)), token);
  });

  it('refuses alg none (hand-built unsigned token)', async () => {
    const payload = { iss: ISS, aud: AUD, sub: 'mallory', org: 'planning', roles: ['admin'], exp: now() + 600 };
    const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`;
    await rejectsAuth(service.authenticate(bearer(unsigned)), unsigned);
    await rejectsAuth(service.verifier.verify(unsigned), unsigned);
    const withJunkSig = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.${b64('x')}`;
    await rejectsAuth(service.authenticate(bearer(withJunkSig)), withJunkSig);
    const noneCase = `${b64({ alg: 'None', kid: issuer.kid })}.${b64(payload)}.${b64('x')}`;
    await rejectsAuth(service.authenticate(bearer(noneCase)), noneCase);
  });

  it('refuses HS256 signed with the public key as the HMAC secret', async () => {
    const payload = { iss: ISS, aud: AUD, sub: 'mallory', org: 'planning', roles: ['admin'] };
    const secrets = [
      Buffer.from(issuerPublic.x as string, 'base64url'),
      Buffer.from(JSON.stringify(issuerPublic)),
      Buffer.from(issuerPublic.x as string),
    ];
    for (const secret of secrets) {
      const token = await new SignJWT(payload)
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: issuer.kid })
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(new Uint8Array(secret));
      await rejectsAuth(service.authenticate(bearer(token)), token);
    }
  });

  it('refuses RS256 (and other algorithms outside the allowlist)', async () => {
    const payload = { iss: ISS, aud: AUD, sub: 'mallory', org: 'planning', roles: ['admin'] };
    for (const alg of ['RS256', 'PS256', 'ES384']) {
      const { privateKey } = await generateKeyPair(alg);
      const token = await new SignJWT(payload)
        .setProtectedHeader({ alg, typ: 'JWT', kid: issuer.kid })
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(privateKey);
      const err = await rejectsAuth(service.authenticate(bearer(token)), token);
      assert.match(err.detail, /not allowed/);
    }
  });

  it('refuses a token without sub, and one without exp', async () => {
    const noSub = await signLocal({}, ['sub']);
    await rejectsAuth(service.authenticate(bearer(noSub)), noSub);
    const emptySub = await signLocal({ sub: '' });
    await rejectsAuth(service.authenticate(bearer(emptySub)), emptySub);
    const noExp = await signLocal({}, ['exp']);
    await rejectsAuth(service.authenticate(bearer(noExp)), noExp);
  });

  it('refuses reserved subjects (anonymous, apikey:*)', async () => {
    for (const sub of ['anonymous', 'apikey:123']) {
      const token = await signLocal({ sub, roles: ['public'] }, ['org']);
      await rejectsAuth(service.authenticate(bearer(token)), token);
    }
  });

  it('refuses an unknown role', async () => {
    const token = await signLocal({ roles: ['analyst', 'superuser'] });
    const err = await rejectsAuth(service.authenticate(bearer(token)), token);
    assert.match(err.detail, /unknown role/);
  });

  it('refuses roles that are not an array', async () => {
    for (const roles of ['admin', { 0: 'admin' }, 7, null]) {
      const token = await signLocal({ roles });
      await rejectsAuth(service.authenticate(bearer(token)), token);
    }
  });

  it('refuses non-public roles without an org, and a malformed org', async () => {
    const noOrg = await signLocal({ roles: ['admin'] }, ['org']);
    await rejectsAuth(service.authenticate(bearer(noOrg)), noOrg);
    for (const org of ['Planning', 'a', 'planning; drop table', 42]) {
      const token = await signLocal({ org });
      await rejectsAuth(service.authenticate(bearer(token)), token);
    }
  });

  it('refuses a tampered payload (claim flipped, signature kept)', async () => {
    const token = await issuer.mint({ sub: 'carol', org: 'planning', roles: ['analyst'], ttlSeconds: 300 });
    const [h, p, s] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    for (const change of [{ roles: ['admin'] }, { org: 'police' }, { sub: 'root' }, { exp: now() + 86_400 }]) {
      const tampered = `${h}.${b64({ ...claims, ...change })}.${s}`;
      await rejectsAuth(service.authenticate(bearer(tampered)), tampered);
    }
    // A header swap (kid removed) with the original signature fails as well.
    const headerSwap = `${b64({ alg: 'EdDSA', typ: 'JWT' })}.${p}.${s}`;
    await rejectsAuth(service.authenticate(bearer(headerSwap)), headerSwap);
  });

  it('refuses garbage and oversized tokens', async () => {
    for (const token of ['abc', 'a.b', 'a.b.c.d', `${'A'.repeat(9000)}.${'B'.repeat(10)}.${'C'.repeat(10)}`, '.x.y']) {
      await rejectsAuth(service.verifier.verify(token), token);
    }
    const unknownTyp = await new SignJWT({ sub: 'u', org: 'planning', roles: ['analyst'] })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'logout+jwt', kid: issuer.kid })
      .setIssuer(ISS)
      .setAudience(AUD)
      .setExpirationTime('5m')
      .sign(issuerKey);
    await rejectsAuth(service.authenticate(bearer(unknownTyp)), unknownTyp);
  });

  it('mint refuses unknown roles, malformed orgs, staff roles without org and bad lifetimes', async () => {
    await assert.rejects(
      issuer.mint({ sub: 'x', org: 'planning', roles: ['root' as 'admin'], ttlSeconds: 60 }),
      TypeError,
    );
    await assert.rejects(issuer.mint({ sub: 'x', org: 'Planning!', roles: ['analyst'], ttlSeconds: 60 }), TypeError);
    await assert.rejects(issuer.mint({ sub: 'x', org: null, roles: ['analyst'], ttlSeconds: 60 }), TypeError);
    await assert.rejects(issuer.mint({ sub: '', org: 'planning', roles: ['analyst'], ttlSeconds: 60 }), TypeError);
    await assert.rejects(issuer.mint({ sub: 'x', org: 'planning', roles: ['analyst'], ttlSeconds: 0 }), RangeError);
    await assert.rejects(issuer.mint({ sub: 'x', org: 'planning', roles: ['analyst'], ttlSeconds: 1.5 }), RangeError);
    await assert.rejects(
      issuer.mint({ sub: 'x', org: 'planning', roles: ['analyst'], ttlSeconds: 10 ** 9 }),
      RangeError,
    );
  });
});

describe('issuer key file', () => {
  it('persists across two IdentityService instances on the same dataDir, mode 0600 in a 0700 directory', async () => {
    const cfg = makeConfig();
    try {
      const a = await IdentityService.create(cfg, db);
      const b = await IdentityService.create(cfg, db);
      assert.ok(a.localIssuer && b.localIssuer);
      assert.equal(a.localIssuer.kid, b.localIssuer.kid);
      assert.deepEqual(a.localIssuer.publicJwks(), b.localIssuer.publicJwks());
      const token = await a.localIssuer.mint({ sub: 'dave', org: 'housing', roles: ['owner'], ttlSeconds: 60 });
      assert.deepEqual(await b.authenticate(bearer(token)), {
        sub: 'dave',
        org: 'housing',
        roles: ['owner'],
        via: 'jwt',
      });

      const file = path.join(cfg.dataDir, 'keys', 'issuer.jwk.json');
      assert.equal(a.localIssuer.keyPath, file);
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
      const jwk = JSON.parse(fs.readFileSync(file, 'utf8')) as JWK;
      assert.equal(jwk.kty, 'OKP');
      assert.equal(jwk.crv, 'Ed25519');
      assert.equal(typeof jwk.d, 'string');
      assert.deepEqual(fs.readdirSync(path.dirname(file)), ['issuer.jwk.json'], 'no temporary files left behind');
    } finally {
      fs.rmSync(cfg.dataDir, { recursive: true, force: true });
    }
  });

  it('concurrent first starts agree on one key', async () => {
    const cfg = makeConfig();
    try {
      const issuers = await Promise.all([1, 2, 3, 4].map(() => LocalIssuer.open(cfg)));
      assert.equal(new Set(issuers.map((i) => i.kid)).size, 1);
    } finally {
      fs.rmSync(cfg.dataDir, { recursive: true, force: true });
    }
  });

  it('refuses a key file readable by other users', async () => {
    const cfg = makeConfig();
    try {
      const first = await LocalIssuer.open(cfg);
      fs.chmodSync(first.keyPath, 0o644);
      await assert.rejects(LocalIssuer.open(cfg), /chmod 600/);
    } finally {
      fs.rmSync(cfg.dataDir, { recursive: true, force: true });
    }
  });
});

describe('headers', () => {
  it('no credentials → anonymous', async () => {
    assert.deepEqual(await service.authenticate({}), ANONYMOUS);
    assert.deepEqual(await service.authenticate({ authorization: undefined, 'x-api-key': undefined }), ANONYMOUS);
  });

  it('refuses malformed Authorization headers', async () => {
    const token = await signLocal();
    const bad = [
      `Basic ${Buffer.from('admin:admin').toString('base64')}`,
      `Token ${token}`,
      token,
      'Bearer',
      'Bearer ',
      '',
      `Bearer  ${token}`,
      `Bearer ${token} `,
      ` Bearer ${token}`,
      `Bearer\t${token}`,
      `Bearer ${token} ${token}`,
    ];
    for (const authorization of bad) {
      await rejectsAuth(service.authenticate({ authorization }), token, 'malformed-credentials');
    }
  });

  it('refuses both credentials at once and repeated headers', async () => {
    const token = await signLocal();
    const { key } = await createApiKey(db, 'header test');
    await rejectsAuth(
      service.authenticate({ authorization: `Bearer ${token}`, 'x-api-key': key }),
      token,
      'malformed-credentials',
    );
    await rejectsAuth(
      service.authenticate({ authorization: [`Bearer ${token}`, `Bearer ${token}`] }),
      token,
      'malformed-credentials',
    );
    await rejectsAuth(service.authenticate({ 'x-api-key': [key, key] }), key, 'malformed-credentials');
    const mixedCase = { authorization: `Bearer ${token}`, Authorization: `Bearer ${token}` } as Record<string, string>;
    await rejectsAuth(service.authenticate(mixedCase), token, 'malformed-credentials');
    // A single-element array is one header.
    assert.equal((await service.authenticate({ authorization: [`Bearer ${token}`] })).sub, 'u-1');
  });

  it('X-Api-Key authenticates a public consumer', async () => {
    const { id, key } = await createApiKey(db, 'open data portal');
    assert.deepEqual(await service.authenticate({ 'x-api-key': key }), {
      sub: `apikey:${id}`,
      org: null,
      roles: ['public'],
      via: 'api-key',
    });
    await rejectsAuth(service.authenticate({ 'x-api-key': `${key} ` }), key, 'invalid-api-key');
  });
});

describe('API keys', () => {
  it('a created key verifies; the DB holds only prefix and sha256(secret)', async () => {
    const created = await createApiKey(db, 'city open data');
    const m = /^cg_([a-z0-9]{8})_([A-Za-z0-9_-]{43})$/.exec(created.key);
    assert.ok(m, 'key format cg_<prefix>_<secret>');
    const [, prefix, secret] = m as unknown as [string, string, string];
    assert.equal(created.prefix, prefix);
    assert.equal(Buffer.from(secret, 'base64url').length, 32);

    assert.deepEqual(await verifyApiKey(db, created.key), {
      sub: `apikey:${created.id}`,
      org: null,
      roles: ['public'],
      via: 'api-key',
    });

    const rows = await db.query<Record<string, unknown>>('select * from api_keys where id = $1', [created.id]);
    assert.equal(rows.length, 1);
    const row = rows[0] as Record<string, unknown>;
    const dump = JSON.stringify(row);
    assert.ok(!dump.includes(secret), 'the secret is not stored');
    assert.ok(!dump.includes(created.key), 'the key is not stored');
    assert.equal(row.prefix, prefix);
    assert.equal(row.secret_hash, createHash('sha256').update(secret).digest('hex'));
    assert.equal(row.label, 'city open data');
    assert.equal(row.revoked_at, null);
    // Nothing anywhere in the table contains the secret.
    const all = JSON.stringify(await db.query('select * from api_keys'));
    assert.ok(!all.includes(secret));
  });

  it('refuses a wrong secret, an unknown prefix and malformed keys', async () => {
    const { key, prefix } = await createApiKey(db, 'probe');
    const secret = key.slice(12);
    const flipped = secret.startsWith('A') ? `B${secret.slice(1)}` : `A${secret.slice(1)}`;
    const wrong = `cg_${prefix}_${flipped}`;
    const err = await rejectsAuth(verifyApiKey(db, wrong), wrong, 'invalid-api-key');
    assert.match(err.detail, /wrong secret/);
    const otherPrefix = prefix === 'zzzzzzzz' ? 'yyyyyyyy' : 'zzzzzzzz';
    const unknown = `cg_${otherPrefix}_${secret}`;
    await rejectsAuth(verifyApiKey(db, unknown), unknown, 'invalid-api-key');
    for (const bad of [
      '',
      'cg_',
      `cg_${prefix}`,
      `cg_${prefix}_${secret}x`,
      `CG_${prefix}_${secret}`,
      `cg_${prefix.toUpperCase()}_${secret}`,
      `cg_${prefix}_${secret.slice(1)}`,
    ]) {
      await rejectsAuth(verifyApiKey(db, bad), bad || 'cg_', 'invalid-api-key');
    }
  });

  it('refuses a revoked key', async () => {
    const { id, key } = await createApiKey(db, 'to revoke');
    assert.equal((await verifyApiKey(db, key)).sub, `apikey:${id}`);
    assert.equal(await revokeApiKey(db, id), true);
    assert.equal(await revokeApiKey(db, id), false, 'already revoked');
    assert.equal(await revokeApiKey(db, 'no-such-id'), false);
    const err = await rejectsAuth(verifyApiKey(db, key), key, 'invalid-api-key');
    assert.match(err.detail, /revoked/);
    const listed = (await listApiKeys(db)).find((k) => k.id === id);
    assert.ok(listed?.revokedAt instanceof Date);
    assert.equal((listed as unknown as Record<string, unknown>).secret_hash, undefined);
  });

  it('validates labels', async () => {
    await assert.rejects(createApiKey(db, ''), TypeError);
    await assert.rejects(createApiKey(db, 'x'.repeat(201)), TypeError);
    await assert.rejects(createApiKey(db, 'bad\nlabel'), TypeError);
  });
});

describe('JWKS mode', () => {
  let server: http.Server;
  let jwksUrl: string;
  let esKey: CryptoKey;
  let esKid: string;
  let jwksFetches = 0;
  let jwksService: IdentityService;
  let jwksConfig: Config;

  before(async () => {
    const pair = await generateKeyPair('ES256', { extractable: true });
    esKey = pair.privateKey;
    const pub = await exportJWK(pair.publicKey);
    esKid = 'idp-key-1';
    const jwks = { keys: [{ ...pub, kid: esKid, alg: 'ES256', use: 'sig' }] };
    server = http.createServer((req, res) => {
      if (req.url === '/.well-known/jwks.json') {
        jwksFetches++;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(jwks));
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
    jwksConfig = makeConfig({ jwksUrl, jwtIssuer: 'https://idp.example/realms/city' });
    jwksService = await IdentityService.create(jwksConfig, db);
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    fs.rmSync(jwksConfig.dataDir, { recursive: true, force: true });
  });

  const idpToken = (key: CryptoKey, kid: string, claims: JWTPayload = {}, alg = 'ES256') =>
    new SignJWT({ org: 'police', roles: ['analyst'], ...claims })
      .setProtectedHeader({ alg, typ: 'JWT', kid })
      .setIssuer('https://idp.example/realms/city')
      .setAudience(['citygate', 'account'])
      .setSubject('officer-7')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(key);

  it('has no local issuer and creates no key file', () => {
    assert.equal(jwksService.localIssuer, null);
    assert.equal(fs.existsSync(path.join(jwksConfig.dataDir, 'keys')), false);
  });

  it('accepts a valid ES256 token from the JWKS (and caches the key set)', async () => {
    const token = await idpToken(esKey, esKid);
    assert.deepEqual(await jwksService.authenticate(bearer(token)), {
      sub: 'officer-7',
      org: 'police',
      roles: ['analyst'],
      via: 'jwt',
    });
    await jwksService.authenticate(bearer(await idpToken(esKey, esKid, { roles: ['owner'] })));
    assert.equal(jwksFetches, 1, 'the key set is fetched once and cached');
  });

  it('refuses a token signed with a key not in the JWKS (unknown kid, and reused kid)', async () => {
    const other = await generateKeyPair('ES256');
    const unknownKid = await idpToken(other.privateKey, 'attacker-key');
    const err = await rejectsAuth(jwksService.authenticate(bearer(unknownKid)), unknownKid);
    assert.match(err.detail, /no key/);
    const reusedKid = await idpToken(other.privateKey, esKid);
    await rejectsAuth(jwksService.authenticate(bearer(reusedKid)), reusedKid);
    const { privateKey: ed } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const edToken = await idpToken(ed, esKid, {}, 'EdDSA');
    await rejectsAuth(jwksService.authenticate(bearer(edToken)), edToken);
  });

  it('refuses local-issuer tokens in JWKS mode', async () => {
    const token = await issuer.mint({ sub: 'alice', org: 'planning', roles: ['admin'], ttlSeconds: 60 });
    await rejectsAuth(jwksService.authenticate(bearer(token)), token);
  });

  it('refuses wrong audience / expired tokens from the IdP', async () => {
    const wrongAud = await new SignJWT({ org: 'police', roles: ['analyst'] })
      .setProtectedHeader({ alg: 'ES256', kid: esKid })
      .setIssuer('https://idp.example/realms/city')
      .setAudience('account')
      .setSubject('officer-7')
      .setExpirationTime('5m')
      .sign(esKey);
    await rejectsAuth(jwksService.authenticate(bearer(wrongAud)), wrongAud);
    const expired = await new SignJWT({ org: 'police', roles: ['analyst'] })
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: esKid })
      .setIssuer('https://idp.example/realms/city')
      .setAudience(AUD)
      .setSubject('officer-7')
      .setIssuedAt(now() - 7200)
      .setExpirationTime(now() - 3600)
      .sign(esKey);
    await rejectsAuth(jwksService.authenticate(bearer(expired)), expired, 'token-expired');
  });

  it('fails closed when the JWKS cannot be fetched', async () => {
    const deadUrl = jwksUrl.replace('/.well-known/jwks.json', '/missing');
    const verifier = TokenVerifier.fromJwksUrl(deadUrl, {
      issuer: 'https://idp.example/realms/city',
      audience: AUD,
      timeoutMs: 2000,
    });
    const token = await idpToken(esKey, esKid);
    await rejectsAuth(verifier.verify(token), token, 'verifier-unavailable');
  });
});

describe('organisation directory', () => {
  it('refuses a well-signed token whose org is not registered, and serves it once the org is', async () => {
    const token = await issuer.mint({ sub: 'a@ghost', org: 'ghost-bureau', roles: ['analyst'], ttlSeconds: 60 });
    await assert.rejects(service.authenticate({ authorization: `Bearer ${token}` }), (e: unknown) => {
      assert.ok(e instanceof AuthError);
      assert.equal(e.reason, 'unknown-org');
      assert.equal(e.message, AUTH_MESSAGES['unknown-org']);
      return true;
    });
    await db.query(`insert into orgs (id, name, name_zh, kind) values ('ghost-bureau', 'g', 'g', 'department')`);
    const r = await service.authenticate({ authorization: `Bearer ${token}` });
    assert.equal(r.org, 'ghost-bureau');
  });
});
