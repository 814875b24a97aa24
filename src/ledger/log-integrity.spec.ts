/**
 * The log never forgets or forks (issue #12): damaged and tampered files are caught when the log opens, by the
 * background verifier, and before a new tree head is signed. Each case is an attack or an unlucky disk; the
 * outcome is always one of two: every acknowledged record intact, or no release served, with the reason.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import { flipBit, forgeLeaves, frame, readFrames } from '../../test/support/log-files.js';
import { MemoryWitness } from '../../test/support/memory-witness.js';
import { sampleRecord } from '../../test/support/provenance-fixtures.js';
import type { Receipt } from './provenance-log.port.js';
import type { SignedTreeHead } from './signed-tree-head.js';
import { storedIndex, FileLogStorage } from './storage/file-log-storage.adapter.js';
import { VerifiableLog } from './verifiable-log.js';

const tmpDirs: string[] = [];
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'citygate-integrity-'));
  tmpDirs.push(d);
  return d;
}
after(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

interface Built {
  dataDir: string;
  logDir: string;
  receipts: Receipt[];
  heads: SignedTreeHead[];
  witness: MemoryWitness;
}

/** A closed log of `n` records appended in batches of 7, a head every 16, witnessed as the gateway does. */
async function build(n: number, dataDir = tmp(), tag = 'fixture'): Promise<Built> {
  const logDir = path.join(dataDir, 'log');
  const witness = new MemoryWitness();
  const log = await VerifiableLog.open({
    storage: await FileLogStorage.open(logDir),
    dataDir,
    treeHeadEvery: 16,
    witness,
  });
  const receipts: Receipt[] = [];
  for (let i = 0; i < n; i += 7) {
    const batch = Array.from({ length: Math.min(7, n - i) }, (_, j) => log.append(sampleRecord(i + j, tag)));
    receipts.push(...(await Promise.all(batch)));
  }
  await log.treeHead();
  await log.verifyAll();
  await log.close();
  const heads = fs
    .readFileSync(path.join(logDir, 'tree-heads.jsonl'), 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as SignedTreeHead);
  return { dataDir, logDir, receipts, heads, witness };
}

/** Opens as the gateway does; returns the log (maybe degraded) or the error that refused it. */
async function reopen(b: Built, opts: { witness?: MemoryWitness | null; fullVerifyOnOpenBelow?: number } = {}) {
  const witness =
    opts.witness === undefined
      ? new MemoryWitness({ head: b.witness.head, verified: b.witness.verified })
      : opts.witness;
  const storage = await FileLogStorage.open(b.logDir);
  return VerifiableLog.open({
    storage,
    dataDir: b.dataDir,
    treeHeadEvery: 16,
    ...(witness ? { witness } : {}),
    ...(opts.fullVerifyOnOpenBelow !== undefined ? { fullVerifyOnOpenBelow: opts.fullVerifyOnOpenBelow } : {}),
  });
}

/** Asserts the log serves nothing: degraded with a reason matching `why`, appends and new heads refused. */
async function assertRefuses(log: VerifiableLog, why: RegExp): Promise<void> {
  const integrity = log.integrity();
  assert.equal(integrity.ok, false, 'the log must not verify');
  assert.match(integrity.reason ?? '', why);
  assert.equal(log.writable, false);
  await assert.rejects(log.append(sampleRecord(9999)), /integrity check/);
  await log.close();
}

const heads = (logDir: string) => fs.readFileSync(path.join(logDir, 'tree-heads.jsonl'), 'utf8');

describe('log integrity: the cases that were found', () => {
  it('checkpoint deleted and a byte flipped in leaf 50: refuses, cuts nothing, never reuses index 50', async () => {
    const b = await build(98);
    const before = fs.statSync(path.join(b.logDir, 'leaves.log')).size;
    const headsBefore = heads(b.logDir);
    fs.rmSync(path.join(b.logDir, 'checkpoint.json'));
    const f = readFrames(b.logDir)[50]!;
    flipBit(path.join(b.logDir, 'leaves.log'), f.offset + 8 + 20);

    const log = await reopen(b);
    assert.equal(fs.statSync(path.join(b.logDir, 'leaves.log')).size, before, 'no acknowledged record is cut');
    // Auditors can still read what is readable.
    assert.equal((await log.get(10))?.leafHash, b.receipts[10]!.leafHash);
    await assert.rejects(log.treeHead(), /integrity check/);
    await assertRefuses(log, /record 50 .*corruption, not a torn tail/);
    assert.equal(heads(b.logDir), headsBefore, 'no new tree head was signed');
  });

  it('log truncated with its stored heads kept: refuses, and signs no head that forks from them', async () => {
    const b = await build(98);
    const headsBefore = heads(b.logDir);
    const payloads = readFrames(b.logDir).map((f) => Buffer.from(f.payload));
    forgeLeaves(b.logDir, payloads.slice(0, 60));
    const log = await reopen(b);
    await assert.rejects(log.treeHead(), /integrity check/);
    await assertRefuses(log, /cut off|acknowledged/);
    assert.equal(heads(b.logDir), headsBefore);
  });

  it('log, derived files and acknowledgement mark truncated consistently: the stored heads reach beyond it', async () => {
    const b = await build(98);
    // A genuine log of the first 60 records under the same key: exactly what a consistent truncation leaves.
    const dir = tmp();
    fs.cpSync(path.join(b.dataDir, 'keys'), path.join(dir, 'keys'), { recursive: true });
    const rebuilt = await build(60, dir);
    for (const name of ['leaves.log', 'hashes.bin', 'offsets.bin', 'checkpoint.json', 'acked.bin']) {
      fs.copyFileSync(path.join(rebuilt.logDir, name), path.join(b.logDir, name));
    }
    await assertRefuses(
      await reopen(b, { witness: null }),
      /a signed tree head covers \d+ records but the log holds 60/,
    );
  });

  it('a log rolled back whole to a genuine earlier state (every file consistent) is caught by the witness', async () => {
    const b = await build(98);
    const backup = tmp();
    fs.cpSync(path.join(b.dataDir, 'keys'), path.join(backup, 'keys'), { recursive: true });
    const earlier = await build(60, backup); // the same key, the first 60 records: an old backup of this log
    fs.rmSync(b.logDir, { recursive: true });
    fs.cpSync(earlier.logDir, b.logDir, { recursive: true });
    // Locally consistent: only the witness, which saw the head of size 98, can tell.
    const blind = await reopen(b, { witness: null });
    assert.equal(blind.integrity().ok, true);
    await blind.close();
    await assertRefuses(await reopen(b), /saw a signed tree head of size 98 but the log holds 60/);
  });
});

describe('log integrity: tampering is caught on opening, not only offline', () => {
  const N = 90;
  const K = 40;
  const cases: { name: string; tamper: (b: Built) => void; why: RegExp }[] = [
    {
      name: 'a bit flip in a record',
      tamper: (b) => flipBit(path.join(b.logDir, 'leaves.log'), readFrames(b.logDir)[K]!.offset + 30),
      why: /leaf 40 is damaged|record 40/,
    },
    {
      name: 'a bit flip in a checksum',
      tamper: (b) => flipBit(path.join(b.logDir, 'leaves.log'), readFrames(b.logDir)[K]!.offset + 5),
      why: /leaf 40 is damaged|record 40/,
    },
    {
      name: 'a bit flip in hashes.bin (an inner node)',
      tamper: (b) => flipBit(path.join(b.logDir, 'hashes.bin'), 32 * storedIndex(1, 10) + 3),
      why: /node|tree|root/,
    },
    {
      name: 'a bit flip in a leaf hash of hashes.bin',
      tamper: (b) => flipBit(path.join(b.logDir, 'hashes.bin'), 32 * storedIndex(0, K) + 9),
      why: /record 40 does not hash|node|tree/,
    },
    {
      name: 'two records swapped (stored hashes left alone)',
      tamper: (b) => {
        const frames = readFrames(b.logDir);
        let k = K;
        while (frames[k]!.payload.length !== frames[k + 1]!.payload.length) k++;
        const fd = fs.openSync(path.join(b.logDir, 'leaves.log'), 'r+');
        const [x, y] = [frames[k]!, frames[k + 1]!];
        fs.writeSync(fd, frame(Buffer.from(y.payload)), 0, 8 + x.payload.length, x.offset);
        fs.writeSync(fd, frame(Buffer.from(x.payload)), 0, 8 + x.payload.length, y.offset);
        fs.closeSync(fd);
      },
      why: /does not hash to its stored leaf hash/,
    },
    {
      name: 'an edited record with its checksum fixed up',
      tamper: (b) => {
        const f = readFrames(b.logDir)[K]!;
        const edited = Buffer.from(f.payload.toString().replace('"rows":100', '"rows":900'));
        assert.equal(edited.length, f.payload.length);
        assert.notDeepEqual(edited, f.payload);
        const fd = fs.openSync(path.join(b.logDir, 'leaves.log'), 'r+');
        fs.writeSync(fd, frame(edited), 0, 8 + edited.length, f.offset);
        fs.closeSync(fd);
      },
      why: /record 40 does not hash to its stored leaf hash/,
    },
    {
      name: 'an edited record with every derived file rebuilt',
      tamper: (b) => {
        const payloads = readFrames(b.logDir).map((f) => Buffer.from(f.payload));
        payloads[K] = Buffer.from(payloads[K]!.toString().replace('"rows":100', '"rows":101'));
        forgeLeaves(b.logDir, payloads);
      },
      why: /do not match the signed tree head|stored tree/,
    },
    {
      name: 'a corrupted tree head (one copy)',
      tamper: (b) => {
        const file = path.join(b.logDir, 'tree-heads.jsonl');
        const lines = fs.readFileSync(file, 'utf8').split('\n');
        lines[1] = lines[1]!.replace(/"rootHash":"(.)/, (_m, c: string) => `"rootHash":"${c === 'a' ? 'b' : 'a'}`);
        fs.writeFileSync(file, lines.join('\n'));
      },
      why: /copies of the signed tree heads differ/,
    },
    {
      name: 'a corrupted tree head in both copies, its checksum chain recomputed',
      tamper: (b) => {
        const file = path.join(b.logDir, 'tree-heads.jsonl');
        const sths = fs
          .readFileSync(file, 'utf8')
          .trimEnd()
          .split('\n')
          .map((l) => JSON.parse(l) as SignedTreeHead);
        sths[1]!.rootHash = createHash('sha256').update('forged').digest('hex');
        fs.writeFileSync(file, sths.map((s) => JSON.stringify(s) + '\n').join(''));
        let chain = Buffer.alloc(32).toString('hex');
        const copy = sths.map((sth) => {
          chain = createHash('sha256').update(Buffer.from(chain, 'hex')).update(JSON.stringify(sth)).digest('hex');
          return JSON.stringify({ sth, chain }) + '\n';
        });
        fs.writeFileSync(path.join(b.logDir, 'tree-heads.2.jsonl'), copy.join(''));
      },
      why: /signature does not verify/,
    },
    {
      name: 'tree-heads.jsonl deleted',
      tamper: (b) => fs.rmSync(path.join(b.logDir, 'tree-heads.jsonl')),
      why: /tree-heads\.jsonl holds 0 signed tree heads .* heads were deleted/,
    },
    {
      name: 'the second copy of the heads deleted',
      tamper: (b) => fs.rmSync(path.join(b.logDir, 'tree-heads.2.jsonl')),
      why: /tree-heads\.2\.jsonl holds 0 .* heads were deleted/,
    },
    {
      name: 'both copies of the heads deleted',
      tamper: (b) => {
        fs.rmSync(path.join(b.logDir, 'tree-heads.jsonl'));
        fs.rmSync(path.join(b.logDir, 'tree-heads.2.jsonl'));
      },
      why: /heads were deleted/,
    },
    {
      name: 'the acknowledgement mark deleted',
      tamper: (b) => fs.rmSync(path.join(b.logDir, 'acked.bin')),
      why: /acked\.bin .* missing but the log holds records/,
    },
    {
      name: 'the last records cut off leaves.log (a truncation at a frame boundary)',
      tamper: (b) => fs.truncateSync(path.join(b.logDir, 'leaves.log'), readFrames(b.logDir)[N - 3]!.offset),
      why: /cut off|shorter than their checkpoint/,
    },
  ];
  for (const c of cases) {
    it(`refuses to serve after ${c.name}`, async () => {
      const b = await build(N);
      c.tamper(b);
      let log: VerifiableLog;
      try {
        log = await reopen(b);
      } catch (err) {
        // Refusing to open at all is the other allowed outcome; it must say why.
        assert.match((err as Error).message, c.why);
        return;
      }
      await assertRefuses(log, c.why);
    });
  }

  it('an untouched log opens, verifies and serves (the control case)', async () => {
    const b = await build(N);
    const log = await reopen(b);
    assert.deepEqual({ ok: log.integrity().ok, verified: log.integrity().verifiedSize }, { ok: true, verified: N });
    assert.equal((await log.append(sampleRecord(N))).index, N);
    await log.close();
  });
});

describe('log integrity: the operator accepts a log without a mark', () => {
  it('adopting a log whose mark is missing creates the mark and the heads copy; the next open is healthy', async () => {
    const b = await build(50);
    fs.rmSync(path.join(b.logDir, 'acked.bin'));
    fs.rmSync(path.join(b.logDir, 'tree-heads.2.jsonl'));
    await assertRefuses(await reopen(b), /acked\.bin .* missing/);
    const adopted = await FileLogStorage.open(b.logDir, { adoptMissingMark: true });
    assert.deepEqual(adopted.problems, []);
    await adopted.close();
    const log = await reopen(b);
    assert.equal(log.integrity().ok, true);
    assert.equal((await log.append(sampleRecord(50))).index, 50);
    await log.close();
    // The adopted mark protects like any other: damage before it is corruption again.
    flipBit(path.join(b.logDir, 'leaves.log'), readFrames(b.logDir)[20]!.offset + 30);
    fs.rmSync(path.join(b.logDir, 'checkpoint.json'));
    await assertRefuses(await reopen(b), /record 20 .*corruption/);
  });
});

describe('log integrity: the background verifier and the never-fork check', () => {
  it('an old record damaged while the gateway runs is found by the next background pass', async () => {
    const b = await build(90);
    // A large log is re-hashed only since the last verified point on opening ...
    const log = await reopen(b, { fullVerifyOnOpenBelow: 0 });
    assert.equal(log.integrity().ok, true);
    await log.append(sampleRecord(90));
    flipBit(path.join(b.logDir, 'leaves.log'), readFrames(b.logDir)[12]!.offset + 40);
    // ... and the background pass re-checks all of it.
    const after = await log.verifyAll();
    assert.equal(after.ok, false);
    assert.equal(after.failures, 1);
    assert.match(after.reason ?? '', /leaf 12 is damaged/);
    await assertRefuses(log, /leaf 12/);
  });

  it('two writers with diverging histories under one key: the second refuses to sign a forking head', async () => {
    const a = await build(30);
    const other = tmp();
    fs.cpSync(path.join(a.dataDir, 'keys'), path.join(other, 'keys'), { recursive: true });
    const b = await build(40, other, 'forked'); // same key, different records
    const log = await reopen(a);
    const storage = (log as unknown as { storage: FileLogStorage }).storage;
    // A forged head of the other history lands in this log's storage (as a second instance would write it).
    const forkHead = b.heads[b.heads.length - 1]!;
    assert.equal(forkHead.treeSize, 40);
    await storage.putTreeHead(forkHead);
    for (let i = 30; i < 40; i++) await log.append(sampleRecord(i));
    await assert.rejects(log.treeHead(), /integrity check/);
    await assertRefuses(log, /(would not extend the signed tree head|stored tree head) of size 40.*fork/);
  });
});
