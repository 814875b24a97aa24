/**
 * Over-refusals (issue 13, point 8): what the rules allow must not be refused. An owner reads every field of
 * its own dataset, core ones included; anonymous and API-key callers fetch the receipt bundles of their own
 * requests, which the README promises every requester; and a receipt's token opens that one bundle only.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NO_RATE_LIMITS, errorCode, startTestGateway, type TestGateway } from '../support/test-gateway.js';

const BUNDLE = 'query($i: Int!, $t: String) { receiptBundle(index: $i, token: $t) }';
const LICENCES = '{ records(dataset: "business-licences", fields: ["industry"], first: 2) { items { id } } }';

describe('over-refusals: owners and requesters get what the rules allow', () => {
  let tg: TestGateway;

  before(async () => {
    tg = await startTestGateway({ rooms: 400, env: { CITYGATE_RATE_LIMITS: NO_RATE_LIMITS } });
  });
  after(async () => {
    await tg?.close();
  });

  it('an owner reads the core fields of its own dataset raw; no one else does', async () => {
    const q = `{ records(dataset: "critical-water-network", fields: ["pressure_mpa", "valve_control_code"], first: 2) {
      items { id values { field value masked } } } }`;
    const owner = await tg.token('water-authority', ['owner']);
    const r = await tg.gql(q, {}, { token: owner });
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    type Item = { values: { field: string; value: unknown; masked: string | null }[] };
    const items = (r.body.data?.records as { items: Item[] }).items;
    assert.ok(items.length > 0);
    for (const it of items) {
      const v = Object.fromEntries(it.values.map((x) => [x.field, x]));
      assert.equal(typeof v.pressure_mpa?.value, 'number', 'the value itself, unmasked');
      assert.equal(typeof v.valve_control_code?.value, 'string');
      assert.equal(v.valve_control_code?.masked, null);
    }
    // Another department's owner, an analyst of another department and the public stay refused.
    for (const token of [
      await tg.token('housing-construction', ['owner']),
      await tg.token('planning-bureau', ['analyst']),
      undefined,
    ]) {
      const refused = await tg.gql(q, {}, token ? { token } : {});
      assert.equal(errorCode(refused), 'FORBIDDEN');
    }
  });

  it('an anonymous caller opens its own receipt bundle with the receipt token, and nothing else with it', async () => {
    const first = await tg.gql(LICENCES);
    assert.equal(first.body.errors, undefined, JSON.stringify(first.body.errors));
    const receipt = first.body.extensions?.receipts?.[0];
    assert.ok(receipt?.token, 'every receipt carries its token');
    // Without the token: the bundle is not the anonymous caller's to read (anyone is "anonymous").
    assert.equal(errorCode(await tg.gql(BUNDLE, { i: receipt.index })), 'FORBIDDEN');
    const bundle = await tg.gql(BUNDLE, { i: receipt.index, t: receipt.token });
    assert.equal(bundle.body.errors, undefined, JSON.stringify(bundle.body.errors));
    const parsed = JSON.parse(bundle.body.data?.receiptBundle as string) as {
      receipt: { index: number; leafHash: string };
      record: { requester: { sub: string } };
    };
    assert.deepEqual(parsed.receipt, { index: receipt.index, leafHash: receipt.leafHash });
    assert.equal(parsed.record.requester.sub, 'anonymous');

    // Someone else's record: neither this token nor a made-up one opens it, and the answer is the same as for
    // an index that does not exist.
    const other = await tg.gql(LICENCES, {}, { token: await tg.token('planning-bureau', ['analyst']) });
    const theirs = other.body.extensions!.receipts![0]!;
    const answers = new Set<string>();
    for (const [i, t] of [
      [theirs.index, receipt.token],
      [theirs.index, theirs.token!.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'))],
      [theirs.index, theirs.leafHash],
      [10_000_000, receipt.token],
    ] as const) {
      const res = await tg.gql(BUNDLE, { i, t });
      assert.equal(errorCode(res), 'FORBIDDEN', `${i} ${t}`);
      answers.add(res.body.errors![0]!.message);
    }
    assert.equal(answers.size, 1, 'one answer for absent and not yours');
    // Their own token works for them, anonymously too (the token is the capability).
    const ok = await tg.gql(BUNDLE, { i: theirs.index, t: theirs.token });
    assert.equal(ok.body.errors, undefined);
  });

  it('an API-key consumer fetches its own receipt bundles by its key, not another consumer’s', async () => {
    const register = async (name: string) => {
      const r = await tg.gql(
        `mutation($n: String!) { registerConsumer(name: $n, email: "dev@example.org", intendedUse: "a bike map") { apiKey } }`,
        { n: name },
      );
      assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
      return (r.body.data?.registerConsumer as { apiKey: string }).apiKey;
    };
    const mine = await register('Bike map');
    const stranger = await register('Another map');
    const used = await tg.gql(LICENCES, {}, { apiKey: mine });
    const receipt = used.body.extensions!.receipts![0]!;
    const own = await tg.gql(BUNDLE, { i: receipt.index }, { apiKey: mine });
    assert.equal(own.body.errors, undefined, JSON.stringify(own.body.errors));
    assert.match(own.body.data?.receiptBundle as string, /"via":"api-key"/);
    assert.equal(errorCode(await tg.gql(BUNDLE, { i: receipt.index }, { apiKey: stranger })), 'FORBIDDEN');
  });
});

type AggAnswer = {
  minCell: number;
  cells: { key: string; count: number | null; suppressed: boolean }[];
  total: { count: number | null; suppressed: boolean };
};

describe('over-refusals: a department without a grant gets the public aggregates, and nothing more', () => {
  let tg: TestGateway;
  let transport: string;
  let planning: string;
  let community: string;
  let building: string;

  /** The answer as data, or the error code: what a caller can tell apart. */
  const answer = async (q: string, token?: string): Promise<string> => {
    const r = await tg.gql(q, {}, token ? { token } : {});
    if (r.body.errors) return `error:${errorCode(r)}`;
    return JSON.stringify(r.body.data);
  };

  before(async () => {
    tg = await startTestGateway({ rooms: 3000, env: { CITYGATE_RATE_LIMITS: NO_RATE_LIMITS } });
    transport = await tg.token('transport', ['analyst']);
    planning = await tg.token('planning-bureau', ['analyst'], { sub: 'li.planner' });
    const c = await tg.gw.db.query<{ community: string; building: string }>(
      `select community_id as community, building_id as building from grains where kind = 'room' order by id limit 1`,
    );
    community = c[0]!.community;
    building = c[0]!.building;
  });
  after(async () => {
    await tg?.close();
  });

  it('is served the public answer of a conditional dataset, with the public obligations and its own name on the record', async () => {
    const q = `{ aggregate(dataset: "building-energy", groupBy: { level: district }, measures: [{ fn: count }, { fn: sum, field: "electricity_kwh" }]) {
      minCell cells { key count suppressed values { measure value } } total { count suppressed } } }`;
    const pub = await tg.gql(q);
    assert.equal(pub.body.errors, undefined, JSON.stringify(pub.body.errors));
    const dept = await tg.gql(q, {}, { token: transport });
    assert.equal(dept.body.errors, undefined, JSON.stringify(dept.body.errors));
    assert.deepEqual(dept.body.data, pub.body.data, 'exactly what the public gets');
    assert.equal((dept.body.data!.aggregate as AggAnswer).minCell, 10);

    const receipt = dept.body.extensions!.receipts![0]!;
    const bundle = await tg.gql(BUNDLE, { i: receipt.index, t: receipt.token }, { token: transport });
    assert.equal(bundle.body.errors, undefined, JSON.stringify(bundle.body.errors));
    const record = JSON.parse(bundle.body.data!.receiptBundle as string).record as {
      requester: { org: string };
      decision: { tier: string; reasons: string[]; minCell: number; geometry: string; grantId: string | null };
    };
    assert.equal(record.requester.org, 'transport', 'the record says who asked');
    assert.equal(record.decision.tier, 'public');
    assert.ok(record.decision.reasons.includes('outside-grant:department'), JSON.stringify(record.decision));
    assert.equal(record.decision.geometry, 'generalise');
    assert.equal(record.decision.grantId, null);
  });

  it('gets no more than the public, however it asks: every variant is answered or refused exactly as the public is', async () => {
    const m = '[{ fn: count }, { fn: sum, field: "electricity_kwh" }]';
    const variants = [
      // finer levels, arbitrary regions, filters, field groupings, extremes, H3 9: the public's refusals
      `{ aggregate(dataset: "building-energy", groupBy: { level: building }, within: "${community}", measures: ${m}) { cells { key count } } }`,
      `{ aggregate(dataset: "building-energy", groupBy: { level: community }, within: "${building}", measures: ${m}) { cells { key count } } }`,
      `{ aggregate(dataset: "building-energy", groupBy: { level: district }, bbox: { minLon: 121.4, minLat: 31.2, maxLon: 121.5, maxLat: 31.3 }, measures: ${m}) { cells { key count } } }`,
      `{ aggregate(dataset: "building-energy", groupBy: { level: district }, filter: [{ field: "month", op: eq, value: "2026-01" }], measures: ${m}) { cells { key count } } }`,
      `{ aggregate(dataset: "building-energy", groupBy: { field: "meter_id" }, measures: [{ fn: count }]) { cells { key count } } }`,
      `{ aggregate(dataset: "building-energy", groupBy: { level: district }, measures: [{ fn: max, field: "electricity_kwh" }]) { cells { key values { measure value } } } }`,
      `{ aggregate(dataset: "building-energy", groupBy: { h3Resolution: 9 }, measures: [{ fn: count }]) { cells { key count } } }`,
      `{ aggregate(dataset: "building-energy", groupBy: { h3Resolution: 8 }, measures: ${m}) { cells { key count suppressed values { measure value } } } }`,
      `{ aggregate(dataset: "building-energy", groupBy: { level: community }, within: "${community.replace(/^community:/, 'community:')}", measures: ${m}) { cells { key count suppressed values { measure value } } total { count suppressed } } }`,
      // a purpose does not turn a missing grant into one
      `{ aggregate(dataset: "building-energy", purpose: urban_planning, groupBy: { level: subdistrict }, measures: ${m}) { minCell cells { key count suppressed values { measure value } } } }`,
      // records, a closed dataset, a closed field and the DP dataset
      `{ records(dataset: "building-energy", fields: ["month"], first: 5) { items { id } } }`,
      `{ aggregate(dataset: "elderly-living-alone", groupBy: { level: district }, measures: [{ fn: count }]) { cells { key count } } }`,
      `{ aggregate(dataset: "residents-per-room", groupBy: { level: district }, measures: [{ fn: count }]) { cells { key count } } }`,
    ];
    const served = { pub: 0, refused: 0 };
    for (const q of variants) {
      const pub = await answer(q);
      assert.equal(await answer(q, transport), pub, q);
      if (pub.startsWith('error:')) served.refused += 1;
      else served.pub += 1;
    }
    assert.ok(served.pub >= 3 && served.refused >= 6, JSON.stringify(served));
  });

  it('a department that holds a grant but asks for another purpose is answered as the public, and flagged', async () => {
    const q = `{ aggregate(dataset: "building-energy", purpose: research, groupBy: { level: district }, measures: [{ fn: count }]) { minCell total { count } } }`;
    const r = await tg.gql(q, {}, { token: planning });
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    assert.equal(await answer(q, planning), await answer(q), 'the public answer, not its grant’s');
    const auditor = await tg.token('data-bureau', ['auditor']);
    const flags = await tg.gql(
      '{ auditFlags(burstPerMinute: 1000, refusals: 1000) { kind sub dataset } }',
      {},
      {
        token: auditor,
      },
    );
    assert.equal(flags.body.errors, undefined, JSON.stringify(flags.body.errors));
    const mine = (flags.body.data!.auditFlags as { kind: string; sub: string; dataset: string }[]).filter(
      (f) => f.sub === 'li.planner',
    );
    assert.ok(
      mine.some((f) => f.kind === 'outside-grant-purpose' && f.dataset === 'building-energy'),
      JSON.stringify(mine),
    );
  });

  it('with its grant it still gets its own, finer answer, which the public does not', async () => {
    const inside = await tg.gw.db.query<{ community: string; n: number }>(
      `select g.community_id as community, count(*)::int as n from ds_building_energy r join grains g on g.id = r.grain_id
        where g.district_id = 'district:310101' group by 1 order by 2 desc, 1 limit 1`,
    );
    const q = `{ aggregate(dataset: "building-energy", purpose: urban_planning, groupBy: { level: building }, within: "${inside[0]!.community}", measures: [{ fn: count }]) { minCell cells { key count } total { count } } }`;
    const r = await tg.gql(q, {}, { token: planning });
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    const a = r.body.data!.aggregate as AggAnswer;
    assert.equal(a.minCell, 1, 'its grant’s cells, not the public’s');
    assert.equal(a.total.count, inside[0]!.n);
    assert.ok(a.cells.some((c) => (c.count ?? 0) > 0));
    assert.equal(errorCode(await tg.gql(q)), 'FORBIDDEN');
    assert.equal(errorCode(await tg.gql(q, {}, { token: transport })), 'FORBIDDEN');
  });
});

describe('over-refusals: the public gets building-level aggregates of fully open, non-personal datasets only', () => {
  let tg: TestGateway;
  let community: string;
  let roomBuilding: string;
  let roomCommunity: string;

  const agg = (dataset: string, args: string, measures = '[{ fn: count }]') =>
    `{ aggregate(dataset: "${dataset}", ${args}, measures: ${measures}) { minCell cells { key count suppressed } total { count suppressed } } }`;

  before(async () => {
    tg = await startTestGateway({ rooms: 3000, env: { CITYGATE_RATE_LIMITS: NO_RATE_LIMITS } });
    // A community that holds public facilities.
    const c = await tg.gw.db.query<{ community: string }>(
      `select g.community_id as community from ds_public_facilities r join grains g on g.id = r.grain_id
        where g.community_id is not null group by g.community_id order by count(*) desc, g.community_id limit 1`,
    );
    community = c[0]!.community;
    // A building holding a business licence (a personal field) and a room of the residents.
    const b = await tg.gw.db.query<{ building: string; community: string }>(
      `select g.building_id as building, g.community_id as community from ds_business_licences r
        join grains g on g.id = r.grain_id order by r.id limit 1`,
    );
    roomBuilding = b[0]!.building;
    roomCommunity = b[0]!.community;
  });
  after(async () => {
    await tg?.close();
  });

  it('road-condition and public-facilities are answered by building, with cells of 1', async () => {
    for (const ds of ['road-condition', 'public-facilities']) {
      const r = await tg.gql(agg(ds, `groupBy: { level: building }, within: "${community}"`));
      assert.equal(r.body.errors, undefined, `${ds}: ${JSON.stringify(r.body.errors)}`);
      const a = r.body.data!.aggregate as AggAnswer;
      assert.equal(a.minCell, 1);
      assert.ok(a.cells.length > 0);
      assert.ok(
        a.cells.every((c) => !c.suppressed && c.count !== null),
        'nothing to suppress at a minimum cell of 1',
      );
      const table = ds === 'road-condition' ? 'ds_road_condition' : 'ds_public_facilities';
      const truth = await tg.gw.db.query<{ n: number }>(
        `select count(*)::int as n from ${table} r join grains g on g.id = r.grain_id where g.community_id = $1`,
        [community],
      );
      assert.equal(a.total.count, truth[0]!.n, `${ds}: the exact count of the community`);
    }
    // And the count per community matches the data (answered live, exactly).
    const r = await tg.gql(agg('public-facilities', `groupBy: { level: community }, within: "${community}"`));
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    const truth = await tg.gw.db.query<{ n: number }>(
      `select count(*)::int as n from ds_public_facilities r join grains g on g.id = r.grain_id where g.community_id = $1`,
      [community],
    );
    assert.equal((r.body.data!.aggregate as AggAnswer).total.count, truth[0]!.n);
  });

  it('building level stays refused wherever the public minimum cell is above 1', async () => {
    for (const [ds, measures] of [
      ['business-licences', '[{ fn: count }]'], // open, but with a personal field
      ['hotline-complaints', '[{ fn: count }]'], // open fields and conditional personal ones
      ['drain-condition', '[{ fn: count }]'], // conditional fields
      ['building-energy', '[{ fn: count }]'], // conditional dataset
      ['residents-per-room', '[{ fn: count }]'], // personal, DP
      ['elderly-living-alone', '[{ fn: count }]'], // closed
    ] as const) {
      const r = await tg.gql(agg(ds, `groupBy: { level: building }, within: "${roomCommunity}"`, measures));
      assert.ok(['FORBIDDEN', 'BAD_USER_INPUT'].includes(errorCode(r) ?? ''), `${ds}: ${r.raw.slice(0, 200)}`);
      assert.equal(r.body.data?.aggregate ?? null, null);
    }
    // Asking only for an open, non-personal field of a dataset with a personal one does not lower the cell.
    const r = await tg.gql(
      agg(
        'business-licences',
        `groupBy: { level: building }, within: "${roomCommunity}"`,
        '[{ fn: sum, field: "registered_capital" }]',
      ),
    );
    assert.equal(errorCode(r), 'FORBIDDEN');
    // Nor does naming a building: a level the release does not hold is refused.
    const w = await tg.gql(agg('business-licences', `groupBy: { level: community }, within: "${roomBuilding}"`));
    assert.ok(['FORBIDDEN', 'BAD_USER_INPUT'].includes(errorCode(w) ?? ''), w.raw.slice(0, 200));
    // And the catalogue preview says so.
    const preview = await tg.gql('{ datasets { id access { minCell aggregates } } }');
    assert.equal(preview.body.errors, undefined, JSON.stringify(preview.body.errors));
    const minCells = Object.fromEntries(
      (preview.body.data!.datasets as { id: string; access: { minCell: number } }[]).map((d) => [
        d.id,
        d.access.minCell,
      ]),
    );
    assert.equal(minCells['road-condition'], 1);
    assert.equal(minCells['public-facilities'], 1);
    assert.equal(minCells['business-licences'], 10);
    assert.equal(minCells['building-energy'], 10);
  });

  it('an arbitrary region (a tiny bbox) is not answered, and records stay generalised', async () => {
    const e = 1e-6;
    const p = await tg.gw.db.query<{ lon: number; lat: number }>(
      `select g.lon, g.lat from ds_public_facilities r join grains g on g.id = r.grain_id order by r.id limit 1`,
    );
    const { lon, lat } = p[0]!;
    const tiny = await tg.gql(
      agg(
        'public-facilities',
        `groupBy: { level: district }, bbox: { minLon: ${lon - e}, minLat: ${lat - e}, maxLon: ${lon + e}, maxLat: ${lat + e} }`,
      ),
    );
    assert.equal(errorCode(tiny), 'BAD_USER_INPUT');
    const recs = await tg.gql(
      '{ records(dataset: "public-facilities", fields: ["name"], first: 3) { geometry items { grainId cell } } }',
    );
    assert.equal(recs.body.errors, undefined, JSON.stringify(recs.body.errors));
    const page = recs.body.data!.records as {
      geometry: string;
      items: { grainId: string | null; cell: string | null }[];
    };
    assert.equal(page.geometry, 'generalise');
    assert.ok(page.items.every((i) => i.grainId === null && i.cell !== null));
  });
});
