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
