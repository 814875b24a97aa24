/**
 * Child process of the two-process test (test/integration/log-two-processes.int-spec.ts): opens the
 * PostgreSQL-backed verifiable log with the shared key in <dataDir>, waits for "go" on stdin, appends <count>
 * records with 32 concurrent appenders, and prints `ack <index>` per acknowledged append, then `done`.
 *
 *   node dist/test/support/pg-log-writer-child.js <databaseUrl> <dataDir> <count> <tag>
 */
import { PostgresLogStorage } from '../../src/ledger/storage/postgres-log-storage.adapter.js';
import { VerifiableLog } from '../../src/ledger/verifiable-log.js';
import { sampleRecord } from './provenance-fixtures.js';

const [url, dataDir, countArg, tag] = process.argv.slice(2);
if (!url || !dataDir || !countArg || !tag)
  throw new Error('usage: pg-log-writer-child <databaseUrl> <dataDir> <count> <tag>');
const count = Number(countArg);

const log = await VerifiableLog.open({ storage: await PostgresLogStorage.open({ connectionString: url }), dataDir });
process.stdout.write('ready\n');
await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
process.stdin.destroy(); // an open stdin would keep this process alive
let next = 0;
await Promise.all(
  Array.from({ length: 32 }, async () => {
    for (let i = next++; i < count; i = next++) {
      const r = await log.append(sampleRecord(i, tag));
      process.stdout.write(`ack ${r.index}\n`);
    }
  }),
);
await log.close();
process.stdout.write('done\n');
