/**
 * Crash-state simulator of the file log (issue #12). From one live log it builds well over 1,000 states of its
 * files that a crash, a damaged disk or a careless operator can leave: a batch torn at every frame boundary and
 * inside frames, a torn acknowledgement mark, lost derived writes, truncation of every file at frame boundaries
 * and mid-frame, single bit flips across every file, and every combination of deleted derived files. Each state
 * is opened as the gateway opens it (with a witness) and must end in one of two outcomes:
 * - it opens, every acknowledged record is there unchanged, a new record gets the next index, and the next signed
 *   head is consistent with every head signed before (never a fork); or
 * - it refuses to serve releases (or to open), and says why.
 * It must never open "healthy" with an acknowledged record missing, changed or unreadable.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Logger } from '@nestjs/common';
import { flipBit, readFrames } from '../../test/support/log-files.js';
import { MemoryWitness } from '../../test/support/memory-witness.js';
import { sampleRecord } from '../../test/support/provenance-fixtures.js';
import type { Receipt } from './provenance-log.port.js';
import type { SignedTreeHead } from './signed-tree-head.js';
import { FileLogStorage } from './storage/file-log-storage.adapter.js';
import { VerifiableLog } from './verifiable-log.js';
import { verifyCheckpoint } from './verifier.js';

// Every refused state logs an error line by design; keep the test output readable.
Logger.overrideLogger(['fatal']);

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'citygate-crash-states-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

const DERIVED = [
  'checkpoint.json',
  'hashes.bin',
  'offsets.bin',
  'tree-heads.jsonl',
  'tree-heads.2.jsonl',
  'acked.bin',
  'meta.json',
];
const ALL_FILES = ['leaves.log', ...DERIVED];

interface Snapshot {
  /** Directory holding keys/ and log/. */
  dir: string;
  acked: number;
}

interface World {
  base: Snapshot; // 40 acknowledged records, checkpoint at 32, the rest to replay
  inflight: Snapshot; // the next batch (5 records) on disk, acknowledged
  receipts: Receipt[];
  heads: SignedTreeHead[];
  witness: MemoryWitness;
  publicKey: string;
}

function snapshot(dataDir: string, name: string, acked: number): Snapshot {
  const dir = path.join(root, name);
  fs.cpSync(dataDir, dir, { recursive: true });
  fs.rmSync(path.join(dir, 'log', 'LOCK'), { force: true });
  return { dir, acked };
}

async function buildWorld(): Promise<World> {
  const dataDir = path.join(root, 'live');
  const witness = new MemoryWitness();
  const storage = await FileLogStorage.open(path.join(dataDir, 'log'), {
    checkpointEvery: 16,
    checkpointIntervalMs: 3_600_000,
  });
  const log = await VerifiableLog.open({ storage, dataDir, treeHeadEvery: 8, witness });
  const receipts: Receipt[] = [];
  const batch = async (from: number) =>
    receipts.push(...(await Promise.all(Array.from({ length: 5 }, (_, j) => log.append(sampleRecord(from + j))))));
  for (let i = 0; i < 40; i += 5) await batch(i);
  await log.treeHead();
  const base = snapshot(dataDir, 'base', 40); // the files as a crash right now would leave them
  await batch(40);
  const inflight = snapshot(dataDir, 'inflight', 45);
  const heads = await storage.treeHeads();
  const publicKey = log.publicKey().pem;
  await log.close();
  return { base, inflight, receipts, heads, witness, publicKey };
}

interface State {
  name: string;
  from: Snapshot;
  /** Records acknowledged in this state (the oracle's floor). */
  acked: number;
  apply: (logDir: string) => void;
}

type Outcome = { kind: 'intact'; size: number } | { kind: 'refused'; reason: string };

let counter = 0;
async function judge(world: World, state: State): Promise<Outcome> {
  const dir = path.join(root, `s${counter++}`);
  fs.cpSync(state.from.dir, dir, { recursive: true });
  const logDir = path.join(dir, 'log');
  state.apply(logDir);
  // The witness saw what the live log signed and verified up to the state's snapshot.
  const witness = new MemoryWitness({
    head: world.heads.filter((h) => h.treeSize <= state.from.acked).at(-1) ?? null,
    verified: null,
  });
  let log: VerifiableLog;
  try {
    const storage = await FileLogStorage.open(logDir);
    log = await VerifiableLog.open({ storage, dataDir: dir, treeHeadEvery: 8, witness });
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    const reason = (err as Error).message;
    assert.ok(reason.length > 10, `${state.name}: refused without a reason`);
    return { kind: 'refused', reason };
  }
  try {
    const integrity = log.integrity();
    if (!integrity.ok) {
      assert.ok((integrity.reason ?? '').length > 10, `${state.name}: degraded without a reason`);
      await assert.rejects(log.append(sampleRecord(7777)), /integrity check/, `${state.name}: a degraded log appended`);
      return { kind: 'refused', reason: integrity.reason! };
    }
    const size = await log.size();
    assert.ok(size >= state.acked, `${state.name}: opened healthy with ${size} of ${state.acked} acknowledged records`);
    for (let i = 0; i < state.acked; i++) {
      const got = await log.get(i);
      assert.equal(got?.leafHash, world.receipts[i]!.leafHash, `${state.name}: record ${i} changed or lost`);
    }
    const next = await log.append(sampleRecord(8888));
    assert.equal(next.index, size, `${state.name}: an index was reused`);
    const head = await log.treeHead();
    for (const old of world.heads.filter((h) => h.treeSize <= state.acked)) {
      const proof = old.treeSize === head.treeSize ? null : await log.consistencyProof(old.treeSize, head.treeSize);
      const verdict = verifyCheckpoint(old, head, proof, world.publicKey);
      assert.deepEqual(verdict, { ok: true }, `${state.name}: forked from the head of size ${old.treeSize}`);
    }
    return { kind: 'intact', size };
  } finally {
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function truncateTo(file: string, len: number): void {
  if (fs.existsSync(file)) fs.truncateSync(file, Math.max(0, len));
}

function states(world: World): State[] {
  const out: State[] = [];
  const { base, inflight } = world;
  const baseLog = path.join(base.dir, 'log');
  const nextLog = path.join(inflight.dir, 'log');
  const baseLeaves = fs.readFileSync(path.join(baseLog, 'leaves.log'));
  const nextLeaves = fs.readFileSync(path.join(nextLog, 'leaves.log'));
  const tail = nextLeaves.subarray(baseLeaves.length);
  const frames = readFrames(baseLog);
  const tailFrames = readFrames(nextLog).filter((f) => f.offset >= baseLeaves.length);

  out.push({ name: 'the untouched crash image', from: base, acked: 40, apply: () => undefined });

  // 1. The next batch torn anywhere before its acknowledgement (the mark still says 40).
  const cuts = new Set<number>();
  for (let k = 0; k <= tail.length; k += 5) cuts.add(k);
  for (const f of tailFrames) {
    const at = f.offset - baseLeaves.length;
    for (const d of [-1, 0, 1, 4, 7, 8, 9]) cuts.add(at + d);
  }
  for (const k of [...cuts].filter((c) => c >= 0 && c <= tail.length)) {
    out.push({
      name: `the next batch torn after ${k} of ${tail.length} bytes`,
      from: base,
      acked: 40,
      apply: (dir) => fs.appendFileSync(path.join(dir, 'leaves.log'), tail.subarray(0, k)),
    });
  }

  // 2. The next batch on disk, its mark torn part-way (the other slot still holds the mark of 40).
  const baseMark = fs.readFileSync(path.join(baseLog, 'acked.bin'));
  const nextMark = fs.readFileSync(path.join(nextLog, 'acked.bin'));
  const slot = [0, 64].find((at) => !baseMark.subarray(at, at + 64).equals(nextMark.subarray(at, at + 64)))!;
  for (let k = 0; k <= 64; k += 2) {
    out.push({
      name: `the next batch on disk, its mark torn after ${k} of 64 bytes`,
      from: base,
      acked: k === 64 ? 45 : 40,
      apply: (dir) => {
        fs.writeFileSync(path.join(dir, 'leaves.log'), nextLeaves);
        const mark = Buffer.from(baseMark);
        nextMark.copy(mark, slot, slot, slot + k);
        fs.writeFileSync(path.join(dir, 'acked.bin'), mark);
      },
    });
  }

  // 3. Acknowledged, but the derived writes after the checkpoint never reached the disk (or only in part).
  const cp = JSON.parse(fs.readFileSync(path.join(baseLog, 'checkpoint.json'), 'utf8')) as { size: number };
  const storedCount = (n: number) => 2 * n - n.toString(2).replace(/0/g, '').length;
  for (const from of [base, inflight]) {
    const hashesLen = fs.statSync(path.join(from.dir, 'log', 'hashes.bin')).size;
    const offsetsLen = fs.statSync(path.join(from.dir, 'log', 'offsets.bin')).size;
    const [hashesCp, offsetsCp] = [32 * storedCount(cp.size), 8 * cp.size];
    for (const frac of [0, 0.25, 0.5, 0.75, 0.9, 0.99]) {
      out.push({
        name: `acknowledged ${from.acked}, derived writes after the checkpoint lost to ${frac}`,
        from,
        acked: from.acked,
        apply: (dir) => {
          truncateTo(path.join(dir, 'hashes.bin'), hashesCp + Math.floor((hashesLen - hashesCp) * frac));
          truncateTo(path.join(dir, 'offsets.bin'), offsetsCp + Math.floor((offsetsLen - offsetsCp) * frac));
        },
      });
    }
  }

  // 4. leaves.log cut at every frame boundary and inside every frame (before the acknowledged end).
  for (const f of frames) {
    for (const d of [0, 1, 3, 4, 7, 8, 9, Math.floor(f.payload.length / 2), 8 + f.payload.length - 1]) {
      out.push({
        name: `leaves.log cut at byte ${f.offset + d} (frame of ${frames.indexOf(f)} + ${d})`,
        from: base,
        acked: 40,
        apply: (dir) => truncateTo(path.join(dir, 'leaves.log'), f.offset + d),
      });
    }
  }

  // 5. Single bit flips across every file of the crash image.
  const steps: Record<string, number> = {
    'leaves.log': 41,
    'hashes.bin': 23,
    'offsets.bin': 7,
    'checkpoint.json': 3,
    'tree-heads.jsonl': 17,
    'tree-heads.2.jsonl': 19,
    'acked.bin': 3,
    'meta.json': 11,
  };
  for (const name of ALL_FILES) {
    const len = fs.statSync(path.join(baseLog, name)).size;
    for (let byte = 0; byte < len; byte += steps[name]!) {
      const bit = byte % 8;
      out.push({
        name: `bit ${bit} of byte ${byte} of ${name} flipped`,
        from: base,
        acked: 40,
        apply: (dir) => flipBit(path.join(dir, name), byte, bit),
      });
    }
  }

  // 6. Every combination of deleted derived files.
  for (let mask = 1; mask < 1 << DERIVED.length; mask++) {
    const gone = DERIVED.filter((_, i) => mask & (1 << i));
    out.push({
      name: `deleted: ${gone.join(', ')}`,
      from: base,
      acked: 40,
      apply: (dir) => {
        for (const f of gone) fs.rmSync(path.join(dir, f), { force: true });
      },
    });
  }

  // 7. Each derived file truncated.
  for (const name of DERIVED) {
    const len = fs.statSync(path.join(baseLog, name)).size;
    for (const to of [0, 1, Math.floor(len / 2), len - 32, len - 1]) {
      if (to < 0 || to >= len) continue;
      out.push({
        name: `${name} truncated to ${to} of ${len} bytes`,
        from: base,
        acked: 40,
        apply: (dir) => truncateTo(path.join(dir, name), to),
      });
    }
  }
  return out;
}

describe('crash-state simulator: the file log never silently loses a record and never forks', () => {
  let world: World;
  before(async () => {
    world = await buildWorld();
  });

  it('judges at least 1,000 crash and corruption states: each intact or refused with a reason', async () => {
    const all = states(world);
    assert.ok(all.length >= 1000, `only ${all.length} states`);
    const tally = { intact: 0, refused: 0 };
    const refusedWhere = new Map<string, number>();
    for (const state of all) {
      const outcome = await judge(world, state);
      tally[outcome.kind]++;
      if (outcome.kind === 'refused') {
        const group = state.name.replace(/[0-9]+/g, 'N');
        refusedWhere.set(group, (refusedWhere.get(group) ?? 0) + 1);
      }
    }
    console.log(`crash-state simulator: ${all.length} states, ${tally.intact} intact, ${tally.refused} refused`);
    // A crash (torn batch, torn mark, lost derived writes) must never cost availability.
    for (const name of refusedWhere.keys()) {
      assert.ok(
        !/torn|derived writes after the checkpoint|untouched/.test(name),
        `a plain crash state was refused: ${name}`,
      );
    }
    // Corruption of what was acknowledged must never open healthy: every cut inside the log is refused.
    assert.ok((refusedWhere.get('leaves.log cut at byte N (frame of N + N)') ?? 0) >= 40 * 8);
  });
});
