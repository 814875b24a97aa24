/**
 * Picks the verifiable log's storage from config: PostgreSQL when DATABASE_URL is set (several gateway
 * instances share the log; its tables come from `migrate()`), otherwise append-only files under
 * `<dataDir>/log` (one process). The signing key is `<dataDir>/keys/log.key` either way, so instances sharing a
 * PostgreSQL log must share that key file.
 */
import path from 'node:path';
import type { Config } from '../config/config.js';
import { Logger } from '@nestjs/common';
import { LogCorruptionError, type LogStorage } from './log-storage.port.js';
import { UnopenableLogStorage } from './storage/unopenable-log-storage.js';
import { FileLogStorage } from './storage/file-log-storage.adapter.js';
import { PostgresLogStorage } from './storage/postgres-log-storage.adapter.js';
import { VerifiableLog, type VerifiableLogOptions } from './verifiable-log.js';

export const FILE_LOG_DIR = 'log';

export async function openLogStorage(config: Pick<Config, 'dataDir' | 'databaseUrl'>): Promise<LogStorage> {
  return config.databaseUrl
    ? PostgresLogStorage.open({ connectionString: config.databaseUrl })
    : FileLogStorage.open(path.join(config.dataDir, FILE_LOG_DIR));
}

/**
 * The gateway's opening: a log whose files fail their checks on opening is not a reason not to start. It
 * starts degraded instead (the storage says why; readiness and every release report it).
 */
export async function openLogStorageForGateway(config: Pick<Config, 'dataDir' | 'databaseUrl'>): Promise<LogStorage> {
  try {
    return await openLogStorage(config);
  } catch (err) {
    if (!(err instanceof LogCorruptionError)) throw err;
    new Logger('VerifiableLog').error(`the provenance log cannot be opened: ${err.message}`);
    return new UnopenableLogStorage(config.databaseUrl ? 'postgres' : 'file', err.message);
  }
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
