/**
 * Authentication failures.
 *
 * The user-facing `message` is one of a few fixed sentences: it never echoes the token or key, and never says
 * which check failed beyond "invalid token" / "token expired" (a forger learns nothing from it). The precise
 * cause is kept in `detail` for the server log only; `detail` never contains the token or key either, and is
 * non-enumerable so that serialising the error (JSON.stringify, GraphQL extensions) does not carry it along.
 */

/** Why authentication failed (stable; fine for logs and metrics, and to pick an HTTP status). */
export type AuthFailure =
  /** A bearer token that is malformed, badly signed, or whose claims do not check out. */
  | 'invalid-token'
  /** A correctly signed token past its `exp` (signature is verified before the claims). */
  | 'token-expired'
  /** An API key that is malformed, unknown, wrong or revoked. */
  | 'invalid-api-key'
  /** Credentials sent the wrong way: other scheme, empty token, extra spaces, repeated header, both kinds. */
  | 'malformed-credentials'
  /** The token issuer's key set (JWKS) could not be fetched; the request is refused (fail closed). */
  | 'verifier-unavailable'
  /** A valid token whose `org` is not in the organisation directory (a made-up or removed department). */
  | 'unknown-org';

export const AUTH_MESSAGES: Readonly<Record<AuthFailure, string>> = Object.freeze({
  'invalid-token': 'invalid token',
  'token-expired': 'token expired',
  'invalid-api-key': 'invalid API key',
  'malformed-credentials':
    'malformed credentials: send either "Authorization: Bearer <token>" or "X-Api-Key: <key>", once',
  'verifier-unavailable': 'tokens cannot be verified right now; try again later',
  'unknown-org': 'the organisation in the token is not registered with this gateway',
});

export class AuthError extends Error {
  readonly code = 'UNAUTHENTICATED' as const;
  /** Server-log detail (never shown to the caller, never contains the credential). */
  declare readonly detail: string;

  constructor(
    readonly reason: AuthFailure,
    detail: string,
  ) {
    super(AUTH_MESSAGES[reason]);
    this.name = 'AuthError';
    Object.defineProperty(this, 'detail', { value: detail, enumerable: false, writable: false, configurable: false });
  }
}

/** A short, printable rendering of an untrusted value for `detail` (server log): quoted, truncated. */
export function describeUntrusted(value: unknown, max = 40): string {
  let s: string;
  try {
    s = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    s = Object.prototype.toString.call(value);
  }
  // eslint-disable-next-line no-control-regex
  s = s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return JSON.stringify(s.length > max ? `${s.slice(0, max)}…` : s);
}
