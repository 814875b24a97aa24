import type { Purpose } from '../access/decision.js';

export interface Grant {
  id: string;
  org: string;
  datasetId: string;
  fields: string[];
  purpose: Purpose;
  /** Hierarchy unit ids; empty = the whole city. */
  extent: string[];
  validFrom: Date;
  validTo: Date;
  approvedBy: string;
  revokedAt: Date | null;
}
