import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { suppressSmallCells } from './suppression.js';

describe('small-cell suppression', () => {
  it('suppresses cells under k, zeros included', () => {
    const r = suppressSmallCells(
      [
        { key: 'a', n: 0 },
        { key: 'b', n: 9 },
        { key: 'c', n: 10 },
        { key: 'd', n: 50 },
      ],
      69,
      10,
    );
    // a and b are primary; together they hold 9 < k records, so the smallest released cell (c) joins them.
    assert.deepEqual([...r.suppressed].sort(), ['a', 'b', 'c']);
    assert.equal(r.primary, 2);
    assert.equal(r.secondary, 1);
    assert.equal(r.totalSuppressed, false);
  });

  it('a lone suppressed cell takes the next smallest with it, so the total cannot reveal it', () => {
    const r = suppressSmallCells(
      [
        { key: 'a', n: 3 },
        { key: 'b', n: 40 },
        { key: 'c', n: 12 },
      ],
      55,
      10,
    );
    assert.deepEqual([...r.suppressed].sort(), ['a', 'c']);
    assert.equal(r.secondary, 1);
  });

  it('k = 1 releases everything', () => {
    const r = suppressSmallCells([{ key: 'a', n: 0 }], 0, 1);
    assert.equal(r.suppressed.size, 0);
    assert.equal(r.totalSuppressed, false);
  });

  it('property: no suppressed cell can be recovered from the released cells and total', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 60 }), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 2, max: 20 }),
        (ns, k) => {
          const cells = ns.map((n, i) => ({ key: `c${i}`, n }));
          const total = ns.reduce((a, b) => a + b, 0);
          const r = suppressSmallCells(cells, total, k);
          // Every released cell is at least k.
          for (const c of cells) if (!r.suppressed.has(c.key)) assert.ok(c.n >= k);
          // If the total is released, what it reveals about the suppressed cells is their sum:
          // it must cover at least two cells and at least k records.
          if (r.suppressed.size > 0 && !r.totalSuppressed) {
            const hidden = cells.filter((c) => r.suppressed.has(c.key));
            assert.ok(hidden.length >= 2, 'a single suppressed cell would equal total minus the rest');
            assert.ok(hidden.reduce((a, c) => a + c.n, 0) >= k);
          }
          if (total < k) assert.ok(r.totalSuppressed);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
