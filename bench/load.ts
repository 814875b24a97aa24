/**
 * Load test: a realistic mix against a running gateway on loopback, with autocannon, for a bounded time.
 *
 *   public      anonymous aggregates (subdistrict counts of residents, suppressed small cells)
 *   department  a planning-bureau analyst's record queries under its grant (50 records, urban planning)
 *   auditor     a data-bureau auditor's trail searches (20 provenance entries of one dataset)
 *
 * Each kind runs on its own connections at the same time; the script reports throughput, p50/p99 latency
 * and error rate (transport errors, non-2xx, or a GraphQL `errors` member) per kind and overall.
 *
 * By default it boots `citygate serve` (dist/src/cli/main.js) on a free loopback port with a fresh data
 * directory and rate limits raised out of the way (CITYGATE_RATE_LIMITS): it measures the gateway, not its
 * throttling. With --url it targets a running gateway instead; tokens are then minted from the local issuer
 * of CITYGATE_DATA_DIR, which must be the server's.
 *
 * Usage: npm run build && node dist/bench/load.js [--seconds 20] [--connections 12] [--rooms 20000] [--url http://127.0.0.1:4000]
 * On PostgreSQL 15: deploy/postgres/with-postgres.sh node dist/bench/load.js
 */
import 'reflect-metadata';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { loadConfig, REPO_ROOT } from '../src/config/config.js';
import { LocalIssuer } from '../src/identity/local-issuer.js';
import { fmt, percentile } from './support/stats.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    connections: { type: 'string', default: '12' },
    rooms: { type: 'string', default: '20000' },
    url: { type: 'string' },
  },
});
const SECONDS = Number(args.seconds);
const CONNECTIONS = Math.max(3, Number(args.connections));
const RAISED = JSON.stringify(
  Object.fromEntries(['anonymous', 'open', 'partner', 'department'].map((t) => [t, { operations: 2e9, records: 2e9 }])),
);

interface Kind {
  name: string;
  share: number;
  query: string;
  token: string | null;
}

interface KindResult {
  name: string;
  connections: number;
  requests: number;
  errors: number;
  latencies: number[];
}

async function bootGateway(): Promise<{ url: string; dataDir: string; child: ChildProcess }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'citygate-load-'));
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'dist/src/cli/main.js'), 'serve'], {
    env: {
      PATH: process.env.PATH ?? '',
      CITYGATE_DATA_DIR: dataDir,
      CITYGATE_PORT: '0',
      CITYGATE_DEMO_ROOMS: args.rooms,
      CITYGATE_RATE_LIMITS: RAISED,
      // Set (e.g. by deploy/postgres/with-postgres.sh): the gateway runs on PostgreSQL instead of PGlite.
      ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)\/graphql/.exec(out);
      if (m) {
        out = '';
        resolve(m[1]!);
      }
      if (out.length > 1e6) out = out.slice(-1e5);
    });
    child.once('exit', (code) => reject(new Error(`citygate serve exited with ${code}`)));
  });
  // Keep draining the request log (one JSON line per request) so the server never blocks on stdout.
  child.stdout.removeAllListeners('data');
  child.stdout.resume();
  return { url, dataDir, child };
}

function run(url: string, kind: Kind, connections: number, seconds: number): Promise<KindResult> {
  const result: KindResult = { name: kind.name, connections, requests: 0, errors: 0, latencies: [] };
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (kind.token) headers.authorization = `Bearer ${kind.token}`;
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${url}/graphql`,
        connections,
        duration: seconds,
        timeout: 10,
        requests: [
          {
            method: 'POST',
            headers,
            body: JSON.stringify({ query: kind.query }),
            onResponse: (status: number, body: string) => {
              if (status !== 200 || body.includes('"errors"')) result.errors += 1;
            },
          },
        ],
      },
      (err, res) => {
        if (err) return reject(err instanceof Error ? err : new Error(String(err)));
        // Transport errors and timeouts never reach onResponse.
        result.errors += res.errors;
        resolve(result);
      },
    );
    instance.on('response', (_client, _status, _bytes, responseTime: number) => {
      result.requests += 1;
      result.latencies.push(responseTime);
    });
  });
}

async function main() {
  const booted = args.url ? null : await bootGateway();
  const url = args.url ?? booted!.url;
  const dataDir = booted?.dataDir ?? loadConfig().dataDir;
  try {
    const issuer = await LocalIssuer.open(loadConfig({ CITYGATE_DATA_DIR: dataDir }));
    const analyst = await issuer.mint({
      sub: 'load-analyst',
      org: 'planning-bureau',
      roles: ['analyst'],
      ttlSeconds: 3600,
    });
    const auditor = await issuer.mint({
      sub: 'load-auditor',
      org: 'data-bureau',
      roles: ['auditor'],
      ttlSeconds: 3600,
    });
    const kinds: Kind[] = [
      {
        name: 'public aggregates',
        share: 0.4,
        token: null,
        query:
          '{ aggregate(dataset: "residents-per-room", groupBy: { level: subdistrict }, measures: [{ fn: count }, { fn: sum, field: "resident_count" }]) { total { count } cells { key count suppressed } } }',
      },
      {
        name: 'department records',
        share: 0.4,
        token: analyst,
        query:
          '{ records(dataset: "building-energy", fields: ["electricity_kwh", "gas_m3"], purpose: urban_planning, first: 50) { items { grainId values { field value } } } }',
      },
      {
        name: 'auditor trail',
        share: 0.2,
        token: auditor,
        query:
          '{ auditTrail(filter: { dataset: "building-energy" }, first: 20) { index at sub org purpose released rows } }',
      },
    ];
    const split = kinds.map((k) => Math.max(1, Math.round(k.share * CONNECTIONS)));
    console.log(`Warming up for ${args.warmup} s...`);
    await Promise.all(kinds.map((k, i) => run(url, k, split[i]!, Number(args.warmup))));
    console.log(`Running the mix for ${SECONDS} s on ${split.reduce((a, b) => a + b)} connections against ${url}...`);
    const results = await Promise.all(kinds.map((k, i) => run(url, k, split[i]!, SECONDS)));
    const all: KindResult = {
      name: 'overall',
      connections: results.reduce((a, r) => a + r.connections, 0),
      requests: results.reduce((a, r) => a + r.requests, 0),
      errors: results.reduce((a, r) => a + r.errors, 0),
      latencies: results.flatMap((r) => r.latencies),
    };
    console.log('\n| kind | connections | requests | req/s | p50 ms | p99 ms | errors | error rate |');
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of [...results, all]) {
      const lat = [...r.latencies].sort((a, b) => a - b);
      console.log(
        `| ${r.name} | ${r.connections} | ${r.requests} | ${fmt(r.requests / SECONDS, 0)} | ${fmt(percentile(lat, 50))} | ${fmt(percentile(lat, 99))} | ${r.errors} | ${fmt((100 * r.errors) / Math.max(1, r.requests + r.errors), 2)}% |`,
      );
    }
    console.log(`\n${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), Node ${process.version}`);
  } finally {
    if (booted) {
      const exited = new Promise((r) => booted.child.once('exit', r));
      booted.child.kill('SIGTERM');
      await exited;
      fs.rmSync(booted.dataDir, { recursive: true, force: true });
    }
  }
}

await main();
