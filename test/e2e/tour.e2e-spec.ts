import type { AccessRecord } from '../../src/ledger/provenance-record.js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { errorCode, startTestGateway, type TestGateway } from '../support/test-gateway.js';

const RECORDS = `query R($dataset: ID!, $fields: [String!]!, $purpose: Purpose, $first: Int = 50, $within: ID) {
  records(dataset: $dataset, fields: $fields, purpose: $purpose, first: $first, within: $within) {
    geometry nextCursor receiptIndex
    items { id grainId cell geometry values { field value masked } }
  }
}`;
const AGGREGATE = `query A($dataset: ID!, $level: HierarchyLevel!, $measures: [MeasureInput!]!, $purpose: Purpose) {
  aggregate(dataset: $dataset, groupBy: { level: $level }, measures: $measures, purpose: $purpose) {
    groupBy minCell primarySuppressed secondarySuppressed receiptIndex
    cells { key label count suppressed values { measure value } }
    total { count suppressed values { measure value } }
  }
}`;

interface Item {
  id: string;
  grainId: string | null;
  cell: string | null;
  geometry: unknown;
  values: { field: string; value: unknown; masked: string | null }[];
}

describe('the README tour, role by role', () => {
  let t: TestGateway;
  before(async () => {
    t = await startTestGateway({ rooms: 3000 });
  });
  after(async () => {
    await t?.close();
  });

  it('public: residents per room as records is FORBIDDEN, and the refusal is on the record', async () => {
    const r = await t.gql(RECORDS, { dataset: 'residents-per-room', fields: ['resident_count'] });
    assert.equal(errorCode(r), 'FORBIDDEN');
    assert.equal(r.body.data, null);
    const receipt = r.body.extensions?.receipts?.[0];
    assert.ok(receipt, 'a refusal carries a receipt');
    assert.equal(receipt.released, false);
    const logged = await t.gw.log.get(receipt.index);
    assert.equal(logged?.leafHash, receipt.leafHash);
    const rec = logged?.record;
    assert.ok(rec?.kind === 'access');
    assert.equal(rec.outcome.released, false);
    assert.equal(rec.decision.tier, 'public');
  });

  it('public: community counts of residents come from the DP release, noised once and the same for everyone', async () => {
    const ask = (headers = {}) =>
      t.gql(
        AGGREGATE,
        {
          dataset: 'residents-per-room',
          level: 'community',
          measures: [{ fn: 'count' }, { fn: 'sum', field: 'resident_count' }],
        },
        headers,
      );
    const r = await ask();
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    const a = r.body.data!.aggregate as {
      cells: { key: string; count: number | null; suppressed: boolean; values: { value: number | null }[] }[];
    };
    assert.ok(a.cells.length > 100, 'zero cells are listed too');
    assert.ok(
      a.cells.every((c) => !c.suppressed && (c.count ?? -1) >= 0),
      'noise protects every cell: none suppressed',
    );
    const exact = new Map(
      (
        await t.gw.db.query<{ k: string; n: number }>(
          `select g.community_id as k, count(*)::int as n from ds_residents_per_room r join grains g on g.id = r.grain_id group by 1`,
        )
      ).map((x) => [x.k, x.n]),
    );
    const exactCells = a.cells.filter((c) => c.count === (exact.get(c.key) ?? 0)).length;
    assert.ok(exactCells < a.cells.length / 2, `${exactCells} of ${a.cells.length} cells are exact`);
    // Another public caller gets the very same numbers: the noise was drawn once.
    const again = (await ask({ remoteAddress: '10.1.2.3' })).body.data!.aggregate as typeof a;
    assert.deepEqual(again.cells, a.cells);
  });

  it('public: unconditional business licences with geometry generalised to H3 cells and no grain ids', async () => {
    const r = await t.gql(RECORDS, { dataset: 'business-licences', fields: ['business_name', 'industry'], first: 5 });
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    const page = r.body.data!.records as { geometry: string; items: Item[] };
    assert.equal(page.geometry, 'generalise');
    assert.ok(page.items.length > 0);
    for (const it of page.items) {
      assert.equal(it.grainId, null);
      assert.match(it.cell ?? '', /^[0-9a-f]{15}$/);
      assert.ok(it.id.startsWith('h:'), 'record ids are pseudonymised with the geometry');
    }
    const personal = await t.gql(RECORDS, { dataset: 'business-licences', fields: ['legal_representative'] });
    assert.equal(errorCode(personal), 'FORBIDDEN');
  });

  it('department with a grant: the granted fields, inside the grant extent only', async () => {
    const token = await t.token('planning-bureau', ['analyst']);
    const r = await t.gql(
      RECORDS,
      {
        dataset: 'building-energy',
        fields: ['month', 'electricity_kwh', 'gas_m3'],
        purpose: 'urban_planning',
        first: 200,
      },
      { token },
    );
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    const items = (r.body.data!.records as { items: Item[] }).items;
    assert.ok(items.length > 0, 'the demo city has rooms in the granted district');
    const grains = items.map((i) => i.grainId);
    const districts = await t.gw.db.query<{ district_id: string }>(
      'select distinct district_id from grains where id = any($1::text[])',
      [grains],
    );
    assert.deepEqual(
      districts.map((d) => d.district_id),
      ['district:310101'],
    );
    assert.ok(items.every((i) => i.values.every((v) => v.masked === null && v.value !== undefined)));

    const notGranted = await t.gql(
      RECORDS,
      { dataset: 'building-energy', fields: ['meter_id'], purpose: 'urban_planning' },
      { token },
    );
    assert.equal(errorCode(notGranted), 'FORBIDDEN');
    const noPurpose = await t.gql(RECORDS, { dataset: 'building-energy', fields: ['electricity_kwh'] }, { token });
    assert.equal(errorCode(noPurpose), 'FORBIDDEN');
    const viaHeader = await t.gql(
      RECORDS,
      { dataset: 'building-energy', fields: ['electricity_kwh'] },
      { token, headers: { 'x-purpose': 'urban-planning' } },
    );
    assert.equal(viaHeader.body.errors, undefined);
  });

  it('department with a grant on personal data: personal fields come masked', async () => {
    const token = await t.token('planning-bureau', ['analyst']);
    const r = await t.gql(
      RECORDS,
      { dataset: 'residents-per-room', fields: ['resident_count', 'tenure'], purpose: 'urban_planning' },
      { token },
    );
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    const items = (r.body.data!.records as { items: Item[] }).items;
    assert.ok(items.length > 0);
    for (const it of items) {
      const count = it.values.find((v) => v.field === 'resident_count')!;
      assert.equal(count.masked, 'truncate');
      assert.equal((count.value as number) % 10, 0);
      const tenure = it.values.find((v) => v.field === 'tenure')!;
      assert.equal(tenure.masked, 'redact');
      assert.equal(tenure.value, null);
    }
  });

  it('department without a grant: conditional refused, unconditional served', async () => {
    const token = await t.token('transport', ['analyst']);
    const refused = await t.gql(
      RECORDS,
      { dataset: 'building-energy', fields: ['electricity_kwh'], purpose: 'urban_planning' },
      { token },
    );
    assert.equal(errorCode(refused), 'FORBIDDEN');
    // A conditional dataset stays closed to it even for its unconditional fields (the dataset's class is its highest field's).
    const month = await t.gql(RECORDS, { dataset: 'building-energy', fields: ['month'], first: 3 }, { token });
    assert.equal(errorCode(month), 'FORBIDDEN');
    const served = await t.gql(RECORDS, { dataset: 'road-condition', fields: ['surface', 'pci'], first: 3 }, { token });
    assert.equal(served.body.errors, undefined);
    assert.equal((served.body.data!.records as { geometry: string }).geometry, 'allow');
  });

  it('owner: rooms with exact geometry and unmasked values', async () => {
    const token = await t.token('public-security', ['owner']);
    const r = await t.gql(
      RECORDS,
      { dataset: 'residents-per-room', fields: ['resident_count', 'household_head', 'tenure'], first: 10 },
      { token },
    );
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    const items = (r.body.data!.records as { items: Item[] }).items;
    assert.equal(items.length, 10);
    for (const it of items) {
      assert.match(it.grainId ?? '', /^room:/);
      assert.ok(it.geometry);
      assert.ok(it.values.every((v) => v.masked === null));
    }
  });

  it('auditor: no data values, but the trail', async () => {
    const token = await t.token('data-bureau', ['auditor']);
    const data = await t.gql(RECORDS, { dataset: 'business-licences', fields: ['business_name'] }, { token });
    assert.equal(errorCode(data), 'FORBIDDEN');
    const agg = await t.gql(
      AGGREGATE,
      { dataset: 'business-licences', level: 'district', measures: [{ fn: 'count' }] },
      { token },
    );
    assert.equal(errorCode(agg), 'FORBIDDEN');
    const trail = await t.gql(
      '{ auditTrail(first: 100) { index sub org dataset tier released refusal } }',
      {},
      { token },
    );
    assert.equal(trail.body.errors, undefined, JSON.stringify(trail.body.errors));
    const entries = trail.body.data!.auditTrail as { sub: string; released: boolean; tier: string }[];
    assert.ok(entries.some((e) => e.sub === 'owner@public-security' && e.released));
    assert.ok(entries.some((e) => e.tier === 'public' && !e.released));
    const analyst = await t.token('planning-bureau', ['analyst']);
    const denied = await t.gql('{ auditTrail(first: 5) { index } }', {}, { token: analyst });
    assert.equal(errorCode(denied), 'FORBIDDEN');
  });

  it('every released response carries a receipt whose leaf is in the log', async () => {
    const r = await t.gql(RECORDS, { dataset: 'public-facilities', fields: ['facility_type', 'name'], first: 3 });
    assert.equal(r.body.errors, undefined);
    const receipt = r.body.extensions!.receipts![0]!;
    assert.equal(receipt.released, true);
    assert.equal((r.body.data!.records as { receiptIndex: number }).receiptIndex, receipt.index);
    const logged = await t.gw.log.get(receipt.index);
    assert.equal(logged?.leafHash, receipt.leafHash);
    assert.equal((logged?.record as AccessRecord).outcome.rows, 3);
  });

  it('catalogue: every dataset is listed with what the caller may ask; closed ones metadata only', async () => {
    const r = await t.gql(
      '{ datasets { id openClass access { tier records aggregates note fields { field records aggregates } } } }',
    );
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    const ds = r.body.data!.datasets as {
      id: string;
      openClass: string;
      access: { records: boolean; aggregates: boolean; note: string | null };
    }[];
    assert.equal(ds.length, 9);
    const closed = ds.filter((d) => d.openClass === 'closed');
    assert.ok(closed.length >= 2);
    for (const d of closed) assert.deepEqual([d.access.records, d.access.aggregates], [false, false]);
    const residents = ds.find((d) => d.id === 'residents-per-room')!;
    assert.deepEqual([residents.access.records, residents.access.aggregates], [false, true]);
  });

  it('the DCAT export lists the open catalogue only', async () => {
    const res = await t.app.getHttpAdapter().getInstance().inject({ method: 'GET', url: '/catalogue/dcat.jsonld' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /application\/ld\+json/);
    const doc = JSON.parse(res.body) as { '@type': string; 'dcat:dataset': { 'dct:identifier': string }[] };
    assert.equal(doc['@type'], 'dcat:Catalog');
    const ids = doc['dcat:dataset'].map((d) => d['dct:identifier']);
    assert.ok(ids.includes('business-licences'));
    assert.ok(ids.includes('residents-per-room'));
    assert.ok(!ids.includes('elderly-living-alone'), 'closed datasets are not in the open catalogue');
  });

  it('memoised decisions follow grant changes at once', async () => {
    const token = await t.token('transport', ['analyst']);
    const q = { dataset: 'hotline-complaints', fields: ['caller_phone'], purpose: 'research' };
    assert.equal(errorCode(await t.gql(RECORDS, q, { token })), 'FORBIDDEN');
    const now = Date.now();
    await t.gw.grants.create({
      id: 'grant-test-transport-hotline',
      org: 'transport',
      datasetId: 'hotline-complaints',
      fields: ['caller_phone'],
      purpose: 'research',
      extent: [],
      validFrom: new Date(now - 1000),
      validTo: new Date(now + 3_600_000),
      approvedBy: 'citizen-hotline',
    });
    const granted = await t.gql(RECORDS, q, { token });
    assert.equal(granted.body.errors, undefined, JSON.stringify(granted.body.errors));
    const items = (granted.body.data!.records as { items: Item[] }).items;
    assert.ok(items.length > 0);
    assert.ok(
      items.every((i) => i.values[0]!.masked === 'truncate' && /^\d{3}\*\*\*$/.test(String(i.values[0]!.value))),
    );
    await t.gw.grants.revoke('grant-test-transport-hotline');
    assert.equal(errorCode(await t.gql(RECORDS, q, { token })), 'FORBIDDEN');
  });
});
