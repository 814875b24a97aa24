/**
 * The contract between the access service and the Rego policy bundle (policies/citygate/decision).
 * The wasm entrypoint `citygate/decision` receives a PolicyInput and returns a PolicyOutput.
 * Anything else (undefined, malformed, a thrown error) is treated as a denial.
 */
import type { Grade, MaskKind, OpenClass, PersonalLevel } from '../catalogue/classification.js';

export const ROLES = ['public', 'analyst', 'owner', 'auditor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export const MODES = ['raw', 'aggregate', 'sandbox', 'encrypted'] as const;
export type Mode = (typeof MODES)[number];

export const PURPOSES = ['urban-planning', 'emergency-response', 'public-service', 'research', 'statistics'] as const;
export type Purpose = (typeof PURPOSES)[number];

export const EFFECTS = ['allow', 'mask', 'generalise', 'aggregate-only', 'deny'] as const;
export type Effect = (typeof EFFECTS)[number];

/** The tier a requester falls in for one dataset (DESIGN.md §2). */
export const TIERS = ['auditor', 'owner', 'granted', 'department', 'public'] as const;
export type Tier = (typeof TIERS)[number];

export interface PolicyInputField {
  name: string;
  grade: Grade;
  personal: PersonalLevel;
  openClass: OpenClass;
  /** Mask to use when the policy masks this field. */
  maskKind: MaskKind;
}

export interface PolicyInputGrant {
  id: string;
  purpose: Purpose;
  fields: string[];
  /** Hierarchy unit ids the grant covers; empty = the whole city. */
  extent: string[];
}

export interface PolicyInput {
  requester: {
    /** false for anonymous callers and API-key consumers. */
    authenticated: boolean;
    org: string | null;
    roles: Role[];
  };
  purpose: Purpose | null;
  mode: Mode;
  dataset: {
    id: string;
    ownerOrg: string;
    grade: Grade;
    personal: PersonalLevel;
    openClass: OpenClass;
  };
  /** The fields requested (already restricted to fields the dataset has). */
  fields: PolicyInputField[];
  /** Grants currently valid (time already checked) for requester.org on this dataset, any purpose. */
  grants: PolicyInputGrant[];
}

export interface FieldDecision {
  effect: Effect;
  /** Present when effect = mask. */
  mask?: MaskKind;
  reason: string;
}

export interface GeometryDecision {
  effect: 'allow' | 'generalise' | 'deny';
  /** H3 resolution used when effect = generalise. */
  h3Resolution?: number;
}

export interface PolicyOutput {
  /** false: the request is refused as a whole (only catalogue metadata may be shown). */
  allow: boolean;
  tier: Tier;
  fields: Record<string, FieldDecision>;
  geometry: GeometryDecision;
  /** Minimum cell size for aggregates; cells with fewer records (zeros count) are suppressed. */
  minCell: number;
  /** Row filter: null = none; otherwise the rows must lie inside one of these hierarchy units. */
  extent: string[] | null;
  /** The grant the decision relies on, if any. */
  grantId: string | null;
  reasons: string[];
}
