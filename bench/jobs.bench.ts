/**
 * Sandbox jobs through the service (docs/sandbox-jobs.md): jobs per second from submission to a final state, for
 * dummy runs (synthetic input, no checks) and real runs (access decision, columnar read under the grant, disclosure
 * control, differencing audit against the durable history, provenance append), on in-memory PGlite with the demo
 * city. Every job goes through the durable queue and a sandbox worker process.
 *
 *   npm run build && node dist/bench/jobs.bench.js [--jobs 60] [--workers 2] [--rooms 20000]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Logger } from '@nestjs/common';
import { loadConfig } from '../src/config/config.js';
import { buildGateway } from '../src/gateway.js';
import type { Requester } from '../src/identity/requester.js';
import { migrate } from '../src/store/migrate.js';
import { PgliteDb } from '../src/store/pglite.adapter.js';
import { percentile } from './support/stats.js';

const { values: args } = parseArgs({
  options: {
    jobs: { type: 'string', default: '60' },
    workers: { type: 'string', default: '2' },
    rooms: { type: 'string', default: '20000' },
  },
});
const JOBS = Number(args.jobs);

// Counts every record the job reads, reporting the units so that the release can be audited.
/** Every record in one cell of a declared one-key table: the gateway counts them. */
const CODE = `export function run(input) {
  const rows = [];
  for (let i = 0; i < input.rowCount; i++) rows.push(['city']);
  return { tables: [{ name: 'all', columns: ['area'], rows }] };
}`;
const OUTPUTS = [{ name: 'all', keys: [{ column: 'area', values: ['city'] }], sums: [], margins: false }];

const analyst: Requester = {
  sub: 'bench@emergency-management',
  org: 'emergency-management',
  roles: ['analyst'],
  via: 'jwt',
};

async function main(): Promise<void> {
  Logger.overrideLogger(['error']);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'citygate-jobs-bench-'));
  const config = loadConfig({
    CITYGATE_DATA_DIR: dir,
    CITYGATE_DEMO_ROOMS: args.rooms,
    CITYGATE_SANDBOX_WORKERS: args.workers,
    CITYGATE_JOB_POLL_MS: '20',
  });
  const db = await PgliteDb.open(null);
  await migrate(db);
  const gw = await buildGateway(config, { db });
  try {
    const rows = await db.query<{ n: number }>('select count(*)::int as n from ds_elderly_living_alone');
    console.log(
      `${JOBS} jobs per kind, ${config.jobs.workers} sandbox workers, ${args.rooms} rooms (${rows[0]?.n} elderly records)\n`,
    );
    console.log('| run on | jobs | jobs/s | latency p50 ms | p99 ms | outcome |');
    console.log('|---|---|---|---|---|---|');
    // One job first, so that starting the workers is not counted.
    await runBatch('dummy', 1);
    for (const runOn of ['dummy', 'real'] as const) {
      const r = await runBatch(runOn, JOBS);
      console.log(
        `| ${runOn} | ${JOBS} | ${r.perSecond.toFixed(1)} | ${r.p50.toFixed(0)} | ${r.p99.toFixed(0)} | ${r.outcome} |`,
      );
    }
  } finally {
    await gw.close();
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }

  async function runBatch(runOn: 'dummy' | 'real', n: number) {
    const started = performance.now();
    const submitted = new Map<string, number>();

    for (let i = 0; i < n; i++) {
      const job = await gw.jobs.submit(analyst, {
        datasetId: 'elderly-living-alone',
        fields: ['care_level'],
        purpose: 'emergency-response',
        code: CODE,
        language: 'js',
        runOn,
        outputs: OUTPUTS,
      });
      submitted.set(job.id, performance.now());
    }
    // One query per poll (polling each job would compete with the runner for the single-threaded store).
    let done: { status: string; created_at: Date | string; finished_at: Date | string }[];
    for (;;) {
      done = await db.query(
        `select status, created_at, finished_at from jobs where id = any($1::text[]) and finished_at is not null`,
        [[...submitted.keys()]],
      );
      if (done.length === n) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    const latencies = done.map((j) => new Date(j.finished_at).getTime() - new Date(j.created_at).getTime());
    const outcomes = new Map<string, number>();
    for (const j of done) outcomes.set(j.status, (outcomes.get(j.status) ?? 0) + 1);
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    return {
      perSecond: n / seconds,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      outcome: [...outcomes].map(([k, v]) => `${v} ${k}`).join(', '),
    };
  }
}

await main();
