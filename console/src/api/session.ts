/**
 * The caller's own credential, kept for this browser tab only (sessionStorage): a bearer token (JWT) or an API
 * key, or none for the public. The console never holds any other secret.
 */
export type Credential = { kind: 'jwt'; value: string } | { kind: 'api-key'; value: string } | null;

const KEY = 'citygate.credential';

export function loadCredential(): Credential {
  const raw = sessionStorage.getItem(KEY);
  if (!raw) return null;
  try {
    const c = JSON.parse(raw) as Credential;
    if (c && (c.kind === 'jwt' || c.kind === 'api-key') && typeof c.value === 'string') return c;
  } catch {
    // fall through: a damaged entry counts as signed out
  }
  sessionStorage.removeItem(KEY);
  return null;
}

export function saveCredential(c: Credential): void {
  if (c) sessionStorage.setItem(KEY, JSON.stringify(c));
  else sessionStorage.removeItem(KEY);
}

/** A JWT has three base64url parts; anything else pasted is taken for an API key. */
export function credentialFrom(text: string): Credential {
  const v = text.trim();
  if (!v) return null;
  return /^[\w-]+\.[\w-]+\.[\w-]+$/.test(v) ? { kind: 'jwt', value: v } : { kind: 'api-key', value: v };
}
