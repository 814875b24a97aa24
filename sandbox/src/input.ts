/**
 * Validates a caller's job and turns it into what a worker runs: limits resolved against the defaults and the pool's
 * ceilings, columns in their typed form (Float64Array / Int32Array / string array), parameters as a JSON copy.
 * A job that breaks the contract is the caller's mistake and throws {@link SandboxJobError}; it never reaches a worker.
 */
import {
  type ColumnInput,
  DEFAULT_LIMITS,
  type JobLimits,
  MAX_CODE_LENGTH,
  MAX_LIMITS,
  MAX_PARAMS_BYTES,
  MIN_MEMORY_MB,
  type SandboxJob,
  type WorkerJob,
} from './protocol.js';

export class SandboxJobError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SandboxJobError';
  }
}

const COLUMN_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const RESERVED = new Set(['__proto__', 'constructor', 'prototype']);
const MAX_COLUMNS = 256;
const LIMIT_KEYS = ['memoryMb', 'cpuMs', 'wallMs', 'maxOutputBytes', 'maxOutputRows'] as const;

export function resolveLimits(
  requested: Partial<JobLimits> | undefined,
  defaults: JobLimits = DEFAULT_LIMITS,
  ceilings: JobLimits = MAX_LIMITS,
): JobLimits {
  const out = { ...defaults };
  if (requested !== undefined && (typeof requested !== 'object' || requested === null)) {
    throw new SandboxJobError('limits must be an object');
  }
  for (const key of Object.keys(requested ?? {})) {
    if (!(LIMIT_KEYS as readonly string[]).includes(key)) throw new SandboxJobError(`unknown limit ${key}`);
  }
  for (const key of LIMIT_KEYS) {
    const v = requested?.[key];
    if (v === undefined) continue;
    const min = key === 'memoryMb' ? MIN_MEMORY_MB : 1;
    if (!Number.isSafeInteger(v) || v < min || v > ceilings[key]) {
      throw new SandboxJobError(`limits.${key} must be a whole number from ${min} to ${ceilings[key]}`);
    }
    out[key] = v;
  }
  for (const key of LIMIT_KEYS) out[key] = Math.min(out[key], ceilings[key]);
  out.memoryMb = Math.max(out.memoryMb, MIN_MEMORY_MB);
  return out;
}

function typedColumn(name: string, column: ColumnInput): Float64Array | Int32Array | (string | null)[] {
  const values = column.values as unknown;
  switch (column.type) {
    case 'f64': {
      if (values instanceof Float64Array) return values;
      if (!Array.isArray(values)) throw new SandboxJobError(`column ${name}: f64 values must be numbers`);
      const out = new Float64Array(values.length);
      for (let i = 0; i < values.length; i++) {
        const v: unknown = values[i];
        if (v === null) out[i] = NaN;
        else if (typeof v === 'number') out[i] = v;
        else throw new SandboxJobError(`column ${name}: f64 values must be numbers or null`);
      }
      return out;
    }
    case 'i32': {
      if (values instanceof Int32Array) return values;
      if (!Array.isArray(values)) throw new SandboxJobError(`column ${name}: i32 values must be whole numbers`);
      const out = new Int32Array(values.length);
      for (let i = 0; i < values.length; i++) {
        const v: unknown = values[i];
        if (typeof v !== 'number' || !Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) {
          throw new SandboxJobError(`column ${name}: i32 values must be whole numbers in the 32-bit range`);
        }
        out[i] = v;
      }
      return out;
    }
    case 'str': {
      if (!Array.isArray(values)) throw new SandboxJobError(`column ${name}: str values must be an array`);
      const out: (string | null)[] = new Array<string | null>(values.length);
      for (let i = 0; i < values.length; i++) {
        const v: unknown = values[i];
        if (v !== null && typeof v !== 'string') {
          throw new SandboxJobError(`column ${name}: str values must be strings or null`);
        }
        out[i] = v;
      }
      return out;
    }
    default:
      throw new SandboxJobError(`column ${name}: type must be f64, i32 or str`);
  }
}

/** Approximate bytes the columns take inside the isolate. */
export function inputBytes(columns: WorkerJob['columns']): number {
  let total = 0;
  for (const values of Object.values(columns)) {
    if (values instanceof Float64Array || values instanceof Int32Array) total += values.byteLength;
    else for (const v of values) total += 16 + (v === null ? 0 : v.length * 2);
  }
  return total;
}

export function normaliseJob(
  job: SandboxJob,
  defaults: JobLimits = DEFAULT_LIMITS,
  ceilings: JobLimits = MAX_LIMITS,
): WorkerJob {
  if (typeof job !== 'object' || job === null) throw new SandboxJobError('a job must be an object');
  const jobId = typeof job.jobId === 'string' ? job.jobId.slice(0, 200) : '';
  if (typeof job.code !== 'string' || job.code.trim() === '') throw new SandboxJobError('code must be a string');
  if (job.code.length > MAX_CODE_LENGTH) throw new SandboxJobError(`code is limited to ${MAX_CODE_LENGTH} characters`);
  const language = job.language ?? 'js';
  if (language !== 'js' && language !== 'ts') throw new SandboxJobError('language must be js or ts');
  const limits = resolveLimits(job.limits, defaults, ceilings);
  if (typeof job.columns !== 'object' || job.columns === null || Array.isArray(job.columns)) {
    throw new SandboxJobError('columns must be an object');
  }
  const entries = Object.entries(job.columns);
  if (entries.length > MAX_COLUMNS) throw new SandboxJobError(`at most ${MAX_COLUMNS} columns`);
  const columns: WorkerJob['columns'] = Object.create(null) as WorkerJob['columns'];
  let rowCount = -1;
  for (const [name, column] of entries) {
    if (!COLUMN_NAME.test(name) || RESERVED.has(name)) throw new SandboxJobError(`invalid column name ${name}`);
    if (typeof column !== 'object' || column === null) throw new SandboxJobError(`column ${name} must be an object`);
    const values = typedColumn(name, column);
    if (rowCount >= 0 && values.length !== rowCount) throw new SandboxJobError('all columns must have the same length');
    rowCount = values.length;
    columns[name] = values;
  }
  let params: unknown = null;
  if (job.params !== undefined) {
    let text: string | undefined;
    try {
      text = JSON.stringify(job.params);
    } catch {
      throw new SandboxJobError('params must be JSON');
    }
    if (text === undefined || text.length > MAX_PARAMS_BYTES) {
      throw new SandboxJobError(`params must be JSON of at most ${MAX_PARAMS_BYTES} bytes`);
    }
    params = JSON.parse(text);
  }
  const worker: WorkerJob = {
    jobId,
    code: job.code,
    language,
    columns: { ...columns },
    rowCount: Math.max(rowCount, 0),
    params,
    limits,
    verboseErrors: job.verboseErrors === true,
  };
  if (inputBytes(worker.columns) > limits.memoryMb * 1024 * 1024 * 0.75) {
    throw new SandboxJobError('the input does not fit the job memory limit (raise limits.memoryMb)');
  }
  return worker;
}
