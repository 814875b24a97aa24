/**
 * Bearer-token verification: compact JWS JWTs signed with EdDSA (Ed25519) or ES256, nothing else.
 *
 * Keys come either from the embedded local issuer (its public JWKS) or from the production issuer's JWKS URL
 * (fetched with a timeout, cached, refetched on an unknown `kid` at most once per cooldown).
 * Checks: algorithm allowlist, signature, `iss`, `aud`, `exp` (required), `nbf`, `sub` (required), `org`, `roles`.
 * Every failure is an AuthError whose message is fixed; the cause is in `detail` for the server log.
 */
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type CryptoKey,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWSHeaderParameters,
  type JWTPayload,
} from 'jose';
import { ROLES, type Role } from '../access/decision.js';
import { AuthError, describeUntrusted } from './identity.errors.js';
import type { Requester } from './requester.js';

/** The only accepted JWS algorithms. `none`, HS*, RS*, PS*, ES384/512 and everything else are refused. */
export const ACCEPTED_ALGORITHMS = Object.freeze(['EdDSA', 'ES256'] as const);
export type AcceptedAlgorithm = (typeof ACCEPTED_ALGORITHMS)[number];

/** Department ids (the `org` claim). */
export const ORG_PATTERN = /^[a-z][a-z0-9-]{1,62}$/;
export const MAX_SUB_LENGTH = 256;
/** Larger tokens are refused before any parsing. */
export const MAX_TOKEN_LENGTH = 8192;
/** Accepted clock skew for `exp`/`nbf`/`iat`, in seconds. */
export const DEFAULT_CLOCK_TOLERANCE_SECONDS = 30;
/** Accepted `typ` header values (case-insensitive, optional `application/` prefix); an absent `typ` is accepted. */
const ACCEPTED_TYP = new Set(['jwt', 'at+jwt']);
/** When a key set has several keys matching a token without `kid`, at most this many are tried. */
const MAX_KEY_CANDIDATES = 4;

const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const ROLE_SET: ReadonlySet<string> = new Set(ROLES);

export interface VerifierOptions {
  /** Expected `iss`. */
  issuer: string;
  /** Expected `aud` (the token's `aud` may be a string or an array containing it). */
  audience: string;
  /** Default 30. */
  clockToleranceSeconds?: number;
  /**
   * Longest accepted lifetime (`exp` − `iat`, or `exp` − now without `iat`), in seconds. Default 43200 (12 h).
   * A token valid for longer is refused, however well signed: a leaked long-lived token is a standing key.
   */
  maxLifetimeSeconds?: number;
}

/** Default longest token lifetime: 12 hours. */
export const DEFAULT_MAX_LIFETIME_SECONDS = 12 * 3600;

export interface RemoteVerifierOptions extends VerifierOptions {
  /** Timeout of one JWKS fetch. Default 5000 ms. */
  timeoutMs?: number;
  /** Minimum time between two fetches (an unknown `kid` triggers a refetch). Default 30000 ms. */
  cooldownMs?: number;
  /** How long a fetched key set is used before it is refetched. Default 600000 ms (10 min). */
  cacheMaxAgeMs?: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Identity claims (shared with the local issuer, which refuses to mint what the verifier would refuse)

export interface IdentityClaims {
  sub: string;
  org: string | null;
  roles: Role[];
}

/**
 * Validates and normalises `sub`, `org` and `roles` as they appear in a token (or are given to the issuer).
 * - `sub`: non-empty string of at most 256 printable characters; `anonymous` and `apikey:*` are reserved.
 * - `org`: absent/null, or a string matching ORG_PATTERN.
 * - `roles`: absent → ['public']; otherwise an array of known roles (duplicates removed; empty → ['public']).
 * - a role other than `public` requires an `org`.
 * Returns the normalised claims, or a problem description (for the server log; it may quote untrusted values).
 */
export function checkIdentityClaims(input: { sub?: unknown; org?: unknown; roles?: unknown }): IdentityClaims | string {
  const { sub, org, roles } = input;
  if (typeof sub !== 'string' || sub.length === 0) return 'claim "sub" missing or not a non-empty string';
  if (sub.length > MAX_SUB_LENGTH) return `claim "sub" longer than ${MAX_SUB_LENGTH}`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(sub)) return 'claim "sub" contains control characters';
  if (sub === 'anonymous' || sub.startsWith('apikey:')) return `claim "sub" ${describeUntrusted(sub)} is reserved`;

  let orgValue: string | null = null;
  if (org !== undefined && org !== null) {
    if (typeof org !== 'string' || !ORG_PATTERN.test(org)) return `claim "org" ${describeUntrusted(org)} malformed`;
    orgValue = org;
  }

  let roleList: Role[] = ['public'];
  if (roles !== undefined) {
    if (!Array.isArray(roles)) return `claim "roles" is not an array (${describeUntrusted(roles)})`;
    if (roles.length > ROLES.length * 2) return 'claim "roles" has too many entries';
    const seen = new Set<Role>();
    for (const r of roles as unknown[]) {
      if (typeof r !== 'string' || !ROLE_SET.has(r)) return `claim "roles" has unknown role ${describeUntrusted(r)}`;
      seen.add(r as Role);
    }
    if (seen.size > 0) roleList = ROLES.filter((r) => seen.has(r));
  }
  if (orgValue === null && roleList.some((r) => r !== 'public')) {
    return `roles ${describeUntrusted(roleList)} require claim "org"`;
  }
  return { sub, org: orgValue, roles: roleList };
}

// ---------------------------------------------------------------------------------------------------------------

type KeyResolver = (header: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<CryptoKey>;

/** The issuer's key set could not be obtained (network, timeout, non-200, malformed JWKS). */
class KeySetUnavailable extends Error {
  constructor(readonly underlying: unknown) {
    super('key set unavailable');
  }
}

export class TokenVerifier {
  private readonly clockTolerance: number;
  private readonly maxLifetime: number;

  private constructor(
    private readonly keys: KeyResolver,
    private readonly options: VerifierOptions,
    /** `local` (embedded issuer) or `jwks` (remote issuer). */
    readonly mode: 'local' | 'jwks',
  ) {
    if (!options.issuer) throw new TypeError('TokenVerifier: issuer is required');
    if (!options.audience) throw new TypeError('TokenVerifier: audience is required');
    const tol = options.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS;
    if (!Number.isInteger(tol) || tol < 0 || tol > 300) throw new RangeError('clockToleranceSeconds must be 0..300');
    this.clockTolerance = tol;
    const max = options.maxLifetimeSeconds ?? DEFAULT_MAX_LIFETIME_SECONDS;
    if (!Number.isInteger(max) || max < 60) throw new RangeError('maxLifetimeSeconds must be a whole number ≥ 60');
    this.maxLifetime = max;
  }

  /** Verifies tokens of the embedded issuer (its public key set). */
  static fromLocalIssuer(issuer: { publicJwks(): JSONWebKeySet }, options: VerifierOptions): TokenVerifier {
    return TokenVerifier.fromJwks(issuer.publicJwks(), options);
  }

  /** Verifies tokens against a fixed, in-memory public key set. */
  static fromJwks(jwks: JSONWebKeySet, options: VerifierOptions): TokenVerifier {
    const set = createLocalJWKSet(jwks);
    return new TokenVerifier((h, t) => set(h, t), options, 'local');
  }

  /** Verifies tokens against the key set published at `url` (http or https). */
  static fromJwksUrl(url: string | URL, options: RemoteVerifierOptions): TokenVerifier {
    const u = new URL(url);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new TypeError('JWKS URL must be http(s)');
    const set = createRemoteJWKSet(u, {
      timeoutDuration: options.timeoutMs ?? 5_000,
      cooldownDuration: options.cooldownMs ?? 30_000,
      cacheMaxAge: options.cacheMaxAgeMs ?? 600_000,
    });
    const resolver: KeyResolver = async (h, t) => {
      try {
        return await set(h, t);
      } catch (e) {
        const code = (e as { code?: unknown }).code;
        // A key set was obtained but holds no (or several) key(s) for this token: the token's problem.
        if (code === 'ERR_JWKS_NO_MATCHING_KEY' || code === 'ERR_JWKS_MULTIPLE_MATCHING_KEYS') throw e;
        if (code === 'ERR_JOSE_NOT_SUPPORTED') throw e;
        throw new KeySetUnavailable(e);
      }
    };
    return new TokenVerifier(resolver, options, 'jwks');
  }

  /** Verifies a compact JWT and returns the requester it proves. Throws AuthError on any failure. */
  async verify(token: string): Promise<Requester> {
    if (typeof token !== 'string' || token.length === 0) throw invalid('empty token');
    if (token.length > MAX_TOKEN_LENGTH) throw invalid(`token longer than ${MAX_TOKEN_LENGTH} characters`);
    if (!JWS_COMPACT.test(token)) throw invalid('not a compact JWS (three non-empty base64url parts)');

    let header: JWSHeaderParameters;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw invalid('unreadable protected header');
    }
    if (typeof header.alg !== 'string' || !(ACCEPTED_ALGORITHMS as readonly string[]).includes(header.alg)) {
      throw invalid(`alg ${describeUntrusted(header.alg)} not allowed`);
    }
    if (header.typ !== undefined) {
      const typ = typeof header.typ === 'string' ? header.typ.toLowerCase().replace(/^application\//, '') : '';
      if (!ACCEPTED_TYP.has(typ)) throw invalid(`typ ${describeUntrusted(header.typ)} not accepted`);
    }

    const payload = await this.verifySignatureAndTimes(token);
    this.checkLifetime(payload);
    const claims = checkIdentityClaims(payload);
    if (typeof claims === 'string') throw invalid(claims);
    return { sub: claims.sub, org: claims.org, roles: claims.roles, via: 'jwt' };
  }

  /** `iat` not in the future (beyond the clock tolerance), and the token's lifetime within the maximum. */
  private checkLifetime(payload: JWTPayload): void {
    const now = Math.floor(Date.now() / 1000);
    const { iat, exp } = payload;
    if (typeof exp !== 'number') throw invalid('claim "exp" missing');
    if (iat !== undefined) {
      if (typeof iat !== 'number' || !Number.isFinite(iat)) throw invalid('claim "iat" is not a number');
      if (iat > now + this.clockTolerance) throw invalid('claim "iat" is in the future');
      if (exp - iat > this.maxLifetime) throw invalid(`lifetime exp-iat above ${this.maxLifetime} s`);
    } else if (exp - now > this.maxLifetime + this.clockTolerance) {
      throw invalid(`claim "exp" more than ${this.maxLifetime} s ahead (no "iat")`);
    }
  }

  private async verifySignatureAndTimes(token: string): Promise<JWTPayload> {
    const opts = {
      algorithms: [...ACCEPTED_ALGORITHMS],
      issuer: this.options.issuer,
      audience: this.options.audience,
      clockTolerance: this.clockTolerance,
      requiredClaims: ['sub', 'exp'],
    };
    try {
      return (await jwtVerify(token, this.keys, opts)).payload;
    } catch (e) {
      if ((e as { code?: unknown }).code !== 'ERR_JWKS_MULTIPLE_MATCHING_KEYS') throw mapError(e);
      // Several keys fit a token without `kid`: try each (bounded), the first that verifies wins.
      const candidates = e as AsyncIterable<CryptoKey>;
      let tried = 0;
      let last: unknown = e;
      for await (const key of candidates) {
        if (++tried > MAX_KEY_CANDIDATES) break;
        try {
          return (await jwtVerify(token, key, opts)).payload;
        } catch (inner) {
          last = inner;
          // Only a bad signature moves on to the next key; any claim failure is final.
          if ((inner as { code?: unknown }).code !== 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') break;
        }
      }
      throw mapError(last);
    }
  }
}

function invalid(detail: string): AuthError {
  return new AuthError('invalid-token', detail);
}

/** Maps jose (and key set) failures to AuthError. jose messages never contain the token. */
function mapError(e: unknown): AuthError {
  if (e instanceof AuthError) return e;
  if (e instanceof KeySetUnavailable) {
    const u = e.underlying as { code?: unknown; message?: unknown } | undefined;
    return new AuthError(
      'verifier-unavailable',
      `JWKS unavailable: ${typeof u?.code === 'string' ? u.code : 'error'} ${describeUntrusted(u?.message ?? '', 120)}`,
    );
  }
  if (e instanceof errors.JWTExpired) return new AuthError('token-expired', 'claim "exp" is in the past');
  if (e instanceof errors.JWTClaimValidationFailed) {
    return invalid(`claim ${describeUntrusted(e.claim)} check failed (${e.reason})`);
  }
  if (e instanceof errors.JWSSignatureVerificationFailed) return invalid('signature verification failed');
  if (e instanceof errors.JWKSNoMatchingKey) return invalid('no key in the key set matches the token (kid/alg)');
  if (e instanceof errors.JWKSMultipleMatchingKeys) return invalid('several keys match and none verified');
  if (e instanceof errors.JOSEError) return invalid(`${e.code}: ${describeUntrusted(e.message, 120)}`);
  return invalid(`verification error: ${describeUntrusted((e as { message?: unknown })?.message ?? e, 120)}`);
}
