/**
 * API keys for public open-data consumers (role `public` only, no org).
 *
 * A key reads `cg_<prefix>_<secret>`: an 8-character lookup prefix ([a-z0-9], not secret) and a 32-byte random
 * secret in base64url (43 characters). The plaintext is returned once by createApiKey and never stored: the row
 * holds the prefix and `secret_hash` = sha256(secret) in hex, compared in constant time.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Queryable } from '../store/db.port.js';
import { AuthError } from './identity.errors.js';
import type { Requester } from './requester.js';

export const API_KEY_PATTERN = /^cg_([a-z0-9]{8})_([A-Za-z0-9_-]{43})$/;
export const MAX_LABEL_LENGTH = 200;
const PREFIX_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const HASH_HEX = /^[0-9a-f]{64}$/;
/** A well-formed hash compared against when the prefix is unknown, so both paths do the same work. */
const DUMMY_HASH = '0'.repeat(64);

export interface CreatedApiKey {
  id: string;
  /** The lookup prefix (safe to show and log). */
  prefix: string;
  label: string;
  /** The plaintext key. Shown to the operator once; it cannot be recovered later. */
  key: string;
}

export interface ApiKeyInfo {
  id: string;
  prefix: string;
  label: string;
  createdAt: Date;
  revokedAt: Date | null;
}

interface ApiKeyRow {
  id: string;
  prefix: string;
  secret_hash: string;
  label: string;
  created_at: Date | string;
  revoked_at: Date | string | null;
}

/** Creates a key and returns its plaintext once. */
export async function createApiKey(db: Queryable, label: string): Promise<CreatedApiKey> {
  if (typeof label !== 'string' || label.trim().length === 0 || label.length > MAX_LABEL_LENGTH) {
    throw new TypeError(`API key label must be 1..${MAX_LABEL_LENGTH} characters`);
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(label))
    throw new TypeError('API key label must not contain control characters');

  for (let attempt = 0; attempt < 5; attempt++) {
    const id = randomUUID();
    const prefix = randomPrefix();
    const secret = randomBytes(32).toString('base64url');
    const rows = await db.query<{ id: string }>(
      `insert into api_keys (id, prefix, secret_hash, label) values ($1, $2, $3, $4)
       on conflict (prefix) do nothing returning id`,
      [id, prefix, hashSecret(secret), label],
    );
    if (rows.length === 1) return { id, prefix, label, key: `cg_${prefix}_${secret}` };
    // Prefix collision (36^8 space): draw again.
  }
  throw new Error('could not allocate a unique API key prefix');
}

/** Checks a key; returns the public requester it proves, or throws AuthError (malformed, unknown, wrong, revoked). */
export async function verifyApiKey(db: Queryable, key: string): Promise<Requester> {
  const m = typeof key === 'string' ? API_KEY_PATTERN.exec(key) : null;
  if (!m) throw new AuthError('invalid-api-key', 'API key malformed');
  const prefix = m[1] as string;
  const secret = m[2] as string;
  const rows = await db.query<ApiKeyRow>(
    'select id, prefix, secret_hash, label, created_at, revoked_at from api_keys where prefix = $1',
    [prefix],
  );
  const row = rows[0];
  const matches = hashEquals(hashSecret(secret), row?.secret_hash ?? DUMMY_HASH);
  if (!row) throw new AuthError('invalid-api-key', `API key prefix ${prefix} unknown`);
  if (!matches) throw new AuthError('invalid-api-key', `API key ${row.id}: wrong secret`);
  if (row.revoked_at !== null) throw new AuthError('invalid-api-key', `API key ${row.id}: revoked`);
  return { sub: `apikey:${row.id}`, org: null, roles: ['public'], via: 'api-key' };
}

/** Revokes a key. Returns false when there is no such key or it was already revoked. */
export async function revokeApiKey(db: Queryable, id: string): Promise<boolean> {
  const rows = await db.query<{ id: string }>(
    'update api_keys set revoked_at = now() where id = $1 and revoked_at is null returning id',
    [id],
  );
  return rows.length === 1;
}

/** All keys, newest first, without their hashes (for the CLI). */
export async function listApiKeys(db: Queryable): Promise<ApiKeyInfo[]> {
  const rows = await db.query<ApiKeyRow>(
    'select id, prefix, secret_hash, label, created_at, revoked_at from api_keys order by created_at desc, id',
  );
  return rows.map((r) => ({
    id: r.id,
    prefix: r.prefix,
    label: r.label,
    createdAt: new Date(r.created_at),
    revokedAt: r.revoked_at === null ? null : new Date(r.revoked_at),
  }));
}

function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

function hashEquals(a: string, b: string): boolean {
  if (!HASH_HEX.test(a) || !HASH_HEX.test(b)) return false;
  return timingSafeEqual(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'));
}

function randomPrefix(): string {
  // Rejection sampling keeps the alphabet uniform (252 = 7 * 36).
  let out = '';
  while (out.length < 8) {
    for (const b of randomBytes(16)) {
      if (b < 252 && out.length < 8) out += PREFIX_ALPHABET[b % 36];
    }
  }
  return out;
}
