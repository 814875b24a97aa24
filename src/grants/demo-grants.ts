import { DEMO_GRANTS } from '../catalogue/demo-catalogue.js';
import type { Db } from '../store/db.port.js';
import type { GrantsRepository } from './grants.repository.js';

/** Seeds the demo grants once (skips any that exist), valid from now for their number of days. */
export async function seedDemoGrants(db: Db, grants: GrantsRepository, now = new Date()): Promise<number> {
  let added = 0;
  for (const g of DEMO_GRANTS) {
    if (grants.get(g.id)) continue;
    const ds = await db.query('select 1 from catalogue_datasets where id = $1', [g.datasetId]);
    if (ds.length === 0) continue;
    await grants.create({
      id: g.id,
      org: g.org,
      datasetId: g.datasetId,
      fields: g.fields,
      purpose: g.purpose,
      extent: g.extent,
      validFrom: new Date(now.getTime() - 60_000),
      validTo: new Date(now.getTime() + g.days * 86_400_000),
      approvedBy: g.approvedBy,
    });
    added += 1;
  }
  return added;
}
