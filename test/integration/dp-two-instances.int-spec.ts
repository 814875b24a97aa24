/**
 * Two gateway instances on one PostgreSQL 15 database share each organisation's privacy budget (issue #7,
 * docs/differential-privacy.md): privateAggregate queries split across both against a budget for 10 give exactly
 * 10 answers, and an answer given by one is returned by the other from the store, uncharged; sandbox jobs on the DP
 * dataset submitted through both (and run by whichever claims them) against a budget for 4 give exactly 4 releases.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { PrivacyBudgetRepository } from '../../src/jobs/dp/privacy-budget.repository.js';
import { PostgresDb } from '../../src/store/postgres.adapter.js';
import { errorCode, startTestGateway, type GqlResult, type TestGateway } from '../support/test-gateway.js';

const url = process.env.DATABASE_URL;
const DS = 'residents-per-room';
const ENV = { CITYGATE_SANDBOX_WORKERS: '1', CITYGATE_JOB_CONCURRENCY: '2', CITYGATE_JOB_POLL_MS: '50' };
const Q = `query($filter: PrivateFilterInput) {
  privateAggregate(datasetId: "${DS}", measure: COUNT, groupBy: district, filter: $filter, purpose: urban_planning) {
    cached epsilonCharged epsilonRemaining queryKey cells { key value }
  }
}`;
const SUBMIT = `mutation($input: SubmitJobInput!) { submitJob(input: $input) { id } }`;
const JOB = `query($id: ID!) { job(id: $id) { status refusal { rule reason } dpSpend { cached epsilonCharged } } }`;

interface Answer {
  cached: boolean;
  epsilonCharged: number;
  epsilonRemaining: number;
  queryKey: string;
  cells: { key: string; value: number }[];
}
const answerOf = (r: GqlResult) => (r.body.data?.privateAggregate ?? null) as Answer | null;

/** Each record in its own district (a DP release accepts no other placement). */
const perDistrict = (tag: number) => `// job ${tag}
export function run(input) {
  return { tables: [{ name: 'n', columns: ['district_id'], rows: Array.from(input.columns.district_id, (d) => [d]) }] };
}`;

describe(
  'privacy budgets across two gateway instances on PostgreSQL',
  { skip: url ? false : 'DATABASE_URL is not set (run through with-postgres.sh)' },
  () => {
    let a: TestGateway;
    let b: TestGateway;
    let owner: string;
    let planner: string;
    let budget: PrivacyBudgetRepository;
    let square: (i: number) => number[][];
    // A database of its own: a PostgreSQL log belongs to the first key that binds it.
    const dbName = `citygate_dp_${randomBytes(4).toString('hex')}`;
    const dbUrl = (() => {
      const u = new URL(url ?? 'postgres://x/y');
      u.pathname = `/${dbName}`;
      return u.toString();
    })();

    before(async () => {
      const admin = await PostgresDb.open(url!);
      await admin.query(`create database ${dbName}`);
      await admin.close();
      a = await startTestGateway({ rooms: 800, postgresUrl: dbUrl, env: ENV });
      b = await startTestGateway({ rooms: 800, postgresUrl: dbUrl, dataDir: a.gw.config.dataDir, env: ENV });
      owner = await a.token('public-security', ['owner']);
      planner = await a.token('planning-bureau', ['analyst']);
      budget = new PrivacyBudgetRepository(a.gw.db);
      const [bb] = await a.gw.db.query<{ lon: number; lat: number }>(
        'select min(lon) as lon, min(lat) as lat from grains',
      );
      square = (i) => {
        const [x, y, s] = [bb!.lon + i * 0.0001, bb!.lat, 0.05];
        return [
          [x, y],
          [x + s, y],
          [x + s, y + s],
          [x, y + s],
        ];
      };
    });
    after(async () => {
      await b?.close();
      await a?.close();
      const admin = await PostgresDb.open(url!);
      await admin.query(`drop database if exists ${dbName}`);
      await admin.close();
    });

    it('60 privateAggregate queries split across A and B against a budget for 10: exactly 10 answers', async () => {
      assert.equal(a.gw.db.kind, 'postgres');
      // The planning bureau's budget (ε 1 at ε 0.1 per answer, under its grant); 60 polygons are 60 questions.
      const ask = (via: TestGateway, i: number) => via.gql(Q, { filter: { polygon: [square(i)] } }, { token: planner });
      const results = await Promise.all(Array.from({ length: 60 }, (_, i) => ask(i % 2 === 0 ? a : b, i)));
      const answered = results.map(answerOf).filter((x): x is Answer => x !== null);
      const refused = results.filter((r) => errorCode(r) === 'LIMIT_EXCEEDED');
      assert.equal(answered.length, 10, JSON.stringify(results.find((r) => !answerOf(r))?.body.errors));
      assert.equal(refused.length, 50);
      assert.equal(new Set(answered.map((x) => x.queryKey)).size, 10);
      assert.ok(answered.every((x) => !x.cached && x.epsilonCharged === 0.1));
      assert.deepEqual(await budget.budget('planning-bureau', DS), { totalMicro: 1_000_000, spentMicro: 1_000_000 });
      assert.equal((await budget.charges('planning-bureau', DS)).length, 10);

      // Each answer given by one instance is returned by the other from the store: same cells, nothing charged.
      for (const [i, r] of results.entries()) {
        const first = answerOf(r);
        if (!first) continue;
        const other = answerOf(await ask(i % 2 === 0 ? b : a, i));
        assert.deepEqual([other?.cached, other?.epsilonCharged, other?.cells], [true, 0, first.cells]);
      }
      assert.deepEqual(await budget.budget('planning-bureau', DS), { totalMicro: 1_000_000, spentMicro: 1_000_000 });
    });

    it('DP jobs submitted through both instances against a budget for 4: exactly 4 releases', async () => {
      await budget.setTotal('public-security', DS, 400_000);
      const ids: [TestGateway, string][] = [];
      for (let i = 0; i < 10; i++) {
        const via = i % 2 === 0 ? a : b;
        const r = await via.gql(
          SUBMIT,
          {
            input: {
              datasetId: DS,
              fields: ['resident_count'],
              runOn: 'REAL',
              code: perDistrict(i),
              outputs: [{ name: 'n', keys: [{ column: 'district_id', level: 'district' }] }],
            },
          },
          { token: owner },
        );
        assert.equal(r.body.errors, undefined, r.raw.slice(0, 300));
        ids.push([via, (r.body.data!.submitJob as { id: string }).id]);
      }
      const done: { status: string; refusal: { rule: string } | null }[] = [];
      for (const [via, id] of ids) {
        for (let k = 0; ; k++) {
          assert.ok(k < 800, 'job did not settle');
          const j = (await via.gql(JOB, { id }, { token: owner })).body.data?.job as (typeof done)[number];
          if (j && ['SUCCEEDED', 'REFUSED', 'FAILED'].includes(j.status)) {
            done.push(j);
            break;
          }
          await new Promise((res) => setTimeout(res, 50));
        }
      }
      assert.equal(done.filter((j) => j.status === 'SUCCEEDED').length, 4, JSON.stringify(done));
      assert.equal(done.filter((j) => j.refusal?.rule === 'privacy-budget').length, 6);
      assert.deepEqual(await budget.budget('public-security', DS), { totalMicro: 400_000, spentMicro: 400_000 });
    });
  },
);
