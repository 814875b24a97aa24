/** Test and bench helper: realistic provenance records, deterministic in their number. */
import type { AccessRecord } from '../../src/ledger/provenance-record.js';

export const FIXTURE_DATASETS = ['building-occupancy', 'water-mains', 'street-noise'] as const;
export const FIXTURE_ORGS = ['planning-bureau', 'water-authority', null] as const;

export function sampleRecord(i: number, tag = 'fixture'): AccessRecord {
  const dataset = FIXTURE_DATASETS[i % FIXTURE_DATASETS.length]!;
  const org = FIXTURE_ORGS[Math.floor(i / 3) % FIXTURE_ORGS.length]!;
  const released = i % 7 !== 0;
  return {
    v: 1,
    kind: 'access',
    id: `${tag}-${i}`,
    at: new Date(Date.UTC(2026, 10, 23, 8, 0, 0) + i * 37).toISOString(),
    requester: {
      sub: `user-${i % 11}`,
      org,
      roles: org ? ['analyst'] : ['public'],
      via: org ? 'jwt' : 'anonymous',
    },
    purpose: org ? 'urban-planning' : null,
    dataset,
    mode: i % 5 === 0 ? 'aggregate' : 'raw',
    fields: ['id', 'occupancy', 'floor_area'],
    queryHash: (i * 2654435761).toString(16).padStart(64, '0').slice(-64),
    decision: {
      allow: released,
      tier: org ? 'department' : 'public',
      effects: { id: 'allow', occupancy: released ? 'mask' : 'deny', floor_area: 'generalise' },
      geometry: 'generalise',
      minCell: 10,
      extent: null,
      grantId: null,
      bundleRevision: '0123456789abcdef',
      reasons: released ? ['tier rules allow'] : ['closed dataset'],
    },
    outcome: {
      released,
      rows: released ? 100 : 0,
      resultHash: released ? (i * 40503).toString(16).padStart(64, 'a') : null,
      refusal: released ? null : 'FORBIDDEN',
      grains: released ? [`room-${i}-1`, `room-${i}-2`, `room-${i}-3`] : [],
    },
  };
}
