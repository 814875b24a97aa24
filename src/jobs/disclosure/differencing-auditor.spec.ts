import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DifferencingAuditor, auditedCells, findDifferencing } from './differencing-auditor.js';
import { InMemoryReleaseHistory } from './in-memory-release-history.adapter.js';
import type { AuditScope } from './release-history.port.js';

const range = (prefix: string, from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => `${prefix}${from + i}`);
const scope: AuditScope = { org: 'planning', population: 'residents' };

describe('differencing: concrete pairs', () => {
  it('ward, then ward minus one building (grains weighted by residents)', async () => {
    const residents: Record<string, number> = Object.fromEntries(range('b', 0, 20).map((b) => [b, 6]));
    const auditor = new DifferencingAuditor(new InMemoryReleaseHistory(), { weight: (u) => residents[u] ?? 1 });
    const ward = range('b', 0, 20);
    assert.ok((await auditor.release(scope, 'r1', [{ cell: 'ward=W3', units: ward }])).allowed);
    const minusOne = ward.filter((b) => b !== 'b7');
    const r = await auditor.release(scope, 'r2', [{ cell: 'ward=W3 except b7', units: minusOne }]);
    assert.equal(r.allowed, false);
    assert.equal(r.refusal?.rule, 'differencing');
    assert.deepEqual(r.refusal?.cells, ['ward=W3 except b7']);
    assert.deepEqual(r.refusal?.pairs, [
      {
        cell: 'ward=W3 except b7',
        against: { releaseId: 'r1', cell: 'ward=W3' },
        difference: 6,
        side: 'earlier-not-new',
      },
    ]);
    // minus two buildings (12 residents) is a difference the threshold allows
    const minusTwo = ward.filter((b) => b !== 'b7' && b !== 'b8');
    assert.ok((await auditor.check(scope, [{ cell: 'ward=W3 except b7, b8', units: minusTwo }])).allowed);
  });

  it('polygon, then the same polygon minus a sliver (record ids)', () => {
    const polygon = range('p', 0, 500);
    const sliver = new Set(range('p', 100, 103));
    const r = findDifferencing(
      [{ cell: 'polygon-2', units: polygon.filter((u) => !sliver.has(u)) }],
      [{ releaseId: 'r1', cells: [{ cell: 'polygon-1', units: polygon }] }],
    );
    assert.equal(r?.pairs[0]?.difference, 3);
  });

  it('the other way round: a polygon, then it plus a sliver', () => {
    const polygon = range('p', 0, 500);
    const r = findDifferencing(
      [{ cell: 'bigger', units: [...polygon, 'x1', 'x2'] }],
      [{ releaseId: 'r1', cells: [{ cell: 'polygon', units: polygon }] }],
    );
    assert.equal(r?.pairs[0]?.side, 'new-not-earlier');
  });

  it('a slightly shifted polygon (a few units out, a few in)', () => {
    const a = range('u', 0, 300);
    const b = range('u', 4, 304);
    const r = findDifferencing(
      [{ cell: 'shifted', units: b }],
      [{ releaseId: 'r1', cells: [{ cell: 'a', units: a }] }],
    );
    assert.deepEqual(
      r?.pairs.map((p) => p.side),
      ['new-not-earlier', 'earlier-not-new'],
    );
  });

  it('two cells of the same new release (a margin and a near-copy)', () => {
    const r = findDifferencing(
      [
        { cell: 'district', units: range('u', 0, 200) },
        { cell: 'district minus one', units: range('u', 1, 200) },
      ],
      [],
    );
    assert.deepEqual(r?.cells, ['district minus one']);
  });

  it('allows disjoint cells, identical re-releases and large differences', () => {
    const earlier = [{ releaseId: 'r1', cells: [{ cell: 'a', units: range('u', 0, 100) }] }];
    assert.equal(findDifferencing([{ cell: 'b', units: range('u', 100, 150) }], earlier), null);
    assert.equal(findDifferencing([{ cell: 'a again', units: range('u', 0, 100) }], earlier), null);
    assert.equal(findDifferencing([{ cell: 'half', units: range('u', 0, 50) }], earlier), null);
  });

  it('compares only within an organisation and a population', async () => {
    const auditor = new DifferencingAuditor(new InMemoryReleaseHistory());
    await auditor.release(scope, 'r1', [{ cell: 'a', units: range('u', 0, 100) }]);
    const nearCopy = [{ cell: 'a-1', units: range('u', 1, 100) }];
    assert.equal((await auditor.check(scope, nearCopy)).allowed, false);
    assert.equal((await auditor.check({ org: 'transport', population: 'residents' }, nearCopy)).allowed, true);
    assert.equal((await auditor.check({ org: 'planning', population: 'trees' }, nearCopy)).allowed, true);
  });

  it('serialises releases per scope: of two concurrent near-copies only one is recorded', async () => {
    const history = new InMemoryReleaseHistory();
    const auditor = new DifferencingAuditor(history);
    const [a, b] = await Promise.all([
      auditor.release(scope, 'r1', [{ cell: 'a', units: range('u', 0, 100) }]),
      auditor.release(scope, 'r2', [{ cell: 'b', units: range('u', 0, 99) }]),
    ]);
    assert.deepEqual([a.allowed, b.allowed], [true, false]);
    assert.equal((await history.list(scope)).length, 1);
  });

  it('builds audited cells from a checked table, released rows only', () => {
    const cells = auditedCells(
      {
        columns: ['ward', 'count'],
        rows: [
          ['W1', 20],
          ['W2', null],
        ],
        units: [['u1', 'u2'], ['u3']],
      },
      ['ward'],
      new Set([0]),
    );
    assert.deepEqual(cells, [{ cell: 'ward=W1', units: ['u1', 'u2'] }]);
  });
});

describe('differencing: properties (fast-check)', () => {
  const cell = fc
    .uniqueArray(fc.integer({ min: 0, max: 2000 }), { minLength: 30, maxLength: 200 })
    .map((xs) => xs.map(String));

  it('removing fewer than 10 units from an earlier cell is always refused', () => {
    fc.assert(
      fc.property(cell, fc.integer({ min: 1, max: 9 }), (units, k) => {
        const removed = new Set(units.slice(0, k));
        const r = findDifferencing(
          [{ cell: 'new', units: units.filter((u) => !removed.has(u)) }],
          [{ releaseId: 'r', cells: [{ cell: 'old', units }] }],
        );
        assert.equal(r?.pairs[0]?.difference, k);
      }),
    );
  });

  it('a cell that adds and removes at least 10 units each way, or none, is allowed', () => {
    fc.assert(
      fc.property(cell, fc.integer({ min: 10, max: 25 }), fc.integer({ min: 0, max: 1 }), (units, k, addBack) => {
        const kept = units.slice(k);
        const added = addBack === 1 ? range('new', 0, 10) : [];
        const r = findDifferencing(
          [{ cell: 'new', units: [...kept, ...added] }],
          [{ releaseId: 'r', cells: [{ cell: 'old', units }] }],
        );
        assert.equal(r, null);
      }),
    );
  });
});
