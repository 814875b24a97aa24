/** One conformance suite for the ReleaseHistory port, run against every adapter (in memory, PGlite store). */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { migrate } from '../../store/migrate.js';
import { MIGRATIONS } from '../../store/migrations.js';
import { PgliteDb } from '../../store/pglite.adapter.js';
import { DifferencingAuditor } from './differencing-auditor.js';
import { InMemoryReleaseHistory } from './in-memory-release-history.adapter.js';
import { PgReleaseHistory } from './pg-release-history.adapter.js';
import type { ReleaseHistory } from './release-history.port.js';

const units = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `u${from + i}`);

function conformance(name: string, make: () => Promise<ReleaseHistory>) {
  describe(`ReleaseHistory: ${name}`, () => {
    let h: ReleaseHistory;
    before(async () => {
      h = await make();
    });

    it('lists a scope’s releases in append order, and nothing of other scopes', async () => {
      const s = { org: `org-${name}`, population: 'p' };
      await h.append(s, { releaseId: 'r1', cells: [{ cell: 'a', units: units(0, 3) }] });
      await h.append(s, { releaseId: 'r2', cells: [{ cell: 'b', units: units(3, 5) }] });
      await h.append({ ...s, population: 'q' }, { releaseId: 'r3', cells: [{ cell: 'c', units: ['x'] }] });
      assert.deepEqual(await h.list(s), [
        { releaseId: 'r1', cells: [{ cell: 'a', units: units(0, 3) }] },
        { releaseId: 'r2', cells: [{ cell: 'b', units: units(3, 5) }] },
      ]);
      assert.deepEqual(await h.list({ org: 'nobody', population: 'p' }), []);
    });

    it('overlapping: only the earlier cells sharing a unit, each distinct cell once, never another scope', async () => {
      const s = { org: `overlap-${name}`, population: 'p' };
      await h.append(s, {
        releaseId: 'r1',
        cells: [
          { cell: 'a', units: units(0, 10) },
          { cell: 'b', units: units(50, 60) },
        ],
      });
      await h.append(s, { releaseId: 'r2', cells: [{ cell: 'a again', units: [...units(0, 10)].reverse() }] });
      await h.append({ ...s, org: 'other' }, { releaseId: 'r3', cells: [{ cell: 'x', units: units(0, 10) }] });
      const got = await h.overlapping(s, ['u3', 'u999']);
      const cells = got.flatMap((r) => r.cells.map((c) => [...c.units].sort().join(',')));
      assert.equal(new Set(cells).size, 1, 'the same units under another label are one cell');
      assert.deepEqual(cells[0], units(0, 10).sort().join(','));
      assert.deepEqual(await h.overlapping(s, ['u999']), []);
      assert.equal((await h.overlapping(s, ['u55'])).flatMap((r) => r.cells)[0]?.cell, 'b');
    });

    it('backs the differencing auditor: a near-copy of an earlier cell is refused', async () => {
      const auditor = new DifferencingAuditor(h);
      const s = { org: `audit-${name}`, population: 'p' };
      assert.ok((await auditor.release(s, 'a', [{ cell: 'all', units: units(0, 100) }])).allowed);
      const r = await auditor.release(s, 'b', [{ cell: 'all but one', units: units(1, 100) }]);
      assert.equal(r.refusal?.rule, 'differencing');
      assert.equal((await h.list(s)).length, 1);
    });
  });
}

conformance('in memory', async () => new InMemoryReleaseHistory());

describe('durable adapter', () => {
  let db: PgliteDb;
  before(async () => {
    db = await PgliteDb.open(null);
    await migrate(db);
  });
  after(async () => {
    await db.close();
  });
  conformance('pglite', async () => new PgReleaseHistory(db));

  it('survives a new adapter on the same store (a restart) and ignores a repeated release id', async () => {
    const s = { org: 'restart', population: 'p' };
    await new PgReleaseHistory(db).append(s, { releaseId: 'r1', cells: [{ cell: 'a', units: ['u1'] }] });
    await new PgReleaseHistory(db).append(s, { releaseId: 'r1', cells: [{ cell: 'changed', units: ['u2'] }] });
    assert.deepEqual(await new PgReleaseHistory(db).list(s), [
      { releaseId: 'r1', cells: [{ cell: 'a', units: ['u1'] }] },
    ]);
  });

  it('the migration indexes a history written before the index existed, as appends do', async () => {
    const s = { org: 'legacy', population: 'p' };
    const old = [
      { releaseId: 'l1', cells: [{ cell: 'all', units: units(0, 100) }] },
      {
        releaseId: 'l2',
        cells: [
          { cell: 'all, again', units: [...units(0, 100)].reverse() },
          { cell: 'few', units: units(200, 230) },
        ],
      },
    ];
    for (const r of old) {
      await db.query(
        `insert into job_release_history (org, population, release_id, cells) values ($1, $2, $3, $4::jsonb)`,
        [s.org, s.population, r.releaseId, JSON.stringify(r.cells)],
      );
    }
    // The index as the migration builds it from the whole history (its backfill statements, run again).
    await db.exec('delete from disclosure_units; delete from disclosure_cells;');
    const sql = MIGRATIONS.find((m) => m.id === '0023_disclosure_index')!.sql;
    const backfill = sql.split(';').filter((x) => /^\s*(--[^\n]*\n\s*)*insert/i.test(x));
    assert.equal(backfill.length, 2);
    for (const stmt of backfill) await db.exec(stmt);
    const h = new PgReleaseHistory(db);
    const found = (await h.overlapping(s, ['u5'])).flatMap((r) => r.cells);
    assert.equal(found.length, 1, 'two releases of the same cell are indexed once');
    assert.equal(found[0]!.cell, 'all');
    // And the auditor reads it: all but one of the legacy cell is refused.
    const r = await new DifferencingAuditor(h).release(s, 'n1', [{ cell: 'all but one', units: units(1, 100) }]);
    assert.equal(r.refusal?.rule, 'differencing');
    // An append after the migration joins the same index (the JS and SQL signatures agree).
    await h.append(s, { releaseId: 'n2', cells: [{ cell: 'all, third time', units: units(0, 100) }] });
    assert.equal((await h.overlapping(s, ['u5'])).flatMap((r) => r.cells).length, 1);
  });
});
