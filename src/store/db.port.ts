/**
 * The store port: one SQL dialect (PostgreSQL), two adapters (embedded PGlite, PostgreSQL 15 via pg).
 * Contract:
 * - `query` runs one parameterised statement ($1, $2, ...) and returns its rows as plain objects;
 *   int8 and numeric columns come back as JS numbers.
 * - `exec` runs a script of several statements without parameters (migrations only).
 * - `transaction` runs `fn` in one transaction; it commits when `fn` resolves and rolls back when it throws.
 * - `listen` calls `onNotify` for each NOTIFY on `channel` (from any session, delivered after its commit) until
 *   the returned function is called. Delivery is best effort (a dropped connection loses notifications):
 *   callers that need a guarantee also compare a version row.
 * - Never interpolate caller input into SQL text: identifiers come from the catalogue, values go in params.
 */
export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
}

export interface Db extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  exec(sql: string): Promise<void>;
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** Nest injection token for the Db. */
export const DB = Symbol('DB');

/** Quote an SQL identifier that comes from trusted catalogue metadata (never from a caller). */
export function ident(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`refusing unsafe SQL identifier ${JSON.stringify(name)}`);
  return `"${name}"`;
}

/** A NOTIFY channel name (a plain identifier, since LISTEN takes no parameters). */
export function channelName(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`refusing unsafe channel name ${JSON.stringify(name)}`);
  return name;
}
