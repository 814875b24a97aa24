/**
 * Grant applications end to end (issue #7): a department applies for a conditional dataset, the owner
 * approves a narrower grant, the department reads exactly the granted fields inside the granted extent,
 * revocation refuses the next request, and the auditors' trail shows every step. Also: who may decide,
 * rejection with a reason, validation, and expiry.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { errorCode, startTestGateway, type GqlResult, type TestGateway } from '../support/test-gateway.js';

const DS = 'building-energy'; // conditional fields; owned by housing-construction; no demo grant for transport
const OWNER = 'housing-construction';
const APPLICANT = 'transport';
const DISTRICT = 'district:310101';

const APPLY = `mutation($input: GrantApplicationInput!) {
  applyForGrant(input: $input) { id status applicantOrg ownerOrg dataset fields purpose extent validFrom validUntil grantId }
}`;
const DECIDE = `mutation($id: ID!, $decision: GrantDecision!, $narrower: GrantScopeInput, $reason: String) {
  decideGrantApplication(id: $id, decision: $decision, narrower: $narrower, reason: $reason) {
    id status reason decidedBy grantId fields extent
  }
}`;
const REVOKE = `mutation($id: ID!, $reason: String!) { revokeGrant(id: $id, reason: $reason) { id state revokedBy revokeReason } }`;
const RECORDS = `query($fields: [String!]!, $within: ID, $ds: ID!) {
  records(dataset: $ds, fields: $fields, purpose: urban_planning, first: 1000, within: $within) {
    items { id grainId values { field value masked } }
  }
}`;
const TRAIL = `query($filter: TrailFilterInput) {
  auditTrail(filter: $filter, first: 200) { index kind sub org dataset fields released refusal grantId applicationId extent reason }
}`;

interface App {
  id: string;
  status: string;
  grantId: string | null;
  reason?: string | null;
  fields: string[];
  extent: string[];
}
interface Trail {
  index: number;
  kind: string;
  sub: string;
  org: string | null;
  dataset: string;
  fields: string[];
  released: boolean;
  refusal: string | null;
  grantId: string | null;
  applicationId: string | null;
  extent: string[] | null;
  reason: string | null;
}
interface Item {
  id: string;
  grainId: string | null;
  values: { field: string; value: unknown; masked: string | null }[];
}

function ok(r: GqlResult): Record<string, unknown> {
  assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
  return r.body.data!;
}

describe('grant applications: apply, decide, read, revoke, audit', () => {
  let t: TestGateway;
  let analyst: string;
  let applicantOwner: string;
  let owner: string;
  let ownerAnalyst: string;
  let otherOwner: string;
  let auditor: string;
  let admin: string;
  let subdistrict: string;
  let appId: string;
  let grantId: string;

  const application = (over: Record<string, unknown> = {}) => ({
    dataset: DS,
    fields: ['electricity_kwh', 'gas_m3', 'meter_id'],
    purpose: 'urban_planning',
    extent: [DISTRICT],
    durationDays: 30,
    legalBasis: 'Shanghai Public Data Regulation, art. 32 (planning coordination)',
    contact: 'li.transport@example.gov.cn',
    ...over,
  });

  before(async () => {
    t = await startTestGateway({ rooms: 1500 });
    analyst = await t.token(APPLICANT, ['analyst'], { sub: 'li.analyst' });
    applicantOwner = await t.token(APPLICANT, ['owner'], { sub: 'wu.transport-owner' });
    owner = await t.token(OWNER, ['owner'], { sub: 'zhang.owner' });
    ownerAnalyst = await t.token(OWNER, ['analyst'], { sub: 'zhao.housing-analyst' });
    otherOwner = await t.token('public-security', ['owner'], { sub: 'chen.police-owner' });
    auditor = await t.token('data-bureau', ['auditor'], { sub: 'audit.one' });
    admin = await t.token('data-bureau', ['admin'], { sub: 'admin.one' });
    // A subdistrict of the district that holds building-energy records: the narrower extent.
    const rows = await t.gw.db.query<{ s: string }>(
      `select g.subdistrict_id as s from ${'ds_building_energy'} e join grains g on g.id = e.grain_id
       where g.district_id = $1 group by g.subdistrict_id order by count(*) desc limit 1`,
      [DISTRICT],
    );
    subdistrict = rows[0]!.s;
  });
  after(async () => {
    await t?.close();
  });

  it('without a grant the department is refused the conditional fields', async () => {
    const r = await t.gql(RECORDS, { ds: DS, fields: ['electricity_kwh'] }, { token: analyst });
    assert.equal(errorCode(r), 'FORBIDDEN');
  });

  it('refuses applications that are not for a grant, with clear codes', async () => {
    const cases: [string, Record<string, unknown>, string, RegExp][] = [
      [analyst, { dataset: 'road-condition', fields: ['pci'] }, 'BAD_USER_INPUT', /owns this dataset/],
      [analyst, { dataset: 'public-facilities', fields: ['name'] }, 'BAD_USER_INPUT', /open without a grant/],
      [analyst, { fields: ['month'] }, 'BAD_USER_INPUT', /"month" is open without a grant/],
      [analyst, { fields: ['no_such_field'] }, 'BAD_USER_INPUT', /Unknown field "no_such_field"/],
      [analyst, { fields: ['x"; drop table grants; --'] }, 'BAD_USER_INPUT', /not a valid field name/],
      [analyst, { extent: ['district:999999'] }, 'BAD_USER_INPUT', /Unknown unit "district:999999"/],
      [analyst, { extent: ['building:1'] }, 'BAD_USER_INPUT', /district, subdistrict or community/],
      [analyst, { durationDays: 1000 }, 'BAD_USER_INPUT', /durationDays/],
      [analyst, { validUntil: new Date(Date.now() + 86_400_000).toISOString() }, 'BAD_USER_INPUT', /exactly one/],
      [analyst, { legalBasis: '   ' }, 'BAD_USER_INPUT', /legalBasis/],
      [analyst, { dataset: 'no-such-dataset' }, 'NOT_FOUND', /No such dataset/],
      [auditor, {}, 'FORBIDDEN', /analysts/],
      [applicantOwner, {}, 'FORBIDDEN', /analysts/],
    ];
    for (const [token, over, code, message] of cases) {
      const r = await t.gql(APPLY, { input: application(over) }, { token });
      assert.equal(errorCode(r), code, JSON.stringify(over));
      assert.match(r.body.errors![0]!.message, message);
      assert.ok(!r.body.errors![0]!.message.includes('drop table'));
    }
    assert.equal(errorCode(await t.gql(APPLY, { input: application() })), 'FORBIDDEN', 'anonymous');
    const none = await t.gw.db.query<{ n: number }>('select count(*)::int as n from grant_applications');
    assert.equal(none[0]!.n, 0, 'nothing was stored');
  });

  it('a department analyst applies; the applicant and the owner see it, another department does not', async () => {
    const r = ok(await t.gql(APPLY, { input: application() }, { token: analyst }));
    const app = r.applyForGrant as App & { applicantOrg: string; ownerOrg: string };
    assert.equal(app.status, 'pending');
    assert.equal(app.applicantOrg, APPLICANT);
    assert.equal(app.ownerOrg, OWNER);
    assert.deepEqual(app.fields, ['electricity_kwh', 'gas_m3', 'meter_id']);
    appId = app.id;
    const mine = ok(await t.gql('{ grantApplications { id status } }', {}, { token: analyst }));
    assert.deepEqual(mine.grantApplications, [{ id: appId, status: 'pending' }]);
    const incoming = ok(await t.gql('{ grantApplications(status: pending) { id } }', {}, { token: owner }));
    assert.deepEqual(incoming.grantApplications, [{ id: appId }]);
    const others = ok(await t.gql('{ grantApplications { id } }', {}, { token: otherOwner }));
    assert.deepEqual(others.grantApplications, []);
    const one = await t.gql(`{ grantApplication(id: "${appId}") { id } }`, {}, { token: otherOwner });
    assert.equal(errorCode(one), 'NOT_FOUND');
    const all = ok(await t.gql('{ grantApplications { id } }', {}, { token: auditor }));
    assert.deepEqual(all.grantApplications, [{ id: appId }]);
    assert.equal(errorCode(await t.gql('{ grantApplications { id } }')), 'FORBIDDEN');
  });

  it('only an owner of the dataset’s department decides; others cannot tell it exists', async () => {
    const approve = { id: appId, decision: 'approve' };
    // Another department's owner: the same answer as for an application that does not exist.
    const other = await t.gql(DECIDE, approve, { token: otherOwner });
    assert.equal(errorCode(other), 'NOT_FOUND');
    const missing = await t.gql(DECIDE, { ...approve, id: 'app-does-not-exist' }, { token: otherOwner });
    assert.equal(errorCode(missing), 'NOT_FOUND');
    assert.equal(other.body.errors![0]!.message, missing.body.errors![0]!.message);
    // The applicant (analyst or owner of the applying department) may see it but not approve it.
    for (const token of [analyst, applicantOwner, ownerAnalyst, auditor, admin]) {
      assert.equal(errorCode(await t.gql(DECIDE, approve, { token })), 'FORBIDDEN');
    }
    const still = ok(await t.gql(`{ grantApplication(id: "${appId}") { status } }`, {}, { token: analyst }));
    assert.deepEqual(still.grantApplication, { status: 'pending' });
    // An approval may only narrow.
    const wider: [Record<string, unknown>, RegExp][] = [
      [{ fields: ['electricity_kwh', 'month'] }, /"month"/],
      [{ extent: ['district:310104'] }, /outside the extent applied for/],
      [{ extent: [] }, /part of the city/],
      [{ validUntil: new Date(Date.now() + 400 * 86_400_000).toISOString() }, /no|not be later/],
    ];
    for (const [narrower, message] of wider) {
      const r = await t.gql(DECIDE, { ...approve, narrower }, { token: owner });
      assert.equal(errorCode(r), 'BAD_USER_INPUT', JSON.stringify(narrower));
      assert.match(r.body.errors![0]!.message, message);
    }
    const noGrant = await t.gql(RECORDS, { ds: DS, fields: ['electricity_kwh'] }, { token: analyst });
    assert.equal(errorCode(noGrant), 'FORBIDDEN', 'nothing was granted by the refused attempts');
  });

  it('the owner approves a narrower grant: one field, one subdistrict, a shorter period', async () => {
    const validUntil = new Date(Date.now() + 10 * 86_400_000).toISOString();
    const r = ok(
      await t.gql(
        DECIDE,
        {
          id: appId,
          decision: 'approve',
          narrower: { fields: ['electricity_kwh'], extent: [subdistrict], validUntil },
          reason: 'electricity only, one subdistrict for the pilot',
        },
        { token: owner },
      ),
    );
    const app = r.decideGrantApplication as App & { decidedBy: string };
    assert.equal(app.status, 'approved');
    assert.equal(app.decidedBy, 'zhang.owner');
    assert.ok(app.grantId);
    grantId = app.grantId;
    const again = await t.gql(DECIDE, { id: appId, decision: 'reject', reason: 'changed my mind' }, { token: owner });
    assert.equal(errorCode(again), 'BAD_USER_INPUT', 'decided once');
    const grants = ok(
      await t.gql(
        `{ grants(dataset: "${DS}") { id org fields extent state applicationId validUntil } }`,
        {},
        { token: analyst },
      ),
    );
    assert.deepEqual(grants.grants, [
      {
        id: grantId,
        org: APPLICANT,
        fields: ['electricity_kwh'],
        extent: [subdistrict],
        state: 'active',
        applicationId: appId,
        validUntil,
      },
    ]);
    const notTheirs = ok(await t.gql(`{ grants(dataset: "${DS}") { id } }`, {}, { token: otherOwner }));
    assert.deepEqual(notTheirs.grants, []);
  });

  it('the department reads exactly the granted field, only inside the granted extent', async () => {
    const r = ok(await t.gql(RECORDS, { ds: DS, fields: ['electricity_kwh'] }, { token: analyst }));
    const items = (r.records as { items: Item[] }).items;
    const expected = await t.gw.db.query<{ id: string; grain_id: string; v: number }>(
      `select e.id, e.grain_id, e.electricity_kwh as v from ds_building_energy e join grains g on g.id = e.grain_id
       where g.subdistrict_id = $1`,
      [subdistrict],
    );
    assert.ok(expected.length > 0);
    assert.equal(items.length, Math.min(expected.length, 1000));
    const byGrain = new Map<string, number[]>();
    for (const e of expected) byGrain.set(e.grain_id, [...(byGrain.get(e.grain_id) ?? []), e.v]);
    for (const item of items) {
      assert.ok(item.grainId && byGrain.has(item.grainId), `${item.grainId} lies inside ${subdistrict}`);
      assert.deepEqual(
        item.values.map((v) => v.field),
        ['electricity_kwh'],
      );
      assert.equal(item.values[0]!.masked, null);
      assert.ok(byGrain.get(item.grainId)!.includes(item.values[0]!.value as number), 'the real value');
    }
    // Outside the extent there is nothing, even where the department asks for it explicitly.
    const outside = await t.gw.db.query<{ s: string }>(
      `select id as s from units where level = 'subdistrict' and district_id = $1 and id <> $2 limit 1`,
      [DISTRICT, subdistrict],
    );
    const elsewhere = ok(
      await t.gql(RECORDS, { ds: DS, fields: ['electricity_kwh'], within: outside[0]!.s }, { token: analyst }),
    );
    assert.deepEqual((elsewhere.records as { items: Item[] }).items, []);
    // Fields applied for but not granted stay refused.
    for (const f of ['gas_m3', 'meter_id']) {
      const refused = await t.gql(RECORDS, { ds: DS, fields: ['electricity_kwh', f] }, { token: analyst });
      assert.equal(errorCode(refused), 'FORBIDDEN', f);
    }
  });

  it('a rejection carries its reason to the applicant; a rejection without a reason is refused', async () => {
    const r = ok(
      await t.gql(
        APPLY,
        { input: application({ dataset: 'hotline-complaints', fields: ['caller_phone'], extent: [] }) },
        { token: analyst },
      ),
    );
    const id = (r.applyForGrant as App).id;
    const hotline = await t.token('citizen-hotline', ['owner'], { sub: 'sun.hotline-owner' });
    assert.equal(errorCode(await t.gql(DECIDE, { id, decision: 'reject' }, { token: hotline })), 'BAD_USER_INPUT');
    const reason = 'Callers’ phone numbers are not shared for planning.';
    ok(await t.gql(DECIDE, { id, decision: 'reject', reason }, { token: hotline }));
    const seen = ok(await t.gql(`{ grantApplication(id: "${id}") { status reason grantId } }`, {}, { token: analyst }));
    assert.deepEqual(seen.grantApplication, { status: 'rejected', reason, grantId: null });
    const read = await t.gql(RECORDS, { ds: 'hotline-complaints', fields: ['caller_phone'] }, { token: analyst });
    assert.equal(errorCode(read), 'FORBIDDEN');
  });

  it('revocation: others cannot, the owner can, and the next request is refused', async () => {
    const reason = 'pilot ended';
    assert.equal(errorCode(await t.gql(REVOKE, { id: grantId, reason }, { token: otherOwner })), 'NOT_FOUND');
    assert.equal(errorCode(await t.gql(REVOKE, { id: grantId, reason }, { token: analyst })), 'FORBIDDEN');
    assert.equal(errorCode(await t.gql(REVOKE, { id: grantId, reason: '' }, { token: owner })), 'BAD_USER_INPUT');
    // Warm the memoised decision first: revocation must drop it at once.
    ok(await t.gql(RECORDS, { ds: DS, fields: ['electricity_kwh'] }, { token: analyst }));
    const r = ok(await t.gql(REVOKE, { id: grantId, reason }, { token: owner }));
    assert.deepEqual(r.revokeGrant, { id: grantId, state: 'revoked', revokedBy: 'zhang.owner', revokeReason: reason });
    const refused = await t.gql(RECORDS, { ds: DS, fields: ['electricity_kwh'] }, { token: analyst });
    assert.equal(errorCode(refused), 'FORBIDDEN');
    assert.equal(errorCode(await t.gql(REVOKE, { id: grantId, reason }, { token: owner })), 'BAD_USER_INPUT');
  });

  it('the auditors’ trail shows apply, approve, read, revoke and the refused read, in order', async () => {
    assert.equal(errorCode(await t.gql(TRAIL, {}, { token: analyst })), 'FORBIDDEN');
    const r = ok(await t.gql(TRAIL, { filter: { dataset: DS } }, { token: auditor }));
    const trail = (r.auditTrail as Trail[]).slice().reverse(); // oldest first
    const applied = trail.find((e) => e.kind === 'grant-applied' && e.applicationId === appId);
    const approved = trail.find((e) => e.kind === 'grant-approved' && e.applicationId === appId);
    const read = trail.find((e) => e.kind === 'access' && e.released && e.grantId === grantId);
    const revoked = trail.find((e) => e.kind === 'grant-revoked' && e.grantId === grantId);
    assert.ok(applied && approved && read && revoked, JSON.stringify(trail.map((e) => e.kind)));
    const refusedAfter = trail.find((e) => e.kind === 'access' && !e.released && e.index > revoked.index);
    assert.ok(refusedAfter, 'the refused read after revocation');
    assert.ok(applied.index < approved.index && approved.index < read.index && read.index < revoked.index);
    assert.deepEqual([applied.org, applied.sub], [APPLICANT, 'li.analyst']);
    assert.deepEqual(applied.fields, ['electricity_kwh', 'gas_m3', 'meter_id']);
    assert.deepEqual(applied.extent, [DISTRICT]);
    assert.deepEqual([approved.org, approved.sub, approved.grantId], [OWNER, 'zhang.owner', grantId]);
    assert.deepEqual(approved.fields, ['electricity_kwh'], 'the granted scope, not the applied one');
    assert.deepEqual(approved.extent, [subdistrict]);
    assert.equal(revoked.reason, 'pilot ended');
    assert.equal(refusedAfter.org, APPLICANT);
    assert.equal(refusedAfter.refusal, 'FORBIDDEN');
    const rejected = ok(await t.gql(TRAIL, { filter: { kind: 'grant-rejected' } }, { token: auditor }));
    assert.equal((rejected.auditTrail as Trail[])[0]?.reason, 'Callers’ phone numbers are not shared for planning.');
    // The log itself holds each step (the index is derived from it).
    const entry = await t.gw.log.get(approved.index);
    assert.equal(entry?.record.kind, 'grant-approved');
    // Grant steps are not refusals: they do not count in reports or the released/refused filter.
    const refusedOnly = ok(await t.gql(TRAIL, { filter: { released: false, dataset: DS } }, { token: auditor }));
    assert.ok((refusedOnly.auditTrail as Trail[]).every((e) => e.kind === 'access'));
  });

  it('a grant expires at the end of its period; the expiry is logged and reads are refused', async () => {
    const r = ok(
      await t.gql(
        APPLY,
        { input: application({ fields: ['gas_m3'], extent: [subdistrict], durationDays: 1 }) },
        { token: analyst },
      ),
    );
    const id = (r.applyForGrant as App).id;
    const validUntil = new Date(Date.now() + 2_000).toISOString();
    const d = ok(await t.gql(DECIDE, { id, decision: 'approve', narrower: { validUntil } }, { token: owner }));
    const gid = (d.decideGrantApplication as App).grantId!;
    ok(await t.gql(RECORDS, { ds: DS, fields: ['gas_m3'] }, { token: analyst }));
    let expired: Trail | undefined;
    for (let i = 0; i < 100 && !expired; i++) {
      await new Promise((res) => setTimeout(res, 100));
      const trail = ok(await t.gql(TRAIL, { filter: { kind: 'grant-expired' } }, { token: auditor }));
      expired = (trail.auditTrail as Trail[]).find((e) => e.grantId === gid);
    }
    assert.ok(expired, 'the expiry was logged');
    assert.equal(expired.sub, 'citygate');
    const refused = await t.gql(RECORDS, { ds: DS, fields: ['gas_m3'] }, { token: analyst });
    assert.equal(errorCode(refused), 'FORBIDDEN');
    const g = ok(await t.gql(`{ grants(state: expired) { id } }`, {}, { token: analyst }));
    assert.deepEqual(g.grants, [{ id: gid }]);
    assert.equal(errorCode(await t.gql(REVOKE, { id: gid, reason: 'late' }, { token: admin })), 'BAD_USER_INPUT');
  });
});
