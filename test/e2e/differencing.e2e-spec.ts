import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { errorCode, startTestGateway, type TestGateway } from '../support/test-gateway.js';

/**
 * One differencing audit for departments' aggregates and sandbox jobs (issue #13, point 2): a department
 * asks a district's count, then the same count with a filter that leaves out a few records (one small industry). Each answer alone
 * passes small-cell protection; their difference is the few records, so the second is refused.
 */
const DS = 'business-licences';

describe('differencing across a department’s aggregates', () => {
  let t: TestGateway;
  let analyst: { token: string };
  let target: { district: string; value: string; few: number; all: number };

  const ask = (filter = '') =>
    t.gql(
      `{ aggregate(dataset: "${DS}", groupBy: { level: district }, within: "${target.district}", measures: [{ fn: count }]${filter}) { total { count suppressed } } }`,
      {},
      analyst,
    );

  before(async () => {
    t = await startTestGateway({ rooms: 3000 });
    analyst = { token: await t.token('planning-bureau', ['analyst']) };
    // A district where one industry holds 1 to 9 licences and the others at least 10.
    const rows = await t.gw.db.query<{ d: string; v: string; n: number; all: number }>(
      `with c as (select g.district_id as d, r.industry as v, count(*)::int as n
                    from ds_business_licences r join grains g on g.id = r.grain_id group by 1, 2),
            a as (select d, sum(n)::int as all from c group by d)
       select c.d, c.v, c.n, a.all from c join a using (d) where c.n between 1 and 9 and a.all - c.n >= 10
        order by c.d, c.v limit 1`,
    );
    assert.ok(rows[0], 'the demo city has such a district');
    target = { district: rows[0].d, value: rows[0].v, few: rows[0].n, all: rows[0].all };
  });
  after(async () => {
    await t?.close();
  });

  it('a district’s count, then the same minus one industry: the second is refused and logged', async () => {
    const first = await ask();
    assert.equal(first.body.errors, undefined, first.raw.slice(0, 300));
    assert.equal((first.body.data!.aggregate as { total: { count: number } }).total.count, target.all);
    const minus = await ask(`, filter: [{ field: "industry", op: ne, value: "${target.value}" }]`);
    assert.equal(errorCode(minus), 'FORBIDDEN', minus.raw.slice(0, 300));
    assert.match(minus.body.errors![0]!.message, /differencing/);
    assert.equal(minus.body.data?.aggregate ?? null, null, 'nothing of the refused answer');
    const receipt = minus.body.extensions?.receipts?.[0];
    assert.equal(receipt?.released, false);
    const rec = (await t.gw.log.get(receipt.index))!.record as { outcome: { refusal: string } };
    assert.equal(rec.outcome.refusal, 'differencing');
    // The same question again is the same cell: answered.
    assert.equal((await ask()).body.errors, undefined);
  });

  it('the audit is the one sandbox jobs use: the aggregate’s cells are in the organisation’s history', async () => {
    const rows = await t.gw.db.query<{ n: number }>(
      `select count(*)::int as n from job_release_history
        where org = 'planning-bureau' and population = $1 and release_id like 'aggregate:%'`,
      [DS],
    );
    assert.ok(rows[0]!.n >= 1);
  });
});

/**
 * privateAggregate goes through the same audit (issue #13, point 2): a grant-holder asks the DP count of a polygon,
 * then of the same polygon grown, or shrunk, by one room. Noise hides one answer's exact value, but repeated pairs
 * would average it out; the second polygon's cell differs from the first by one record, so it is refused, logged,
 * and charges nothing.
 */
describe('differencing across a department’s privateAggregate answers', () => {
  let t: TestGateway;
  let planner: { token: string };
  /** Longitude cuts: west of `base` lie `inBase` residents' rooms of district 310101; `plusOne` adds one room. */
  let cuts: { base: number; plusOne: number; minusOne: number; inBase: number };
  let lat: { min: number; max: number };
  const Q = `query($filter: PrivateFilterInput) {
    privateAggregate(datasetId: "residents-per-room", measure: COUNT, groupBy: district, filter: $filter, purpose: urban_planning) {
      epsilonCharged epsilonRemaining cached receiptIndex cells { key value } } }`;
  const west = (lon: number) => [
    [
      [lon - 1, lat.min - 0.01],
      [lon, lat.min - 0.01],
      [lon, lat.max + 0.01],
      [lon - 1, lat.max + 0.01],
    ],
  ];
  const ask = (lon: number, token = planner) => t.gql(Q, { filter: { polygon: west(lon) } }, token);
  type Answer = { epsilonCharged: number; epsilonRemaining: number; cached: boolean; cells: { key: string }[] };

  before(async () => {
    t = await startTestGateway({ rooms: 3000 });
    planner = { token: await t.token('planning-bureau', ['analyst']) };
    const [bb] = await t.gw.db.query<{ min: number; max: number }>(
      'select min(lat) as min, max(lat) as max from grains',
    );
    lat = bb!;
    // The grant covers district 310101: its residents' rooms from west to east, one longitude each.
    const rooms = await t.gw.db.query<{ lon: number; n: number }>(
      `select g.lon, count(*)::int as n from ds_residents_per_room r join grains g on g.id = r.grain_id
        where g.district_id = 'district:310101' group by g.lon order by g.lon`,
    );
    // A room k with one resident record, at least 20 records west of it, and clear gaps either side.
    let west = 0;
    for (let k = 1; k + 1 < rooms.length; k++) {
      west += rooms[k - 1]!.n;
      const [a, b, c] = [rooms[k - 1]!.lon, rooms[k]!.lon, rooms[k + 1]!.lon];
      if (west >= 20 && rooms[k]!.n === 1 && rooms[k - 1]!.n === 1 && b - a > 1e-5 && c - b > 1e-5) {
        const before = k >= 2 ? rooms[k - 2]!.lon : a - 1e-4;
        if (a - before <= 1e-5) continue;
        cuts = { base: (a + b) / 2, plusOne: (b + c) / 2, minusOne: (before + a) / 2, inBase: west };
        break;
      }
    }
    assert.ok(cuts, 'the demo city has such a room');
  });
  after(async () => {
    await t?.close();
  });

  it('a polygon, then the same polygon plus or minus one room: refused, logged, and nothing charged', async () => {
    const first = await ask(cuts.base);
    assert.equal(first.body.errors, undefined, first.raw.slice(0, 300));
    const a = first.body.data!.privateAggregate as Answer;
    assert.ok(a.epsilonCharged > 0);
    assert.ok(a.cells.some((c) => c.key === 'district:310101'));

    for (const lon of [cuts.plusOne, cuts.minusOne]) {
      const r = await ask(lon);
      assert.equal(errorCode(r), 'FORBIDDEN', r.raw.slice(0, 300));
      assert.equal(
        r.body.errors![0]!.message,
        'Together with an earlier release to your organisation, this answer would single out fewer than 10 records (differencing); nothing was released or charged.',
        'a fixed message: no count, no cell, no record',
      );
      assert.equal(r.body.data?.privateAggregate ?? null, null);
      const receipt = r.body.extensions?.receipts?.[0];
      assert.equal(receipt?.released, false);
      const rec = (await t.gw.log.get(receipt.index))!.record as { outcome: { refusal: string; rows: number } };
      assert.equal(rec.outcome.refusal, 'differencing');
      assert.equal(rec.outcome.rows, 0);
    }
    // Nothing was charged for the refusals; the first question again is its stored answer.
    const again = await ask(cuts.base);
    assert.equal(again.body.errors, undefined, again.raw.slice(0, 300));
    const b = again.body.data!.privateAggregate as Answer;
    assert.equal(b.cached, true);
    assert.equal(b.epsilonRemaining, a.epsilonRemaining);
    // A polygon far enough away (more than the minimum cell of difference) is a new question, answered.
    const far = await ask(cuts.base + 1);
    assert.equal(far.body.errors, undefined, far.raw.slice(0, 300));
  });

  it('the cells are in the organisation’s one history, with its aggregates and jobs; the owner is not audited', async () => {
    const rows = await t.gw.db.query<{ n: number }>(
      `select count(*)::int as n from job_release_history
        where org = 'planning-bureau' and population = 'residents-per-room' and release_id like 'private-aggregate:%'`,
    );
    assert.ok(rows[0]!.n >= 2, 'the first polygon and the far one');
    const owner = { token: await t.token('public-security', ['owner']) };
    assert.equal((await ask(cuts.base, owner)).body.errors, undefined);
    assert.equal((await ask(cuts.plusOne, owner)).body.errors, undefined);
  });
});
