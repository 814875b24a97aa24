/**
 * The statistical release holds across queries (issue #13, point 1): whatever sequence of public aggregate
 * requests an attacker sends, the cells it collects, together with every hierarchy equation of the city (a unit
 * is the sum of its child units, an H3 cell of its children, the city of its districts and of its cells),
 * determine no suppressed or small cell. Checked by exact rational elimination (test/support/exact-elimination.ts),
 * not by the gateway's own modular arithmetic.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { determinedCells } from '../../test/support/exact-elimination.js';
import type { AccessRequest } from '../access/access-request.js';
import {
  answerFromRelease,
  publishRelease,
  type Relation,
  type StatisticalRelease,
  type TrueCell,
} from './statistical-release.js';

const K = 5;

interface Rec {
  community: number;
  r8: number;
  value: number;
}

interface World {
  /** subdistrict of each community, district of each subdistrict, r7 parent of each r8 cell */
  subOf: number[];
  distOf: number[];
  r7Of: number[];
  records: Rec[];
}

/** The true cells and equations of a world, built the way the gateway reads them from the store. */
function trueCells(w: World): { cells: TrueCell[]; relations: Relation[]; id: Map<string, number> } {
  const cells: TrueCell[] = [];
  const id = new Map<string, number>();
  const add = (partition: string, key: string, within: string[], recs: Rec[]) => {
    id.set(`${partition}|${key}`, cells.length);
    cells.push({
      partition,
      key,
      label: null,
      within,
      count: recs.length,
      sums: [recs.reduce((s, r) => s + r.value, 0)],
    });
  };
  add('total', 'total', [], w.records);
  const d = (i: number) => `district:${i}`;
  const s = (i: number) => `subdistrict:${i}`;
  const c = (i: number) => `community:${i}`;
  const nd = Math.max(...w.distOf) + 1;
  for (let i = 0; i < nd; i++) {
    add(
      'district',
      d(i),
      [d(i)],
      w.records.filter((r) => w.distOf[w.subOf[r.community]!] === i),
    );
  }
  w.distOf.forEach((di, i) =>
    add(
      'subdistrict',
      s(i),
      [d(di), s(i)],
      w.records.filter((r) => w.subOf[r.community] === i),
    ),
  );
  w.subOf.forEach((si, i) =>
    add(
      'community',
      c(i),
      [d(w.distOf[si]!), s(si), c(i)],
      w.records.filter((r) => r.community === i),
    ),
  );
  const n7 = Math.max(...w.r7Of) + 1;
  for (let i = 0; i < n7; i++)
    add(
      'h3r7',
      `r7:${i}`,
      [],
      w.records.filter((r) => w.r7Of[r.r8] === i),
    );
  w.r7Of.forEach((_, i) =>
    add(
      'h3r8',
      `r8:${i}`,
      [],
      w.records.filter((r) => r.r8 === i),
    ),
  );
  const at = (p: string, k: string) => id.get(`${p}|${k}`)!;
  const relations: Relation[] = [
    { parent: 0, children: Array.from({ length: nd }, (_, i) => at('district', d(i))) },
    { parent: 0, children: Array.from({ length: n7 }, (_, i) => at('h3r7', `r7:${i}`)) },
  ];
  for (let i = 0; i < nd; i++) {
    relations.push({
      parent: at('district', d(i)),
      children: w.distOf.flatMap((di, si) => (di === i ? [at('subdistrict', s(si))] : [])),
    });
  }
  w.distOf.forEach((_, si) => {
    relations.push({
      parent: at('subdistrict', s(si)),
      children: w.subOf.flatMap((x, ci) => (x === si ? [at('community', c(ci))] : [])),
    });
  });
  for (let i = 0; i < n7; i++) {
    relations.push({
      parent: at('h3r7', `r7:${i}`),
      children: w.r7Of.flatMap((x, j) => (x === i ? [at('h3r8', `r8:${j}`)] : [])),
    });
  }
  return { cells, relations, id };
}

function request(groupBy: AccessRequest['groupBy'], within: string | null = null): AccessRequest {
  return {
    datasetId: 'd',
    mode: 'aggregate',
    purpose: null,
    fields: [],
    filters: [],
    sort: [],
    groupBy,
    measures: [
      { fn: 'count', field: null },
      { fn: 'sum', field: 'v' },
    ],
    within,
    bbox: null,
    first: 0,
    offset: 0,
  };
}

/** Everything the attacker learns from answers: released cell values by cell index. */
function collect(
  release: StatisticalRelease,
  id: Map<string, number>,
  requests: AccessRequest[],
  seen: Map<number, number>,
) {
  for (const r of requests) {
    const a = answerFromRelease(release, r);
    const partition =
      r.groupBy!.kind === 'level' ? r.groupBy!.level : `h3r${(r.groupBy as { resolution: number }).resolution}`;
    for (const cell of a.cells) {
      if (cell.count === null) continue;
      assert.ok(cell.count >= K, `a released cell holds ${cell.count} < ${K} records`);
      seen.set(id.get(`${partition}|${cell.key}`)!, cell.count);
    }
    if (a.total.count !== null) {
      const totalId = r.within === null ? 0 : [...id.entries()].find(([k]) => k.endsWith(`|${r.within}`))![1];
      seen.set(totalId, a.total.count);
    }
  }
}

/** Cells the equations determine from what was seen, that the release suppressed or that are small. */
function leaks(
  cells: TrueCell[],
  relations: Relation[],
  release: StatisticalRelease,
  seen: Map<number, number>,
): number[] {
  const equations = relations.map((r) => {
    const m = new Map<number, number>([[r.parent, -1]]);
    for (const ch of r.children) m.set(ch, (m.get(ch) ?? 0) + 1);
    return m;
  });
  const determined = determinedCells(equations, new Set(seen.keys()));
  return [...determined].filter((i) => release.cells[i]!.suppressed || cells[i]!.count < K);
}

const world: fc.Arbitrary<World> = fc
  .record({
    distOf: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 5 }),
    communitiesPerSub: fc.integer({ min: 1, max: 4 }),
    r7Of: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 7 }),
    sizes: fc.array(fc.oneof(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 5, max: 30 })), {
      minLength: 20,
      maxLength: 20,
    }),
    seed: fc.integer({ min: 1, max: 2 ** 30 }),
  })
  .map(({ distOf, communitiesPerSub, r7Of, sizes, seed }) => {
    // Dense ids: every district and r7 cell that is named has a child.
    const dist = distOf.map((x) => x % new Set(distOf).size);
    const d2 = [...new Set(dist)].sort();
    const distOfFixed = dist.map((x) => d2.indexOf(x));
    const r7 = [...new Set(r7Of)].sort();
    const r7OfFixed = r7Of.map((x) => r7.indexOf(x));
    const subOf = distOfFixed.flatMap((_, si) => Array.from({ length: communitiesPerSub }, () => si));
    let x = seed;
    const rand = () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const records: Rec[] = [];
    subOf.forEach((_, ci) => {
      for (let j = 0; j < sizes[ci % sizes.length]!; j++) {
        records.push({ community: ci, r8: Math.floor(rand() * r7OfFixed.length), value: 1 + Math.floor(rand() * 9) });
      }
    });
    return { subOf, distOf: distOfFixed, r7Of: r7OfFixed, records };
  });

describe('statistical release: joint suppression across every published table', () => {
  it('hierarchy subtraction: a subdistrict minus its released communities does not give the suppressed one', () => {
    // subdistrict 0 has communities of 2, 10 and 10 records; subdistrict 1 has 12.
    const w: World = {
      subOf: [0, 0, 0, 1],
      distOf: [0, 0],
      r7Of: [0],
      records: [
        ...Array.from({ length: 2 }, () => ({ community: 0, r8: 0, value: 3 })),
        ...Array.from({ length: 10 }, () => ({ community: 1, r8: 0, value: 1 })),
        ...Array.from({ length: 10 }, () => ({ community: 2, r8: 0, value: 1 })),
        ...Array.from({ length: 12 }, () => ({ community: 3, r8: 0, value: 1 })),
      ],
    };
    const { cells, relations, id } = trueCells(w);
    const release = publishRelease('d', ['v'], K, cells, relations);
    const seen = new Map<number, number>();
    collect(
      release,
      id,
      [
        request({ kind: 'level', level: 'community' }, 'subdistrict:0'),
        request({ kind: 'level', level: 'subdistrict' }),
        request({ kind: 'level', level: 'district' }),
      ],
      seen,
    );
    assert.equal(release.cells[id.get('community|community:0')!]!.suppressed, true);
    assert.deepEqual(leaks(cells, relations, release, seen), []);
  });

  it('H3 parent minus children, and the city total across both hierarchies, give nothing', () => {
    const w: World = {
      subOf: [0, 1],
      distOf: [0, 0],
      r7Of: [0, 0, 0, 1],
      records: [
        ...Array.from({ length: 3 }, () => ({ community: 0, r8: 0, value: 7 })), // r8:0 holds 3
        ...Array.from({ length: 9 }, () => ({ community: 0, r8: 1, value: 1 })),
        ...Array.from({ length: 9 }, () => ({ community: 1, r8: 2, value: 1 })),
        ...Array.from({ length: 9 }, () => ({ community: 1, r8: 3, value: 1 })),
      ],
    };
    const { cells, relations, id } = trueCells(w);
    const release = publishRelease('d', ['v'], K, cells, relations);
    const seen = new Map<number, number>();
    collect(
      release,
      id,
      [
        request({ kind: 'h3', resolution: 7 }),
        request({ kind: 'h3', resolution: 8 }),
        request({ kind: 'level', level: 'community' }),
      ],
      seen,
    );
    assert.equal(release.cells[id.get('h3r8|r8:0')!]!.suppressed, true);
    assert.ok(release.secondary > 0, 'complements were added');
    assert.deepEqual(leaks(cells, relations, release, seen), []);
  });

  it('refuses what it does not publish: regions, filters, finer levels, resolution 9, min and max', () => {
    const { cells, relations } = trueCells({
      subOf: [0],
      distOf: [0],
      r7Of: [0],
      records: [{ community: 0, r8: 0, value: 1 }],
    });
    const release = publishRelease('d', ['v'], K, cells, relations);
    const r = request({ kind: 'level', level: 'community' });
    assert.throws(
      () => answerFromRelease(release, { ...r, bbox: { minLon: 0, minLat: 0, maxLon: 1, maxLat: 1 } }),
      /arbitrary regions/,
    );
    assert.throws(
      () =>
        answerFromRelease(release, {
          ...r,
          polygon: [
            [
              [0, 0],
              [1, 0],
              [1, 1],
              [0, 0],
            ],
          ],
        }),
      /arbitrary regions/,
    );
    assert.throws(
      () => answerFromRelease(release, { ...r, filters: [{ field: 'v', op: 'gt', value: 1 }] }),
      /without filters/,
    );
    assert.throws(
      () => answerFromRelease(release, request({ kind: 'level', level: 'building' })),
      /no finer than communities/,
    );
    assert.throws(() => answerFromRelease(release, request({ kind: 'h3', resolution: 9 })), /resolutions 7 and 8/);
    assert.throws(
      () => answerFromRelease(release, { ...r, measures: [{ fn: 'max', field: 'v' }] }),
      /counts, and sums and means/,
    );
    // The answer is the stored release: the same for every caller and every call.
    assert.deepEqual(answerFromRelease(release, r), answerFromRelease(release, r));
  });

  it('property: 1,000 random cities and request sequences never determine a suppressed or small cell', () => {
    const requests = fc.array(
      fc.oneof(
        fc.constantFrom(
          request({ kind: 'level', level: 'district' }),
          request({ kind: 'level', level: 'subdistrict' }),
          request({ kind: 'level', level: 'community' }),
          request({ kind: 'h3', resolution: 7 }),
          request({ kind: 'h3', resolution: 8 }),
        ),
        fc
          .tuple(
            fc.constantFrom<'subdistrict' | 'community'>('subdistrict', 'community'),
            fc.integer({ min: 0, max: 4 }),
          )
          .map(([level, i]) =>
            request({ kind: 'level', level }, level === 'community' ? `subdistrict:${i}` : `district:${i % 3}`),
          ),
      ),
      { minLength: 1, maxLength: 8 },
    );
    let suppressedSeen = 0;
    fc.assert(
      fc.property(world, requests, (w, reqs) => {
        const { cells, relations, id } = trueCells(w);
        const release = publishRelease('d', ['v'], K, cells, relations);
        suppressedSeen += release.cells.filter((c) => c.suppressed).length;
        const seen = new Map<number, number>();
        const valid = reqs.filter((r) => r.within === null || id.has(`${r.within.split(':')[0]}|${r.within}`));
        collect(release, id, valid, seen);
        assert.deepEqual(leaks(cells, relations, release, seen), []);
      }),
      { numRuns: 1000, seed: 13 },
    );
    assert.ok(suppressedSeen > 1000, `the worlds suppress cells (${suppressedSeen})`);
  });
});
