/**
 * DP bench (docs/differential-privacy.md): samples per second of the exact samplers (discrete Laplace and
 * discrete Gaussian, BigInt arithmetic over node:crypto bytes) at a few noise scales, and answers per second
 * through the durable privacy budget on in-memory PGlite (one transaction each: lock, check, compute, noise,
 * store), plus cached answers (the same key again).
 *
 *   npx tsc -p tsconfig.json && npx node dist/bench/dp.bench.js [--samples 200000] [--answers 2000]
 */
import { Sampler, drawNoise, type DpMechanism } from '../src/jobs/dp/discrete-noise.js';
import { PrivacyBudgetRepository } from '../src/jobs/dp/privacy-budget.repository.js';
import { migrate } from '../src/store/migrate.js';
import { PgliteDb } from '../src/store/pglite.adapter.js';
import { keyOf } from '../test/support/dp-fixtures.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} must be a positive whole number`);
  return v;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en');
const SAMPLES = arg('samples', 200_000);
const ANSWERS = arg('answers', 2_000);

console.log('| mechanism | ε per answer | sensitivity | scale / σ | samples/s | µs/sample |');
console.log('|---|---|---|---|---|---|');
const sampler = new Sampler();
for (const mechanism of ['laplace', 'gaussian'] as DpMechanism[]) {
  for (const [epsilonMicro, sensitivity] of [
    [1_000_000, 1],
    [100_000, 1],
    [100_000, 12],
    [10_000, 1],
  ] as const) {
    const p = { mechanism, epsilonMicro, sensitivity };
    for (let i = 0; i < 2_000; i++) drawNoise(sampler, p); // warm up
    const n = Math.max(2_000, Math.floor(SAMPLES / (mechanism === 'gaussian' ? 2 : 1)));
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) drawNoise(sampler, p);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    const scale = (sensitivity * 1e6) / epsilonMicro;
    console.log(
      `| ${mechanism} | ${epsilonMicro / 1e6} | ${sensitivity} | ${scale} | ${fmt(n / s)} | ${((s / n) * 1e6).toFixed(2)} |`,
    );
  }
}

const db = await PgliteDb.open(null);
await migrate(db);
const repo = new PrivacyBudgetRepository(db);
const scope = { org: 'bench', datasetId: 'residents-per-room' };
const cells = Array.from({ length: 16 }, (_, i) => ({ key: `district:${i}`, label: null, value: 100 + i }));
const req = (k: string) => ({
  ...scope,
  queryKey: keyOf(k),
  mechanism: 'laplace' as const,
  epsilonMicro: 1,
  budgetMicro: 1_000_000_000,
  compute: async () => ({ sensitivity: 1, cells }),
});
for (let i = 0; i < 200; i++) await repo.answer(req(`warm${i}`));

async function timed(label: string, keys: string[], concurrency: number): Promise<void> {
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < keys.length; i = next++) await repo.answer(req(keys[i]!));
    }),
  );
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(
    `| ${label} | ${concurrency} | ${fmt(keys.length)} | ${fmt(keys.length / s)} | ${((s / keys.length) * 1e3).toFixed(2)} |`,
  );
}

console.log('\n| through the budget (PGlite in memory, 16 cells) | callers | answers | answers/s | ms/answer |');
console.log('|---|---|---|---|---|');
const fresh = Array.from({ length: ANSWERS }, (_, i) => `q${i}`);
await timed('new answer (lock, check, noise 16 cells, store, charge)', fresh, 1);
await timed(
  'new answer, concurrent callers',
  fresh.map((k) => `c-${k}`),
  16,
);
await timed('cached answer (same key again)', fresh, 16);
await db.close();
