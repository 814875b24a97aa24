/**
 * Open-data consumers end to end: self-service keys, rate limits per tier (operations and records),
 * downloads (CSV, GeoJSON) with the tier's generalisation and the citation, and the operations endpoints.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parse as parseCsv } from 'csv-parse/sync';
import type { RequestLogLine } from '../../src/ops/request-log.js';
import { errorCode, startTestGateway, type TestGateway } from '../support/test-gateway.js';
import type { AccessRecord } from '../../src/ledger/provenance-record.js';

const REGISTER = `mutation($name: String!, $email: String!, $use: String!) {
  registerConsumer(name: $name, email: $email, intendedUse: $use) {
    apiKey consumer { id apiKeyId name tier limits { windowSeconds operations records } }
  }
}`;
const LICENCES = (n: number) =>
  `{ records(dataset: "business-licences", fields: ["industry"], first: ${n}) { items { id } } }`;

interface Registered {
  apiKey: string;
  consumer: { id: string; apiKeyId: string; name: string; tier: string };
}

describe('open-data consumers, rate limits, downloads and operations', () => {
  let tg: TestGateway;
  let ip = 0;
  const logLines: RequestLogLine[] = [];
  /** A fresh client address per test, so that per-address limits do not leak between tests. */
  const addr = () => `10.0.0.${++ip}`;
  const http = (url: string, headers: Record<string, string> = {}, remoteAddress = addr()) =>
    tg.app.getHttpAdapter().getInstance().inject({ method: 'GET', url, headers, remoteAddress });
  const register = async (name = 'Bike map', remoteAddress = addr()): Promise<Registered> => {
    const r = await tg.gql(
      REGISTER,
      { name, email: 'dev@example.org', use: 'A map of public facilities' },
      { remoteAddress },
    );
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    return r.body.data!.registerConsumer as Registered;
  };

  before(async () => {
    tg = await startTestGateway({
      rooms: 600,
      env: {
        CITYGATE_REGISTRATIONS_PER_HOUR: '2',
        CITYGATE_RATE_WINDOW_SECONDS: '3600',
        CITYGATE_RATE_LIMITS: JSON.stringify({
          anonymous: { operations: 4, records: 1_000_000 },
          open: { operations: 6, records: 10 },
          partner: { operations: 100, records: 1000 },
        }),
      },
      app: { requestLog: (line) => logLines.push(line) },
    });
  });
  after(async () => {
    // The last test closed the store on purpose.
    await tg?.close().catch(() => undefined);
  });

  it('registers a consumer: the key is shown once, stored hashed, works, and starts at tier open', async () => {
    const reg = await register('Bike map');
    assert.match(reg.apiKey, /^cg_[a-z0-9]{8}_[A-Za-z0-9_-]{43}$/);
    assert.equal(reg.consumer.tier, 'open');
    const rows = await tg.gw.db.query<Record<string, unknown>>('select * from api_keys where id = $1', [
      reg.consumer.apiKeyId,
    ]);
    assert.ok(!JSON.stringify(rows).includes(reg.apiKey.split('_')[2]!), 'the secret is not stored');
    const me = await tg.gql(
      '{ myConsumer { name tier limits { operations records } } me { via } }',
      {},
      {
        apiKey: reg.apiKey,
      },
    );
    assert.deepEqual(me.body.data, {
      myConsumer: { name: 'Bike map', tier: 'open', limits: { operations: 6, records: 10 } },
      me: { via: 'api-key' },
    });
  });

  it('refuses bad registrations with BAD_USER_INPUT and limits registrations per client address', async () => {
    const a = addr();
    const bad = await tg.gql(REGISTER, { name: 'x', email: 'not-an-email', use: 'y' }, { remoteAddress: a });
    assert.equal(errorCode(bad), 'BAD_USER_INPUT');
    const ctl = await tg.gql(REGISTER, { name: 'a\u0007b', email: 'a@b.org', use: 'y' }, { remoteAddress: addr() });
    assert.equal(errorCode(ctl), 'BAD_USER_INPUT');
    await register('one', a);
    await register('two', a);
    const third = await tg.gql(REGISTER, { name: 'three', email: 'a@b.org', use: 'y' }, { remoteAddress: a });
    assert.equal(errorCode(third), 'RATE_LIMITED');
    assert.equal(third.body.errors?.[0]?.extensions?.limit, 'registrations');
    // Another address may still register.
    await register('four', addr());
  });

  it('limits operations per key with RATE_LIMITED, a retry-after hint and HTTP 429', async () => {
    const { apiKey } = await register('ops');
    // registration itself was counted against the address, not the key: the key has 6 operations
    for (let i = 0; i < 6; i++) {
      const r = await tg.gql('{ me { sub } }', {}, { apiKey });
      assert.equal(r.body.errors, undefined, `operation ${i + 1}`);
    }
    const r = await tg.gql('{ me { sub } }', {}, { apiKey });
    assert.equal(errorCode(r), 'RATE_LIMITED');
    assert.equal(r.status, 429);
    const retry = r.body.errors?.[0]?.extensions?.retryAfterSeconds;
    assert.ok(typeof retry === 'number' && retry > 0 && retry <= 3600);
    assert.equal(r.body.errors?.[0]?.extensions?.limit, 'operations');
    // Another key is not affected.
    const other = await register('other');
    assert.equal((await tg.gql('{ me { sub } }', {}, { apiKey: other.apiKey })).body.errors, undefined);
  });

  it('counts returned records, not requests: a request that would start over the record limit is refused', async () => {
    const { apiKey } = await register('records');
    const a = await tg.gql(LICENCES(8), {}, { apiKey });
    assert.equal((a.body.data!.records as { items: unknown[] }).items.length, 8);
    const b = await tg.gql(LICENCES(8), {}, { apiKey }); // starts at 8 < 10: served, ends at 16
    assert.equal((b.body.data!.records as { items: unknown[] }).items.length, 8);
    const c = await tg.gql(LICENCES(1), {}, { apiKey });
    assert.equal(errorCode(c), 'RATE_LIMITED');
    assert.equal(c.body.errors?.[0]?.extensions?.limit, 'records');
    const usage = await tg.gql('{ myRateUsage { tier records } }', {}, { apiKey });
    assert.equal(errorCode(usage), 'RATE_LIMITED', 'still over the record limit: even metadata waits');
  });

  it('an admin raises a consumer to partner; only admins may', async () => {
    const reg = await register('partner-to-be');
    const SET = `mutation($id: ID!) { setConsumerTier(consumerId: $id, tier: partner) { tier limits { records } } }`;
    const analyst = await tg.token('planning-bureau', ['analyst']);
    assert.equal(errorCode(await tg.gql(SET, { id: reg.consumer.id }, { token: analyst })), 'FORBIDDEN');
    assert.equal(errorCode(await tg.gql(SET, { id: reg.consumer.id }, { apiKey: reg.apiKey })), 'FORBIDDEN');
    const admin = await tg.token('data-bureau', ['admin']);
    const set = await tg.gql(SET, { id: reg.consumer.id }, { token: admin });
    assert.deepEqual(set.body.data, { setConsumerTier: { tier: 'partner', limits: { records: 1000 } } });
    for (let i = 0; i < 3; i++) {
      const r = await tg.gql(LICENCES(8), {}, { apiKey: reg.apiKey });
      assert.equal(r.body.errors, undefined, 'partner records limit is 1000');
    }
  });

  it('revokes keys: by their holder, and by an admin', async () => {
    const own = await register('revoke-me');
    const r = await tg.gql('mutation { revokeMyApiKey }', {}, { apiKey: own.apiKey });
    assert.deepEqual(r.body.data, { revokeMyApiKey: true });
    assert.equal(errorCode(await tg.gql('{ me { sub } }', {}, { apiKey: own.apiKey })), 'UNAUTHENTICATED');
    const anon = await tg.gql('mutation { revokeMyApiKey }', {}, { remoteAddress: addr() });
    assert.equal(errorCode(anon), 'FORBIDDEN');

    const other = await register('revoke-by-admin');
    const REVOKE = `mutation($id: ID!) { revokeApiKey(id: $id) }`;
    const notAdmin = await tg.gql(REVOKE, { id: other.consumer.apiKeyId }, { apiKey: other.apiKey });
    assert.equal(errorCode(notAdmin), 'FORBIDDEN');
    const admin = await tg.token('data-bureau', ['admin']);
    const done = await tg.gql(REVOKE, { id: other.consumer.apiKeyId }, { token: admin });
    assert.deepEqual(done.body.data, { revokeApiKey: true });
    assert.equal(errorCode(await tg.gql('{ me { sub } }', {}, { apiKey: other.apiKey })), 'UNAUTHENTICATED');
  });

  it('limits anonymous callers per client address', async () => {
    const a = addr();
    for (let i = 0; i < 4; i++)
      assert.equal((await tg.gql('{ health }', {}, { remoteAddress: a })).body.errors, undefined);
    assert.equal(errorCode(await tg.gql('{ health }', {}, { remoteAddress: a })), 'RATE_LIMITED');
    assert.equal((await tg.gql('{ health }', {}, { remoteAddress: addr() })).body.errors, undefined);
  });

  describe('downloads', () => {
    let total: number;
    before(async () => {
      total = Number(
        (await tg.gw.db.query<{ n: number }>('select count(*)::int as n from ds_business_licences'))[0]!.n,
      );
      assert.ok(total > 10);
    });

    it('streams RFC 4180 CSV (header on line 1), the citation in a Link header, the tier generalisation and masks, every record once', async () => {
      const before = await tg.gw.log.size();
      const res = await http('/download/business-licences.csv');
      assert.equal(res.statusCode, 200, res.body);
      assert.match(String(res.headers['content-type']), /^text\/csv/);
      const today = new Date().toISOString().slice(0, 10);
      const link = /; rel="cite-as"; title\*=UTF-8''(.+)$/.exec(String(res.headers.link));
      assert.ok(link, String(res.headers.link));
      const cited = decodeURIComponent(link[1]!);
      assert.match(cited, /Market Regulation Administration \(市市场监管局\)/);
      assert.ok(cited.includes(`downloaded ${today}`));
      // A standard CSV parser reads it: the header is line 1, and every row has the header's columns.
      const parsed = parseCsv(res.body, { relaxColumnCount: false }) as string[][];
      assert.deepEqual(parsed[0]!.slice(0, 2), ['id', 'h3_cell'], 'public geometry is generalised to H3 cells');
      assert.equal(parsed.length - 1, total);
      for (const row of parsed) assert.equal(row.length, parsed[0]!.length);
      const lines = ['', ...res.body.trimEnd().split('\r\n')]; // lines[1] is the header, as before
      const header = lines[1]!.split(',');
      assert.ok(!header.includes('grain_id'));
      assert.equal(lines.length - 2, total);
      assert.equal(res.headers['x-citygate-records'], String(total));
      // The release was durable before the first byte: one released record with the row count.
      assert.equal(await tg.gw.log.size(), before + 1);
      const rec = (await tg.gw.log.get(before))!.record as AccessRecord;
      assert.equal(rec.outcome.released, true);
      assert.equal(rec.outcome.rows, total);
      assert.equal(res.headers['x-citygate-receipt'], `${before}:${(await tg.gw.log.get(before))!.leafHash}`);
      // Same values as GraphQL records gives the same tier (masks included).
      const ids = new Set(lines.slice(2).map((l) => l.split(',')[0]));
      const g = await tg.gql(
        `{ records(dataset: "business-licences", fields: [${header
          .slice(2)
          .map((f) => JSON.stringify(f))
          .join(', ')}], first: 3) { items { id cell values { field value masked } } } }`,
        {},
        { remoteAddress: addr() },
      );
      const items = (g.body.data!.records as { items: { id: string; cell: string; values: { value: unknown }[] }[] })
        .items;
      for (const it of items) {
        assert.ok(ids.has(it.id), 'the same pseudonymous ids');
        const line = lines.slice(2).find((l) => l.startsWith(`${it.id},`))!;
        assert.ok(line.startsWith(`${it.id},${it.cell},`));
      }
      const personalIdx = header.indexOf('legal_representative');
      if (personalIdx >= 0) {
        const rawNames = await tg.gw.db.query<{ v: string }>(
          'select legal_representative as v from ds_business_licences limit 20',
        );
        for (const { v } of rawNames) assert.ok(!res.body.includes(`,${v},`) && !res.body.includes(`,${v}\r`));
      }
    });

    it('streams GeoJSON with a top-level citation member and generalised geometry', async () => {
      const res = await http('/download/public-facilities.geojson');
      assert.equal(res.statusCode, 200, res.body);
      const fc = JSON.parse(res.body) as {
        type: string;
        citation: { source: string; downloadedOn: string; dataset: string };
        features: { id: string; geometry: { type: string }; properties: Record<string, unknown> }[];
      };
      assert.equal(fc.type, 'FeatureCollection');
      assert.equal(fc.citation.source, 'Planning and Natural Resources Bureau');
      assert.equal(fc.citation.dataset, 'public-facilities');
      assert.equal(fc.citation.downloadedOn, new Date().toISOString().slice(0, 10));
      const n = (await tg.gw.db.query<{ n: number }>('select count(*)::int as n from ds_public_facilities'))[0]!.n;
      assert.equal(fc.features.length, n);
      for (const f of fc.features.slice(0, 20)) {
        assert.equal(f.geometry.type, 'Polygon');
        assert.equal(typeof f.properties.h3_cell, 'string');
        assert.equal(f.properties.grain_id, undefined);
      }
    });

    it('lists the downloads of unconditional datasets in the DCAT catalogue', async () => {
      const doc = JSON.parse((await http('/catalogue/dcat.jsonld')).body) as {
        'dcat:dataset': { 'dct:identifier': string; 'dcat:distribution': { 'dcat:downloadURL'?: string }[] }[];
      };
      const urls = (id: string) => {
        const d = doc['dcat:dataset'].find((x) => x['dct:identifier'] === id)!;
        return d['dcat:distribution'].flatMap((x) => (x['dcat:downloadURL'] ? [x['dcat:downloadURL']] : []));
      };
      assert.deepEqual(
        urls('road-condition').map((u) => u.replace(/^http:\/\/[^/]+/, '')),
        ['/download/road-condition.csv', '/download/road-condition.geojson'],
      );
      assert.deepEqual(urls('residents-per-room'), []);
    });

    it('refuses conditional, closed and unknown datasets alike (404), and the auditor tier (403, logged)', async () => {
      const bodies = new Set<string>();
      for (const id of ['residents-per-room', 'critical-water-network', 'no-such-dataset', 'BAD..name']) {
        const res = await http(`/download/${id}.csv`);
        assert.equal(res.statusCode, 404, id);
        bodies.add(res.body);
      }
      assert.equal(bodies.size, 1, 'the same answer whether the dataset exists or not');
      const auditor = await tg.token('data-bureau', ['auditor']);
      const before = await tg.gw.log.size();
      const res = await http('/download/road-condition.csv', { authorization: `Bearer ${auditor}` });
      assert.equal(res.statusCode, 403);
      assert.equal((JSON.parse(res.body) as { error: { code: string } }).error.code, 'FORBIDDEN');
      assert.equal(await tg.gw.log.size(), before + 1, 'the refusal is logged');
      const bad = await http('/download/road-condition.csv', { 'x-api-key': 'cg_nope' });
      assert.equal(bad.statusCode, 401);
    });

    it('charges downloads against the record limit of the key', async () => {
      const { apiKey } = await register('downloader');
      const first = await http('/download/road-condition.csv', { 'x-api-key': apiKey });
      assert.equal(first.statusCode, 200, 'started under the limit');
      const second = await http('/download/road-condition.csv', { 'x-api-key': apiKey });
      assert.equal(second.statusCode, 429);
      assert.ok(Number(second.headers['retry-after']) > 0);
      assert.equal((JSON.parse(second.body) as { error: { code: string } }).error.code, 'RATE_LIMITED');
    });
  });

  describe('operations', () => {
    it('answers liveness and readiness', async () => {
      assert.equal((await http('/livez')).statusCode, 200);
      const ready = await http('/readyz');
      assert.equal(ready.statusCode, 200);
      assert.deepEqual(JSON.parse(ready.body), {
        status: 'ready',
        checks: { store: 'ok', migrations: 'ok', log: 'ok', server: 'ok' },
      });
    });

    it('exports Prometheus metrics with request, decision, log-size and rate-limit counts', async () => {
      const res = await http('/metrics');
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /^text\/plain/);
      const m = res.body;
      const value = (re: RegExp) => Number(re.exec(m)?.[1] ?? NaN);
      assert.ok(value(/citygate_requests_total\{operation="query records",outcome="ok"\} (\d+)/) >= 5);
      assert.ok(value(/citygate_requests_total\{operation="download csv",outcome="ok"\} (\d+)/) >= 2);
      assert.ok(value(/citygate_requests_total\{operation="query me",outcome="RATE_LIMITED"\} (\d+)/) >= 1);
      assert.ok(value(/citygate_decisions_total\{effect="release",mode="raw"\} (\d+)/) >= 5);
      assert.ok(value(/citygate_decisions_total\{effect="refuse",mode="raw"\} (\d+)/) >= 1);
      assert.equal(value(/citygate_log_size (\d+)/), await tg.gw.log.size());
      assert.equal(value(/citygate_anchor_lag (\d+)/), 0);
      assert.ok(value(/citygate_rate_limited_total\{kind="operations",tier="open"\} (\d+)/) >= 1);
      assert.ok(value(/citygate_rate_limited_total\{kind="records",tier="open"\} (\d+)/) >= 1);
      // The queue depth is read from the shared job queue at scrape time.
      const [queue] = await tg.gw.db.query<{ n: number }>(
        `select count(*)::int as n from jobs where status in ('queued', 'running')`,
      );
      assert.equal(value(/citygate_sandbox_queue_depth (\d+)/), queue!.n);
    });

    it('logs one line per request with operation, requester and outcome, and never a data value', async () => {
      const owner = await tg.token('public-security', ['owner']);
      const r = await tg.gql(
        'query Owners($f: [String!]!) { records(dataset: "residents-per-room", fields: $f, first: 3) { items { values { value } } } }',
        { f: ['household_head'] },
        { token: owner, remoteAddress: addr() },
      );
      const values = (r.body.data!.records as { items: { values: { value: string }[] }[] }).items.map(
        (i) => i.values[0]!.value,
      );
      assert.equal(values.length, 3);
      const line = logLines.findLast((l) => l.operationName === 'Owners')!;
      assert.equal(line.operation, 'query records');
      assert.equal(line.org, 'public-security');
      assert.deepEqual(line.roles, ['owner']);
      assert.equal(line.outcome, 'ok');
      assert.equal(line.records, 3);
      assert.equal(typeof line.ms, 'number');
      const all = JSON.stringify(logLines);
      for (const v of values) assert.ok(!all.includes(v), 'a data value in the request log');
      assert.ok(!all.includes('household_head'), 'arguments are not logged');
      assert.ok(logLines.some((l) => l.outcome === 'RATE_LIMITED'));
    });

    it('reports not ready (503) once the store is closed', async () => {
      await tg.gw.db.close();
      const res = await http('/readyz');
      assert.equal(res.statusCode, 503);
      const body = JSON.parse(res.body) as { status: string; checks: { store: string } };
      assert.equal(body.status, 'not ready');
      assert.equal(body.checks.store, 'unreachable');
    });
  });
});
