import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { errorCode, startTestGateway, type TestGateway } from '../support/test-gateway.js';

const RECORDS = `query($ds: ID!, $fields: [String!]!, $within: ID) {
  records(dataset: $ds, fields: $fields, purpose: urban_planning, within: $within, first: 5) { items { grainId } }
}`;
const USAGE = `query($ds: ID, $f: TrailFilterInput, $first: Int, $offset: Int) {
  datasetUsage(dataset: $ds, filter: $f, first: $first, offset: $offset) {
    index kind at sub org purpose dataset mode fields tier released refusal grantId rows
  }
}`;

interface Use {
  index: number;
  kind: string;
  sub: string;
  org: string | null;
  purpose: string | null;
  dataset: string;
  fields: string[];
  released: boolean;
  refusal: string | null;
  grantId: string | null;
}

describe('the owner’s view: usage of its datasets and their review rule', () => {
  let t: TestGateway;
  let owner: string;
  let auditor: string;
  let planner: string;
  let ownOrgAnalyst: string;
  let otherOwner: string;
  before(async () => {
    t = await startTestGateway({ rooms: 1500 });
    owner = await t.token('public-security', ['owner'], { sub: 'li.owner' });
    auditor = await t.token('data-bureau', ['auditor']);
    planner = await t.token('planning-bureau', ['analyst'], { sub: 'zhou.planner' });
    ownOrgAnalyst = await t.token('public-security', ['analyst'], { sub: 'ma.analyst' });
    otherOwner = await t.token('civil-affairs', ['owner'], { sub: 'sun.owner' });
  });
  after(async () => {
    await t?.close();
  });

  it('an owner sees who in another department used its dataset, released and refused, and nothing else', async () => {
    // Another department under its grant (resident_count in district 310101), then beyond it (household_head).
    const granted = await t.gql(
      RECORDS,
      { ds: 'residents-per-room', fields: ['resident_count'], within: 'district:310101' },
      { token: planner },
    );
    assert.equal(granted.body.errors, undefined, granted.raw.slice(0, 300));
    const beyond = await t.gql(RECORDS, { ds: 'residents-per-room', fields: ['household_head'] }, { token: planner });
    assert.equal(errorCode(beyond), 'FORBIDDEN');
    // Requests to another organisation's dataset must not show up.
    await t.gql(RECORDS, { ds: 'elderly-living-alone', fields: ['elder_count'] }, { token: planner });

    const r = await t.gql(USAGE, { ds: 'residents-per-room' }, { token: owner });
    assert.equal(r.body.errors, undefined, r.raw.slice(0, 300));
    const uses = r.body.data!.datasetUsage as Use[];
    const planners = uses.filter((u) => u.sub === 'zhou.planner');
    assert.equal(planners.length, 2);
    const [refused, released] = planners; // newest first
    assert.equal(refused!.released, false);
    assert.equal(refused!.refusal, 'FORBIDDEN');
    assert.deepEqual(refused!.fields, ['household_head']);
    assert.equal(released!.released, true);
    assert.equal(released!.org, 'planning-bureau');
    assert.equal(released!.purpose, 'urban-planning');
    assert.equal(released!.grantId, 'grant-planning-residents');
    assert.ok(refused!.index > released!.index);
    assert.ok(!/"value"/.test(r.raw), 'usage carries no data values');

    // Without a dataset: all the organisation's datasets, never another's; only requests for data by default.
    const all = (await t.gql(USAGE, {}, { token: owner })).body.data!.datasetUsage as Use[];
    assert.ok(all.some((u) => u.index === refused!.index));
    assert.ok(all.every((u) => u.dataset === 'residents-per-room' && u.kind === 'access'));

    // Filter and paging as on the auditors' trail.
    const onlyRefused = (await t.gql(USAGE, { f: { released: false, sub: 'zhou.planner' } }, { token: owner })).body
      .data!.datasetUsage as Use[];
    assert.deepEqual(
      onlyRefused.map((u) => u.index),
      [refused!.index],
    );
    const second = (await t.gql(USAGE, { f: { sub: 'zhou.planner' }, first: 1, offset: 1 }, { token: owner })).body
      .data!.datasetUsage as Use[];
    assert.deepEqual(
      second.map((u) => u.index),
      [released!.index],
    );
  });

  it('another organisation’s dataset looks exactly like one that does not exist', async () => {
    const theirs = await t.gql(USAGE, { ds: 'elderly-living-alone' }, { token: owner });
    const none = await t.gql(USAGE, { ds: 'no-such-dataset' }, { token: owner });
    assert.equal(errorCode(theirs), 'FORBIDDEN');
    assert.equal(errorCode(none), 'FORBIDDEN');
    assert.equal(theirs.body.errors![0]!.message, none.body.errors![0]!.message);
    // Naming it in the filter instead does not get round the check.
    assert.equal(
      errorCode(await t.gql(USAGE, { f: { dataset: 'elderly-living-alone' } }, { token: owner })),
      'FORBIDDEN',
    );
    // The other organisation's owner sees its own dataset's use, not this one's.
    const other = (await t.gql(USAGE, {}, { token: otherOwner })).body.data!.datasetUsage as Use[];
    assert.ok(other.some((u) => u.dataset === 'elderly-living-alone' && u.sub === 'zhou.planner'));
    assert.ok(other.every((u) => u.dataset === 'elderly-living-alone'));
  });

  it('auditors may read any dataset’s usage; the public and analysts are refused', async () => {
    const a = await t.gql(USAGE, { ds: 'residents-per-room' }, { token: auditor });
    assert.ok((a.body.data!.datasetUsage as Use[]).some((u) => u.sub === 'zhou.planner'));
    assert.equal(errorCode(await t.gql(USAGE, { ds: 'no-such-dataset' }, { token: auditor })), 'NOT_FOUND');
    assert.equal(errorCode(await t.gql(USAGE, { ds: 'residents-per-room' })), 'FORBIDDEN');
    assert.equal(errorCode(await t.gql(USAGE, {})), 'FORBIDDEN');
    assert.equal(errorCode(await t.gql(USAGE, { ds: 'residents-per-room' }, { token: planner })), 'FORBIDDEN');
    // An analyst of the owning department is not an owner.
    assert.equal(errorCode(await t.gql(USAGE, { ds: 'residents-per-room' }, { token: ownOrgAnalyst })), 'FORBIDDEN');
    assert.equal(errorCode(await t.gql(USAGE, { first: 501 }, { token: owner })), 'LIMIT_EXCEEDED');
  });

  it('every caller who sees a dataset sees whether its sandbox releases require review', async () => {
    const ONE = '{ dataset(id: "residents-per-room") { jobReviewRequired } }';
    const ALL = '{ datasets { id jobReviewRequired } }';
    const SET = 'mutation($r: Boolean!) { setJobReviewRequired(datasetId: "residents-per-room", required: $r) }';
    const flag = async (token?: string) =>
      (
        (await t.gql(ONE, {}, token ? { token } : {})).body.data!.dataset as {
          jobReviewRequired: boolean;
        }
      ).jobReviewRequired;
    assert.equal(await flag(), false);
    assert.equal((await t.gql(SET, { r: true }, { token: owner })).body.data!.setJobReviewRequired, true);
    assert.equal(await flag(), true);
    assert.equal(await flag(planner), true);
    assert.equal(await flag(owner), true);
    const list = (await t.gql(ALL, {}, { token: planner })).body.data!.datasets as {
      id: string;
      jobReviewRequired: boolean;
    }[];
    assert.deepEqual(
      list.filter((d) => d.jobReviewRequired).map((d) => d.id),
      ['residents-per-room'],
    );
    // Another organisation's owner cannot change it.
    assert.equal(errorCode(await t.gql(SET, { r: false }, { token: otherOwner })), 'FORBIDDEN');
    assert.equal(await flag(), true);
    assert.equal((await t.gql(SET, { r: false }, { token: owner })).body.data!.setJobReviewRequired, false);
    assert.equal(await flag(planner), false);
  });
});
