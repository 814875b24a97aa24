import type { PolicyInput, PolicyOutput } from './decision.js';
import type { PolicyEngine } from './policy-engine.port.js';

/**
 * Used when the policy bundle fails to load: every request is denied (deny by default) while the
 * gateway keeps serving catalogue metadata and health, so operators can see and fix the problem.
 */
export class DenyAllEngine implements PolicyEngine {
  readonly revision = 'unloaded';
  constructor(readonly why: string) {}
  evaluate(input: PolicyInput): PolicyOutput {
    return {
      allow: false,
      tier: 'public',
      fields: Object.fromEntries(
        input.fields.map((f) => [f.name, { effect: 'deny' as const, reason: 'policy-unavailable' }]),
      ),
      geometry: { effect: 'deny' },
      minCell: 10,
      extent: null,
      grantId: null,
      reasons: ['policy-unavailable'],
    };
  }
}
