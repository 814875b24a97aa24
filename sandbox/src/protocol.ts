/**
 * The sandbox job contract: what a caller hands the pool, what comes back, and the messages between the pool and
 * its worker processes. Plain data only; this package never imports the gateway's `src/`.
 */

export type ColumnType = 'f64' | 'i32' | 'str';

/**
 * One input column. `f64` values may be a Float64Array or numbers (null becomes NaN); `i32` values an Int32Array or
 * whole numbers in the 32-bit range (no nulls); `str` values strings or null. Every column of a job has the same length.
 */
export interface ColumnInput {
  type: ColumnType;
  values: Float64Array | Int32Array | readonly (number | null)[] | readonly (string | null)[];
}

export interface JobLimits {
  /** Heap limit of the job's isolate, in MiB (isolated-vm's `memoryLimit`, a soft limit: see the ADR). */
  memoryMb: number;
  /** CPU budget of the job inside its isolate, in ms. */
  cpuMs: number;
  /** Wall-clock budget from dispatch to a worker, in ms; the pool kills the worker at `wallMs` + its grace. */
  wallMs: number;
  /** Largest accepted output, measured as its JSON text, in bytes. */
  maxOutputBytes: number;
  /** Largest number of output rows, summed over all tables. */
  maxOutputRows: number;
}

export interface SandboxJob {
  /** The caller's id for the job; only echoed in logs. */
  jobId: string;
  /**
   * JavaScript (or TypeScript with `language: 'ts'`). Either exports `run(input)` (ES module or CommonJS syntax) or
   * assigns `globalThis.main = (input) => ...`. The function returns {@link JobOutput} (or a promise of it).
   */
  code: string;
  language?: 'js' | 'ts';
  columns: Record<string, ColumnInput>;
  /** Optional JSON parameters, handed to `run` as `input.params`. */
  params?: unknown;
  limits?: Partial<JobLimits>;
  /**
   * Return the job's own error messages (thrown by its code) to the caller. Only for runs on dummy data: on real data a
   * message can carry data past disclosure control, so by default only the error's class is reported.
   */
  verboseErrors?: boolean;
}

/** A cell of an output table: JSON scalars only. */
export type Cell = string | number | boolean | null;

export interface OutputTable {
  name: string;
  columns: string[];
  rows: Cell[][];
  /**
   * Disclosure metadata, never released: for each value column, per row, the largest contributions to that cell
   * (descending, at most 16), so that the gateway can apply dominance and p-percent rules.
   */
  contributors?: Record<string, number[][]>;
  /**
   * Disclosure metadata, never released: per row, the ids of the units (records or space grains) that make the cell,
   * for the differencing audit.
   */
  units?: string[][];
}

export interface JobOutput {
  tables: OutputTable[];
}

export const ERROR_CODES = ['TIMEOUT', 'MEMORY', 'INVALID_OUTPUT', 'RUNTIME_ERROR', 'CRASHED'] as const;
export type SandboxErrorCode = (typeof ERROR_CODES)[number];

/** Where the time of a successful job went, as measured in the worker (ms). */
export interface JobPhases {
  /** New isolate, context and prelude. */
  isolateMs: number;
  /** Transpiling (0 when not needed or cached). */
  transpileMs: number;
  /** Copying the input into the isolate. */
  inputMs: number;
  /** Loading the code and running `run(input)`, including serialising the output inside the isolate. */
  runMs: number;
  /** Parsing and validating the output in the worker. */
  outputMs: number;
}

export type JobResult =
  | { status: 'ok'; tables: OutputTable[]; cpuMs: number; wallMs: number; phases?: JobPhases }
  | { status: 'error'; code: SandboxErrorCode; message: string; cpuMs?: number; wallMs?: number };

export const DEFAULT_LIMITS: Readonly<JobLimits> = Object.freeze({
  memoryMb: 128,
  cpuMs: 5_000,
  wallMs: 10_000,
  maxOutputBytes: 1024 * 1024,
  maxOutputRows: 10_000,
});

/** Upper bounds a job may ask for; a pool may lower them. */
export const MAX_LIMITS: Readonly<JobLimits> = Object.freeze({
  memoryMb: 2048,
  cpuMs: 600_000,
  wallMs: 600_000,
  maxOutputBytes: 64 * 1024 * 1024,
  maxOutputRows: 1_000_000,
});

/** isolated-vm refuses isolates below 8 MiB. */
export const MIN_MEMORY_MB = 8;
/** Largest accepted code, in UTF-16 code units. */
export const MAX_CODE_LENGTH = 1024 * 1024;
/** Largest accepted `params`, as JSON text. */
export const MAX_PARAMS_BYTES = 64 * 1024;
/** Largest number of contributions per cell in `contributors`. */
export const MAX_CONTRIBUTIONS = 16;

/** A job as the worker receives it: validated, limits resolved, columns in their typed form. */
export interface WorkerJob {
  jobId: string;
  code: string;
  language: 'js' | 'ts';
  columns: Record<string, Float64Array | Int32Array | (string | null)[]>;
  rowCount: number;
  params: unknown;
  limits: JobLimits;
  verboseErrors: boolean;
}

export type PoolToWorker = { type: 'job'; seq: number; job: WorkerJob } | { type: 'exit' };

/** What a worker says about one job; the pool checks it again before believing it. */
export type WorkerOutcome =
  | { status: 'ok'; output: string; cpuMs: number; phases: JobPhases }
  | { status: 'error'; code: SandboxErrorCode; message: string; cpuMs?: number };

export type WorkerToPool =
  | { type: 'ready'; pid: number; node: string }
  /** `retire`: the worker could not stop its isolate's thread; the pool kills and replaces it. */
  | { type: 'result'; seq: number; outcome: WorkerOutcome; retire?: true }
  | { type: 'fatal'; message: string };
