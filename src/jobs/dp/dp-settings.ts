/**
 * Which datasets answer aggregates only with differential privacy, and with what parameters. A dataset
 * listed here is answered through the privacy budget (privacy-budget.repository.ts); any other dataset is
 * not a DP dataset and the DP query refuses it.
 */
import type { DpMechanism } from './discrete-noise.js';

export interface DpDatasetSettings {
  datasetId: string;
  mechanism: DpMechanism;
  /** The charge of one answer, in micro-epsilon (1 ε = 1,000,000 µε). */
  epsilonMicroPerQuery: number;
  /** Each organisation's total budget on this dataset, in micro-epsilon. */
  budgetMicroPerOrg: number;
  /** Integer fields that may be summed, each clamped to declared bounds (the bounds fix the sensitivity). */
  sumBounds: Record<string, { lower: number; upper: number }>;
  /** Bumped when the dataset's records change: a new version is a new question, answered afresh. */
  version: string;
}

/** The demo's DP datasets: residents per room, personal data that the public and departments see only noised. */
export const DEMO_DP_SETTINGS: readonly DpDatasetSettings[] = [
  {
    datasetId: 'residents-per-room',
    mechanism: 'laplace',
    epsilonMicroPerQuery: 100_000, // ε = 0.1 per answer
    budgetMicroPerOrg: 1_000_000, // ε = 1 per organisation: ten answers
    sumBounds: { resident_count: { lower: 0, upper: 12 } },
    version: '1',
  },
];

export function dpSettingsFor(
  datasetId: string,
  settings: readonly DpDatasetSettings[] = DEMO_DP_SETTINGS,
): DpDatasetSettings | null {
  return settings.find((s) => s.datasetId === datasetId) ?? null;
}
