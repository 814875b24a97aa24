import fs from 'node:fs';
import { PGlite, types } from '@electric-sql/pglite';
import { channelName, type Db, type Queryable } from './db.port.js';

const parsers = {
  [types.INT8]: (v: string) => Number(v),
  [types.NUMERIC]: (v: string) => Number(v),
};

/** Embedded PostgreSQL (PGlite, wasm) in a data directory; one instance per process. */
export class PgliteDb implements Db {
  readonly kind = 'pglite' as const;
  private constructor(private readonly pg: PGlite) {}

  static async open(dataDir: string | null): Promise<PgliteDb> {
    if (dataDir) fs.mkdirSync(dataDir, { recursive: true });
    const pg = new PGlite(dataDir ?? undefined, { parsers });
    await pg.waitReady;
    return new PgliteDb(pg);
  }

  async query<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    const res = await this.pg.query<T>(sql, params as unknown[]);
    return res.rows;
  }

  async exec(sql: string): Promise<void> {
    await this.pg.exec(sql);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.pg.transaction(async (tx) =>
      fn({
        query: async <R>(sql: string, params: readonly unknown[] = []) =>
          (await tx.query<R>(sql, params as unknown[])).rows,
      }),
    );
  }

  async listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>> {
    return this.pg.listen(channelName(channel), onNotify);
  }

  async close(): Promise<void> {
    await this.pg.close();
  }
}
