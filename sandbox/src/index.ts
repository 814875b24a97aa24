export { SandboxPool, SandboxPoolError, SandboxJobError } from './pool.js';
export type { PoolHealth, SandboxPoolOptions } from './pool.js';
export type { IsolationOptions, IsolationReport, LayerMode } from './launcher.js';
export { parseOutput, validateOutput } from './output.js';
export { DEFAULT_LIMITS, ERROR_CODES, MAX_LIMITS } from './protocol.js';
export type {
  Cell,
  ColumnInput,
  ColumnType,
  JobLimits,
  JobOutput,
  JobPhases,
  JobResult,
  OutputTable,
  SandboxErrorCode,
  SandboxJob,
} from './protocol.js';
