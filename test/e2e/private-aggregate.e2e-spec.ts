/**
 * Differentially private aggregates end to end (docs/differential-privacy.md): the governed
 * `privateAggregate` query on the DP demo dataset (residents-per-room), as the public, a department with a
 * grant, and an auditor. Equivalent queries (conditions reordered, a polygon written from another vertex) are
 * answered from the stored answer without charging; 100 concurrent queries against a budget for 10 give
 * exactly 10 answers; every answer is logged with its epsilon before it is returned.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { errorCode, startTestGateway, type GqlResult, type TestGateway } from '../support/test-gateway.js';
import type { AccessRecord } from '../../src/ledger/provenance-record.js';

const DS = 'residents-per-room';
const Q = `query($ds: ID!, $m: DpMeasure!, $f: String, $g: HierarchyLevel!, $filter: PrivateFilterInput, $p: Purpose) {
  privateAggregate(datasetId: $ds, measure: $m, field: $f, groupBy: $g, filter: $filter, purpose: $p) {
    mechanism epsilon epsilonCharged cached epsilonRemaining queryKey receiptIndex cells { key label value }
  }
}`;

interface Answer {
  mechanism: string;
  epsilon: number;
  epsilonCharged: number;
  cached: boolean;
  epsilonRemaining: number;
  queryKey: string;
  receiptIndex: number;
  cells: { key: string; label: string | null; value: number }[];
}
const answerOf = (r: GqlResult) => (r.body.data?.privateAggregate ?? null) as Answer | null;

/** A square polygon ring (open), counter-clockwise from its south-west corner. */
const square = (lon: number, lat: number, size: number) => [
  [lon, lat],
  [lon + size, lat],
  [lon + size, lat + size],
  [lon, lat + size],
];

describe('privateAggregate: discrete DP with a durable budget', () => {
  let tg: TestGateway;
  let planner: string;
  let auditor: string;
  let owner: string;
  let city: { minLon: number; minLat: number; maxLon: number; maxLat: number };
  let district: string;

  before(async () => {
    tg = await startTestGateway({ rooms: 3000 });
    planner = await tg.token('planning-bureau', ['analyst']);
    auditor = await tg.token('data-bureau', ['auditor']);
    owner = await tg.token('public-security', ['owner']);
    const [bb] = await tg.gw.db.query<{ min_lon: number; min_lat: number; max_lon: number; max_lat: number }>(
      'select min(lon) as min_lon, min(lat) as min_lat, max(lon) as max_lon, max(lat) as max_lat from grains',
    );
    city = { minLon: bb!.min_lon, minLat: bb!.min_lat, maxLon: bb!.max_lon, maxLat: bb!.max_lat };
    district = 'district:310101';
  });
  after(() => tg?.close());

  it('an equivalent query (conditions reordered or rewritten, polygon from another vertex) is answered from the store free', async () => {
    const ring = square(
      city.minLon - 0.01,
      city.minLat - 0.01,
      Math.max(city.maxLon - city.minLon, city.maxLat - city.minLat) + 0.02,
    );
    const first = await tg.gql(
      Q,
      {
        ds: DS,
        m: 'COUNT',
        g: 'subdistrict',
        p: 'urban_planning',
        filter: {
          polygon: [ring],
          conditions: [
            { field: 'tenure', op: 'eq', value: 'rented' },
            { field: 'resident_count', op: 'gte', value: 2 },
          ],
        },
      },
      { token: owner },
    );
    const a = answerOf(first);
    assert.ok(a, JSON.stringify(first.body.errors));
    assert.equal(a.cached, false);
    assert.equal(a.epsilonCharged, 0.1);
    assert.equal(a.mechanism, 'laplace');
    assert.ok(Math.abs(a.epsilonRemaining - 0.9) < 1e-9);
    assert.ok(a.cells.length > 0);
    assert.ok(first.body.extensions?.receipts?.some((r) => r.index === a.receiptIndex && r.released));

    // The same question, written differently: conditions reversed and repeated, `in` for `eq`, `gt 1.5` for
    // `gte 2` on an integer field, the polygon closed, clockwise, starting from another vertex and with an extra
    // vertex on one edge.
    const mid = [(ring[2]![0]! + ring[1]![0]!) / 2, (ring[2]![1]! + ring[1]![1]!) / 2];
    const rewritten = [ring[2]!, mid, ring[1]!, ring[0]!, ring[3]!, ring[2]!];
    const again = await tg.gql(
      Q,
      {
        ds: DS,
        m: 'COUNT',
        g: 'subdistrict',
        p: 'urban_planning',
        filter: {
          polygon: [rewritten],
          conditions: [
            { field: 'resident_count', op: 'gte', value: 2 },
            { field: 'tenure', op: 'in', values: ['rented', 'rented'] },
            { field: 'resident_count', op: 'gt', value: 1.5 },
          ],
        },
      },
      { token: owner },
    );
    const b = answerOf(again);
    assert.ok(b, JSON.stringify(again.body.errors));
    assert.equal(b.cached, true);
    assert.equal(b.epsilonCharged, 0);
    assert.equal(b.queryKey, a.queryKey);
    assert.deepEqual(b.cells, a.cells, 'the stored noisy answer, not a fresh draw');
    assert.equal(b.epsilonRemaining, a.epsilonRemaining, 'nothing charged');

    // Both releases are on the provenance log, with what they charged.
    const r1 = (await tg.gw.log.get(a.receiptIndex))!.record as AccessRecord;
    const r2 = (await tg.gw.log.get(b.receiptIndex))!.record as AccessRecord;
    assert.equal(r1.outcome.released, true);
    assert.deepEqual(
      [r1.dp?.chargedMicro, r1.dp?.cached, r2.dp?.chargedMicro, r2.dp?.cached],
      [100_000, false, 0, true],
    );
    assert.equal(r1.dp?.queryKey, a.queryKey);
    assert.equal(r1.requester.org, 'public-security');

    // A different question is charged.
    const other = answerOf(
      await tg.gql(Q, { ds: DS, m: 'COUNT', g: 'subdistrict', p: 'urban_planning' }, { token: owner }),
    );
    assert.equal(other?.cached, false);
    assert.ok(Math.abs(other.epsilonRemaining - 0.8) < 1e-9);
  });

  it('counts are noised around the truth, and the polygon selects the grains inside it', async () => {
    const exact = await tg.gw.db.query<{ district_id: string; n: number }>(
      `select g.district_id, count(*)::int as n from ds_residents_per_room r join grains g on g.id = r.grain_id
       group by 1 order by 2 desc`,
    );
    const busiest = exact[0]!;
    const big = square(
      city.minLon - 0.01,
      city.minLat - 0.01,
      Math.max(city.maxLon - city.minLon, city.maxLat - city.minLat) + 0.02,
    );
    const ask = async (polygon: number[][]) =>
      answerOf(
        await tg.gql(
          Q,
          { ds: DS, m: 'COUNT', g: 'district', filter: { unitIds: [busiest.district_id], polygon: [polygon] } },
          { token: owner },
        ),
      )!;
    const whole = await ask(big);
    const outside = await ask(square(city.maxLon + 1, city.maxLat + 1, 0.05));
    assert.deepEqual(
      [whole.cells.map((c) => c.key), outside.cells.map((c) => c.key)],
      [[busiest.district_id], [busiest.district_id]],
      'one cell, listed whether or not it has records',
    );
    // The noise (scale 10) has standard deviation 10·√2; eight of them is the slack.
    const slack = 8 * 10 * Math.SQRT2;
    assert.ok(busiest.n > 2 * slack, `the test can tell a district from nothing (${busiest.n} records)`);
    assert.ok(Math.abs(whole.cells[0]!.value - busiest.n) < slack, `inside: ${whole.cells[0]!.value} vs ${busiest.n}`);
    assert.ok(Math.abs(outside.cells[0]!.value) < slack, `outside the city: ${outside.cells[0]!.value}`);
    // Across many cells, noise shows: not every cell comes back as its true value.
    const all = answerOf(
      await tg.gql(Q, { ds: DS, m: 'COUNT', g: 'district', filter: { polygon: [big] } }, { token: owner }),
    )!;
    const trueOf = new Map(exact.map((e) => [e.district_id, e.n]));
    const unchanged = all.cells.filter((c) => c.value === (trueOf.get(c.key) ?? 0)).length;
    assert.ok(
      all.cells.length >= 10 && unchanged < all.cells.length / 2,
      `${unchanged} of ${all.cells.length} cells unnoised`,
    );
  });

  it('a grant-holder is answered within the grant, on its own budget', async () => {
    const r = await tg.gql(Q, { ds: DS, m: 'COUNT', g: 'subdistrict', p: 'urban_planning' }, { token: planner });
    const a = answerOf(r);
    assert.ok(a, JSON.stringify(r.body.errors));
    assert.ok(Math.abs(a.epsilonRemaining - 0.9) < 1e-9, 'a fresh budget for planning-bureau');
    const rec = (await tg.gw.log.get(a.receiptIndex))!.record as AccessRecord;
    assert.deepEqual(rec.decision.extent, ['district:310101']);
    // Without the grant's purpose there is no grant to rely on: it is answered as the public is (docs/policy.md §5),
    // from the published DP release, with no extent and nothing charged to its budget.
    const noPurpose = answerOf(await tg.gql(Q, { ds: DS, m: 'COUNT', g: 'subdistrict' }, { token: planner }));
    const anonymous = answerOf(await tg.gql(Q, { ds: DS, m: 'COUNT', g: 'subdistrict' }));
    assert.ok(noPurpose && anonymous);
    assert.deepEqual(noPurpose.cells, anonymous.cells);
    assert.equal(noPurpose.epsilonCharged, 0);
    const asPublic = (await tg.gw.log.get(noPurpose.receiptIndex))!.record as AccessRecord;
    assert.equal(asPublic.decision.tier, 'public');
    assert.equal(asPublic.decision.extent, null);
    assert.ok(asPublic.decision.reasons.includes('outside-grant:department'));
    assert.equal(asPublic.requester.org, 'planning-bureau');
  });

  it('100 concurrent queries with a budget for 9 more give exactly 9 answers', async () => {
    // The planning bureau has spent one answer of ten; a hundred different polygons are a hundred questions.
    const ask = (i: number) =>
      tg.gql(
        Q,
        {
          ds: DS,
          m: 'COUNT',
          g: 'district',
          p: 'urban_planning',
          filter: { polygon: [square(city.minLon + i * 0.0001, city.minLat, 0.05)] },
        },
        { token: planner },
      );
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => ask(i)));
    const answered = results.filter((r) => answerOf(r) !== null);
    const refused = results.filter((r) => errorCode(r) === 'LIMIT_EXCEEDED');
    assert.equal(answered.length, 9);
    assert.equal(refused.length, 91);
    assert.ok(answered.every((r) => answerOf(r)!.cached === false));
    assert.match(refused[0]!.body.errors![0]!.message, /privacy budget/);
    // Refusals are logged too, and carry no values.
    const receipt = refused[0]!.body.extensions?.receipts?.[0];
    assert.equal(receipt?.released, false);
    const rec = (await tg.gw.log.get(receipt.index))!.record as AccessRecord;
    assert.equal(rec.outcome.refusal, 'LIMIT_EXCEEDED');
    assert.equal(rec.outcome.rows, 0);
    // An answered query asked again is still answered, from the store.
    const firstPolygon = await ask(0);
    const repeatable = answered.some((r) => answerOf(r)!.queryKey === answerOf(firstPolygon)?.queryKey);
    if (repeatable) assert.equal(answerOf(firstPolygon)!.cached, true);
    else assert.equal(errorCode(firstPolygon), 'LIMIT_EXCEEDED');
    // Another organisation's budget is its own.
    const mine = await tg.gql(Q, { ds: DS, m: 'COUNT', g: 'district' }, { token: owner });
    assert.ok(answerOf(mine), JSON.stringify(mine.body.errors));
  });

  it('the public gets the published DP release: one noisy answer for everyone, charged once, and aggregate agrees', async () => {
    const AGG = `query($g: HierarchyLevel!, $w: ID) { aggregate(dataset: "${DS}", groupBy: { level: $g }, within: $w, measures: [{ fn: count }, { fn: sum, field: "resident_count" }]) { minCell cells { key count suppressed values { value } } } }`;
    const exact = new Map(
      (
        await tg.gw.db.query<{ k: string; n: number }>(
          `select g.subdistrict_id as k, count(*)::int as n from ds_residents_per_room r join grains g on g.id = r.grain_id group by 1`,
        )
      ).map((r) => [r.k, r.n]),
    );
    const a = answerOf(await tg.gql(Q, { ds: DS, m: 'COUNT', g: 'subdistrict' }));
    const b = answerOf(await tg.gql(Q, { ds: DS, m: 'COUNT', g: 'subdistrict' }, { remoteAddress: '10.9.8.7' }));
    assert.ok(a && b);
    assert.deepEqual(b.cells, a.cells, 'every public caller gets the same stored noise');
    assert.equal(a.epsilonCharged, 0);
    assert.ok(a.cells.length > 10);
    // Noised: not the exact counts (a few cells may match by chance, not most of them).
    const same = a.cells.filter((c) => c.value === (exact.get(c.key) ?? 0)).length;
    assert.ok(same < a.cells.length / 2, `${same} of ${a.cells.length} cells are exact`);
    // aggregate, for the public, serves the same release: counts equal privateAggregate's cells, nothing suppressed.
    const agg = await tg.gql(AGG, { g: 'subdistrict' });
    assert.equal(agg.body.errors, undefined, agg.raw.slice(0, 300));
    const cells = (agg.body.data!.aggregate as { cells: { key: string; count: number; suppressed: boolean }[] }).cells;
    assert.deepEqual(
      cells.map((c) => [c.key, c.count]),
      a.cells.map((c) => [c.key, Math.max(0, c.value)]),
    );
    assert.ok(cells.every((c) => !c.suppressed));
    // One charge, the public budget's whole epsilon, for the release; a hundred more public questions cost nothing.
    for (let i = 0; i < 20; i++) {
      await tg.gql(
        Q,
        { ds: DS, m: i % 2 ? 'COUNT' : 'SUM', f: i % 2 ? null : 'resident_count', g: 'community' },
        { remoteAddress: `10.0.0.${i}` },
      );
    }
    const [budget] = await tg.gw.db.query<{ spent_micro: number; total_micro: number }>(
      `select spent_micro, total_micro from dp_budgets where org_id = 'public' and dataset_id = $1`,
      [DS],
    );
    assert.deepEqual([Number(budget!.spent_micro), Number(budget!.total_micro)], [1_000_000, 1_000_000]);
    // What the release does not hold is refused, not computed: polygons and conditions.
    const polygon = await tg.gql(Q, {
      ds: DS,
      m: 'COUNT',
      g: 'district',
      filter: { polygon: [square(city.minLon, city.minLat, 0.05)] },
    });
    assert.equal(errorCode(polygon), 'BAD_USER_INPUT');
    // Exact aggregates of a DP dataset are the owner's only: a grant-holder is sent to privateAggregate.
    const granted = await tg.gql(
      `{ aggregate(dataset: "${DS}", groupBy: { level: district }, measures: [{ fn: count }], purpose: urban_planning) { cells { count } } }`,
      {},
      { token: planner },
    );
    assert.equal(errorCode(granted), 'FORBIDDEN', granted.raw.slice(0, 300));
    assert.match(granted.body.errors![0]!.message, /privateAggregate/);
    assert.equal(granted.body.extensions?.receipts?.[0]?.released, false, 'the refusal is on the record');
    const mine = await tg.gql(AGG, { g: 'subdistrict' }, { token: owner });
    const exactCells = (mine.body.data!.aggregate as { cells: { key: string; count: number | null }[] }).cells;
    for (const c of exactCells) if (c.count !== null) assert.equal(c.count, exact.get(c.key) ?? 0);
  });

  it('sums need a declared bound; bad requests and other roles are refused with stable codes', async () => {
    const sum = await tg.gql(
      Q,
      { ds: DS, m: 'SUM', f: 'resident_count', g: 'district', filter: { unitIds: [district] } },
      { token: owner },
    );
    assert.ok(answerOf(sum), JSON.stringify(sum.body.errors));
    assert.equal(
      errorCode(await tg.gql(Q, { ds: DS, m: 'SUM', f: 'tenure', g: 'district' }, { token: owner })),
      'BAD_USER_INPUT',
    );
    assert.equal(errorCode(await tg.gql(Q, { ds: DS, m: 'SUM', g: 'district' }, { token: owner })), 'BAD_USER_INPUT');
    assert.equal(
      errorCode(await tg.gql(Q, { ds: 'building-energy', m: 'COUNT', g: 'district' }, { token: owner })),
      'BAD_USER_INPUT',
    );
    assert.equal(
      errorCode(await tg.gql(Q, { ds: 'no-such', m: 'COUNT', g: 'district' }, { token: owner })),
      'BAD_USER_INPUT',
    );
    const degenerate = {
      polygon: [
        [
          [121, 31],
          [121.1, 31.1],
          [121.2, 31.2],
        ],
      ],
    };
    assert.equal(
      errorCode(await tg.gql(Q, { ds: DS, m: 'COUNT', g: 'district', filter: degenerate }, { token: owner })),
      'BAD_USER_INPUT',
    );
    const audit = await tg.gql(Q, { ds: DS, m: 'COUNT', g: 'district' }, { token: auditor });
    assert.equal(errorCode(audit), 'FORBIDDEN');
    assert.equal(audit.body.data?.privateAggregate ?? null, null);
    // The public goes no finer than communities, DP or not.
    assert.equal(errorCode(await tg.gql(Q, { ds: DS, m: 'COUNT', g: 'building' })), 'FORBIDDEN');
  });
});
