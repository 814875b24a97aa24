/**
 * The one test of whether an owner's standing rule covers an encrypted computation: the gateway applies it when
 * it logs the computation, the key holder again on the logged records before it decrypts.
 */
import type { Purpose } from '../access/decision.js';
import type { EncryptedApprovalRule } from '../ledger/provenance-record.js';

/** What a computation shows the rules: who asked, why, what, and the units behind each released cell. */
export interface ComputationFacts {
  datasetId: string;
  column: string;
  requesterOrg: string | null;
  purpose: string | null;
  kind: string;
  unitsCovered: number[];
}

/** Whether `rule` covers `c`: every listed condition holds, and every released cell covers minUnits units. */
export function ruleCovers(rule: EncryptedApprovalRule, c: ComputationFacts): boolean {
  return (
    rule.column === c.column &&
    c.requesterOrg !== null &&
    rule.orgs.includes(c.requesterOrg) &&
    (rule.purposes === null || (c.purpose !== null && rule.purposes.includes(c.purpose as Purpose))) &&
    (rule.kinds === null || rule.kinds.includes(c.kind)) &&
    c.unitsCovered.length > 0 &&
    c.unitsCovered.every((u) => u >= rule.minUnits)
  );
}
