/**
 * Verifiable log bench (DESIGN.md §9: ≥ 20,000 durable appends/s with group commit; an inclusion proof at
 * 10 million entries in < 1 ms), on the file adapter in a temp directory, all figures from the same run:
 * 1. durable appends/s, 64 concurrent appenders, group commit (one write + one fdatasync per batch);
 * 2. the same with one fdatasync per record (maxBatch 1), for the ratio;
 * 3. a 10M-entry log: its leaves are bulk-loaded straight into FileLogStorage (batches of 65,536 tiny records,
 *    `sync: false`, checkpointed at the end) rather than through 10M durable appends; then inclusion and
 *    consistency proof generation through VerifiableLog at that size, and offline verification
 *    (Merkle path only, and a whole receipt bundle including the Ed25519 signature of the tree head).
 *
 *   npx tsc -p tsconfig.json && npx node dist/bench/verifiable-log.bench.js \
 *     [--entries 10000000] [--appends 200000] [--fsync-appends 3000] [--writers 64] [--proofs 10000]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hashLeaf } from '../src/ledger/merkle/hasher.js';
import { verifyInclusion } from '../src/ledger/merkle/proofs.js';
import { FileLogStorage } from '../src/ledger/storage/file-log-storage.adapter.js';
import { VerifiableLog } from '../src/ledger/verifiable-log.js';
import { verifyBundle } from '../src/ledger/verifier.js';
import { sampleRecord } from '../test/support/provenance-fixtures.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${name} must be a whole number`);
  return v;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en');
const us = (ms: number) => `${(ms * 1000).toFixed(1)} µs`;

function dirSize(dir: string): number {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) total += fs.statSync(path.join(e.parentPath, e.name)).size;
  }
  return total;
}

function quantiles(samples: number[]): { mean: number; p50: number; p99: number; max: number } {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return { mean: s.reduce((a, b) => a + b, 0) / s.length, p50: q(0.5), p99: q(0.99), max: s[s.length - 1]! };
}

async function durableAppends(root: string, total: number, writers: number, maxBatch: number) {
  const dataDir = fs.mkdtempSync(path.join(root, 'appends-'));
  const storage = await FileLogStorage.open(path.join(dataDir, 'log'));
  const log = await VerifiableLog.open({ storage, dataDir, maxBatch });
  const records = Array.from({ length: Math.min(total, 50_000) }, (_, i) => sampleRecord(i, 'bench'));
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async () => {
      for (let i = next++; i < total; i = next++) await log.append(records[i % records.length]!);
    }),
  );
  const ms = performance.now() - started;
  const stats = log.stats();
  await log.close();
  const bytes = dirSize(dataDir);
  fs.rmSync(dataDir, { recursive: true, force: true });
  return { total, ms, perSecond: total / (ms / 1000), batches: stats.batches, bytes };
}

async function bigLog(tmpRoot: string, entries: number, proofs: number) {
  const dataDir = fs.mkdtempSync(path.join(tmpRoot, 'big-'));
  const logDir = path.join(dataDir, 'log');
  // Bulk load: no per-batch fdatasync, one checkpoint at the end (close).
  const loadStarted = performance.now();
  const bulk = await FileLogStorage.open(logDir, { sync: false, checkpointEvery: 1 << 30, checkpointIntervalMs: 1e12 });
  const BATCH = 65_536;
  let lastReport = performance.now();
  for (let start = 0; start < entries; start += BATCH) {
    const batch = [];
    for (let i = start; i < Math.min(entries, start + BATCH); i++) {
      const data = `{"i":${i}}`;
      batch.push({ data, leafHash: hashLeaf(data), dataset: null, org: null });
    }
    await bulk.append(batch);
    if (performance.now() - lastReport > 5000) {
      lastReport = performance.now();
      process.stderr.write(`  bulk load: ${fmt(start + batch.length)} / ${fmt(entries)}\n`);
    }
  }
  await bulk.close();
  const loadMs = performance.now() - loadStarted;

  const reopenStarted = performance.now();
  const storage = await FileLogStorage.open(logDir);
  const reopenMs = performance.now() - reopenStarted;
  const log = await VerifiableLog.open({ storage, dataDir });
  const size = await log.size();
  const sthStarted = performance.now();
  const sth = await log.treeHead();
  const sthMs = performance.now() - sthStarted;

  // Inclusion proofs at random indices of the full tree, and a warm-up first.
  const indices = Array.from({ length: proofs }, () => Math.floor(Math.random() * size));
  for (let i = 0; i < 200; i++) await log.inclusionProof(indices[i % indices.length]!, size);
  const gen: number[] = [];
  const got = [];
  for (const index of indices) {
    const t = performance.now();
    got.push(await log.inclusionProof(index, size));
    gen.push(performance.now() - t);
  }
  const cons: number[] = [];
  for (let i = 0; i < Math.min(proofs, 2000); i++) {
    const from = 1 + Math.floor(Math.random() * (size - 1));
    const t = performance.now();
    await log.consistencyProof(from, size);
    cons.push(performance.now() - t);
  }

  // Offline verification: the Merkle path alone, then a whole receipt bundle (record hash + path + STH signature).
  const root = Buffer.from(sth.rootHash, 'hex');
  const ver: number[] = [];
  for (const proof of got) {
    const data = `{"i":${proof.leafIndex}}`;
    const path_ = proof.hashes.map((h) => Buffer.from(h, 'hex'));
    const t = performance.now();
    const ok = verifyInclusion(proof.leafIndex, proof.treeSize, hashLeaf(data), path_, root);
    ver.push(performance.now() - t);
    if (!ok) throw new Error(`proof of ${proof.leafIndex} does not verify`);
  }
  // Bundles need provenance records: append a few real ones on top of the 10M and prove them.
  const extra = [];
  for (let i = 0; i < 20; i++) extra.push(await log.append(sampleRecord(i, 'bundle')));
  const sth2 = await log.treeHead();
  const key = log.publicKey().pem;
  const bundles = await Promise.all(
    extra.map(async (receipt, i) => ({
      record: sampleRecord(i, 'bundle'),
      receipt,
      proof: await log.inclusionProof(receipt.index, sth2.treeSize),
      treeHead: sth2,
    })),
  );
  const bundleTimes: number[] = [];
  for (let round = 0; round < 50; round++) {
    for (const b of bundles) {
      const t = performance.now();
      const v = verifyBundle(b, key);
      bundleTimes.push(performance.now() - t);
      if (!v.ok) throw new Error(v.reason);
    }
  }
  await log.close();
  const bytes = dirSize(dataDir);
  fs.rmSync(dataDir, { recursive: true, force: true });
  return {
    size,
    loadMs,
    reopenMs,
    sthMs,
    gen: quantiles(gen),
    cons: quantiles(cons),
    ver: quantiles(ver),
    bundle: quantiles(bundleTimes),
    pathLength: got[0]?.hashes.length ?? 0,
    bytes,
  };
}

async function main(): Promise<void> {
  const entries = arg('entries', 10_000_000);
  const appends = arg('appends', 200_000);
  const fsyncAppends = arg('fsync-appends', 3_000);
  const writers = arg('writers', 64);
  const proofs = arg('proofs', 10_000);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'citygate-logbench-'));
  try {
    process.stderr.write('group commit...\n');
    const group = await durableAppends(root, appends, writers, 4096);
    process.stderr.write('per-entry fsync...\n');
    const single = await durableAppends(root, fsyncAppends, writers, 1);
    process.stderr.write(`building a ${fmt(entries)}-entry log...\n`);
    const big = entries > 0 ? await bigLog(root, entries, proofs) : null;

    const rows: string[][] = [
      ['what', 'figure', 'detail'],
      [
        `durable appends, group commit, ${writers} appenders`,
        `${fmt(group.perSecond)}/s`,
        `${fmt(group.total)} appends in ${(group.ms / 1000).toFixed(2)} s, ${fmt(group.batches)} fdatasyncs ` +
          `(${(group.total / group.batches).toFixed(1)} records each); goal ≥ 20,000/s`,
      ],
      [
        `durable appends, fdatasync per record, ${writers} appenders`,
        `${fmt(single.perSecond)}/s`,
        `${fmt(single.total)} appends in ${(single.ms / 1000).toFixed(2)} s`,
      ],
      ['group commit / per-record fsync', `${(group.perSecond / single.perSecond).toFixed(1)}×`, ''],
    ];
    if (big) {
      rows.push(
        [
          `bulk load of ${fmt(big.size)} leaves (no per-batch fsync)`,
          `${(big.loadMs / 1000).toFixed(1)} s`,
          `${fmt(big.size / (big.loadMs / 1000))} leaves/s; ${(big.bytes / 1024 / 1024).toFixed(0)} MB on disk`,
        ],
        ['reopen (checkpointed)', `${big.reopenMs.toFixed(1)} ms`, ''],
        ['signed tree head at that size', `${big.sthMs.toFixed(2)} ms`, 'root from the stored frontier + Ed25519'],
        [
          `inclusion proof generation at ${fmt(big.size)}`,
          `p50 ${us(big.gen.p50)}`,
          `mean ${us(big.gen.mean)}, p99 ${us(big.gen.p99)}, max ${us(big.gen.max)}; ` +
            `${big.pathLength} hashes; goal < 1 ms`,
        ],
        [
          `consistency proof generation (random → ${fmt(big.size)})`,
          `p50 ${us(big.cons.p50)}`,
          `mean ${us(big.cons.mean)}, p99 ${us(big.cons.p99)}`,
        ],
        [
          'inclusion proof verification (path)',
          `p50 ${us(big.ver.p50)}`,
          `mean ${us(big.ver.mean)}, p99 ${us(big.ver.p99)}`,
        ],
        [
          'receipt bundle verification (record + path + STH signature)',
          `p50 ${us(big.bundle.p50)}`,
          `mean ${us(big.bundle.mean)}, p99 ${us(big.bundle.p99)}`,
        ],
      );
    }
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
    console.log(`\nVerifiable log, file adapter (node ${process.version}, ${os.cpus().length} cpus, ${os.tmpdir()})`);
    for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c]!)).join('  '));
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
