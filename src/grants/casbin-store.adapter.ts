import { createRequire } from 'node:module';
import type { Adapter, Model } from 'casbin';
import type { Db } from '../store/db.port.js';

// The CommonJS build of casbin is markedly faster than its ESM build (PLATFORM.md).
const require = createRequire(import.meta.url);
const casbin = require('casbin') as typeof import('casbin');

interface RuleRow {
  ptype: string;
  v0: string;
  v1: string;
  v2: string;
  v3: string;
  v4: string;
  v5: string;
}

/** casbin adapter over the store's casbin_rules table. Writes go through GrantsRepository, not casbin. */
export class CasbinStoreAdapter implements Adapter {
  constructor(private readonly db: Db) {}

  async loadPolicy(model: Model): Promise<void> {
    const rows = await this.db.query<RuleRow>('select ptype, v0, v1, v2, v3, v4, v5 from casbin_rules order by id');
    for (const r of rows) {
      const values = [r.v0, r.v1, r.v2, r.v3, r.v4, r.v5];
      while (values.length > 0 && values[values.length - 1] === '') values.pop();
      if (values.some((v) => /[,"\n]/.test(v))) throw new Error(`malformed casbin rule ${r.ptype}`);
      casbin.Helper.loadPolicyLine([r.ptype, ...values].join(', '), model);
    }
  }

  savePolicy(): Promise<boolean> {
    return Promise.reject(new Error('casbin policy is written through GrantsRepository'));
  }
  addPolicy(): Promise<void> {
    return Promise.reject(new Error('casbin policy is written through GrantsRepository'));
  }
  removePolicy(): Promise<void> {
    return Promise.reject(new Error('casbin policy is written through GrantsRepository'));
  }
  removeFilteredPolicy(): Promise<void> {
    return Promise.reject(new Error('casbin policy is written through GrantsRepository'));
  }
}

export { casbin };
