/**
 * Who is calling: turns request headers into a Requester.
 *
 * - no credentials                      → ANONYMOUS (role public)
 * - `Authorization: Bearer <jwt>`       → the token's subject, org and roles (via 'jwt'); the org must be in
 *                                         the directory (`orgs`), else AuthError 'unknown-org'
 * - `X-Api-Key: cg_<prefix>_<secret>`   → `apikey:<id>`, role public, no org (via 'api-key')
 * - both at once, a repeated header, another scheme, an empty token, extra spaces → AuthError.
 *
 * Tokens are verified against the production issuer's JWKS when `config.jwksUrl` is set, otherwise against the
 * embedded local issuer (whose key is created on first start; `localIssuer` mints tokens for the CLI).
 * Plain class: the NestJS wiring lives elsewhere.
 */
import type { Config } from '../config/config.js';
import type { Queryable } from '../store/db.port.js';
import { verifyApiKey } from './api-keys.js';
import { AuthError, describeUntrusted } from './identity.errors.js';
import { LocalIssuer } from './local-issuer.js';
import { OrgDirectory } from './org-directory.js';
import { ANONYMOUS, type Requester } from './requester.js';
import { TokenVerifier } from './token-verifier.js';

export interface AuthHeaders {
  authorization?: string | string[];
  'x-api-key'?: string | string[];
}

/** RFC 6750 b64token after exactly one space; the scheme is case-insensitive (RFC 9110 §11.1). */
const BEARER = /^bearer ([A-Za-z0-9\-._~+/]+=*)$/i;

export class IdentityService {
  private constructor(
    private readonly db: Queryable,
    readonly verifier: TokenVerifier,
    /** The embedded issuer (for the CLI's token command); null in JWKS mode. */
    readonly localIssuer: LocalIssuer | null,
    private readonly orgs: OrgDirectory = new OrgDirectory(db),
  ) {}

  static async create(config: Config, db: Queryable): Promise<IdentityService> {
    const options = {
      issuer: config.jwtIssuer,
      audience: config.jwtAudience,
      maxLifetimeSeconds: config.tokenMaxLifetimeSeconds,
    };
    if (config.jwksUrl) {
      return new IdentityService(db, TokenVerifier.fromJwksUrl(config.jwksUrl, options), null);
    }
    const issuer = await LocalIssuer.open(config);
    return new IdentityService(db, TokenVerifier.fromLocalIssuer(issuer, options), issuer);
  }

  /** Authenticates one request from its headers. Throws AuthError (code UNAUTHENTICATED) on bad credentials. */
  async authenticate(headers: AuthHeaders): Promise<Requester> {
    const authorization = single(headers, 'authorization');
    const apiKey = single(headers, 'x-api-key');

    if (authorization === undefined && apiKey === undefined) return ANONYMOUS;
    if (authorization !== undefined && apiKey !== undefined) {
      throw new AuthError('malformed-credentials', 'both Authorization and X-Api-Key sent');
    }
    if (authorization !== undefined) {
      const m = BEARER.exec(authorization);
      if (!m) throw new AuthError('malformed-credentials', describeAuthorization(authorization));
      const requester = await this.verifier.verify(m[1] as string);
      // A signed token is not enough: its organisation must be in the directory (no tier for made-up orgs).
      if (requester.org !== null && !(await this.orgs.has(requester.org))) {
        throw new AuthError('unknown-org', `org ${describeUntrusted(requester.org)} is not in the directory`);
      }
      return requester;
    }
    return verifyApiKey(this.db, apiKey as string);
  }
}

/**
 * The one value of a header, looked up case-insensitively; undefined when absent.
 * Repeated headers (an array of several values, or several differently-cased keys) are refused.
 * Note: Node's http parser drops duplicate `Authorization` headers before we see them; pass values built from
 * `rawHeaders` to catch those too.
 */
function single(headers: AuthHeaders, name: 'authorization' | 'x-api-key'): string | undefined {
  const values: unknown[] = [];
  for (const [k, v] of Object.entries(headers as Record<string, unknown>)) {
    if (k.toLowerCase() !== name || v === undefined) continue;
    if (Array.isArray(v)) values.push(...(v as unknown[]));
    else values.push(v);
  }
  if (values.length === 0) return undefined;
  if (values.length > 1) throw new AuthError('malformed-credentials', `header ${name} sent ${values.length} times`);
  const v = values[0];
  if (typeof v !== 'string') throw new AuthError('malformed-credentials', `header ${name} is not a string`);
  return v;
}

/** Well-known scheme names that may be named in the server log (anything else might be a credential). */
const KNOWN_SCHEMES = new Set([
  'basic',
  'digest',
  'negotiate',
  'ntlm',
  'token',
  'apikey',
  'api-key',
  'dpop',
  'mac',
  'hoba',
]);

/** Server-log description of a refused Authorization header, without its credential. */
function describeAuthorization(value: string): string {
  if (value.trim().length === 0) return 'Authorization header empty';
  const scheme = /^(\S+)\s/.exec(value)?.[1]?.toLowerCase();
  if (scheme === 'bearer')
    return 'Authorization Bearer value malformed (empty token, extra spaces or invalid characters)';
  if (scheme !== undefined && KNOWN_SCHEMES.has(scheme)) return `Authorization scheme ${scheme} not supported`;
  if (/^bearer$/i.test(value.trim())) return 'Authorization Bearer without a token';
  return 'Authorization header without the Bearer scheme';
}
