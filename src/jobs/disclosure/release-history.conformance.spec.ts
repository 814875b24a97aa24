/** One conformance suite for the ReleaseHistory port, run against every adapter (in memory, PGlite store). */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { migrate } from '../../store/migrate.js';
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
});
