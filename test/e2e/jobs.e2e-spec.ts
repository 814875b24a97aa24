/**
 * Sandbox jobs end to end (DESIGN.md §7, docs/sandbox-jobs.md): real PGlite, real policy bundle, real sandbox
 * pool, real provenance log. The acceptance path: an emergency-management analyst (grant-emergency-elderly) counts
 * elderly people living alone per community, on dummy data first, then on the real dataset, and gets a table whose
 * small cells and revealing margins are suppressed; then the attacks and the queue's durability.
 *
 * Fixture: the demo city at test scale spreads about one elderly record per community, so the spec adds a cluster
 * of records to four communities of one subdistrict (25, 18, 30 and 4 people) straight into the store.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hashTables } from '../../src/jobs/jobs.service.js';
import type { JobTable } from '../../src/jobs/job.types.js';
import { migrate } from '../../src/store/migrate.js';
import type { Db } from '../../src/store/db.port.js';
import { PgliteDb } from '../../src/store/pglite.adapter.js';
import { errorCode, startTestGateway, type GqlResult, type TestGateway } from '../support/test-gateway.js';
import type { AccessRecord } from '../../src/ledger/provenance-record.js';

const DS = 'elderly-living-alone';
const ENV = {
  CITYGATE_SANDBOX_WORKERS: '1',
  CITYGATE_JOB_CPU_MS: '1000',
  CITYGATE_JOB_WALL_MS: '3000',
  CITYGATE_JOB_POLL_MS: '50',
  CITYGATE_JOB_LEASE_MS: '1000',
  CITYGATE_JOB_DUMMY_ROWS: '3000',
};

const JOB_FIELDS = `id status dummy runOn attempts error receiptIndex outputHash codeHash submittedBy reviewedBy reviewReason
  startedAt finishedAt log { message }
  outputs { name columns rows { cells } suppressed { row column rule } }
  refusal { rule reason table cells }`;
const SUBMIT = `mutation($input: SubmitJobInput!) { submitJob(input: $input) { ${JOB_FIELDS} } }`;
const JOB = `query($id: ID!) { job(id: $id) { ${JOB_FIELDS} } }`;

interface Job {
  id: string;
  status: string;
  dummy: boolean;
  attempts: number;
  error: string | null;
  receiptIndex: number | null;
  outputHash: string | null;
  codeHash: string;
  submittedBy: string;
  reviewedBy: string | null;
  reviewReason: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  log: { message: string }[];
  outputs:
    | {
        name: string;
        columns: string[];
        rows: { cells: unknown[] }[];
        suppressed: { row: number; column: string; rule: string }[];
      }[]
    | null;
  refusal: { rule: string; reason: string; table: string | null; cells: string[] } | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A job: its code and the output tables it declares (docs/sandbox-jobs.md, "Declared outputs"). */
interface JobSpec {
  code: string;
  outputs: Record<string, unknown>[];
}

/** Per-community counts in one subdistrict (every community of it, empty ones too), with the gateway's margin. */
const perCommunity = (sub: string): JobSpec => ({
  code: `
export function run(input) {
  const { community_id, subdistrict_id } = input.columns;
  const rows = [];
  // Backwards, to show that the order the code walks or emits records in does not matter.
  for (let i = input.rowCount - 1; i >= 0; i--) rows.push(subdistrict_id[i] === ${JSON.stringify(sub)} ? [community_id[i]] : [null]);
  rows.reverse();
  return { tables: [{ name: 'elderly_by_community', columns: ['community_id'], rows }] };
}`,
  outputs: [{ name: 'elderly_by_community', keys: [{ column: 'community_id', level: 'community', within: sub }] }],
});

/** One count (and the gateway's sum of elder_count) over a subdistrict minus some communities. */
const areaCount = (sub: string, except: string[]): JobSpec => ({
  code: `
export function run(input) {
  const { subdistrict_id, community_id } = input.columns;
  const except = new Set(${JSON.stringify(except)});
  const rows = [];
  for (let i = 0; i < input.rowCount; i++) {
    rows.push(subdistrict_id[i] === ${JSON.stringify(sub)} && !except.has(community_id[i]) ? ['selected'] : [null]);
  }
  return { tables: [{ name: 'area', columns: ['area'], rows }] };
}`,
  outputs: [
    {
      name: 'area',
      keys: [{ column: 'area', values: ['selected'] }],
      sums: [{ column: 'elders', field: 'elder_count' }],
      margins: false,
    },
  ],
});

const BY_CARE = [{ name: 'by_care', keys: [{ column: 'care', field: 'care_level' }] }];

/** Label smuggling: record ids and care levels as key values of a declared table. */
const RAW_RECORDS: JobSpec = {
  code: `
export function run(input) {
  const { record_id, care_level } = input.columns;
  const rows = [];
  for (let i = 0; i < input.rowCount; i++) rows.push(['leak_' + record_id[i] + '=' + care_level[i]]);
  return { tables: [{ name: 'by_care', columns: ['care'], rows }] };
}`,
  outputs: BY_CARE,
};

/** Label smuggling: a table named after a record. */
const LEAKY_NAME: JobSpec = {
  code: `
export function run(input) {
  const { record_id, care_level } = input.columns;
  const rows = [];
  for (let i = 0; i < input.rowCount; i++) rows.push([care_level[i]]);
  return { tables: [{ name: 'leak_' + record_id[0].replace(/[^A-Za-z0-9]/g, '_'), columns: ['care'], rows }] };
}`,
  outputs: BY_CARE,
};

/** Job-made numbers: the code hands back its own count column (here, care levels weighted by 8^k). */
const OWN_NUMBERS: JobSpec = {
  code: `
export function run(input) {
  const { care_level } = input.columns;
  let code = 0;
  for (let i = 0; i < Math.min(10, input.rowCount); i++) code += Number(care_level[i]) * 8 ** i;
  const rows = [];
  for (let i = 0; i < input.rowCount; i++) rows.push([care_level[i], code]);
  return { tables: [{ name: 'by_care', columns: ['care', 'count'], rows }] };
}`,
  outputs: BY_CARE,
};

const busy = (ms: number): JobSpec => ({
  code: `
export function run(input) {
  const end = Date.now() + ${ms};
  while (Date.now() < end) {}
  const rows = [];
  for (let i = 0; i < input.rowCount; i++) rows.push(['a']);
  return { tables: [{ name: 't', columns: ['k'], rows }] };
}`,
  outputs: [{ name: 't', keys: [{ column: 'k', values: ['a'] }], margins: false }],
});

const LOOP: JobSpec = { code: 'export function run() { for (;;) {} }', outputs: BY_CARE };

describe('sandbox jobs', () => {
  let t: TestGateway;
  let db: Db;
  let dataDir: string;
  let analyst: { token: string };
  let transport: { token: string };
  let ownerA: { token: string };
  let ownerB: { token: string };
  let auditor: { token: string };
  let sub: string;
  let communities: string[]; // c1 25, c2 18, c3 30, c4 4

  async function submit(input: Record<string, unknown>, auth: { token?: string } = {}): Promise<GqlResult> {
    return t.gql(
      SUBMIT,
      { input: { datasetId: DS, fields: ['care_level', 'elder_count'], purpose: 'emergency_response', ...input } },
      auth,
    );
  }

  async function submitted(input: Record<string, unknown>, auth: { token?: string }): Promise<Job> {
    const r = await submit(input, auth);
    assert.equal(r.body.errors, undefined, r.raw.slice(0, 400));
    return r.body.data!.submitJob as Job;
  }

  async function get(id: string, auth: { token?: string }): Promise<Job> {
    const r = await t.gql(JOB, { id }, auth);
    assert.equal(r.body.errors, undefined, r.raw.slice(0, 400));
    return r.body.data!.job as Job;
  }

  async function settled(
    id: string,
    auth: { token?: string },
    until = ['SUCCEEDED', 'REFUSED', 'FAILED', 'CANCELLED', 'AWAITING_REVIEW'],
  ): Promise<Job> {
    for (let i = 0; i < 600; i++) {
      const j = await get(id, auth);
      if (until.includes(j.status)) return j;
      await sleep(50);
    }
    throw new Error(`job ${id} did not settle`);
  }

  before(async () => {
    db = await PgliteDb.open(null);
    await migrate(db);
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'citygate-jobs-'));
    t = await startTestGateway({ rooms: 3000, db, dataDir, env: ENV });
    analyst = { token: await t.token('emergency-management', ['analyst']) };
    transport = { token: await t.token('transport', ['analyst']) };
    ownerA = { token: await t.token('civil-affairs', ['owner'], { sub: 'owner-a@civil-affairs' }) };
    ownerB = { token: await t.token('civil-affairs', ['owner'], { sub: 'owner-b@civil-affairs' }) };
    auditor = { token: await t.token('data-bureau', ['auditor']) };

    // A subdistrict without elderly records in the demo city, with rooms in at least four communities.
    const picked = await db.query<{ subdistrict_id: string; cs: string[] }>(
      `select subdistrict_id, array_agg(distinct community_id order by community_id) as cs from grains
       where kind = 'room' and subdistrict_id not in
         (select g.subdistrict_id from ds_elderly_living_alone r join grains g on g.id = r.grain_id)
       group by subdistrict_id having count(distinct community_id) >= 4 order by subdistrict_id limit 1`,
    );
    sub = picked[0]!.subdistrict_id;
    communities = picked[0]!.cs.slice(0, 4);
    const sizes = [25, 18, 30, 4];
    for (const [i, c] of communities.entries()) {
      const room = await db.query<{ id: string }>(
        `select id from grains where kind = 'room' and community_id = $1 limit 1`,
        [c],
      );
      for (let k = 0; k < sizes[i]!; k++) {
        await db.query(
          `insert into ds_elderly_living_alone (id, grain_id, elder_count, age_band, care_level, last_visit)
           values ($1, $2, 1, '75-84', '2', current_date)`,
          [`${room[0]!.id}#fx${k}`, room[0]!.id],
        );
      }
    }
  });

  after(async () => {
    await t?.close();
    await db?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('acceptance: dummy first, then real; small cells and the revealing margin are suppressed; logged before visible', async () => {
    const spec = perCommunity(sub);
    const dummy = await settled((await submitted({ ...spec, runOn: 'DUMMY' }, analyst)).id, analyst);
    assert.equal(dummy.status, 'SUCCEEDED', JSON.stringify(dummy));
    assert.equal(dummy.dummy, true);
    assert.equal(dummy.receiptIndex, null, 'dummy outputs carry no release record');
    assert.ok(dummy.outputs?.[0]?.rows.some((r) => r.cells[0] === 'Total'));
    assert.ok(dummy.log.some((l) => l.message.includes('dummy')));

    const first = await submitted({ ...spec, runOn: 'REAL' }, analyst);
    assert.equal(first.outputs, null);
    const real = await settled(first.id, analyst);
    assert.equal(real.status, 'SUCCEEDED', JSON.stringify(real));
    assert.equal(real.dummy, false);
    // The exact CPU time of a real run is a number the code controls: whole seconds only.
    assert.ok(
      real.log.some((l) => /at most \d+ s CPU/.test(l.message)),
      JSON.stringify(real.log),
    );
    assert.ok(!real.log.some((l) => /ms CPU/.test(l.message)));
    const table = real.outputs![0]!;
    // Released rows come sorted by key, whatever order the code produced them in.
    const keys = table.rows.map((r) => String(r.cells[0]));
    assert.deepEqual(keys, [...keys].sort());
    const byKey = new Map(table.rows.map((r) => [r.cells[0], r.cells[1]]));
    const [c1, c2, c3, c4] = communities;
    // Every community of the subdistrict is a row, the empty ones too (hidden: zeros are disclosive).
    const all = await db.query<{ id: string }>(
      `select id from units where level = 'community' and subdistrict_id = $1`,
      [sub],
    );
    assert.equal(table.rows.length, all.length + 1);
    for (const u of all) if (!communities.includes(u.id)) assert.equal(byKey.get(u.id), null, u.id);
    assert.equal(byKey.get(c4!), null, 'the cell of 4 is suppressed');
    assert.ok(table.suppressed.some((s) => s.rule === 'threshold'));
    assert.ok(
      table.suppressed.some((s) => s.rule === 'secondary'),
      'the margin would reveal it: a complement is hidden',
    );
    assert.equal(byKey.get(c2!), null, 'the smallest other cell is the complement');
    assert.deepEqual([byKey.get(c1!), byKey.get(c3!), byKey.get('Total')], [25, 30, 77]);
    for (const v of byKey.values()) assert.ok(v === null || (typeof v === 'number' && v >= 10));

    // The release record is in the log, with the hash of exactly what the job shows.
    const entry = await t.gw.log.get(real.receiptIndex!);
    const rec = entry!.record as AccessRecord;
    assert.equal(rec.mode, 'sandbox');
    assert.equal(rec.outcome.released, true);
    assert.equal(rec.job?.jobId, real.id);
    assert.equal(rec.job?.codeHash, createHash('sha256').update(spec.code).digest('hex'));
    assert.equal(rec.job?.dpSpend, null);
    assert.deepEqual(
      rec.job?.inputs.map((i) => i.dataset),
      [DS],
    );
    assert.deepEqual(
      rec.job?.checks.map((c) => c.check),
      ['disclosure:table 1', 'differencing'],
    );
    const shown: JobTable[] = real.outputs!.map((o) => ({
      name: o.name,
      columns: o.columns,
      rows: o.rows.map((r) => r.cells as JobTable['rows'][number]),
      suppressed: o.suppressed,
    }));
    assert.equal(rec.outcome.resultHash, real.outputHash);
    assert.equal(hashTables(shown), real.outputHash);

    // Auditors see the job in the trail, and the job's metadata without its values.
    const trail = await t.gql(
      `{ auditTrail(filter: { dataset: "${DS}" }) { index mode released } }`,
      undefined,
      auditor,
    );
    const rows = trail.body.data!.auditTrail as { index: number; mode: string; released: boolean }[];
    assert.ok(rows.some((e) => e.index === real.receiptIndex && e.mode === 'sandbox' && e.released));
    const seen = await get(real.id, auditor);
    assert.equal(seen.outputs, null);
    assert.equal(seen.status, 'SUCCEEDED');
  });

  it('label smuggling: key values or a table name made from records refuse the run, logged, echoing nothing', async () => {
    for (const [spec, rule] of [
      [RAW_RECORDS, 'key-domain'],
      [LEAKY_NAME, 'invalid-table'],
    ] as const) {
      const id = (await submitted({ ...spec, runOn: 'REAL' }, analyst)).id;
      const job = await settled(id, analyst);
      // The submitter learns only that nothing was released; the owner sees the rule and the receipt.
      assert.deepEqual(
        [job.status, job.refusal?.rule, job.receiptIndex, job.outputs],
        ['REFUSED', 'not-released', null, null],
      );
      const owned = await get(id, ownerA);
      assert.equal(owned.refusal?.rule, rule);
      assert.ok(!JSON.stringify([job, owned]).includes('leak_'), 'the refusal does not echo what the code made up');
      const rec = (await t.gw.log.get(owned.receiptIndex!))!.record as AccessRecord;
      assert.equal(rec.outcome.released, false);
      assert.equal(rec.outcome.refusal, rule);
      assert.ok(!JSON.stringify(rec).includes('leak_'));
    }
  });

  it('job-made numbers: a count of the code’s own making refuses the run; released sums are the gateway’s', async () => {
    const id = (await submitted({ ...OWN_NUMBERS, runOn: 'REAL' }, analyst)).id;
    assert.equal((await settled(id, analyst)).refusal?.rule, 'not-released');
    assert.deepEqual(
      [(await get(id, ownerA)).status, (await get(id, ownerA)).refusal?.rule],
      ['REFUSED', 'invalid-table'],
    );
    // The same placement with a declared sum: the released sum is the sum of the records' own values.
    const area = await settled(
      (await submitted({ ...areaCount(sub, [communities[1]!]), runOn: 'REAL' }, analyst)).id,
      analyst,
    );
    assert.equal(area.status, 'SUCCEEDED', JSON.stringify(area));
    const truth = await db.query<{ n: number; s: number }>(
      `select count(*)::int as n, sum(r.elder_count)::int as s from ds_elderly_living_alone r join grains g on g.id = r.grain_id
       where g.subdistrict_id = $1 and g.community_id <> $2`,
      [sub, communities[1]!],
    );
    assert.deepEqual(area.outputs?.[0]?.rows[0]?.cells, ['selected', truth[0]!.n, truth[0]!.s]);
  });

  it('a differencing pair from the same organisation is refused with the rule named', async () => {
    const all = await settled((await submitted({ ...areaCount(sub, []), runOn: 'REAL' }, analyst)).id, analyst);
    assert.equal(all.status, 'SUCCEEDED', JSON.stringify(all));
    assert.equal(all.outputs?.[0]?.rows[0]?.cells[1], 77);
    const id = (await submitted({ ...areaCount(sub, [communities[3]!]), runOn: 'REAL' }, analyst)).id;
    const minusOne = await settled(id, analyst);
    assert.deepEqual([minusOne.status, minusOne.refusal?.rule, minusOne.outputs], ['REFUSED', 'not-released', null]);
    const owned = await get(id, ownerA);
    assert.equal(owned.refusal?.rule, 'differencing');
    // Named by position: the job chose the key ("selected"), so a refusal does not echo it.
    assert.deepEqual(owned.refusal?.cells, ['table 1 row 1']);
  });

  it('on real data a throw, a timeout, invalid output and a refusal look the same to the submitter, and end as late', async () => {
    // Each of these is an outcome the code can choose from a data value (issue #13: one care level was
    // recovered in three jobs from FAILED vs REFUSED and the error class).
    const specs: Record<string, JobSpec> = {
      throws: {
        code: `export function run(input) { throw new Error('care level ' + input.columns.care_level[0]); }`,
        outputs: BY_CARE,
      },
      timeout: LOOP,
      invalid: { code: `export function run() { return { tables: 'nope' }; }`, outputs: BY_CARE },
      refused: RAW_RECORDS,
    };
    const ids = Object.fromEntries(
      await Promise.all(
        Object.entries(specs).map(
          async ([k, spec]) => [k, (await submitted({ ...spec, runOn: 'REAL' }, analyst)).id] as const,
        ),
      ),
    );
    const seen: Record<string, unknown> = {};
    for (const [k, id] of Object.entries(ids)) {
      const j = await settled(id, analyst);
      seen[k] = {
        status: j.status,
        error: j.error,
        refusal: j.refusal,
        receipt: j.receiptIndex,
        outputs: j.outputs,
        log: j.log.map((l) => l.message),
      };
      // Ended no earlier than the wall-clock limit (3 s here) after the start: a throw is as slow as a timeout.
      assert.ok(
        Date.parse(j.finishedAt!) - Date.parse(j.startedAt!) >= 3000,
        `${k} ended after ${Date.parse(j.finishedAt!) - Date.parse(j.startedAt!)} ms`,
      );
    }
    assert.deepEqual(seen.timeout, seen.throws);
    assert.deepEqual(seen.invalid, seen.throws);
    assert.deepEqual(seen.refused, seen.throws);
    assert.ok(!JSON.stringify(seen).includes('care level'));
    // The owner of the dataset sees what happened.
    const owner = await Promise.all(Object.values(ids).map((id) => get(id, ownerA)));
    assert.deepEqual(
      owner.map((j) => j.status),
      ['FAILED', 'FAILED', 'FAILED', 'REFUSED'],
    );
    assert.match(owner[1]!.error ?? '', /^TIMEOUT/);
  });

  it('the public and a department without a grant are refused real runs and learn nothing', async () => {
    for (const auth of [{}, transport]) {
      const before = await t.gw.log.size();
      const r = await submit({ ...perCommunity(sub), runOn: 'REAL' }, auth);
      assert.equal(errorCode(r), 'FORBIDDEN');
      assert.equal(r.body.data, null);
      assert.ok(!/\d{2,}/.test(r.body.errors![0]!.message), 'no numbers in the message');
      assert.equal(await t.gw.log.size(), before + 1, 'the refusal is logged');
    }
    const mine = await t.gql('{ jobs { id } }', undefined, transport);
    assert.deepEqual(mine.body.data!.jobs, []);
    // A dummy run needs only the catalogue: the department may try its code on synthetic data.
    const dummy = await settled((await submitted({ ...perCommunity(sub), runOn: 'DUMMY' }, transport)).id, transport);
    assert.equal(dummy.status, 'SUCCEEDED');
    assert.equal(dummy.dummy, true);
    // Someone else's job does not exist for them.
    assert.equal(errorCode(await t.gql(JOB, { id: dummy.id }, analyst)), 'NOT_FOUND');
  });

  it('a runaway job is killed at its limit while the gateway keeps answering', async () => {
    const job = await submitted({ ...LOOP, runOn: 'DUMMY' }, analyst);
    let sawRunning = false;
    for (let i = 0; i < 200; i++) {
      const health = await t.gql('{ health }');
      assert.equal(health.body.data?.health, 'ok');
      const j = await get(job.id, analyst);
      if (j.status === 'RUNNING') sawRunning = true;
      if (j.status === 'FAILED') {
        assert.match(j.error ?? '', /^TIMEOUT/);
        assert.ok(sawRunning);
        return;
      }
      await sleep(25);
    }
    assert.fail('the runaway job was not stopped');
  });

  it('cancel: a queued job never runs, a running one releases nothing; only the submitter may cancel', async () => {
    const long = await submitted({ ...busy(700), runOn: 'DUMMY' }, analyst);
    const queued = await submitted({ ...busy(10), runOn: 'DUMMY' }, analyst);
    await settled(long.id, analyst, ['RUNNING']);
    const cancel = 'mutation($id: ID!) { cancelJob(id: $id) { id status } }';
    assert.equal(errorCode(await t.gql(cancel, { id: queued.id }, transport)), 'NOT_FOUND');
    const c1 = await t.gql(cancel, { id: queued.id }, analyst);
    assert.equal((c1.body.data!.cancelJob as Job).status, 'CANCELLED');
    const c2 = await t.gql(cancel, { id: long.id }, analyst);
    assert.equal((c2.body.data!.cancelJob as Job).status, 'CANCELLED');
    await sleep(1200);
    const [l, q] = [await get(long.id, analyst), await get(queued.id, analyst)];
    assert.deepEqual([l.status, l.outputs], ['CANCELLED', null]);
    assert.deepEqual([q.status, q.startedAt], ['CANCELLED', null]);
    assert.equal(errorCode(await t.gql(cancel, { id: long.id }, analyst)), 'BAD_USER_INPUT');
  });

  it('owner review: waits, owners see it, self-review refused, reject and approve are logged', async () => {
    const setRule = 'mutation($r: Boolean!) { setJobReviewRequired(datasetId: "elderly-living-alone", required: $r) }';
    assert.equal(errorCode(await t.gql(setRule, { r: true }, analyst)), 'FORBIDDEN');
    assert.equal((await t.gql(setRule, { r: true }, ownerA)).body.data!.setJobReviewRequired, true);
    const review =
      'mutation($id: ID!, $ok: Boolean!) { reviewJob(id: $id, approve: $ok, reason: "checked") { id status reviewedBy } }';

    // The analyst's job waits; its outputs are hidden from the analyst, shown to the owner who reviews.
    const spec = perCommunity(sub);
    const waiting = await settled((await submitted({ ...spec, runOn: 'REAL' }, analyst)).id, analyst);
    assert.equal(waiting.status, 'AWAITING_REVIEW');
    assert.equal(waiting.outputs, null);
    assert.ok((await get(waiting.id, ownerA)).outputs?.length === 1);
    assert.equal(errorCode(await t.gql(review, { id: waiting.id, ok: true }, analyst)), 'FORBIDDEN');
    const rejected = await t.gql(
      'mutation($id: ID!) { reviewJob(id: $id, approve: false, reason: "not needed for this purpose") { status } }',
      { id: waiting.id },
      ownerA,
    );
    assert.equal((rejected.body.data!.reviewJob as Job).status, 'REFUSED');
    const after = await get(waiting.id, analyst);
    assert.deepEqual(
      [after.refusal?.rule, after.reviewReason, after.outputs],
      ['owner-review', 'not needed for this purpose', null],
    );
    const rejectRecord = (await t.gw.log.get(after.receiptIndex!))!.record as AccessRecord;
    assert.deepEqual(rejectRecord.job?.review, {
      by: 'owner-a@civil-affairs',
      approved: false,
      reason: 'not needed for this purpose',
    });

    // An owner's own job: the owner may not approve it; another owner may.
    const own = await settled((await submitted({ ...spec, runOn: 'REAL', purpose: null }, ownerA)).id, ownerA);
    assert.equal(own.status, 'AWAITING_REVIEW');
    const self = await t.gql(review, { id: own.id, ok: true }, ownerA);
    assert.equal(errorCode(self), 'FORBIDDEN');
    assert.match(self.body.errors![0]!.message, /submitted/);
    const approved = await t.gql(review, { id: own.id, ok: true }, ownerB);
    assert.equal((approved.body.data!.reviewJob as Job).status, 'SUCCEEDED', approved.raw.slice(0, 300));
    const done = await get(own.id, ownerA);
    assert.equal(done.reviewedBy, 'owner-b@civil-affairs');
    assert.ok(done.outputs?.length === 1);
    const approveRecord = (await t.gw.log.get(done.receiptIndex!))!.record as AccessRecord;
    assert.deepEqual(approveRecord.job?.review, { by: 'owner-b@civil-affairs', approved: true, reason: 'checked' });
    assert.equal(approveRecord.outcome.resultHash, done.outputHash);
    assert.equal(errorCode(await t.gql(review, { id: own.id, ok: true }, ownerB)), 'BAD_USER_INPUT');
    await t.gql(setRule, { r: false }, ownerA);
  });

  it('nothing becomes visible when the release cannot be logged', async () => {
    const log = t.gw.log;
    const append = log.append.bind(log);
    // Fault injection: the log refuses every append while this job runs.
    log.append = () => Promise.reject(new Error('injected: the disk is full'));
    try {
      const id = (await submitted({ ...areaCount(sub, []), runOn: 'REAL' }, analyst)).id;
      const job = await settled(id, analyst);
      assert.deepEqual(
        [job.status, job.refusal?.rule, job.outputs, job.receiptIndex],
        ['REFUSED', 'not-released', null, null],
      );
      const owned = await get(id, ownerA);
      assert.equal(owned.status, 'FAILED');
      assert.match(owned.error ?? '', /nothing was released/);
      assert.equal(owned.outputs, null);
    } finally {
      log.append = append;
    }
  });

  it('queued and interrupted jobs survive a gateway restart; a job interrupted twice fails with the reason', async () => {
    const interrupted = await submitted({ ...busy(600), runOn: 'DUMMY' }, analyst);
    const queued = await submitted({ ...busy(10), runOn: 'DUMMY' }, analyst);
    await settled(interrupted.id, analyst, ['RUNNING']);
    await t.close();
    t = await startTestGateway({ rooms: 3000, db, dataDir, env: ENV });
    const [a, b] = [await settled(interrupted.id, analyst), await settled(queued.id, analyst)];
    assert.equal(a.status, 'SUCCEEDED');
    assert.equal(a.attempts, 2);
    assert.ok(a.log.some((l) => l.message.includes('queued again')));
    assert.equal(b.status, 'SUCCEEDED');

    // A job found running on its second attempt with an expired lease is not retried a third time.
    await db.query(
      `update jobs set status = 'running', attempts = 2, lease_owner = 'gone', lease_expires = now() - interval '1 second'
       where id = $1`,
      [queued.id],
    );
    const failed = await settled(queued.id, analyst, ['FAILED']);
    assert.match(failed.error ?? '', /stopped 2 times/);
  });
});
