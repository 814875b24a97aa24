/**
 * Crash test of the file-backed log (needs no PostgreSQL): 100 times over one directory, a child process
 * appends up to 10,000 records and prints each acknowledged index; it is killed with SIGKILL at a random moment
 * (20–300 ms after it is ready; every fifth run at a random moment of its start-up, which may fall inside
 * crash recovery). After each kill the directory is reopened and checked:
 * - every acknowledged entry is present, at its index, with its leaf hash and record;
 * - no entry is half-written: every leaf reads back whole (length and checksum) and parses;
 * - the tree verifies: the test's own tree over the re-hashed records has the stored root, and every signed
 *   tree head written so far verifies and matches it; every 25 runs, a full `auditStorage`.
 * A SIGKILL does not cut a write() to the page cache in the middle, so every third run also appends the
 * beginning of a frame to leaves.log before reopening — what a write torn by a power cut leaves — and checks
 * that exactly those bytes are cut off.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import { CompactRange } from '../../src/ledger/merkle/compact-range.js';
import { hashLeaf } from '../../src/ledger/merkle/hasher.js';
import { foldRange } from '../../src/ledger/merkle/proofs.js';
import { treeHeadProblem } from '../../src/ledger/signed-tree-head.js';
import { FileLogStorage } from '../../src/ledger/storage/file-log-storage.adapter.js';
import { auditStorage } from '../../src/ledger/verifier.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), '../support/log-crash-child.js');
const RUNS = Number(process.env.CRASH_RUNS ?? 100);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'citygate-crash-'));
after(() => fs.rmSync(dataDir, { recursive: true, force: true }));

interface Ack {
  index: number;
  leafHash: string;
  id: string;
}

interface RunResult {
  acks: Ack[];
  ready: boolean;
  done: boolean;
  signal: NodeJS.Signals | null;
}

function runChild(tag: string, killFromStart: boolean, delay: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dataDir, '10000', tag], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let ready = false;
    const kill = () => setTimeout(() => child.kill('SIGKILL'), delay);
    if (killFromStart) kill();
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (!ready && out.includes('ready ')) {
        ready = true;
        if (!killFromStart) kill();
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal === null && code !== 0) {
        reject(new Error(`child exited with ${code}: ${err}`));
        return;
      }
      const lines = out.split('\n');
      lines.pop(); // a line cut by the kill is not an acknowledgement
      const acks: Ack[] = [];
      for (const line of lines) {
        const [word, index, leafHash, id] = line.split(' ');
        if (word === 'ack') acks.push({ index: Number(index), leafHash: leafHash!, id: id! });
      }
      resolve({ acks, ready, done: lines.includes('done'), signal });
    });
  });
}

/** Appends the first bytes of a valid frame (a write torn part-way); returns how many. */
function appendTornFrame(file: string, run: number): number {
  const payload = Buffer.from(JSON.stringify({ torn: run, pad: 'x'.repeat(200 + run) }));
  const frame = Buffer.alloc(8 + payload.length);
  frame.writeUInt32LE(payload.length, 0);
  payload.copy(frame, 8);
  frame.writeUInt32LE(crc32(payload, crc32(frame.subarray(0, 4))), 4);
  const cut = 1 + Math.floor(Math.random() * (frame.length - 1));
  fs.appendFileSync(file, frame.subarray(0, cut));
  return cut;
}

describe('file log: SIGKILL at random moments', () => {
  it(
    `keeps every acknowledged entry whole and the tree verifiable over ${RUNS} kills`,
    { timeout: 600_000 },
    async () => {
      const range = CompactRange.empty(); // the test's own tree over the re-hashed records
      const rootAt = new Map<number, string>([[0, range.root().toString('hex')]]);
      let headsChecked = 0;
      let totalAcks = 0;
      let killedBeforeReady = 0;
      let tornTails = 0;
      let replayed = 0;
      const started = Date.now();

      for (let run = 1; run <= RUNS; run++) {
        const fromStart = run % 5 === 0;
        const delay = fromStart ? 20 + Math.floor(Math.random() * 400) : 20 + Math.floor(Math.random() * 281);
        const result = await runChild(`r${run}`, fromStart, delay);
        if (!result.ready) killedBeforeReady++;
        totalAcks += result.acks.length;

        let torn = 0;
        if (run % 3 === 0) torn = appendTornFrame(path.join(dataDir, 'log', 'leaves.log'), run);
        const storage = await FileLogStorage.open(path.join(dataDir, 'log'));
        if (torn > 0) assert.equal(storage.recovery.truncatedBytes, torn, `run ${run}: torn frame cut off`);
        if (storage.recovery.truncatedBytes > 0) tornTails++;
        replayed += storage.recovery.replayedLeaves;
        try {
          const size = await storage.size();
          // Every acknowledged entry is present, unchanged.
          for (const ack of result.acks) {
            assert.ok(ack.index < size, `run ${run}: acknowledged index ${ack.index} lost (size ${size})`);
            const [leaf] = await storage.getLeaves(ack.index, ack.index + 1);
            assert.equal(leaf!.leafHash.toString('hex'), ack.leafHash, `run ${run}: leaf hash at ${ack.index}`);
            assert.equal((JSON.parse(leaf!.data) as { id: string }).id, ack.id, `run ${run}: record at ${ack.index}`);
          }
          // No half-written entry: the new leaves read back whole; extend our tree with them.
          assert.ok(size >= range.size, `run ${run}: the log shrank from ${range.size} to ${size}`);
          for (let start = range.size; start < size; start += 2048) {
            for (const leaf of await storage.getLeaves(start, Math.min(size, start + 2048))) {
              JSON.parse(leaf.data);
              const lh = hashLeaf(leaf.data);
              assert.ok(lh.equals(leaf.leafHash), `run ${run}: stored leaf hash of ${leaf.index}`);
              range.append(lh);
              rootAt.set(range.size, range.root().toString('hex'));
            }
          }
          const stored = foldRange(await storage.getNodes(CompactRange.nodesFor(size)));
          assert.equal(stored.toString('hex'), range.root().toString('hex'), `run ${run}: stored root`);
          // Every signed tree head so far verifies and matches our tree.
          const keyFile = path.join(dataDir, 'keys', 'log.pub.pem');
          const heads = await storage.treeHeads();
          if (heads.length > 0) {
            const pem = fs.readFileSync(keyFile, 'utf8');
            for (const sth of heads.slice(headsChecked)) {
              assert.equal(treeHeadProblem(sth, pem), null, `run ${run}: head of size ${sth.treeSize}`);
              assert.equal(sth.rootHash, rootAt.get(sth.treeSize), `run ${run}: head of size ${sth.treeSize}`);
            }
            headsChecked = heads.length;
          }
          if (run % 25 === 0) {
            const report = await auditStorage(storage, fs.readFileSync(keyFile, 'utf8'), { chunk: 8192 });
            assert.deepEqual(report.findings, [], `run ${run}: audit`);
          }
        } finally {
          await storage.close();
        }
      }
      const seconds = (Date.now() - started) / 1000;
      console.log(
        `crash test: ${RUNS} kills in ${seconds.toFixed(1)} s, ${totalAcks} acknowledged appends, ` +
          `${range.size} entries, ${headsChecked} signed heads checked, ${killedBeforeReady} kills during start-up, ` +
          `${tornTails} torn tails truncated, ${replayed} leaves replayed after the last checkpoint`,
      );
      assert.ok(totalAcks > 0, 'some appends were acknowledged');
    },
  );
});
