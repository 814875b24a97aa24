/**
 * Statistical release benchmark (issue #13): for every dataset the public aggregates with small-cell protection,
 * on a demo city of `--rooms` rooms in a file-backed PGlite:
 * 1. reading the true cells of every published partition (the grouped SQL scans alone: the baseline of the build);
 * 2. the joint suppression (`publishRelease`: hierarchy equations, exact elimination) on those cells;
 * 3. a public aggregate answered from the stored release (decision, answer, provenance append), beside the bare
 *    grouped SQL scan of the same partition that a live answer needs at least.
 * CPU time per operation (process.cpuUsage, which includes PGlite: it runs in this process) beside wall clock.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/statistical-release.bench.js [--rooms 100000] [--answers 50]
 */
import 'reflect-metadata';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Logger } from '@nestjs/common';
import type { AccessRequest } from '../src/access/access-request.js';
import { loadConfig } from '../src/config/config.js';
import { buildGateway } from '../src/gateway.js';
import { ANONYMOUS } from '../src/identity/requester.js';
import { dpSettingsFor } from '../src/jobs/dp/dp-settings.js';
import { publishRelease, readTrueCells } from '../src/query/statistical-release.js';
import { ident } from '../src/store/db.port.js';
import { migrate } from '../src/store/migrate.js';
import { PgliteDb } from '../src/store/pglite.adapter.js';
import { fmt } from './support/stats.js';

const { values: args } = parseArgs({
  options: { rooms: { type: 'string', default: '100000' }, answers: { type: 'string', default: '50' } },
});
const ROOMS = Number(args.rooms);
const ANSWERS = Number(args.answers);

/** Wall and CPU milliseconds of one async step. */
async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; wallMs: number; cpuMs: number }> {
  const cpu = process.cpuUsage();
  const t = performance.now();
  const value = await fn();
  const wallMs = performance.now() - t;
  const c = process.cpuUsage(cpu);
  return { value, wallMs, cpuMs: (c.user + c.system) / 1000 };
}

function request(datasetId: string): AccessRequest {
  return {
    datasetId,
    mode: 'aggregate',
    purpose: null,
    fields: [],
    filters: [],
    sort: [],
    groupBy: { kind: 'level', level: 'subdistrict' },
    measures: [{ fn: 'count', field: null }],
    within: null,
    bbox: null,
    first: 0,
    offset: 0,
  };
}

async function main() {
  Logger.overrideLogger(['error', 'warn']);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'citygate-bench-'));
  try {
    const config = loadConfig({ CITYGATE_DATA_DIR: dir, CITYGATE_DEMO_ROOMS: String(ROOMS) });
    const db = await PgliteDb.open(path.join(dir, 'pglite'));
    await migrate(db);
    const seeded = await timed(() => buildGateway(config, { db }));
    const gw = seeded.value;
    console.log(
      `statistical release bench: ${ROOMS.toLocaleString('en')} rooms (seeded in ${fmt(seeded.wallMs / 1000)} s), ` +
        `load average ${os
          .loadavg()
          .map((l) => l.toFixed(2))
          .join(' ')}, ${os.cpus().length} CPUs\n`,
    );
    for (const dataset of gw.catalogue.list()) {
      const outcome = await gw.access.decide(ANONYMOUS, request(dataset.id));
      if (!outcome.allowed || outcome.plan.decision.tier !== 'public' || outcome.plan.decision.minCell <= 1) continue;
      const decision = outcome.plan.decision;
      const fields = dataset.fields
        .filter(
          (f) => (f.type === 'int' || f.type === 'float') && (decision.fields[f.name]?.effect ?? 'deny') !== 'deny',
        )
        .map((f) => f.name);
      const dp = dpSettingsFor(dataset.id);
      if (dp) {
        // A DP dataset: the public gets its DP release (read, noise every cell once, store, log), no suppression.
        const first = await timed(() => gw.data.aggregate(ANONYMOUS, request(dataset.id), Date.now() + 600_000));
        let wall = 0;
        let cpu = 0;
        for (let i = 0; i < ANSWERS; i++) {
          const a = await timed(() => gw.data.aggregate(ANONYMOUS, request(dataset.id), Date.now() + 600_000));
          wall += a.wallMs;
          cpu += a.cpuMs;
        }
        console.log(
          `${dataset.id} (DP, ${dp.mechanism}): ${first.value.result.cells.length} subdistrict cells\n` +
            `  first public answer (DP release: read, noise, store, log) wall ${fmt(first.wallMs)} ms  cpu ${fmt(first.cpuMs)} ms\n` +
            `  public answer from the release          wall ${fmt(wall / ANSWERS, 2)} ms  cpu ${fmt(cpu / ANSWERS, 2)} ms per answer (${ANSWERS})\n`,
        );
        continue;
      }
      const read = await timed(() => readTrueCells(db, dataset, fields));
      const { cells, relations } = read.value;
      const solve = await timed(async () => publishRelease(dataset.id, fields, decision.minCell, cells, relations));
      const rel = solve.value;
      const records = cells[0]!.count;
      console.log(
        `${dataset.id}: ${records.toLocaleString('en')} records, k = ${decision.minCell}, ${cells.length} cells, ` +
          `${relations.length} equations, ${rel.primary} small, ${rel.secondary} complements, measures [${fields.join(', ')}]`,
      );
      console.log(
        `  read true cells (grouped SQL, baseline)  wall ${fmt(read.wallMs)} ms  cpu ${fmt(read.cpuMs)} ms\n` +
          `  joint suppression                       wall ${fmt(solve.wallMs)} ms  cpu ${fmt(solve.cpuMs)} ms  ` +
          `(${fmt(solve.cpuMs / Math.max(read.cpuMs, 0.001), 2)}x the read's cpu)`,
      );
      // First public answer: builds, logs and stores the release; then warm answers from it.
      const deadline = () => Date.now() + 600_000;
      const first = await timed(() => gw.data.aggregate(ANONYMOUS, request(dataset.id), deadline()));
      let warmWall = 0;
      let warmCpu = 0;
      for (let i = 0; i < ANSWERS; i++) {
        const a = await timed(() => gw.data.aggregate(ANONYMOUS, request(dataset.id), deadline()));
        warmWall += a.wallMs;
        warmCpu += a.cpuMs;
      }
      let scanWall = 0;
      let scanCpu = 0;
      const sql = `select g.subdistrict_id as k, count(*)::int as n from ${ident(dataset.tableName)} r join grains g on g.id = r.grain_id group by g.subdistrict_id`;
      for (let i = 0; i < ANSWERS; i++) {
        const a = await timed(() => db.query(sql));
        scanWall += a.wallMs;
        scanCpu += a.cpuMs;
      }
      console.log(
        `  first public answer (build, log, store) wall ${fmt(first.wallMs)} ms  cpu ${fmt(first.cpuMs)} ms\n` +
          `  public answer from the release          wall ${fmt(warmWall / ANSWERS, 2)} ms  cpu ${fmt(warmCpu / ANSWERS, 2)} ms per answer (${ANSWERS})\n` +
          `  bare grouped SQL scan (live baseline)   wall ${fmt(scanWall / ANSWERS, 2)} ms  cpu ${fmt(scanCpu / ANSWERS, 2)} ms per scan` +
          `  → answer/scan cpu ${fmt(warmCpu / Math.max(scanCpu, 0.001), 2)}x\n`,
      );
    }
    await gw.close();
    await db.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
