/**
 * Child process of the crash test (test/integration/log-crash.int-spec.ts): opens the file-backed verifiable
 * log in <dataDir>, appends <count> records with 32 concurrent appenders and prints one line per
 * acknowledged append, `ack <index> <leafHash> <recordId>`, the moment its promise resolves (stdout is a pipe,
 * written synchronously on Linux). The parent kills it with SIGKILL at a random moment.
 *
 *   node dist/test/support/log-crash-child.js <dataDir> <count> <tag>
 */
import path from 'node:path';
import { FileLogStorage } from '../../src/ledger/storage/file-log-storage.adapter.js';
import { VerifiableLog } from '../../src/ledger/verifiable-log.js';
import { sampleRecord } from './provenance-fixtures.js';

const [dataDir, countArg, tag] = process.argv.slice(2);
if (!dataDir || !countArg || !tag) throw new Error('usage: log-crash-child <dataDir> <count> <tag>');
const count = Number(countArg);

const storage = await FileLogStorage.open(path.join(dataDir, 'log'), { checkpointIntervalMs: 200 });
const log = await VerifiableLog.open({ storage, dataDir, treeHeadEvery: 500 });
process.stdout.write(
  `ready ${await log.size()} ${storage.recovery.replayedLeaves} ${storage.recovery.truncatedBytes}\n`,
);

let next = 0;
await Promise.all(
  Array.from({ length: 32 }, async () => {
    for (let i = next++; i < count; i = next++) {
      const record = sampleRecord(i, tag);
      const r = await log.append(record);
      process.stdout.write(`ack ${r.index} ${r.leafHash} ${record.id}\n`);
    }
  }),
);
await log.close();
process.stdout.write('done\n');
