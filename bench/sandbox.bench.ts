/**
 * Sandbox benchmark (DESIGN.md §7 and §9, ADR 0004). Prints in one run:
 * - isolate start: a bare `new Isolate` + context in this process, and a job's whole isolate phase in a worker
 *   (isolate, context and the prelude), p50/p99 (goal < 10 ms);
 * - a sum and a group-by over 1,000,000 rows: the same code in plain Node and in an isolate in this process (compute
 *   only), warm (the same function again) and one-shot (freshly compiled code, as every job is), then through the
 *   pool (the worker's run phase, and end to end with the transfer), with the ratios to plain Node (goal ≤ 2×);
 * - jobs per second through the pool, with latency percentiles.
 *
 * Needs the sandbox package built first (it is a separate package):
 *   npx tsc -p sandbox/tsconfig.json && npx tsc -p tsconfig.json && npx node dist/bench/sandbox.bench.js
 * Options: --rows 1000000 --runs 7 --seconds 3 --workers 2 --jitless (adds the pool's sum without V8's JIT)
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import ivm from 'isolated-vm';

// isolated-vm needs --no-node-snapshot on Node >= 20: start again with it.
if (!process.execArgv.includes('--no-node-snapshot')) {
  const r = spawnSync(process.execPath, ['--no-node-snapshot', ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
  });
  process.exit(r.status ?? 1);
}

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '7' },
    seconds: { type: 'string', default: '3' },
    workers: { type: 'string', default: '2' },
    jitless: { type: 'boolean', default: false },
  },
});
const ROWS = Number(args.rows);
const RUNS = Number(args.runs);
const SECONDS = Number(args.seconds);
const WORKERS = Number(args.workers);
const WARDS = 1000;

// ---- the sandbox package, loaded from its build (it is not a dependency of the root project) ----------------------
interface Table {
  name: string;
  columns: string[];
  rows: (string | number | boolean | null)[][];
}
type Result =
  | {
      status: 'ok';
      tables: Table[];
      cpuMs: number;
      wallMs: number;
      phases?: { isolateMs: number; inputMs: number; runMs: number; outputMs: number };
    }
  | { status: 'error'; code: string; message: string };
interface Pool {
  run(job: {
    jobId: string;
    code: string;
    columns: Record<string, { type: 'f64' | 'i32' | 'str'; values: Float64Array | Int32Array }>;
    limits?: Record<string, number>;
  }): Promise<Result>;
  health(): { isolation: Record<string, unknown> };
  close(): Promise<void>;
}
interface SandboxModule {
  SandboxPool: { start(opts: Record<string, unknown>): Promise<Pool> };
}
const sandboxEntry = new URL('../../sandbox/dist/index.js', import.meta.url);
if (!fs.existsSync(fileURLToPath(sandboxEntry))) {
  console.error('build the sandbox package first: npx tsc -p sandbox/tsconfig.json');
  process.exit(2);
}
const { SandboxPool } = (await import(sandboxEntry.href)) as SandboxModule;

// ---- helpers ------------------------------------------------------------------------------------------------------
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const pct = (xs: number[], p: number) => sorted(xs)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const median = (xs: number[]) => pct(xs, 50);
const ms = (x: number) => (x >= 100 ? `${x.toFixed(0)} ms` : x >= 10 ? `${x.toFixed(1)} ms` : `${x.toFixed(2)} ms`);
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
const mb = (bytes: number) => `${Math.round(bytes / 1e6)} MB`;

function ok(r: Result): Extract<Result, { status: 'ok' }> {
  if (r.status !== 'ok') throw new Error(`job failed: ${r.code} ${r.message}`);
  return r;
}

// ---- the workloads: one source, run in plain Node, in an isolate and through the pool ------------------------------
const SUM = `function run(input) {
  const v = input.columns.income;
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i];
  return { tables: [{ name: 'sum', columns: ['sum'], rows: [[s]] }] };
}`;
const GROUP_BY = `function run(input) {
  const ward = input.columns.ward;
  const income = input.columns.income;
  const groups = new Map();
  for (let i = 0; i < ward.length; i++) {
    let g = groups.get(ward[i]);
    if (g === undefined) { g = { n: 0, sum: 0 }; groups.set(ward[i], g); }
    g.n++;
    g.sum += income[i];
  }
  const rows = [];
  for (const [k, g] of groups) rows.push([k, g.n, g.sum]);
  rows.sort((a, b) => a[0] - b[0]);
  return { tables: [{ name: 'by_ward', columns: ['ward', 'count', 'income'], rows }] };
}`;
const asJob = (fn: string) => `${fn}\nexports.run = run;`;

let seed = 42;
const rand = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
const ward = Int32Array.from({ length: ROWS }, () => Math.floor(rand() * WARDS));
const income = Float64Array.from({ length: ROWS }, () => Math.round(rand() * 100_000) / 100);
const columns = { ward: { type: 'i32' as const, values: ward }, income: { type: 'f64' as const, values: income } };

type Row = [string, string, string];
const out: Row[] = [];

/** Warm: the same function run again and again (median). One-shot: a fresh compile each time, run once (median). */
/* eslint-disable @typescript-eslint/no-implied-eval -- the bench compiles the very source the sandbox runs */
function plainNode(source: string, warm: boolean): { ms: number; result: unknown } {
  const input = { columns: { ward, income }, rowCount: ROWS };
  const times: number[] = [];
  let result: unknown;
  let run = new Function(`${source}\nreturn run;`)() as (i: unknown) => unknown;
  for (let i = 0; i < RUNS; i++) {
    // a unique source defeats V8's compilation cache, so a one-shot run starts cold like a job does
    if (!warm) run = new Function(`${source}\n// one-shot ${i} ${Math.random()}\nreturn run;`)() as typeof run;
    const t = performance.now();
    result = run(input);
    times.push(performance.now() - t);
  }
  return { ms: median(times), result };
}
/* eslint-enable @typescript-eslint/no-implied-eval */

/** The call of `run` alone, in an isolate in this process; one-shot uses a fresh isolate each time. */
function inIsolate(source: string, warm: boolean): number {
  const times: number[] = [];
  let isolate: ivm.Isolate | undefined;
  let fn: ivm.Reference<(i: unknown) => unknown> | undefined;
  let global: ivm.Reference<Record<string, unknown>> | undefined;
  try {
    for (let i = 0; i < RUNS; i++) {
      if (isolate === undefined || !warm) {
        isolate?.dispose();
        isolate = new ivm.Isolate({ memoryLimit: 256 });
        const context = isolate.createContextSync();
        fn = context.evalClosureSync(`${source}\nreturn run;`, [], { result: { reference: true } }) as typeof fn;
        global = context.global;
        const input = new ivm.ExternalCopy({ columns: { ward, income }, rowCount: ROWS });
        global.setSync('input', input.copyInto({ release: true }));
      }
      const inputRef = global!.getSync('input', { reference: true });
      const t = performance.now();
      fn!.applySync(undefined, [inputRef.derefInto()], { timeout: 60_000 });
      times.push(performance.now() - t);
    }
  } finally {
    isolate?.dispose();
  }
  return median(times);
}

function isolateStarts(n: number): number[] {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const isolate = new ivm.Isolate({ memoryLimit: 128 });
    isolate.createContextSync();
    times.push(performance.now() - t);
    isolate.dispose();
  }
  return times;
}

async function throughPool(pool: Pool, source: string): Promise<{ run: number; total: number; result: Table[] }> {
  const runs: number[] = [];
  const totals: number[] = [];
  let result: Table[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    const r = ok(
      await pool.run({
        jobId: 'bench',
        code: asJob(source),
        columns,
        limits: { memoryMb: 512, cpuMs: 60_000, wallMs: 60_000 },
      }),
    );
    totals.push(performance.now() - t);
    runs.push(r.phases?.runMs ?? NaN);
    result = r.tables;
  }
  return { run: median(runs), total: median(totals), result };
}

async function main(): Promise<void> {
  console.log(
    `sandbox bench: ${ROWS.toLocaleString('en')} rows, ${RUNS} runs (medians), ${WORKERS} workers, ` +
      `Node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'} × ${os.availableParallelism()}`,
  );

  // isolate start
  isolateStarts(20);
  const bare = isolateStarts(300);
  out.push(['fresh isolate + context (this process)', `p50 ${ms(pct(bare, 50))}`, `p99 ${ms(pct(bare, 99))}`]);

  const pool = await SandboxPool.start({ workers: WORKERS, ceilings: { memoryMb: 1024 } });
  try {
    const tiny = `globalThis.main = () => ({ tables: [] });`;
    const phases: number[] = [];
    for (let i = 0; i < 300; i++) {
      const r = ok(await pool.run({ jobId: 'start', code: tiny, columns: {} }));
      if (i >= 20) phases.push(r.phases?.isolateMs ?? NaN);
    }
    out.push(['job isolate phase in a worker (+ prelude)', `p50 ${ms(pct(phases, 50))}`, `p99 ${ms(pct(phases, 99))}`]);

    // sum and group-by
    for (const [name, source] of [
      ['sum', SUM],
      ['group-by (1,000 wards)', GROUP_BY],
    ] as const) {
      const warm = plainNode(source, true);
      const cold = plainNode(source, false);
      const isoWarm = inIsolate(source, true);
      const isoCold = inIsolate(source, false);
      const pooled = await throughPool(pool, source);
      const expected = JSON.stringify((warm.result as { tables: Table[] }).tables);
      if (JSON.stringify(pooled.result) !== expected) throw new Error(`${name}: the sandbox disagrees with plain Node`);
      out.push([`${name}: plain Node, warm`, ms(warm.ms), '1.00×']);
      out.push([`${name}: isolate, warm, compute only`, ms(isoWarm), ratio(isoWarm, warm.ms)]);
      out.push([`${name}: plain Node, one-shot (cold code)`, ms(cold.ms), '1.00×']);
      out.push([`${name}: isolate, one-shot, compute only`, ms(isoCold), ratio(isoCold, cold.ms)]);
      out.push([
        `${name}: pool job, run phase (+ copy in, check, copy out)`,
        ms(pooled.run),
        ratio(pooled.run, cold.ms),
      ]);
      out.push([
        `${name}: pool job, end to end (+ IPC of ${mb(ROWS * 12)})`,
        ms(pooled.total),
        ratio(pooled.total, cold.ms),
      ]);
    }

    // jobs per second
    const small = {
      ward: { type: 'i32' as const, values: ward.slice(0, 1000) },
      income: { type: 'f64' as const, values: income.slice(0, 1000) },
    };
    const latencies: number[] = [];
    let done = 0;
    const until = performance.now() + SECONDS * 1000;
    const client = async () => {
      while (performance.now() < until) {
        const t = performance.now();
        ok(await pool.run({ jobId: 'small', code: asJob(SUM), columns: small }));
        latencies.push(performance.now() - t);
        done++;
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: WORKERS * 2 }, client));
    const seconds = (performance.now() - started) / 1000;
    out.push([
      `jobs/s through the pool (1,000-row sum, ${WORKERS * 2} in flight)`,
      `${Math.round(done / seconds)}/s`,
      `p50 ${ms(pct(latencies, 50))}, p99 ${ms(pct(latencies, 99))}`,
    ]);
    const isolation = pool.health().isolation;
    out.push([
      'worker isolation',
      Object.entries(isolation)
        .filter(([, v]) => v === true)
        .map(([k]) => k)
        .join(', '),
      '',
    ]);
  } finally {
    await pool.close();
  }

  if (args.jitless) {
    const slow = await SandboxPool.start({ workers: 1, ceilings: { memoryMb: 1024 }, isolation: { jitless: true } });
    try {
      const plain = plainNode(SUM, false);
      const pooled = await throughPool(slow, SUM);
      out.push(['sum: pool with --jitless, run phase', ms(pooled.run), ratio(pooled.run, plain.ms)]);
    } finally {
      await slow.close();
    }
  }

  const widths = [0, 1, 2].map((c) => Math.max(...out.map((r) => r[c]!.length)));
  console.log();
  for (const r of out) console.log(r.map((cell, c) => cell.padEnd(widths[c]!)).join('  '));
}

await main();
