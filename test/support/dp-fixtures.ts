/** Shared fixtures of the privacy-budget tests (conformance suite, crash child, benchmark). */
import { createHash } from 'node:crypto';
import type { DpAnswerRequest } from '../../src/jobs/dp/privacy-budget.repository.js';

export const EPS = 100_000; // ε = 0.1 per answer
export const TOTAL = 10 * EPS; // room for exactly ten answers

export const keyOf = (s: string) => createHash('sha256').update(s).digest('hex');

let seq = 0;
/** A fresh (org, dataset) pair per test, so tests share one database without sharing a budget. */
export const freshScope = (tag: string) => ({
  org: `org-${tag}-${process.pid}-${++seq}`,
  datasetId: 'residents-per-room',
});

export function request(
  scope: { org: string; datasetId: string },
  key: string,
  over: Partial<DpAnswerRequest> = {},
  pauseSeconds = 0.002,
): DpAnswerRequest {
  return {
    ...scope,
    queryKey: keyOf(key),
    mechanism: 'laplace',
    epsilonMicro: EPS,
    budgetMicro: TOTAL,
    // The true answer: a real query through the transaction, plus a pause so that calls overlap.
    compute: async (tx) => {
      const [row] = await tx.query<{ n: number }>(`select 40 + length($1::text) as n, pg_sleep($2)`, [
        key,
        pauseSeconds,
      ]);
      return {
        sensitivity: 1,
        cells: [
          { key: 'district:a', label: 'A', value: Number(row!.n) },
          { key: 'district:b', label: 'B', value: 7 },
        ],
      };
    },
    ...over,
  };
}
