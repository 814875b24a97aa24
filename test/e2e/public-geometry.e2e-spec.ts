/**
 * Generalised geometry really generalises (issue 13, point 6): the public sees records of an unconditional
 * dataset on H3 resolution-8 cells, so no spatial filter may select below that. An attacker narrows a `bbox`
 * to one room's point, or asks `within` that room's building, hoping for the single record; every answer must
 * be whole cells. A department, which sees exact geometry, keeps exact filters.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NO_RATE_LIMITS, startTestGateway, type TestGateway } from '../support/test-gateway.js';

const DS = 'business-licences';

interface Page {
  items: { id: string; cell: string | null; grainId: string | null }[];
  nextOffset?: number | null;
}

describe('public spatial filters select whole cells, never one room', () => {
  let tg: TestGateway;
  /** A room whose resolution-8 cell holds several licences, and its building's cells. */
  let target: { lon: number; lat: number; cell: string; building: string; n: number };
  let inCell: number;

  const records = async (args: string, token?: string): Promise<Page['items']> => {
    const r = await tg.gql(
      `{ records(dataset: "${DS}", fields: ["industry"], first: 500${args}) { items { id cell grainId } } }`,
      {},
      token ? { token } : {},
    );
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    return (r.body.data?.records as Page).items;
  };
  const countInCells = async (cells: string[]) =>
    Number(
      (
        await tg.gw.db.query<{ n: number }>(
          `select count(*)::int as n from ds_business_licences r join grains g on g.id = r.grain_id
           where g.h3_r8 = any($1::text[])`,
          [cells],
        )
      )[0]!.n,
    );

  before(async () => {
    tg = await startTestGateway({ rooms: 3000, env: { CITYGATE_RATE_LIMITS: NO_RATE_LIMITS } });
    const rows = await tg.gw.db.query<{ lon: number; lat: number; cell: string; building: string; n: number }>(
      `select g.lon, g.lat, g.h3_r8 as cell, g.building_id as building, c.n
         from ds_business_licences r join grains g on g.id = r.grain_id
         join (select g2.h3_r8, count(*)::int as n from ds_business_licences r2 join grains g2 on g2.id = r2.grain_id
               group by g2.h3_r8) c on c.h3_r8 = g.h3_r8
        where c.n between 3 and 400 order by c.n, r.id limit 1`,
    );
    assert.ok(rows[0], 'the demo city has a cell with several licences');
    target = rows[0];
    inCell = Number(target.n);
  });
  after(async () => {
    await tg?.close();
  });

  it('a tiny bbox around one room returns every record of its cell, under pseudonyms', async () => {
    const e = 1e-7;
    const items = await records(
      `, bbox: { minLon: ${target.lon - e}, minLat: ${target.lat - e}, maxLon: ${target.lon + e}, maxLat: ${target.lat + e} }`,
    );
    assert.equal(items.length, inCell, 'the whole cell, not the one room');
    assert.ok(inCell >= 3);
    for (const it of items) {
      assert.equal(it.cell, target.cell);
      assert.equal(it.grainId, null);
    }
  });

  it('within one building returns the whole cells that building lies in', async () => {
    const cells = (
      await tg.gw.db.query<{ cell: string }>(`select distinct h3_r8 as cell from grains where building_id = $1`, [
        target.building,
      ])
    ).map((c) => c.cell);
    const items = await records(`, within: "${target.building}"`);
    assert.equal(items.length, await countInCells(cells));
    assert.ok(items.length >= inCell);
    for (const it of items) assert.ok(cells.includes(it.cell!), `${it.cell} is one of the building's cells`);
  });

  it('two boxes that split one cell cannot tell its records apart', async () => {
    // West and east halves around the room: each half that holds any grain of the cell returns the whole cell.
    const e = 1e-7;
    const west = await records(
      `, bbox: { minLon: ${target.lon - 0.01}, minLat: ${target.lat - e}, maxLon: ${target.lon}, maxLat: ${target.lat + e} }`,
    );
    const east = await records(
      `, bbox: { minLon: ${target.lon}, minLat: ${target.lat - e}, maxLon: ${target.lon + 0.01}, maxLat: ${target.lat + e} }`,
    );
    const ofCell = (items: Page['items']) =>
      items
        .filter((i) => i.cell === target.cell)
        .map((i) => i.id)
        .sort();
    assert.deepEqual(ofCell(west), ofCell(east), 'the same records of the cell on both sides');
    assert.equal(ofCell(west).length, inCell);
  });

  it('a department, which sees exact geometry, keeps the exact filter', async () => {
    const token = await tg.token('planning-bureau', ['analyst']);
    const e = 1e-7;
    const items = await records(
      `, bbox: { minLon: ${target.lon - e}, minLat: ${target.lat - e}, maxLon: ${target.lon + e}, maxLat: ${target.lat + e} }`,
      token,
    );
    assert.ok(items.length >= 1 && items.length < inCell, `exact: ${items.length} of the cell's ${inCell}`);
    for (const it of items) assert.notEqual(it.grainId, null);
  });
});
