import type { PolicyInput, PolicyOutput } from './decision.js';

/**
 * The policy decision engine. Contract: `evaluate` is synchronous, never throws, and returns a denial
 * for anything it cannot decide (deny by default). `revision` names the policy bundle it evaluates.
 */
export interface PolicyEngine {
  readonly revision: string;
  evaluate(input: PolicyInput): PolicyOutput;
}

/** Nest injection token for the PolicyEngine. */
export const POLICY_ENGINE = Symbol('POLICY_ENGINE');
