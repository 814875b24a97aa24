/**
 * Gateway spine benchmark. Prints, in one run:
 * 1. policy decision time, p50/p99: the OPA wasm bundle uncached, the access service memoised, and (when
 *    the opa CLI is in the tool cache) the same decision asked of an OPA server over HTTP on loopback;
 * 2. throughput of a governed 100-record GraphQL query against the same resolver with enforcement off
 *    (a benchmark-only allow-all engine), provenance logging on in both, over HTTP on loopback.
 * Usage: npm run build && node dist/bench/gateway.bench.js [--rooms 20000] [--seconds 10] [--connections 16]
 */
import 'reflect-metadata';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import type { AccessRequest } from '../src/access/access-request.js';
import type { PolicyInput } from '../src/access/decision.js';
import { OpaPolicyEngine } from '../src/access/opa-engine.js';
import { createApp } from '../src/app.module.js';
import { loadConfig, REPO_ROOT } from '../src/config/config.js';
import { buildGateway, type Gateway } from '../src/gateway.js';
import { migrate } from '../src/store/migrate.js';
import { PgliteDb } from '../src/store/pglite.adapter.js';
import type { Db } from '../src/store/db.port.js';
import { AllowAllEngine } from './support/allow-all.engine.js';
import { fmt, summarise } from './support/stats.js';

const { values: args } = parseArgs({
  options: {
    rooms: { type: 'string', default: '20000' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '16' },
  },
});
const ROOMS = Number(args.rooms);
const UNLIMITED = JSON.stringify({ department: { operations: 2e9, records: 2e9 } });
const SECONDS = Number(args.seconds);
const CONNECTIONS = Number(args.connections);

const input: PolicyInput = {
  requester: { authenticated: true, org: 'planning-bureau', roles: ['analyst'] },
  purpose: 'urban-planning',
  mode: 'raw',
  dataset: {
    id: 'building-energy',
    ownerOrg: 'housing-construction',
    grade: 'important',
    personal: 'none',
    openClass: 'conditional',
  },
  fields: [
    { name: 'electricity_kwh', grade: 'important', personal: 'none', openClass: 'conditional', maskKind: 'redact' },
    { name: 'gas_m3', grade: 'important', personal: 'none', openClass: 'conditional', maskKind: 'redact' },
    { name: 'month', grade: 'general', personal: 'none', openClass: 'unconditional', maskKind: 'redact' },
  ],
  grants: [
    {
      id: 'grant-planning-energy',
      purpose: 'urban-planning',
      fields: ['electricity_kwh', 'gas_m3'],
      extent: ['district:310101'],
    },
  ],
};

function time(n: number, fn: () => unknown): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    out.push(Number(process.hrtime.bigint() - t0));
  }
  return out;
}

async function timeAsync(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    out.push(Number(process.hrtime.bigint() - t0));
  }
  return out;
}

function opaBinary(): string | null {
  const p = path.join(
    process.env.CITYGATE_CACHE ?? path.join(os.homedir(), '.cache/citygate'),
    'tools/opa-v1.22.2/opa',
  );
  return fs.existsSync(p) ? p : null;
}

async function opaServer(bin: string): Promise<{ url: string; proc: ChildProcess }> {
  const port = 18000 + Math.floor(Math.random() * 2000);
  const proc = spawn(
    bin,
    ['run', '--server', '--addr', `127.0.0.1:${port}`, '--log-level', 'error', 'policies/citygate'],
    {
      cwd: REPO_ROOT,
      stdio: 'ignore',
    },
  );
  const url = `http://127.0.0.1:${port}/v1/data/citygate/decision`;
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(url, { method: 'POST', body: JSON.stringify({ input }) });
      if (r.ok) return { url, proc };
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  proc.kill();
  throw new Error('opa server did not start');
}

async function decisions(gw: Gateway) {
  const engine = await OpaPolicyEngine.load(gw.config.policyWasmPath);
  time(2000, () => engine.evaluate(input)); // warm-up
  const wasm = summarise(time(20000, () => engine.evaluate(input)));
  const requester = { sub: 'bench', org: 'planning-bureau', roles: ['analyst' as const], via: 'jwt' as const };
  const request: AccessRequest = {
    datasetId: 'building-energy',
    mode: 'raw',
    purpose: 'urban-planning',
    fields: ['electricity_kwh', 'gas_m3', 'month'],
    filters: [],
    sort: [],
    groupBy: null,
    measures: [],
    within: null,
    bbox: null,
    first: 100,
    offset: 0,
  };
  await timeAsync(2000, () => gw.access.decide(requester, request));
  const memo = summarise(await timeAsync(20000, () => gw.access.decide(requester, request)));
  let http: ReturnType<typeof summarise> | null = null;
  const bin = opaBinary();
  if (bin) {
    const { url, proc } = await opaServer(bin);
    try {
      const body = JSON.stringify({ input });
      const ask = async () => {
        const r = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
        await r.json();
      };
      await timeAsync(500, ask);
      http = summarise(await timeAsync(5000, ask));
    } finally {
      proc.kill();
    }
  }
  return { wasm, memo, http };
}

async function throughput(
  gw: Gateway,
  token: string,
  query: string,
): Promise<{ rps: number; p50ms: number; p99ms: number; errors: number }> {
  const app = await createApp(gw, { logger: false });
  await app.listen(0, '127.0.0.1');
  const addr = app.getHttpServer().address() as { port: number };
  const url = `http://127.0.0.1:${addr.port}/graphql`;
  const result = await new Promise<{ latenciesMs: number[]; seconds: number; errors: number }>((resolve, reject) => {
    const w = new Worker(new URL('./support/load-worker.js', import.meta.url), {
      workerData: {
        url,
        body: JSON.stringify({ query }),
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        connections: CONNECTIONS,
        seconds: SECONDS,
        warmupSeconds: 1.5,
        expectItems: 100,
      },
    });
    w.once('message', resolve);
    w.once('error', reject);
  });
  const lat = result.latenciesMs;
  const errors = result.errors;
  const secs = result.seconds;
  await app.close();
  lat.sort((a, b) => a - b);
  return {
    rps: lat.length / secs,
    p50ms: lat[Math.floor(lat.length * 0.5)]!,
    p99ms: lat[Math.floor(lat.length * 0.99)]!,
    errors,
  };
}

async function main() {
  // Two instances on one store, each with its own data directory (the file log admits one writer).
  const dirs = [0, 1].map(() => fs.mkdtempSync(path.join(os.tmpdir(), 'citygate-bench-')));
  // Rate limits are raised out of the way: this measures enforcement, not throttling.
  const configs = dirs.map((dir) =>
    loadConfig({ CITYGATE_DATA_DIR: dir, CITYGATE_DEMO_ROOMS: String(ROOMS), CITYGATE_RATE_LIMITS: UNLIMITED }),
  );
  const db: Db = await PgliteDb.open(null);
  await migrate(db);
  console.log(`seeding ${ROOMS} rooms into in-memory PGlite...`);
  const governed = await buildGateway(configs[0]!, { db });
  const ungoverned = await buildGateway(configs[1]!, { db, engine: new AllowAllEngine() });
  const mint = (gw: Gateway) =>
    gw.identity.localIssuer!.mint({ sub: 'bench', org: 'planning-bureau', roles: ['analyst'], ttlSeconds: 3600 });
  const gToken = await mint(governed);
  const uToken = await mint(ungoverned);

  const d = await decisions(governed);
  const query =
    '{ records(dataset: "building-energy", fields: ["electricity_kwh", "gas_m3", "month"], purpose: urban_planning, first: 100) { items { id grainId geometry values { field value masked } } } }';
  // Alternate the two twice so drift in the machine affects both alike.
  const g1 = await throughput(governed, gToken, query);
  const u1 = await throughput(ungoverned, uToken, query);
  const g2 = await throughput(governed, gToken, query);
  const u2 = await throughput(ungoverned, uToken, query);
  const g = {
    rps: (g1.rps + g2.rps) / 2,
    p50ms: (g1.p50ms + g2.p50ms) / 2,
    p99ms: (g1.p99ms + g2.p99ms) / 2,
    errors: g1.errors + g2.errors,
  };
  const u = {
    rps: (u1.rps + u2.rps) / 2,
    p50ms: (u1.p50ms + u2.p50ms) / 2,
    p99ms: (u1.p99ms + u2.p99ms) / 2,
    errors: u1.errors + u2.errors,
  };

  console.log(`\nPolicy decision (3 fields, 1 grant), ${os.cpus().length} cores, Node ${process.version}`);
  console.log('| path | p50 µs | p99 µs | mean µs |');
  console.log('|---|---|---|---|');
  console.log(
    `| OPA wasm in-process, not memoised | ${fmt(d.wasm.p50us)} | ${fmt(d.wasm.p99us)} | ${fmt(d.wasm.meanUs)} |`,
  );
  console.log(`| access service, memoised | ${fmt(d.memo.p50us)} | ${fmt(d.memo.p99us)} | ${fmt(d.memo.meanUs)} |`);
  if (d.http) {
    console.log(
      `| OPA server over HTTP (loopback) | ${fmt(d.http.p50us)} | ${fmt(d.http.p99us)} | ${fmt(d.http.meanUs)} |`,
    );
    console.log(
      `\nratio OPA-over-HTTP / in-process wasm (p50): ${fmt(d.http.p50us / d.wasm.p50us)}x; / memoised: ${fmt(d.http.p50us / d.memo.p50us)}x`,
    );
  } else console.log('(no opa CLI in the tool cache: the HTTP baseline was skipped; run npm run test:policies first)');
  console.log(
    `\nGoverned 100-record query, ${CONNECTIONS} connections, ${SECONDS} s x 2 each, provenance on, ${ROOMS} rooms`,
  );
  console.log('| setup | req/s | p50 ms | p99 ms | errors |');
  console.log('|---|---|---|---|---|');
  console.log(
    `| governed (OPA + casbin + obligations) | ${fmt(g.rps, 0)} | ${fmt(g.p50ms)} | ${fmt(g.p99ms)} | ${g.errors} |`,
  );
  console.log(
    `| enforcement off (allow-all engine) | ${fmt(u.rps, 0)} | ${fmt(u.p50ms)} | ${fmt(u.p99ms)} | ${u.errors} |`,
  );
  console.log(`\ngoverned / ungoverned throughput: ${fmt((100 * g.rps) / u.rps)}% (goal >= 70%)`);
  await governed.close();
  await ungoverned.close();
  await db.close();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
}

await main();
