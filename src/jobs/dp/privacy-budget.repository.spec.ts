import { after, before, describe } from 'node:test';
import { migrate } from '../../store/migrate.js';
import { PgliteDb } from '../../store/pglite.adapter.js';
import { privacyBudgetConformance } from '../../../test/support/privacy-budget.conformance.js';

describe('privacy budget on PGlite', () => {
  let db: PgliteDb;
  before(async () => {
    db = await PgliteDb.open(null);
    await migrate(db);
  });
  after(() => db.close());
  privacyBudgetConformance(() => db);
});
