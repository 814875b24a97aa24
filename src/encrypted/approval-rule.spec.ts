/** Table-driven: which computations a standing rule covers (the gateway and the key holder share this test). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EncryptedApprovalRule } from '../ledger/provenance-record.js';
import { ruleCovers, type ComputationFacts } from './approval-rule.js';

const RULE: EncryptedApprovalRule = {
  id: 'r',
  column: 'electricity_kwh',
  orgs: ['planning-bureau'],
  purposes: ['urban-planning'],
  kinds: ['sum', 'mean'],
  minUnits: 10,
};
const OK: ComputationFacts = {
  datasetId: 'building-energy',
  column: 'electricity_kwh',
  requesterOrg: 'planning-bureau',
  purpose: 'urban-planning',
  kind: 'sum',
  unitsCovered: [10, 40],
};

describe('ruleCovers', () => {
  const cases: [string, Partial<ComputationFacts>, Partial<EncryptedApprovalRule>, boolean][] = [
    ['a matching computation', {}, {}, true],
    ['another organisation', { requesterOrg: 'transport' }, {}, false],
    ['the public (no organisation)', { requesterOrg: null }, {}, false],
    ['another purpose', { purpose: 'research' }, {}, false],
    ['no purpose', { purpose: null }, {}, false],
    ['no purpose, any purpose allowed', { purpose: null }, { purposes: null }, true],
    ['another kind', { kind: 'weightedSum' }, {}, false],
    ['any kind', { kind: 'weightedSum' }, { kinds: null }, true],
    ['one cell below k', { unitsCovered: [40, 9] }, {}, false],
    ['no released cell', { unitsCovered: [] }, {}, false],
    ['another column', { column: 'gas_m3' }, {}, false],
  ];
  for (const [name, c, r, want] of cases) {
    it(name, () => assert.equal(ruleCovers({ ...RULE, ...r }, { ...OK, ...c }), want));
  }
});
