/**
 * Demo city bench: (1) generator only, rows consumed and discarded: time, rate and peak RSS;
 * (2) seeding into a file-backed PGlite in a temp dir: time and rows/s.
 *
 *   npx tsc -p tsconfig.json && npx node dist/bench/demo-city.bench.js [--rooms 10000000] [--seed-rooms 100000]
 *
 * `--seed-rooms 0` skips the seeding part.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateDemoCity } from '../src/spatial/demo-city.generator.js';
import { seedDemoCity } from '../src/spatial/demo-city.seeder.js';
import { progressBar } from '../src/spatial/progress.js';
import { migrate } from '../src/store/migrate.js';
import { PgliteDb } from '../src/store/pglite.adapter.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${name} must be a whole number`);
  return v;
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const rate = (n: number, ms: number) => `${Math.round(n / (ms / 1000)).toLocaleString('en')}/s`;

interface GenFigures {
  rooms: number;
  rows: number;
  ms: number;
  peakRss: number;
  peakHeap: number;
}

function benchGenerator(rooms: number): GenFigures {
  const onProgress = progressBar('generate');
  const started = performance.now();
  let rows = 0;
  let peakHeap = 0;
  let batches = 0;
  for (const b of generateDemoCity({ rooms, seed: 'bench' })) {
    rows += b.units.length + b.grains.length;
    for (const rs of Object.values(b.records)) rows += rs.length;
    if (++batches % 20 === 0) {
      peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
      onProgress({ phase: 'rooms', done: b.roomsDone, total: rooms });
    }
  }
  onProgress({ phase: 'rooms', done: rooms, total: rooms });
  const ms = performance.now() - started;
  return { rooms, rows, ms, peakRss: process.resourceUsage().maxRSS * 1024, peakHeap };
}

function dirSize(dir: string): number {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) total += fs.statSync(path.join(e.parentPath, e.name)).size;
  }
  return total;
}

async function benchSeeder(rooms: number): Promise<{ rooms: number; rows: number; ms: number; disk: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'citygate-bench-'));
  try {
    const db = await PgliteDb.open(path.join(dir, 'pglite'));
    await migrate(db);
    const stats = await seedDemoCity(db, { rooms, seed: 'bench', onProgress: progressBar('seed') });
    const [u] = await db.query<{ n: number }>('select count(*)::int as n from units');
    await db.close();
    const rows =
      (u?.n ?? 0) +
      stats.rooms +
      stats.boxes +
      stats.segments +
      Object.values(stats.records).reduce((a, b) => a + b, 0);
    return { rooms, rows, ms: stats.ms, disk: dirSize(dir) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const genRooms = arg('rooms', 10_000_000);
  const seedRooms = arg('seed-rooms', 100_000);
  const g = benchGenerator(genRooms);
  const table: string[][] = [
    ['what', 'rooms', 'rows', 'time', 'rate', 'memory'],
    [
      'generate (discard rows)',
      g.rooms.toLocaleString('en'),
      g.rows.toLocaleString('en'),
      `${(g.ms / 1000).toFixed(1)} s`,
      `${rate(g.rooms, g.ms)} rooms, ${rate(g.rows, g.ms)} rows`,
      `peak RSS ${mb(g.peakRss)}, heap ${mb(g.peakHeap)}`,
    ],
  ];
  if (seedRooms > 0) {
    const s = await benchSeeder(seedRooms);
    table.push([
      'seed PGlite (file)',
      s.rooms.toLocaleString('en'),
      s.rows.toLocaleString('en'),
      `${(s.ms / 1000).toFixed(1)} s`,
      `${rate(s.rows, s.ms)} rows`,
      `on disk ${mb(s.disk)}`,
    ]);
  }
  const widths = table[0]!.map((_, c) => Math.max(...table.map((r) => r[c]!.length)));
  console.log(`\nDemo city (node ${process.version}, ${os.cpus().length} cpus)`);
  for (const r of table) console.log(r.map((cell, c) => cell.padEnd(widths[c]!)).join('  '));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
