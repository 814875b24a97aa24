/**
 * One validated configuration object, read once at boot from the environment.
 * Embedded defaults need nothing installed (PGlite under CITYGATE_DATA_DIR, local token issuer, demo city);
 * production settings come from the environment (DATABASE_URL, JWKS_URL, ...).
 * Unknown CITYGATE_* variables or invalid values stop the boot with a readable message.
 */
import path from 'node:path';
import { z } from 'zod';

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const int = (min: number, max: number) =>
  z.string().regex(/^\d+$/, 'must be a whole number').transform(Number).pipe(z.number().int().min(min).max(max));

/** Every setting, its default and an example. Secrets are marked. */
const schema = z.object({
  /** Address to listen on. Default 127.0.0.1 (loopback only). */
  CITYGATE_HOST: z.string().min(1).default('127.0.0.1'),
  /** Port to listen on. Default 4000. */
  CITYGATE_PORT: int(0, 65535).default(4000),
  /** Where the embedded database, keys and logs live. Default ./var. */
  CITYGATE_DATA_DIR: z.string().min(1).default('var'),
  /** PostgreSQL connection string (production). Unset: embedded PGlite in CITYGATE_DATA_DIR/pglite. Secret. */
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  /** JWKS URL of the production token issuer. Unset: the local issuer (key created on first start). */
  JWKS_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** Expected `iss` of bearer tokens. */
  CITYGATE_JWT_ISSUER: z.string().min(1).default('citygate-local'),
  /** Expected `aud` of bearer tokens. */
  CITYGATE_JWT_AUDIENCE: z.string().min(1).default('citygate'),
  /** Longest accepted bearer-token lifetime in seconds (exp − iat). Default 43200 (12 h); tokens beyond are refused. */
  CITYGATE_TOKEN_MAX_LIFETIME_SECONDS: int(60, 30 * 24 * 3600).default(12 * 3600),
  /** Seed the demo city on first start when the store is empty. Default true. */
  CITYGATE_DEMO: bool.default(true),
  /** Rooms in the demo city. Default 100000. */
  CITYGATE_DEMO_ROOMS: int(100, 20_000_000).default(100_000),
  /** Seed of the demo city generator (same seed, same city). */
  CITYGATE_DEMO_SEED: z.string().min(1).default('shanghai'),
  /** The built web console (vite output) served under /console/. Default console/dist in the repository. */
  CITYGATE_CONSOLE_DIR: z.string().min(1).optional(),
  /** Compiled policy bundle (wasm). Default policies/build/policy.wasm in the repository. */
  CITYGATE_POLICY_WASM: z.string().min(1).optional(),
  /** Per-request deadline in milliseconds. */
  CITYGATE_REQUEST_TIMEOUT_MS: int(100, 600_000).default(10_000),
  /** Largest accepted request body in bytes. */
  CITYGATE_BODY_LIMIT_BYTES: int(1024, 64 * 1024 * 1024).default(1024 * 1024),
  /** Hard maximum page size of record queries. */
  CITYGATE_MAX_PAGE_SIZE: int(1, 10_000).default(1000),
  /** Worker threads that run SEAL (encrypted aggregates, key bundle checks) off the event loop. Default 1. */
  CITYGATE_HE_WORKERS: int(1, 64).default(1),
  /**
   * Most ciphertext operations (multiplications and additions per ciphertext a cell touches, plus the
   * rotations that sum each cell's slots) one encrypted aggregate may plan; more is refused up front with
   * LIMIT_EXCEEDED. Default 5000 (about a minute of one worker under load).
   */
  CITYGATE_HE_MAX_OPERATIONS: int(1, 100_000_000).default(5_000),
  /** Ledger: `embedded` (the only one available so far). */
  LEDGER: z.enum(['embedded']).default('embedded'),
  /** Sandbox worker processes of this gateway (one pool, started on the first job). Default 2. */
  CITYGATE_SANDBOX_WORKERS: int(1, 64).default(2),
  /** Sandbox jobs this gateway runs at once (claimed from the shared queue). Default: the worker count. */
  CITYGATE_JOB_CONCURRENCY: int(1, 64).optional(),
  /** CPU budget of one job inside its isolate, in ms. Default 5000. */
  CITYGATE_JOB_CPU_MS: int(100, 600_000).default(5_000),
  /** Wall-clock budget of one job, in ms; the worker is killed past it. Default 10000. */
  CITYGATE_JOB_WALL_MS: int(100, 600_000).default(10_000),
  /** Heap limit of one job's isolate, in MiB. Default 128. */
  CITYGATE_JOB_MEMORY_MB: int(16, 2048).default(128),
  /** Most input rows a job may read; more is refused. Default 1000000. */
  CITYGATE_JOB_MAX_ROWS: int(1, 20_000_000).default(1_000_000),
  /** Records in a dummy run (fixed, so the real row count does not leak). Default 2000. */
  CITYGATE_JOB_DUMMY_ROWS: int(10, 1_000_000).default(2_000),
  /** Lease of a running job, in ms: renewed while it runs; past it, another start takes the job over. Default 30000. */
  CITYGATE_JOB_LEASE_MS: int(1_000, 3_600_000).default(30_000),
  /** How often an idle gateway looks for queued jobs, in ms (submissions also wake it). Default 1000. */
  CITYGATE_JOB_POLL_MS: int(10, 60_000).default(1_000),
  /** How often the whole provenance log is re-verified in the background, in seconds (0: never). Default 900. */
  CITYGATE_LOG_VERIFY_INTERVAL_SECONDS: int(0, 604_800).default(900),
  /** Log level of the server log. */
  CITYGATE_LOG_LEVEL: z.enum(['error', 'warn', 'log', 'debug']).default('log'),
  /** Length of a rate-limit window in seconds (counters reset at each window's start). Default 60. */
  CITYGATE_RATE_WINDOW_SECONDS: int(1, 86_400).default(60),
  /**
   * Rate limits per tier and window, as JSON merged over the defaults (RATE_LIMIT_DEFAULTS), e.g.
   * `{"open": {"operations": 600, "records": 200000}}`. Tiers: anonymous (per client address), open
   * (self-registered keys), partner (keys an admin raised), department (bearer tokens).
   */
  CITYGATE_RATE_LIMITS: z.string().min(2).optional(),
  /** Self-service registrations per client address per hour. Default 5. */
  CITYGATE_REGISTRATIONS_PER_HOUR: int(1, 1_000_000).default(5),
  /** On SIGTERM/SIGINT, how long in-flight requests may take to finish before the server closes. Default 10000. */
  CITYGATE_SHUTDOWN_GRACE_MS: int(0, 600_000).default(10_000),
});

/** Rate-limit tiers. */
export const RATE_TIERS = ['anonymous', 'open', 'partner', 'department'] as const;
export type RateTier = (typeof RATE_TIERS)[number];
export interface TierLimits {
  /** GraphQL operations (and downloads) per window. */
  operations: number;
  /** Records returned per window (counted after each query; a request starting over the limit is refused). */
  records: number;
}

export const RATE_LIMIT_DEFAULTS: Readonly<Record<RateTier, TierLimits>> = Object.freeze({
  anonymous: { operations: 60, records: 10_000 },
  open: { operations: 300, records: 100_000 },
  partner: { operations: 1_200, records: 1_000_000 },
  department: { operations: 3_000, records: 1_000_000 },
});

const limitsJson = z
  .object(
    Object.fromEntries(
      RATE_TIERS.map((t) => [
        t,
        z
          .object({
            operations: z.number().int().min(1).max(2_000_000_000).optional(),
            records: z.number().int().min(1).max(2_000_000_000).optional(),
          })
          .strict()
          .optional(),
      ]),
    ) as Record<
      RateTier,
      z.ZodOptional<z.ZodObject<{ operations: z.ZodOptional<z.ZodNumber>; records: z.ZodOptional<z.ZodNumber> }>>
    >,
  )
  .strict();

export type RawConfig = z.infer<typeof schema>;

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  /** Secret. */
  databaseUrl: string | null;
  jwksUrl: string | null;
  jwtIssuer: string;
  jwtAudience: string;
  /** Longest accepted bearer-token lifetime, in seconds. */
  tokenMaxLifetimeSeconds: number;
  demo: { enabled: boolean; rooms: number; seed: string };
  policyWasmPath: string;
  /** Directory of the built web console. */
  consoleDir: string;
  requestTimeoutMs: number;
  bodyLimitBytes: number;
  maxPageSize: number;
  ledger: 'embedded';
  /** Encrypted columns: the SEAL worker pool and the cost bound of one aggregate. */
  he: { workers: number; maxOperations: number };
  jobs: {
    workers: number;
    concurrency: number;
    cpuMs: number;
    wallMs: number;
    memoryMb: number;
    maxRows: number;
    dummyRows: number;
    leaseMs: number;
    pollMs: number;
  };
  logLevel: 'error' | 'warn' | 'log' | 'debug';
  /** Seconds between background re-verifications of the whole provenance log (0: never). */
  logVerifyIntervalSeconds: number;
  rateLimits: { windowSeconds: number; tiers: Record<RateTier, TierLimits>; registrationsPerHour: number };
  shutdownGraceMs: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const KNOWN = new Set(Object.keys(schema.shape));

/** The repository root (where policies/ lives), from this file's location in dist/src/config/. */
export const REPO_ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  for (const key of Object.keys(env)) {
    if (key.startsWith('CITYGATE_') && !KNOWN.has(key)) problems.push(`${key}: unknown setting`);
  }
  const picked: Record<string, string> = {};
  for (const key of KNOWN) {
    const v = env[key];
    if (v !== undefined && v !== '') picked[key] = v;
  }
  const parsed = schema.safeParse(picked);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = issue.path.join('.');
      // Never echo a secret's value back.
      problems.push(`${key}: ${issue.message}`);
    }
  }
  const tiers = parsed.success ? rateLimits(parsed.data.CITYGATE_RATE_LIMITS, problems) : null;
  if (problems.length > 0 || !parsed.success || !tiers) throw new ConfigError(problems);
  const c = parsed.data;
  return {
    host: c.CITYGATE_HOST,
    port: c.CITYGATE_PORT,
    dataDir: path.resolve(c.CITYGATE_DATA_DIR),
    databaseUrl: c.DATABASE_URL ?? null,
    jwksUrl: c.JWKS_URL ?? null,
    jwtIssuer: c.CITYGATE_JWT_ISSUER,
    jwtAudience: c.CITYGATE_JWT_AUDIENCE,
    tokenMaxLifetimeSeconds: c.CITYGATE_TOKEN_MAX_LIFETIME_SECONDS,
    demo: { enabled: c.CITYGATE_DEMO, rooms: c.CITYGATE_DEMO_ROOMS, seed: c.CITYGATE_DEMO_SEED },
    policyWasmPath: path.resolve(c.CITYGATE_POLICY_WASM ?? path.join(REPO_ROOT, 'policies/build/policy.wasm')),
    consoleDir: path.resolve(c.CITYGATE_CONSOLE_DIR ?? path.join(REPO_ROOT, 'console/dist')),
    requestTimeoutMs: c.CITYGATE_REQUEST_TIMEOUT_MS,
    bodyLimitBytes: c.CITYGATE_BODY_LIMIT_BYTES,
    maxPageSize: c.CITYGATE_MAX_PAGE_SIZE,
    ledger: c.LEDGER,
    he: { workers: c.CITYGATE_HE_WORKERS, maxOperations: c.CITYGATE_HE_MAX_OPERATIONS },
    jobs: {
      workers: c.CITYGATE_SANDBOX_WORKERS,
      concurrency: c.CITYGATE_JOB_CONCURRENCY ?? c.CITYGATE_SANDBOX_WORKERS,
      cpuMs: c.CITYGATE_JOB_CPU_MS,
      wallMs: c.CITYGATE_JOB_WALL_MS,
      memoryMb: c.CITYGATE_JOB_MEMORY_MB,
      maxRows: c.CITYGATE_JOB_MAX_ROWS,
      dummyRows: c.CITYGATE_JOB_DUMMY_ROWS,
      leaseMs: c.CITYGATE_JOB_LEASE_MS,
      pollMs: c.CITYGATE_JOB_POLL_MS,
    },
    logLevel: c.CITYGATE_LOG_LEVEL,
    logVerifyIntervalSeconds: c.CITYGATE_LOG_VERIFY_INTERVAL_SECONDS,
    rateLimits: {
      windowSeconds: c.CITYGATE_RATE_WINDOW_SECONDS,
      tiers,
      registrationsPerHour: c.CITYGATE_REGISTRATIONS_PER_HOUR,
    },
    shutdownGraceMs: c.CITYGATE_SHUTDOWN_GRACE_MS,
  };
}

function rateLimits(json: string | undefined, problems: string[]): Record<RateTier, TierLimits> | null {
  const out = Object.fromEntries(RATE_TIERS.map((t) => [t, { ...RATE_LIMIT_DEFAULTS[t] }])) as Record<
    RateTier,
    TierLimits
  >;
  if (json === undefined) return out;
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    problems.push('CITYGATE_RATE_LIMITS: must be JSON');
    return null;
  }
  const parsed = limitsJson.safeParse(value);
  if (!parsed.success) {
    for (const issue of parsed.error.issues)
      problems.push(`CITYGATE_RATE_LIMITS.${issue.path.join('.')}: ${issue.message}`);
    return null;
  }
  for (const t of RATE_TIERS) Object.assign(out[t], parsed.data[t] ?? {});
  return out;
}

/** Nest injection token for the Config object. */
export const CONFIG = Symbol('CONFIG');
