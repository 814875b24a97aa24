import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { PgliteDb } from '../store/pglite.adapter.js';
import { polygonSql, Sql } from './query-engine.js';

/** The even-odd rule in JS, the reference the SQL must agree with. */
function inside(polygon: number[][][], lon: number, lat: number): boolean {
  let odd = false;
  for (const ring of polygon) {
    for (let i = 0; i < ring.length; i++) {
      const [x1, y1] = ring[i]!;
      const [x2, y2] = ring[(i + 1) % ring.length]!;
      if (y1! > lat !== y2! > lat && lon < ((x2! - x1!) * (lat - y1!)) / (y2! - y1!) + x1!) odd = !odd;
    }
  }
  return odd;
}

// A "C": concave, open to the east. And a square with a square hole.
const C = [
  [
    [0, 0],
    [3, 0],
    [3, 1],
    [1, 1],
    [1, 2],
    [3, 2],
    [3, 3],
    [0, 3],
  ],
];
const HOLED = [
  [
    [0, 0],
    [4, 0],
    [4, 4],
    [0, 4],
  ],
  [
    [1, 1],
    [1, 3],
    [3, 3],
    [3, 1],
  ],
];

describe('query engine: polygon filter in SQL', () => {
  let db: PgliteDb;
  before(async () => {
    db = await PgliteDb.open(null);
  });
  after(() => db.close());

  async function selected(polygon: number[][][], points: [number, number][]): Promise<boolean[]> {
    const sql = new Sql();
    polygonSql(polygon, sql);
    const lons = sql.p(points.map((p) => p[0]));
    const lats = sql.p(points.map((p) => p[1]));
    const rows = await db.query<{ i: number }>(
      `select g.i from unnest(${lons}::float8[], ${lats}::float8[]) with ordinality as g(lon, lat, i)
       where ${sql.where.join(' and ')}`,
      sql.params,
    );
    const hit = new Set(rows.map((r) => Number(r.i) - 1));
    return points.map((_, i) => hit.has(i));
  }

  it('selects points inside a concave polygon and outside its notch', async () => {
    assert.deepEqual(
      await selected(C, [
        [0.5, 1.5], // in the spine
        [2, 1.5], // in the notch: outside
        [2, 0.5], // lower arm
        [2, 2.5], // upper arm
        [3.5, 1.5], // east of everything
      ]),
      [true, false, true, true, false],
    );
  });

  it('leaves holes out', async () => {
    assert.deepEqual(
      await selected(HOLED, [
        [0.5, 0.5],
        [2, 2],
        [3.5, 2],
        [5, 5],
      ]),
      [true, false, true, false],
    );
  });

  it('agrees with the even-odd rule on random points (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.double({ min: -1, max: 5, noNaN: true }), fc.double({ min: -1, max: 5, noNaN: true })), {
          minLength: 1,
          maxLength: 40,
        }),
        async (points) => {
          for (const poly of [C, HOLED]) {
            assert.deepEqual(
              await selected(poly, points),
              points.map(([x, y]) => inside(poly, x, y)),
            );
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
