import path from 'node:path';
import type { Config } from '../config/config.js';
import type { Db } from './db.port.js';
import { PgliteDb } from './pglite.adapter.js';
import { PostgresDb } from './postgres.adapter.js';
import { migrate } from './migrate.js';

/** Picks the store adapter from config (DATABASE_URL set: PostgreSQL; otherwise embedded PGlite) and migrates it. */
export async function openDb(config: Pick<Config, 'databaseUrl' | 'dataDir'>): Promise<Db> {
  const db = config.databaseUrl
    ? await PostgresDb.open(config.databaseUrl)
    : await PgliteDb.open(path.join(config.dataDir, 'pglite'));
  await migrate(db);
  return db;
}
