/**
 * The differencing audit across gateway instances on PostgreSQL 15 (run through with-postgres.sh): two auditors on
 * two connection pools, as two gateways would be, release a cell and its near-copy at the same moment. Each alone
 * passes against the history it reads, so only a lock shared through the database keeps both from going out.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DifferencingAuditor } from '../../src/jobs/disclosure/differencing-auditor.js';
import { PgReleaseHistory } from '../../src/jobs/disclosure/pg-release-history.adapter.js';
import { migrate } from '../../src/store/migrate.js';
import { PostgresDb } from '../../src/store/postgres.adapter.js';
import { freshDatabase } from '../support/fresh-database.js';

const url = process.env.DATABASE_URL;
const units = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `r${from + i}`);

describe('differencing audit across instances', { skip: url ? false : 'DATABASE_URL is not set' }, () => {
  let a: PostgresDb;
  let b: PostgresDb;
  before(async () => {
    const dbUrl = await freshDatabase(url!, 'citygate_differencing');
    a = await PostgresDb.open(dbUrl);
    await migrate(a);
    b = await PostgresDb.open(dbUrl);
  });
  after(async () => {
    await a?.close();
    await b?.close();
  });

  it('a cell and its near-copy released at once through two instances: exactly one goes out, 30 times in 30', async () => {
    const auditors = [
      new DifferencingAuditor(new PgReleaseHistory(a)),
      new DifferencingAuditor(new PgReleaseHistory(b)),
    ];
    for (let i = 0; i < 30; i++) {
      const scope = { org: `org-${i}`, population: 'elderly-living-alone' };
      const [x, y] = await Promise.all([
        auditors[i % 2]!.release(scope, `all-${i}`, [{ cell: 'all', units: units(0, 50) }]),
        auditors[(i + 1) % 2]!.release(scope, `but-${i}`, [{ cell: 'all but three', units: units(3, 50) }]),
      ]);
      assert.equal([x, y].filter((r) => r.allowed).length, 1, `round ${i}: ${JSON.stringify([x.allowed, y.allowed])}`);
      assert.equal([x, y].find((r) => !r.allowed)?.refusal?.rule, 'differencing');
      assert.equal((await new PgReleaseHistory(a).list(scope)).length, 1, 'only the allowed release is recorded');
    }
  });
});
