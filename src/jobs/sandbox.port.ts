/**
 * Port: where a job's code runs. Contract: `run` resolves with the job's tables or a classified error (never
 * rejects for the job's own faults; it rejects only when the sandbox cannot take the job at all); `health`
 * answers at once; `close` ends every worker. The adapter is the top-level `sandbox/` package's pool.
 */
import type { JobResult, SandboxJob } from '#sandbox';

export type { JobResult, SandboxJob };

export interface SandboxRunner {
  run(job: SandboxJob): Promise<JobResult>;
  health(): { workers: number; busy: number; queued: number } | null;
  close(): Promise<void>;
}
