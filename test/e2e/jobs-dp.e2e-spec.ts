/**
 * Sandbox jobs on a dataset released with differential privacy (docs/sandbox-jobs.md, docs/differential-privacy.md):
 * real PGlite, policy bundle, sandbox pool and provenance log. A planning analyst (grant-planning-residents, extent
 * district:310101) counts residents per subdistrict on residents-per-room: the released table is the gateway's own
 * count and clamped sum per row, noised, charged once to the organisation's budget; the same job again is answered
 * from the stored noisy table for free; a burst of distinct jobs against a budget for N gives exactly N releases;
 * fixed-list keys, a record moved to another cell and numbers of the code's own making get nowhere.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PrivacyBudgetRepository } from '../../src/jobs/dp/privacy-budget.repository.js';
import type { AccessRecord } from '../../src/ledger/provenance-record.js';
import { hashTables } from '../../src/jobs/jobs.service.js';
import type { JobTable } from '../../src/jobs/job.types.js';
import { errorCode, startTestGateway, type GqlResult, type TestGateway } from '../support/test-gateway.js';

const DS = 'residents-per-room';
const ENV = {
  CITYGATE_SANDBOX_WORKERS: '2',
  CITYGATE_JOB_CONCURRENCY: '4',
  CITYGATE_JOB_CPU_MS: '2000',
  CITYGATE_JOB_WALL_MS: '5000',
  CITYGATE_JOB_POLL_MS: '50',
};
const JOB_FIELDS = `id status error receiptIndex outputHash log { message }
  outputs { name columns rows { cells } suppressed { row column rule } }
  refusal { rule reason table cells }
  dpSpend { mechanism epsilon epsilonCharged cached epsilonSpent epsilonTotal budgetOrg }`;
const SUBMIT = `mutation($input: SubmitJobInput!) { submitJob(input: $input) { ${JOB_FIELDS} } }`;
const JOB = `query($id: ID!) { job(id: $id) { ${JOB_FIELDS} } }`;

interface Job {
  id: string;
  status: string;
  error: string | null;
  receiptIndex: number | null;
  outputHash: string | null;
  log: { message: string }[];
  outputs: { name: string; columns: string[]; rows: { cells: unknown[] }[]; suppressed: unknown[] }[] | null;
  refusal: { rule: string; reason: string; table: string | null; cells: string[] } | null;
  dpSpend: {
    mechanism: string;
    epsilon: number;
    epsilonCharged: number;
    cached: boolean;
    epsilonSpent: number;
    epsilonTotal: number;
    budgetOrg: string;
  } | null;
}

/** The declared table: residents per subdistrict of the grant's extent, with the gateway's margin. */
const OUTPUTS = [
  {
    name: 'by_subdistrict',
    keys: [{ column: 'subdistrict_id', level: 'subdistrict' }],
    sums: [{ column: 'residents', field: 'resident_count' }],
  },
];

/** Places each record in its own subdistrict (the only placement a DP release accepts); `tag` changes the code. */
const perSubdistrict = (tag = '') => `// ${tag}
export function run(input) {
  const { subdistrict_id } = input.columns;
  const rows = [];
  for (let i = 0; i < input.rowCount; i++) rows.push([subdistrict_id[i]]);
  return { tables: [{ name: 'by_subdistrict', columns: ['subdistrict_id'], rows }] };
}`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('sandbox jobs with differential privacy', () => {
  let t: TestGateway;
  let planner: { token: string };
  let owner: { token: string };
  let truth: Map<string, { n: number; residents: number }>;
  let budget: PrivacyBudgetRepository;

  async function submit(input: Record<string, unknown>, auth: { token?: string }): Promise<GqlResult> {
    return t.gql(
      SUBMIT,
      { input: { datasetId: DS, fields: ['resident_count'], runOn: 'REAL', outputs: OUTPUTS, ...input } },
      auth,
    );
  }
  async function submitted(input: Record<string, unknown>, auth: { token?: string }): Promise<Job> {
    const r = await submit(input, auth);
    assert.equal(r.body.errors, undefined, r.raw.slice(0, 400));
    return r.body.data!.submitJob as Job;
  }
  async function settled(id: string, auth: { token?: string }): Promise<Job> {
    for (let i = 0; i < 800; i++) {
      const r = await t.gql(JOB, { id }, auth);
      assert.equal(r.body.errors, undefined, r.raw.slice(0, 400));
      const j = r.body.data!.job as Job;
      if (['SUCCEEDED', 'REFUSED', 'FAILED', 'CANCELLED', 'AWAITING_REVIEW'].includes(j.status)) return j;
      await sleep(50);
    }
    throw new Error(`job ${id} did not settle`);
  }
  /** A planner's real job; when it is not released, as the dataset's owner sees it (the planner sees `not-released`). */
  const plannerJob = (code: string) =>
    submitted({ code, purpose: 'urban_planning' }, planner).then(async (j) => {
      const mine = await settled(j.id, planner);
      if (mine.status !== 'REFUSED' && mine.status !== 'FAILED') return mine;
      assert.deepEqual([mine.status, mine.refusal?.rule], ['REFUSED', 'not-released']);
      return settled(j.id, owner);
    });

  before(async () => {
    t = await startTestGateway({ rooms: 3000, env: ENV });
    planner = { token: await t.token('planning-bureau', ['analyst']) };
    owner = { token: await t.token('public-security', ['owner']) };
    budget = new PrivacyBudgetRepository(t.gw.db);
    // The truth inside the grant's extent, to compare the noisy release with.
    const rows = await t.gw.db.query<{ k: string; n: number; s: number }>(
      `select g.subdistrict_id as k, count(*)::int as n, sum(least(greatest(r.resident_count, 0), 12))::int as s
       from ds_residents_per_room r join grains g on g.id = r.grain_id where g.district_id = 'district:310101'
       group by 1`,
    );
    truth = new Map(rows.map((r) => [r.k, { n: r.n, residents: r.s }]));
    assert.ok(truth.size >= 2, 'the fixture needs records in several subdistricts of the extent');
    // Every subdistrict of the extent is a row, those without records too (their true cells are 0).
    const units = await t.gw.db.query<{ id: string }>(
      `select id from units where level = 'subdistrict' and district_id = 'district:310101'`,
    );
    for (const u of units) if (!truth.has(u.id)) truth.set(u.id, { n: 0, residents: 0 });
  });
  after(() => t?.close());

  it('a real job gets the gateway’s counts and sums, noised; it spends the budget once and is logged with dpSpend', async () => {
    const job = await plannerJob(perSubdistrict());
    assert.equal(job.status, 'SUCCEEDED', JSON.stringify(job));
    const table = job.outputs![0]!;
    assert.deepEqual(table.columns, ['subdistrict_id', 'count', 'residents']);
    assert.deepEqual(table.suppressed, [], 'no small-cell suppression on noised cells');
    const interior = table.rows.filter((r) => r.cells[0] !== 'Total');
    assert.equal(interior.length, truth.size, 'rows are every subdistrict of the extent (the grant’s row filter)');
    let exact = 0;
    for (const r of interior) {
      const [k, n, s] = r.cells as [string, number, number];
      const tr = truth.get(k)!;
      assert.ok(Number.isInteger(n) && Number.isInteger(s));
      // Two measure columns at ε 0.1: counts have scale 20, sums scale 240.
      assert.ok(Math.abs(n - tr.n) < 600, `count ${n} vs ${tr.n}`);
      assert.ok(Math.abs(s - tr.residents) < 7200, `sum ${s} vs ${tr.residents}`);
      if (n === tr.n && s === tr.residents) exact++;
    }
    assert.ok(exact < interior.length, 'cells are noised');
    // The margin is the sum of the noisy cells (post-processing), not a separately noised true total.
    const total = table.rows.find((r) => r.cells[0] === 'Total')!.cells;
    assert.equal(
      total[1],
      interior.reduce((a, r) => a + (r.cells[1] as number), 0),
    );
    assert.equal(
      total[2],
      interior.reduce((a, r) => a + (r.cells[2] as number), 0),
    );

    assert.deepEqual(job.dpSpend, {
      mechanism: 'laplace',
      epsilon: 0.1,
      epsilonCharged: 0.1,
      cached: false,
      epsilonSpent: 0.1,
      epsilonTotal: 1,
      budgetOrg: 'planning-bureau',
    });
    assert.deepEqual(await budget.budget('planning-bureau', DS), { totalMicro: 1_000_000, spentMicro: 100_000 });

    const rec = (await t.gw.log.get(job.receiptIndex!))!.record as AccessRecord;
    assert.equal(rec.mode, 'sandbox');
    assert.equal(rec.outcome.released, true);
    assert.equal(rec.outcome.resultHash, job.outputHash);
    assert.deepEqual(
      { ...rec.job!.dpSpend!, queryKey: undefined },
      {
        queryKey: undefined,
        mechanism: 'laplace',
        epsilonMicro: 100_000,
        chargedMicro: 100_000,
        cached: false,
        spentMicro: 100_000,
        totalMicro: 1_000_000,
        org: 'planning-bureau',
      },
    );
    assert.deepEqual(
      rec.job!.checks.map((c) => c.check),
      ['dp-shape', 'differential-privacy'],
    );
    const shown: JobTable[] = job.outputs!.map((o) => ({
      name: o.name,
      columns: o.columns,
      rows: o.rows.map((r) => r.cells as JobTable['rows'][number]),
      suppressed: [],
    }));
    assert.equal(hashTables(shown), job.outputHash);

    // The same job again: the stored noisy table, not charged, never re-noised; logged as cached.
    const again = await plannerJob(perSubdistrict());
    assert.equal(again.status, 'SUCCEEDED');
    assert.deepEqual(again.outputs, job.outputs);
    assert.equal(again.dpSpend?.cached, true);
    assert.equal(again.dpSpend?.epsilonCharged, 0);
    assert.equal(again.dpSpend?.epsilonSpent, 0.1);
    assert.deepEqual(await budget.budget('planning-bureau', DS), { totalMicro: 1_000_000, spentMicro: 100_000 });
    const rec2 = (await t.gw.log.get(again.receiptIndex!))!.record as AccessRecord;
    assert.deepEqual([rec2.job?.dpSpend?.cached, rec2.job?.dpSpend?.chargedMicro], [true, 0]);
    assert.equal(rec2.job?.dpSpend?.queryKey, rec.job?.dpSpend?.queryKey);

    // Different code is a different question: charged again.
    const other = await plannerJob(perSubdistrict('other'));
    assert.equal(other.status, 'SUCCEEDED');
    assert.deepEqual([other.dpSpend?.cached, other.dpSpend?.epsilonSpent], [false, 0.2]);
  });

  it('owner review: the release is charged when computed, waits, and is logged with dpSpend when approved', async () => {
    const setRule = `mutation($r: Boolean!) { setJobReviewRequired(datasetId: "${DS}", required: $r) }`;
    const reviewer = { token: await t.token('public-security', ['owner'], { sub: 'reviewer@public-security' }) };
    assert.equal((await t.gql(setRule, { r: true }, reviewer)).body.data!.setJobReviewRequired, true);
    try {
      const spent = (await budget.budget('planning-bureau', DS))!.spentMicro;
      const waiting = await plannerJob(perSubdistrict('review'));
      assert.equal(waiting.status, 'AWAITING_REVIEW');
      assert.equal(waiting.outputs, null);
      assert.deepEqual([waiting.dpSpend?.cached, waiting.dpSpend?.epsilonCharged], [false, 0.1]);
      assert.equal((await budget.budget('planning-bureau', DS))!.spentMicro, spent + 100_000);
      const r = await t.gql(
        `mutation($id: ID!) { reviewJob(id: $id, approve: true, reason: "planning study") { ${JOB_FIELDS} } }`,
        { id: waiting.id },
        reviewer,
      );
      const done = r.body.data!.reviewJob as Job;
      assert.equal(done.status, 'SUCCEEDED', r.raw.slice(0, 300));
      const rec = (await t.gw.log.get(done.receiptIndex!))!.record as AccessRecord;
      assert.deepEqual([rec.job?.dpSpend?.chargedMicro, rec.job?.review?.approved], [100_000, true]);
      assert.equal(rec.outcome.resultHash, done.outputHash);
    } finally {
      await t.gql(setRule, { r: false }, reviewer);
    }
  });

  it('a dummy run is free and not noised', async () => {
    const dummy = await settled(
      (await submitted({ code: perSubdistrict(), runOn: 'DUMMY', purpose: 'urban_planning' }, planner)).id,
      planner,
    );
    assert.equal(dummy.status, 'SUCCEEDED');
    assert.equal(dummy.dpSpend, null);
    assert.equal(dummy.receiptIndex, null);
  });

  it('declarations are checked; a record moved to another cell or numbers of the code’s making are refused', async () => {
    const before = (await budget.budget('planning-bureau', DS))!.spentMicro;
    // No declaration.
    const none = await submit({ code: perSubdistrict(), purpose: 'urban_planning', outputs: [] }, planner);
    assert.equal(errorCode(none), 'BAD_USER_INPUT');
    assert.match(none.body.errors![0]!.message, /Declare the output tables/);
    // A fixed list as a key: the code would choose which records go where.
    const list = await submit(
      {
        code: perSubdistrict(),
        purpose: 'urban_planning',
        outputs: [{ name: 'a', keys: [{ column: 'area', values: ['inside', 'outside'] }] }],
      },
      planner,
    );
    assert.equal(errorCode(list), 'BAD_USER_INPUT');
    assert.match(list.body.errors![0]!.message, /differential privacy/);

    // The code moves one record to another subdistrict (a difference that would depend on one person).
    const moved = await plannerJob(`export function run(input) {
      const { subdistrict_id, resident_count } = input.columns;
      const rows = [];
      for (let i = 0; i < input.rowCount; i++) rows.push([i === 0 && resident_count[0] > 2 ? subdistrict_id[1] : subdistrict_id[i]]);
      if (subdistrict_id[0] === subdistrict_id[1]) rows[0] = [null];
      return { tables: [{ name: 'by_subdistrict', columns: ['subdistrict_id'], rows }] };
    }`);
    assert.equal(moved.status, 'REFUSED');
    assert.equal(moved.refusal?.rule, 'dp-keys');
    assert.equal(moved.outputs, null);
    // The code's own count column.
    const own = await plannerJob(`export function run(input) {
      const rows = [];
      for (let i = 0; i < input.rowCount; i++) rows.push([input.columns.subdistrict_id[i], 1000]);
      return { tables: [{ name: 'by_subdistrict', columns: ['subdistrict_id', 'count'], rows }] };
    }`);
    assert.equal(own.refusal?.rule, 'invalid-table');
    // Refusals of the shape charge nothing, and are logged.
    assert.equal((await budget.budget('planning-bureau', DS))!.spentMicro, before);
    const rec = (await t.gw.log.get(moved.receiptIndex!))!.record as AccessRecord;
    assert.deepEqual([rec.outcome.released, rec.outcome.refusal, rec.job?.dpSpend], [false, 'dp-keys', null]);
  });

  it('a burst of distinct jobs against a budget for 3 gives exactly 3 releases; the rest are refused naming the budget', async () => {
    await budget.setTotal('public-security', DS, 300_000);
    const jobs = await Promise.all(
      Array.from({ length: 8 }, (_, i) => submitted({ code: perSubdistrict(`burst ${i}`), purpose: null }, owner)),
    );
    const done = await Promise.all(jobs.map((j) => settled(j.id, owner)));
    const released = done.filter((j) => j.status === 'SUCCEEDED');
    const refused = done.filter((j) => j.status === 'REFUSED');
    assert.equal(released.length, 3, JSON.stringify(done.map((j) => [j.status, j.error, j.refusal?.rule])));
    assert.equal(refused.length, 5);
    assert.ok(released.every((j) => j.dpSpend?.cached === false && j.dpSpend.epsilonCharged === 0.1));
    for (const j of refused) {
      assert.equal(j.refusal?.rule, 'privacy-budget');
      assert.match(
        j.refusal?.reason ?? '',
        /privacy budget of organisation public-security for dataset residents-per-room/,
      );
      assert.equal(j.outputs, null);
      assert.deepEqual([j.dpSpend?.epsilonCharged, j.dpSpend?.epsilonSpent], [0, 0.3]);
      const rec = (await t.gw.log.get(j.receiptIndex!))!.record as AccessRecord;
      assert.equal(rec.outcome.refusal, 'LIMIT_EXCEEDED');
      assert.equal(rec.job?.dpSpend?.chargedMicro, 0);
    }
    assert.deepEqual(await budget.budget('public-security', DS), { totalMicro: 300_000, spentMicro: 300_000 });
    assert.equal((await budget.charges('public-security', DS)).length, 3);

    // A released job asked again after the budget is spent is still answered, from the store, free.
    const first = released[0]!;
    const code = jobs.findIndex((j) => j.id === first.id);
    const repeat = await settled(
      (await submitted({ code: perSubdistrict(`burst ${code}`), purpose: null }, owner)).id,
      owner,
    );
    assert.equal(repeat.status, 'SUCCEEDED');
    assert.deepEqual([repeat.dpSpend?.cached, repeat.dpSpend?.epsilonCharged], [true, 0]);
    assert.deepEqual(repeat.outputs, first.outputs);
  });
});
