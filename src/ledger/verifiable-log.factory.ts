/**
 * Picks the verifiable log's storage from config: PostgreSQL when DATABASE_URL is set (several gateway
 * instances share the log; its tables come from `migrate()`), otherwise append-only files under
 * `<dataDir>/log` (one process). The signing key is `<dataDir>/keys/log.key` either way, so instances sharing a
 * PostgreSQL log must share that key file.
 */
import path from 'node:path';
import type { Config } from '../config/config.js';
import type { LogStorage } from './log-storage.port.js';
import { FileLogStorage } from './storage/file-log-storage.adapter.js';
import { PostgresLogStorage } from './storage/postgres-log-storage.adapter.js';
import { VerifiableLog, type VerifiableLogOptions } from './verifiable-log.js';

export const FILE_LOG_DIR = 'log';

export async function openLogStorage(config: Pick<Config, 'dataDir' | 'databaseUrl'>): Promise<LogStorage> {
  return config.databaseUrl
    ? PostgresLogStorage.open({ connectionString: config.databaseUrl })
    : FileLogStorage.open(path.join(config.dataDir, FILE_LOG_DIR));
}

export async function openVerifiableLog(
  config: Pick<Config, 'dataDir' | 'databaseUrl'>,
  opts: Omit<VerifiableLogOptions, 'storage' | 'dataDir'> = {},
): Promise<VerifiableLog> {
  const storage = await openLogStorage(config);
  try {
    return await VerifiableLog.open({ ...opts, storage, dataDir: config.dataDir });
  } catch (err) {
    await storage.close();
    throw err;
  }
}
