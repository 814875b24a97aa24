/**
 * Encrypted-columns benchmark (DESIGN.md §8, ADR 0003). For BFV (whole numbers) and CKKS (reals), on a
 * column of 1,000,000 values, prints in one run:
 * - the owner's key generation time and key sizes (zstd);
 * - client encryption time, and ciphertext bytes per value (zstd, as uploaded; and uncompressed);
 * - the gateway's load time, and its encrypted sum (goal < 1 s) beside the plaintext sum of the same
 *   values in the same run (the ratio), grouped sums over 16 groups and a weighted sum, with the BFV noise
 *   budget left in each result;
 * - the key holder's decryption latency (approval check, hash, load, decrypt, checks, rounding).
 *
 * Usage: npx tsc -p tsconfig.json && npx node dist/bench/encrypted.bench.js [--rows 1000000] [--runs 5]
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { EncryptedAggregator, type AggregateCell, type AggregateResult } from '../src/encrypted/aggregator.js';
import { encryptColumn, loadEncryptedColumn } from '../src/encrypted/column-codec.js';
import { BFV_PARAMS, CKKS_PARAMS, createHeContext, type HeParamSpec } from '../src/encrypted/he-params.js';
import { KeyHolder, measureNoiseBudget } from '../src/encrypted/keyholder.js';
import { generateOwnerKeys } from '../src/encrypted/keys.js';
import { toBytes } from '../src/encrypted/seal-format.js';
import { loadSeal, withScope, type SealRuntime } from '../src/encrypted/seal-runtime.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '5' },
  },
});
const ROWS = Number(args.rows);
const RUNS = Number(args.runs);
const GROUPS = 16;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number) =>
  x >= 1000 ? `${(x / 1000).toFixed(2)} s` : x >= 10 ? `${x.toFixed(0)} ms` : `${x.toFixed(2)} ms`;
const mib = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MiB`;

function time<T>(fn: () => T): [T, number] {
  const t = performance.now();
  const r = fn();
  return [r, performance.now() - t];
}

/** Median time of `runs` calls of `fn`. */
function timeRuns(runs: number, fn: () => unknown): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push(time(fn)[1]);
  return median(times);
}

type Row = [string, string];

async function benchScheme(runtime: SealRuntime, spec: HeParamSpec): Promise<Row[]> {
  const rows: Row[] = [];
  const bfv = spec.scheme === 'bfv';
  const [ctx, ctxMs] = time(() => createHeContext(runtime, spec));
  try {
    const [keys, keyMs] = time(() => generateOwnerKeys(ctx));
    rows.push(['context + key generation', `${ms(ctxMs)} + ${ms(keyMs)}`]);
    const pub = keys.public;
    rows.push([
      'public / relin / Galois key (zstd)',
      `${mib(pub.publicKey.length)} / ${mib(pub.relinKeys.length)} / ${mib(pub.galoisKeys.length)} (${pub.galoisSteps.length} steps)`,
    ]);

    // Data: resident counts 0-12 (BFV), monthly kWh 0-2,000 (CKKS); rows sorted by district.
    let seed = 42;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const values = Float64Array.from({ length: ROWS }, () => (bfv ? Math.floor(rand() * 13) : rand() * 2000));
    const maxAbs = bfv ? 12 : 2000;
    const groupOf = Int32Array.from({ length: ROWS }, (_, r) => Math.floor((r * GROUPS) / ROWS));
    const groups = { labels: Array.from({ length: GROUPS }, (_, g) => `district-${g}`), groupOf };
    const weights = Float64Array.from({ length: ROWS }, () => (bfv ? 1 + Math.floor(rand() * 4) : rand() * 3));

    const t0 = performance.now();
    const upload = await encryptColumn(ctx, pub, values, { maxAbs });
    const encMs = performance.now() - t0;
    const uploaded = upload.ciphertexts.reduce((a, c) => a + c.length, 0);
    const rawBytes = withScope((scope) => {
      const ct = scope.add(new ctx.seal.Ciphertext());
      ct.loadFromArray(ctx.context, upload.ciphertexts[0]!);
      return toBytes(ct.saveToArray(ctx.seal.ComprModeType.none)).length;
    });
    rows.push([
      `client encryption, ${ROWS.toLocaleString('en')} values`,
      `${ms(encMs)} (${upload.layout.ciphertexts} ciphertexts, ${ms(encMs / upload.layout.ciphertexts)} each)`,
    ]);
    rows.push([
      'ciphertext bytes per value',
      `${(uploaded / ROWS).toFixed(1)} zstd (${mib(uploaded)}), ${(rawBytes / ctx.slotCount).toFixed(1)} uncompressed`,
    ]);

    const [column, loadMs] = time(() => loadEncryptedColumn(ctx, upload.layout, upload.ciphertexts));
    const aggregator = new EncryptedAggregator(ctx, pub);
    try {
      rows.push(['gateway: load ciphertexts (once, then cached)', ms(loadMs)]);
      let sum: AggregateResult | null = null;
      const encSumMs = timeRuns(RUNS, () => (sum = aggregator.sum(column)));
      let plain = 0;
      // Cheap: many runs, so that the JIT has settled.
      const plainMs = timeRuns(Math.max(RUNS, 51), () => (plain = plainSum(values)));
      rows.push(['gateway: encrypted sum (goal < 1 s)', `${ms(encSumMs)} ${opsOf(sum!)}`]);
      rows.push(['gateway: load + encrypted sum, cold', ms(loadMs + encSumMs)]);
      rows.push([
        'plaintext sum, same values, same run',
        `${ms(plainMs)} (encrypted / plain = ${(encSumMs / plainMs).toFixed(0)}x)`,
      ]);

      const [grouped, groupedMs] = time(() => aggregator.sum(column, groups));
      rows.push([`gateway: sum grouped by ${GROUPS} districts`, `${ms(groupedMs)} ${opsOf(grouped)}`]);
      const [weighted, weightedMs] = time(() => aggregator.weightedSum(column, weights));
      rows.push(['gateway: weighted sum', `${ms(weightedMs)} ${opsOf(weighted)}`]);
      const [wGrouped, wGroupedMs] = time(() => aggregator.weightedSum(column, weights, groups));
      rows.push([`gateway: weighted sum by ${GROUPS} districts`, `${ms(wGroupedMs)} ${opsOf(wGrouped)}`]);
      rows.push(['result ciphertext (zstd)', `${(sum!.cells[0]!.sum!.ciphertext.length / 1024).toFixed(0)} KiB`]);

      if (bfv) {
        const budget = (r: AggregateResult) =>
          Math.min(...r.cells.map((c) => measureNoiseBudget(ctx, keys.secret, c.sum!.ciphertext)!));
        const fresh = measureNoiseBudget(ctx, keys.secret, upload.ciphertexts[0]!)!;
        rows.push([
          'noise budget: fresh / sum / grouped / weighted / weighted grouped',
          `${fresh} / ${budget(sum!)} / ${budget(grouped)} / ${budget(weighted)} / ${budget(wGrouped)} bits`,
        ]);
      }

      const cell: AggregateCell = sum!.cells[0]!;
      const approval = { computationId: 'bench', resultHash: cell.sum!.hash, unitsCovered: 100, approved: true };
      const holder = new KeyHolder(ctx, keys.secret, { k: 10, approvals: () => Promise.resolve(approval) });
      const exactHolder = new KeyHolder(ctx, keys.secret, {
        k: 10,
        approvals: () => Promise.resolve(approval),
        integerRounding: { rule: 'base', base: 1 },
        realRounding: { rule: 'significant', digits: 15 },
      });
      try {
        const request = {
          computationId: 'bench',
          kind: 'sum',
          ciphertext: cell.sum!.ciphertext,
          records: cell.records,
        } as const;
        const latencies: number[] = [];
        let released = { value: 0 };
        for (let i = 0; i < 20; i++) {
          const t = performance.now();
          released = await holder.decrypt(request);
          latencies.push(performance.now() - t);
        }
        rows.push(['key holder: decrypt an approved result (median of 20)', ms(median(latencies))]);
        const exact = exactHolder.decryptApproved(request, approval).value;
        const err = Math.abs(exact - plain) / plain;
        rows.push([
          'decrypted sum vs plaintext sum (relative error)',
          `${exact} vs ${plain} (${err === 0 ? 'exact' : err.toExponential(1)})`,
        ]);
        rows.push(['released, rounded', `${released.value}`]);
      } finally {
        exactHolder.delete();
        holder.delete();
      }
    } finally {
      aggregator.delete();
      column.delete();
    }
  } finally {
    ctx.delete();
  }
  return rows;
}

function plainSum(values: Float64Array): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i]!;
  return s;
}

function opsOf(r: AggregateResult): string {
  const o = r.ops;
  return `(${o.multiplyPlain} mul_plain, ${o.add} add, ${o.rotate} rot${o.rescale ? `, ${o.rescale} rescale` : ''})`;
}

async function main(): Promise<void> {
  if (!Number.isSafeInteger(ROWS) || ROWS < 1 || !Number.isSafeInteger(RUNS) || RUNS < 1) {
    throw new Error('--rows and --runs must be whole numbers >= 1');
  }
  const runtime = await loadSeal();
  console.log(`\nEncrypted columns (node ${process.version}, ${os.cpus().length} cpus, node-seal 7 / SEAL 4.1)`);
  for (const [title, spec] of [
    ['BFV N=8192, BFVDefault 218 bits, t 54-bit batching prime', BFV_PARAMS],
    ['CKKS N=8192, [60,40,40,60], scale 2^40', CKKS_PARAMS],
  ] as const) {
    const rows = await benchScheme(runtime, spec);
    const width = Math.max(...rows.map((r) => r[0].length));
    console.log(`\n${title}`);
    for (const [what, value] of rows) console.log(`  ${what.padEnd(width)}  ${value}`);
  }
  console.log(`\nwasm heap at the end: ${mib(runtime.wasmHeapBytes())}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
