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
  /** The application it was approved from; null for grants made otherwise (the demo grants). */
  applicationId: string | null;
  revokedBy: string | null;
  revokeReason: string | null;
}

/** What creating a grant takes. */
export type NewGrant = Omit<Grant, 'revokedAt' | 'revokedBy' | 'revokeReason' | 'applicationId'> & {
  applicationId?: string | null;
};

/** A grant's state at an instant: derived from its dates and revocation, never stored. */
export const GRANT_STATES = ['scheduled', 'active', 'expired', 'revoked'] as const;
export type GrantState = (typeof GRANT_STATES)[number];

export function grantState(g: Pick<Grant, 'validFrom' | 'validTo' | 'revokedAt'>, now: Date): GrantState {
  if (g.revokedAt) return 'revoked';
  if (now >= g.validTo) return 'expired';
  if (now < g.validFrom) return 'scheduled';
  return 'active';
}

export const APPLICATION_STATUSES = ['pending', 'approved', 'rejected'] as const;
export type ApplicationStatus = (typeof APPLICATION_STATUSES)[number];

/** A department's application for a grant, and the owner's decision on it. */
export interface GrantApplication {
  id: string;
  applicantOrg: string;
  applicantSub: string;
  datasetId: string;
  ownerOrg: string;
  fields: string[];
  purpose: Purpose;
  extent: string[];
  validFrom: Date;
  validUntil: Date;
  legalBasis: string;
  contact: string;
  status: ApplicationStatus;
  createdAt: Date;
  decidedBy: string | null;
  decidedAt: Date | null;
  reason: string | null;
  grantId: string | null;
}
