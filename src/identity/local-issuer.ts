/**
 * The embedded default token issuer (used when no JWKS_URL is configured).
 *
 * An Ed25519 key pair is created on first start as `<dataDir>/keys/issuer.jwk.json` (the private JWK; file mode
 * 0600, directory 0700) and reused afterwards. Creation is atomic (write a temporary file, then hard-link it into
 * place), so two gateways starting at once on the same data directory end up with the same key.
 * A key file readable or writable by group/other is refused, as ssh does.
 *
 * `kid` is the RFC 7638 thumbprint (SHA-256) of the public key, recomputed on every load.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK } from 'jose';
import type { Role } from '../access/decision.js';
import type { Config } from '../config/config.js';
import { checkIdentityClaims } from './token-verifier.js';
import { createSecretFileOnce, ensurePrivateDir, readSecretFile } from '../keys/secret-file.js';

export const ISSUER_KEY_DIR = 'keys';
export const ISSUER_KEY_FILE = 'issuer.jwk.json';
/** Longest lifetime of a minted token: 30 days. */
export const MAX_TTL_SECONDS = 30 * 24 * 3600;

export interface MintInput {
  sub: string;
  /** Department id; null (or omitted) for public-only tokens. */
  org?: string | null;
  roles: Role[];
  /** Lifetime in whole seconds, 1..MAX_TTL_SECONDS. */
  ttlSeconds: number;
}

/** The public half of the issuer key, as published in the JWKS. */
export interface IssuerPublicJwk extends JWK {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  kid: string;
  alg: 'EdDSA';
  use: 'sig';
}

const B64URL_32_BYTES = /^[A-Za-z0-9_-]{43}$/;

export class LocalIssuer {
  private constructor(
    private readonly privateKey: CryptoKey,
    private readonly publicJwk: IssuerPublicJwk,
    private readonly issuer: string,
    private readonly audience: string,
    /** Absolute path of the private key file. */
    readonly keyPath: string,
  ) {}

  /** The key id (RFC 7638 thumbprint of the public key). */
  get kid(): string {
    return this.publicJwk.kid;
  }

  /** Loads the issuer key from `<dataDir>/keys/issuer.jwk.json`, creating it on first start. */
  static async open(config: Pick<Config, 'dataDir' | 'jwtIssuer' | 'jwtAudience'>): Promise<LocalIssuer> {
    const dir = path.resolve(config.dataDir, ISSUER_KEY_DIR);
    const file = path.join(dir, ISSUER_KEY_FILE);
    ensurePrivateDir(dir);
    if (!fs.existsSync(file)) await createKeyFile(file);
    const { privateKey, publicJwk } = await loadKeyFile(file);
    return new LocalIssuer(privateKey, publicJwk, config.jwtIssuer, config.jwtAudience, file);
  }

  /** Signs a token (compact JWS, alg EdDSA, typ JWT) with iss, aud, sub, org, roles, iat, nbf, exp and jti. */
  async mint(input: MintInput): Promise<string> {
    const { ttlSeconds } = input;
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_TTL_SECONDS) {
      throw new RangeError(`ttlSeconds must be a whole number from 1 to ${MAX_TTL_SECONDS}`);
    }
    const claims = checkIdentityClaims({ sub: input.sub, org: input.org ?? null, roles: input.roles });
    if (typeof claims === 'string') throw new TypeError(`cannot mint token: ${claims}`);

    const now = Math.floor(Date.now() / 1000);
    const payload: Record<string, unknown> = { roles: claims.roles };
    if (claims.org !== null) payload.org = claims.org;
    return new SignJWT(payload)
      .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid: this.publicJwk.kid })
      .setIssuer(this.issuer)
      .setAudience(this.audience)
      .setSubject(claims.sub)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + ttlSeconds)
      .setJti(randomUUID())
      .sign(this.privateKey);
  }

  /** The public key set (one key), for the verifier and for publishing at a JWKS endpoint. */
  publicJwks(): { keys: [IssuerPublicJwk] } {
    return { keys: [{ ...this.publicJwk }] };
  }
}

async function createKeyFile(file: string): Promise<void> {
  const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x }, 'sha256');
  const body = JSON.stringify(
    { kty: jwk.kty, crv: jwk.crv, x: jwk.x, d: jwk.d, kid, alg: 'EdDSA', use: 'sig' },
    null,
    2,
  );
  createSecretFileOnce(file, body + '\n');
}

async function loadKeyFile(file: string): Promise<{ privateKey: CryptoKey; publicJwk: IssuerPublicJwk }> {
  let raw: unknown;
  const text = readSecretFile(file, 'issuer key');
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error(`issuer key ${file} is not valid JSON`);
  }
  const j = raw as Record<string, unknown> | null;
  if (
    !j ||
    j.kty !== 'OKP' ||
    j.crv !== 'Ed25519' ||
    typeof j.x !== 'string' ||
    typeof j.d !== 'string' ||
    !B64URL_32_BYTES.test(j.x) ||
    !B64URL_32_BYTES.test(j.d)
  ) {
    throw new Error(`issuer key ${file} is not an Ed25519 private JWK`);
  }
  const pub = { kty: 'OKP', crv: 'Ed25519', x: j.x } as const;
  const kid = await calculateJwkThumbprint(pub, 'sha256');
  const privateKey = asCryptoKey(await importJWK({ ...pub, d: j.d }, 'EdDSA', { extractable: false }));
  const publicKey = asCryptoKey(await importJWK(pub, 'EdDSA'));
  // The stored x must belong to d: sign and verify a probe.
  const probe = new TextEncoder().encode('citygate-issuer-probe');
  const sig = await crypto.subtle.sign('Ed25519', privateKey, probe);
  if (!(await crypto.subtle.verify('Ed25519', publicKey, sig, probe))) {
    throw new Error(`issuer key ${file}: public part "x" does not match private part "d"`);
  }
  return { privateKey, publicJwk: { ...pub, kid, alg: 'EdDSA', use: 'sig' } };
}

function asCryptoKey(k: CryptoKey | Uint8Array): CryptoKey {
  if (k instanceof Uint8Array) throw new Error('expected an asymmetric key, got raw bytes');
  return k;
}
