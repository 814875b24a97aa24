/**
 * Sandbox jobs on a real PostgreSQL 15 (through deploy/postgres/with-postgres.sh): two gateways share one queue
 * (each job claimed once, FOR UPDATE SKIP LOCKED) and one differencing history (a near-copy released through the
 * other gateway is still refused).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { JobsRepository } from '../../src/jobs/jobs.repository.js';
import { PostgresDb } from '../../src/store/postgres.adapter.js';
import { freshDatabase } from '../support/fresh-database.js';
import { startTestGateway, type TestGateway } from '../support/test-gateway.js';

const url = process.env.DATABASE_URL;
const ENV = { CITYGATE_SANDBOX_WORKERS: '1', CITYGATE_JOB_POLL_MS: '50' };
const SUBMIT = `mutation($input: SubmitJobInput!) { submitJob(input: $input) { id } }`;
const JOB = `query($id: ID!) { job(id: $id) { status attempts refusal { rule } outputs { rows { cells } } } }`;

/** Counts every record but the first `skip`, reporting its units. */
/** Every record but the first `skip` in one declared cell: the gateway counts them. */
const countAllBut = (skip: number) => `export function run(input) {
  const rows = [];
  for (let i = 0; i < input.rowCount; i++) rows.push([i < ${skip} ? null : 'city']);
  return { tables: [{ name: 'n', columns: ['area'], rows }] };
}`;
const OUTPUTS = [{ name: 'n', keys: [{ column: 'area', values: ['city'] }], margins: false }];

describe(
  'sandbox jobs on PostgreSQL 15',
  { skip: url ? false : 'DATABASE_URL is not set (run through with-postgres.sh)' },
  () => {
    let a: TestGateway;
    let b: TestGateway;
    let auth: { token: string };
    let dbUrl: string;

    const settle = async (t: TestGateway, id: string, as = auth) => {
      for (let i = 0; i < 600; i++) {
        const r = await t.gql(JOB, { id }, as);
        const job = r.body.data?.job as { status: string } | undefined;
        if (job && ['SUCCEEDED', 'REFUSED', 'FAILED', 'CANCELLED'].includes(job.status))
          return job as Record<string, unknown>;
        await new Promise((res) => setTimeout(res, 50));
      }
      throw new Error('job did not settle');
    };
    const submit = async (t: TestGateway, code: string, runOn: 'DUMMY' | 'REAL') => {
      const r = await t.gql(
        SUBMIT,
        {
          input: {
            datasetId: 'elderly-living-alone',
            fields: ['care_level'],
            purpose: 'emergency_response',
            code,
            runOn,
            outputs: OUTPUTS,
          },
        },
        auth,
      );
      assert.equal(r.body.errors, undefined, r.raw.slice(0, 300));
      return (r.body.data!.submitJob as { id: string }).id;
    };

    before(async () => {
      // A database of its own: the shared one's log is bound to another spec's log key.
      dbUrl = await freshDatabase(url!, 'citygate_jobs');
      a = await startTestGateway({ rooms: 2000, postgresUrl: dbUrl, env: ENV });
      b = await startTestGateway({ rooms: 2000, postgresUrl: dbUrl, dataDir: a.gw.config.dataDir, env: ENV });
      auth = { token: await a.token('emergency-management', ['analyst']) };
    });
    after(async () => {
      await a?.close();
      await b?.close();
    });

    it('gateways share the queue and the differencing history', async () => {
      const ids = await Promise.all(
        Array.from({ length: 6 }, (_, i) => submit(i % 2 ? a : b, countAllBut(0), 'DUMMY')),
      );
      for (const id of ids) {
        const job = await settle(a, id);
        assert.equal(job.status, 'SUCCEEDED');
        assert.equal(job.attempts, 1);
      }
      const all = await settle(b, await submit(a, countAllBut(0), 'REAL'));
      assert.equal(all.status, 'SUCCEEDED');
      const id = await submit(b, countAllBut(2), 'REAL');
      // Its submitter learns only that nothing was released; the dataset's owner sees the rule.
      assert.equal(((await settle(a, id)).refusal as { rule: string }).rule, 'not-released');
      const nearCopy = await settle(a, id, { token: await a.token('civil-affairs', ['owner']) });
      assert.equal(nearCopy.status, 'REFUSED');
      assert.equal((nearCopy.refusal as { rule: string }).rule, 'differencing');
    });

    it('two connections never claim the same job', async () => {
      // The gateways stop claiming, so that only the two test connections compete.
      await a.gw.jobs.stop();
      await b.gw.jobs.stop();
      const dbs = await Promise.all([PostgresDb.open(dbUrl), PostgresDb.open(dbUrl)]);
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) ids.push(await submit(a, countAllBut(0), 'DUMMY'));
      const repos = dbs.map((db) => new JobsRepository(db));
      const claimed: string[] = [];
      for (let round = 0; round < 4; round++) {
        const got = await Promise.all(repos.map((r, i) => r.claim(`test-${i}`, 60_000)));
        for (const j of got) if (j) claimed.push(j.id);
      }
      assert.equal(new Set(claimed).size, claimed.length, 'no job claimed twice');
      assert.deepEqual([...claimed].sort(), [...ids].sort());
      await dbs[0].query(`update jobs set status = 'cancelled' where id = any($1::text[])`, [ids]);
      await Promise.all(dbs.map((db) => db.close()));
    });
  },
);
