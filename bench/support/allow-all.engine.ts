/**
 * BENCHMARK-ONLY policy engine: "enforcement off". It allows every field with no obligation, so the
 * governed/ungoverned comparison measures what enforcement costs. Never wired into the gateway.
 */
import type { PolicyInput, PolicyOutput } from '../../src/access/decision.js';
import type { PolicyEngine } from '../../src/access/policy-engine.port.js';

export class AllowAllEngine implements PolicyEngine {
  readonly revision = 'allow-all-benchmark';
  evaluate(input: PolicyInput): PolicyOutput {
    return {
      allow: true,
      tier: 'owner',
      fields: Object.fromEntries(input.fields.map((f) => [f.name, { effect: 'allow' as const, reason: 'benchmark' }])),
      geometry: { effect: 'allow' },
      minCell: 1,
      extent: null,
      grantId: null,
      reasons: ['benchmark'],
    };
  }
}
