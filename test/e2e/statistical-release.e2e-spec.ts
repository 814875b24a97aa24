import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, errorCode, type TestGateway } from '../support/test-gateway.js';

/**
 * The public's side of the statistical release (src/query/statistical-release.ts), over GraphQL as an anonymous
 * caller: every partition asked every way, then the differencing attacks of issue #13 on the answers.
 */
interface Cell {
  key: string;
  count: number | null;
  suppressed: boolean;
}
type Answer = { cells: Cell[]; total: { count: number | null; suppressed: boolean } };

const DATASET = 'hotline-complaints';

describe('public statistics are published, not queried', () => {
  let t: TestGateway;
  /** Every value the public was shown, by partition|key; a key seen twice must carry one value. */
  const shown = new Map<string, number | null>();
  let logStart = 0;

  async function ask(groupBy: string, within: string | null): Promise<Answer> {
    const q = `{ aggregate(dataset: "${DATASET}", groupBy: ${groupBy}${within ? `, within: "${within}"` : ''}, measures: [{ fn: count }]) { cells { key count suppressed } total { count suppressed } } }`;
    const r = await t.gql(q);
    assert.equal(r.body.errors, undefined, r.raw.slice(0, 300));
    return (r.body.data as { aggregate: Answer }).aggregate;
  }
  function note(partition: string, a: Answer, totalKey: string) {
    for (const c of [...a.cells.map((c) => ({ ...c, key: `${partition}|${c.key}` })), { ...a.total, key: totalKey }]) {
      assert.equal(c.suppressed, c.count === null);
      if (shown.has(c.key)) assert.equal(shown.get(c.key), c.count, `${c.key} answered two ways`);
      shown.set(c.key, c.count);
    }
  }

  before(async () => {
    t = await startTestGateway({ rooms: 3000 });
    logStart = await t.gw.log.size();
    const units = await t.gw.db.query<{ id: string; level: string }>(
      `select id, level from units where level in ('district', 'subdistrict') order by id`,
    );
    note('district', await ask('{ level: district }', null), 'total|total');
    note('subdistrict', await ask('{ level: subdistrict }', null), 'total|total');
    note('community', await ask('{ level: community }', null), 'total|total');
    note('h3r7', await ask('{ h3Resolution: 7 }', null), 'total|total');
    note('h3r8', await ask('{ h3Resolution: 8 }', null), 'total|total');
    for (const u of units) {
      const finer = u.level === 'district' ? 'subdistrict' : 'community';
      note(finer, await ask(`{ level: ${finer} }`, u.id), `${u.level}|${u.id}`);
    }
  });
  after(async () => {
    await t?.close();
  });

  it('no released parent minus its released children gives a suppressed cell (levels, H3, the city)', async () => {
    const units = await t.gw.db.query<{ id: string; level: string; parent_id: string | null }>(
      `select id, level, parent_id from units where level in ('district', 'subdistrict', 'community')`,
    );
    const pairs = await t.gw.db.query<{ r7: string; r8: string }>(
      `select distinct h3_r7 as r7, h3_r8 as r8 from grains`,
    );
    const children = new Map<string, Set<string>>();
    const link = (parent: string, child: string) =>
      children.set(parent, (children.get(parent) ?? new Set()).add(child));
    for (const u of units)
      link(
        u.level === 'district'
          ? 'total|total'
          : `${u.level === 'subdistrict' ? 'district' : 'subdistrict'}|${u.parent_id}`,
        `${u.level}|${u.id}`,
      );
    const viaH3 = new Map<string, Set<string>>();
    for (const p of pairs) {
      viaH3.set('total|total', (viaH3.get('total|total') ?? new Set()).add(`h3r7|${p.r7}`));
      viaH3.set(`h3r7|${p.r7}`, (viaH3.get(`h3r7|${p.r7}`) ?? new Set()).add(`h3r8|${p.r8}`));
    }
    const truth = await trueCounts(t);
    let equations = 0;
    let suppressedInReach = 0;
    let smallNonZero = 0;
    for (const [parent, kids] of [...children, ...viaH3]) {
      const cells = [parent, ...kids];
      for (const c of cells) assert.ok(shown.has(c), `${c} was asked`);
      equations++;
      const hidden = cells.filter((c) => shown.get(c) === null);
      suppressedInReach += hidden.length;
      // A lone unknown in an equation is the differencing attack: subtract and read it.
      assert.notEqual(hidden.length, 1, `${parent}: one suppressed cell (${hidden.join(', ')}) is determined`);
      // Under a released parent the suppressed children's sum is known: it must hold at least k records, or it
      // bounds each of them (a parent of 25 with released children 12 and 10 says the hidden ones hold 3).
      if (shown.get(parent) !== null && hidden.length > 0) {
        const together = hidden.reduce((s, c) => s + (truth.get(c) ?? 0), 0);
        assert.ok(together >= 10, `${parent}: its suppressed children hold ${together} together`);
      }
    }
    for (const [key, n] of truth) {
      if (n > 0 && n < 10) {
        smallNonZero++;
        assert.equal(shown.get(key), null, `${key} holds ${n} records and was shown`);
      } else if (shown.get(key) !== null && shown.has(key)) {
        assert.equal(shown.get(key), n, `${key} is the true count where released`);
      }
    }
    // Not vacuous: the city has small cells and the equations reach them.
    assert.ok(
      equations > 100 && suppressedInReach > 100 && smallNonZero > 10,
      `${equations}/${suppressedInReach}/${smallNonZero}`,
    );
  });

  it('one release, logged once with its hash before the first answer; answers never rescan the data', async () => {
    const kinds: string[] = [];
    for (let i = logStart; i < (await t.gw.log.size()); i++) kinds.push((await t.gw.log.get(i))!.record.kind);
    assert.equal(kinds[0], 'statistical-release');
    assert.equal(kinds.filter((k) => k === 'statistical-release').length, 1);
    const rec = (await t.gw.log.get(logStart))!.record as unknown as { hash: string; dataset: string };
    assert.equal(rec.dataset, DATASET);
    assert.match(rec.hash, /^[0-9a-f]{64}$/);
    // The data changes under the published release: the public is still answered from what was published.
    const before = await ask('{ level: district }', null);
    const table = t.gw.catalogue.get(DATASET)!.tableName;
    await t.gw.db.query(`delete from "${table}"`);
    assert.deepEqual(await ask('{ level: district }', null), before);
  });

  it('regions, filters and cells finer than published are refused with the reason, not computed', async () => {
    const cases: [string, string, RegExp][] = [
      [
        'bbox: { minLon: 121.4, minLat: 31.2, maxLon: 121.5, maxLat: 31.3 }, groupBy: { level: district }',
        'BAD_USER_INPUT',
        /arbitrary regions/,
      ],
      ['groupBy: { level: building }', 'FORBIDDEN', /no finer than communities/],
      ['groupBy: { h3Resolution: 9 }', 'BAD_USER_INPUT', /resolutions 7 and 8/],
      [
        'groupBy: { level: district }, filter: [{ field: "category", op: eq, value: "noise" }]',
        'BAD_USER_INPUT',
        /without filters/,
      ],
    ];
    for (const [args, code, message] of cases) {
      const r = await t.gql(
        `{ aggregate(dataset: "${DATASET}", ${args}, measures: [{ fn: count }]) { total { count } } }`,
      );
      assert.equal(errorCode(r), code, r.raw.slice(0, 300));
      assert.match(r.body.errors![0]!.message, message);
    }
  });
});

/** The true record count of every published cell, read from the store (the test's ground truth). */
async function trueCounts(t: TestGateway): Promise<Map<string, number>> {
  const table = t.gw.catalogue.get(DATASET)!.tableName;
  const out = new Map<string, number>();
  const from = `from "${table}" r join grains g on g.id = r.grain_id`;
  const [total] = await t.gw.db.query<{ n: number }>(`select count(*)::int as n ${from}`);
  out.set('total|total', total?.n ?? 0);
  for (const [partition, col] of [
    ['district', 'district_id'],
    ['subdistrict', 'subdistrict_id'],
    ['community', 'community_id'],
    ['h3r7', 'h3_r7'],
    ['h3r8', 'h3_r8'],
  ] as const) {
    const rows = await t.gw.db.query<{ k: string; n: number }>(
      `select g.${col} as k, count(*)::int as n ${from} group by 1`,
    );
    for (const r of rows) out.set(`${partition}|${r.k}`, r.n);
  }
  return out;
}
