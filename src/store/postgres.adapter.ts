import { Logger } from '@nestjs/common';
import pg from 'pg';
import { channelName, type Db, type Queryable } from './db.port.js';

const log = new Logger('PostgresDb');
const RELISTEN_MS = 1_000;

pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v) => Number(v));

/** PostgreSQL 15 over a connection pool (production and integration tests). */
export class PostgresDb implements Db {
  readonly kind = 'postgres' as const;
  private closed = false;
  private constructor(
    private readonly pool: pg.Pool,
    private readonly url: string,
  ) {}

  static async open(url: string, max = 10): Promise<PostgresDb> {
    const pool = new pg.Pool({ connectionString: url, max });
    // Fail fast with a clear error when the server is unreachable.
    const client = await pool.connect();
    client.release();
    return new PostgresDb(pool, url);
  }

  async query<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    const res = await this.pool.query(sql, params as unknown[]);
    return res.rows as T[];
  }

  async exec(sql: string): Promise<void> {
    await this.pool.query(sql);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const out = await fn({
        query: async <R>(sql: string, params: readonly unknown[] = []) =>
          (await client.query(sql, params as unknown[])).rows as R[],
      });
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /**
   * LISTEN on a connection of its own (a pooled one would be handed to queries). When the connection drops,
   * it reconnects after a pause; notifications sent meanwhile are lost (see the port's contract).
   */
  async listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>> {
    const name = channelName(channel);
    let client: pg.Client | null = null;
    let stopped = false;
    let retry: NodeJS.Timeout | null = null;
    const connect = async (): Promise<void> => {
      const c = new pg.Client({ connectionString: this.url });
      c.on('notification', (n) => {
        if (n.channel === name) onNotify(n.payload ?? '');
      });
      c.on('error', (err) => {
        log.warn(`LISTEN ${name}: ${err.message}; reconnecting`);
        void c.end().catch(() => undefined);
        if (client === c) client = null;
        schedule();
      });
      await c.connect();
      await c.query(`LISTEN ${name}`);
      if (stopped || this.closed) {
        await c.end();
        return;
      }
      client = c;
    };
    const schedule = () => {
      if (stopped || this.closed || retry) return;
      retry = setTimeout(() => {
        retry = null;
        connect().catch((err: unknown) => {
          log.warn(`LISTEN ${name}: ${(err as Error).message}`);
          schedule();
        });
      }, RELISTEN_MS);
      retry.unref();
    };
    await connect();
    return async () => {
      stopped = true;
      if (retry) clearTimeout(retry);
      const c = client;
      client = null;
      await c?.end().catch(() => undefined);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.pool.end();
  }
}
