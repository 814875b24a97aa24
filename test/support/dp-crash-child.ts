/**
 * Child process of the DP budget crash test (test/integration/dp-budget.int-spec.ts): fires <count>
 * concurrent DP answers, keys q0..q<count-1>, at one (org, dataset) budget on PostgreSQL through a pool of 20
 * connections, and prints one line per settled call the moment it settles: `answered <i> <cells json>`,
 * `cached <i> <cells json>` or `exhausted <i>`. The parent kills it with SIGKILL part-way.
 *
 *   node dist/test/support/dp-crash-child.js <databaseUrl> <org> <count>
 */
import { PrivacyBudgetRepository } from '../../src/jobs/dp/privacy-budget.repository.js';
import { PostgresDb } from '../../src/store/postgres.adapter.js';
import { request } from './dp-fixtures.js';

const [url, org, countArg] = process.argv.slice(2);
if (!url || !org || !countArg) throw new Error('usage: dp-crash-child <databaseUrl> <org> <count>');

const db = await PostgresDb.open(url, 20);
const repo = new PrivacyBudgetRepository(db);
const scope = { org, datasetId: 'residents-per-room' };
process.stdout.write('ready\n');
await Promise.all(
  Array.from({ length: Number(countArg) }, async (_, i) => {
    const out = await repo.answer(request(scope, `q${i}`, {}, 0.005));
    process.stdout.write(
      out.status === 'exhausted' ? `exhausted ${i}\n` : `${out.status} ${i} ${JSON.stringify(out.answer.cells)}\n`,
    );
  }),
);
await db.close();
process.stdout.write('done\n');
