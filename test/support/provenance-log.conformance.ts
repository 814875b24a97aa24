/**
 * Conformance suite for every VerifiableProvenanceLog adapter (in the manner of Trillian's log integration
 * test): append 1,000 leaves, then check inclusion proofs at many indices and tree sizes and consistency proofs
 * between many pairs of sizes against an independent reference (a direct, memoised transcription of RFC 9162
 * §2.1 over the records' own leaf hashes), verify them offline with the public key, and check that invalid
 * requests are refused. Register it from a spec with `describeProvenanceLogConformance(name, open)`.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { DomainError } from '../../src/errors/domain.error.js';
import type { LogStorage } from '../../src/ledger/log-storage.port.js';
import { verifyConsistency, verifyInclusion } from '../../src/ledger/merkle/proofs.js';
import type { Receipt, VerifiableProvenanceLog } from '../../src/ledger/provenance-log.port.js';
import { canonicalJson, leafHash, type AccessRecord } from '../../src/ledger/provenance-record.js';
import type { SignedTreeHead } from '../../src/ledger/signed-tree-head.js';
import { auditStorage, verifyBundle, verifyCheckpoint, verifyTreeHead } from '../../src/ledger/verifier.js';
import { sampleRecord } from './provenance-fixtures.js';

export interface LogUnderTest {
  log: VerifiableProvenanceLog;
  /** The log's storage, when the adapter has one to audit. */
  storage?: LogStorage;
  close(): Promise<void>;
}

/** RFC 9162 §2.1 by the book, memoised on the range, over given leaf hashes. */
class ReferenceTree {
  private memo = new Map<string, Buffer>();
  constructor(private readonly leaves: readonly Buffer[]) {}

  private static node(l: Buffer, r: Buffer): Buffer {
    return createHash('sha256')
      .update(Buffer.from([1]))
      .update(l)
      .update(r)
      .digest();
  }

  private static k(n: number): number {
    let k = 1;
    while (k * 2 < n) k *= 2;
    return k;
  }

  mth(lo: number, hi: number): Buffer {
    if (hi === lo) return createHash('sha256').digest();
    if (hi - lo === 1) return this.leaves[lo]!;
    const key = `${lo}:${hi}`;
    let h = this.memo.get(key);
    if (!h) {
      const k = ReferenceTree.k(hi - lo);
      h = ReferenceTree.node(this.mth(lo, lo + k), this.mth(lo + k, hi));
      this.memo.set(key, h);
    }
    return h;
  }

  path(m: number, lo: number, hi: number): Buffer[] {
    if (hi - lo <= 1) return [];
    const k = ReferenceTree.k(hi - lo);
    return m < k
      ? [...this.path(m, lo, lo + k), this.mth(lo + k, hi)]
      : [...this.path(m - k, lo + k, hi), this.mth(lo, lo + k)];
  }

  subproof(m: number, lo: number, hi: number, b: boolean): Buffer[] {
    if (m === hi - lo) return b ? [] : [this.mth(lo, hi)];
    const k = ReferenceTree.k(hi - lo);
    return m <= k
      ? [...this.subproof(m, lo, lo + k, b), this.mth(lo + k, hi)]
      : [...this.subproof(m - k, lo + k, hi, false), this.mth(lo, lo + k)];
  }
}

async function refused(p: Promise<unknown>, what: string): Promise<void> {
  await assert.rejects(
    p,
    (err: unknown) => err instanceof DomainError && err.code === 'BAD_USER_INPUT' && err.message.length > 10,
    what,
  );
}

/** Deterministic pseudo-random numbers (mulberry32), so a failure names reproducible cases. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function describeProvenanceLogConformance(
  name: string,
  open: () => Promise<LogUnderTest>,
  opts: { leaves?: number } = {},
): void {
  const N = opts.leaves ?? 1000;
  describe(`ProvenanceLog conformance: ${name}`, () => {
    let subject: LogUnderTest;
    let log: VerifiableProvenanceLog;
    const records: AccessRecord[] = [];
    const receipts: Receipt[] = [];
    let ref: ReferenceTree;
    const rand = rng(9162);
    const pick = (n: number) => Math.floor(rand() * n);
    const hex = (bs: Buffer[]) => bs.map((b) => b.toString('hex'));

    before(async () => {
      subject = await open();
      log = subject.log;
    });
    after(async () => {
      await subject?.close();
    });

    it('starts empty: size 0, no records, a signed head of the empty tree, proofs refused', async () => {
      assert.equal(await log.size(), 0);
      assert.equal(await log.get(0), null);
      assert.deepEqual(await log.list({ first: 10, offset: 0 }), []);
      const sth = await log.treeHead();
      assert.equal(sth.treeSize, 0);
      assert.equal(sth.rootHash, createHash('sha256').digest('hex'));
      assert.deepEqual(verifyTreeHead(sth, log.publicKey().pem), { ok: true });
      await refused(log.inclusionProof(0, 0), 'inclusion in the empty log');
      await refused(log.consistencyProof(0, 0), 'consistency in the empty log');
    });

    it(`appends ${N} records concurrently, with dense indices and receipts that hash the records`, async () => {
      const wave = 100;
      for (let start = 0; start < N; start += wave) {
        const batch = Array.from({ length: Math.min(wave, N - start) }, (_, i) => sampleRecord(start + i, name));
        const got = await Promise.all(batch.map((r) => log.append(r)));
        got.forEach((receipt, i) => {
          records[receipt.index] = batch[i]!;
          receipts[receipt.index] = receipt;
        });
      }
      assert.equal(await log.size(), N);
      for (let i = 0; i < N; i++) {
        assert.ok(receipts[i], `index ${i} was assigned`);
        assert.equal(receipts[i]!.index, i);
        assert.equal(receipts[i]!.leafHash, leafHash(records[i]!), `leaf hash of ${i}`);
      }
      ref = new ReferenceTree(receipts.map((r) => Buffer.from(r.leafHash, 'hex')));
    });

    it('returns each record as appended, and null beyond the end', async () => {
      for (let i = 0; i < N; i += 37) {
        const got = await log.get(i);
        assert.ok(got, `record ${i}`);
        assert.equal(canonicalJson(got.record), canonicalJson(records[i]!));
        assert.equal(got.leafHash, receipts[i]!.leafHash);
      }
      assert.equal(await log.get(N), null);
      assert.equal(await log.get(-1), null);
    });

    it('lists newest first, with paging and the dataset / org filters', async () => {
      const page = await log.list({ first: 5, offset: 3 });
      assert.deepEqual(
        page.map((e) => e.index),
        [N - 4, N - 5, N - 6, N - 7, N - 8],
      );
      const dataset = records[N - 1]!.dataset;
      const org = records[N - 1]!.requester.org;
      const want = records
        .map((r, index) => ({ r, index }))
        .filter(({ r }) => r.dataset === dataset && r.requester.org === org)
        .map(({ index }) => index)
        .reverse();
      const filtered = await log.list({ first: 7, offset: 2, dataset, org });
      assert.deepEqual(
        filtered.map((e) => e.index),
        want.slice(2, 9),
      );
      for (const e of filtered) assert.equal(e.leafHash, receipts[e.index]!.leafHash);
    });

    it('signs a tree head whose root matches the reference computation', async () => {
      const sth = await log.treeHead();
      assert.equal(sth.treeSize, N);
      assert.equal(sth.rootHash, ref.mth(0, N).toString('hex'));
      assert.deepEqual(verifyTreeHead(sth, log.publicKey().pem), { ok: true });
      assert.deepEqual(verifyTreeHead(sth, log.publicKey().jwk), { ok: true });
      assert.equal(sth.logId, log.publicKey().logId);
      const again = await log.treeHead();
      assert.deepEqual(again, sth, 'an unchanged log reuses its head');
    });

    const edgeSizes = (n: number) => {
      const s = new Set<number>([1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129]);
      for (const x of [255, 256, 257, 500, 511, 512, 513, n - 1, n]) s.add(x);
      for (let i = 0; i < 20; i++) s.add(1 + pick(n));
      return [...s].filter((x) => x >= 1 && x <= n).sort((a, b) => a - b);
    };

    it('gives inclusion proofs at many indices and tree sizes that match the reference and verify', async () => {
      let checked = 0;
      const check = async (index: number, size: number) => {
        const proof = await log.inclusionProof(index, size);
        assert.equal(proof.leafIndex, index);
        assert.equal(proof.treeSize, size);
        assert.deepEqual(proof.hashes, hex(ref.path(index, 0, size)), `path of ${index} in ${size}`);
        const path = proof.hashes.map((h) => Buffer.from(h, 'hex'));
        const leaf = Buffer.from(receipts[index]!.leafHash, 'hex');
        assert.ok(verifyInclusion(index, size, leaf, path, ref.mth(0, size)), `verify ${index} in ${size}`);
        checked++;
      };
      for (const size of edgeSizes(N)) {
        for (const index of new Set([0, 1, size >> 1, size - 2, size - 1, pick(size)])) {
          if (index >= 0 && index < size) await check(index, size);
        }
      }
      for (let index = 0; index < N; index++) await check(index, N);
      assert.ok(checked > N);
    });

    it('gives consistency proofs between many pairs of sizes that match the reference and verify', async () => {
      const sizes = edgeSizes(N);
      const pairs: [number, number][] = [];
      for (const a of sizes) for (const b of sizes) if (a <= b) pairs.push([a, b]);
      for (let i = 0; i < 200; i++) {
        const a = 1 + pick(N);
        const b = a + pick(N - a + 1);
        pairs.push([a, b]);
      }
      for (const [a, b] of pairs) {
        const proof = await log.consistencyProof(a, b);
        assert.equal(proof.fromSize, a);
        assert.equal(proof.toSize, b);
        assert.deepEqual(proof.hashes, hex(ref.subproof(a, 0, b, true)), `proof ${a} → ${b}`);
        const path = proof.hashes.map((h) => Buffer.from(h, 'hex'));
        assert.ok(verifyConsistency(a, b, ref.mth(0, a), ref.mth(0, b), path), `verify ${a} → ${b}`);
      }
    });

    it('refuses invalid proof requests with BAD_USER_INPUT', async () => {
      const inclusion: [number, number][] = [
        [-1, 10],
        [0, 0],
        [0, -1],
        [5, 5],
        [6, 5],
        [N, N],
        [0, N + 1],
        [1.5, 10],
        [0, 2.5],
        [Number.NaN, 10],
        [0, Number.POSITIVE_INFINITY],
        [2 ** 53, 2 ** 53 + 1],
      ];
      for (const [i, s] of inclusion) await refused(log.inclusionProof(i, s), `inclusion (${i}, ${s})`);
      const consistency: [number, number][] = [
        [0, 5],
        [-1, 5],
        [0, 0],
        [6, 5],
        [1, N + 1],
        [N + 1, N + 1],
        [2.5, 10],
        [1, Number.NaN],
      ];
      for (const [a, b] of consistency) await refused(log.consistencyProof(a, b), `consistency (${a}, ${b})`);
      const same = await log.consistencyProof(N, N);
      assert.deepEqual(same.hashes, [], 'equal sizes: an empty proof');
    });

    it('hands out bundles that verify offline; changed records, receipts and keys do not', async () => {
      const sth = await log.treeHead();
      const key = log.publicKey().pem;
      for (const index of [0, 1, N >> 1, N - 1, pick(N)]) {
        const bundle = {
          record: records[index]!,
          receipt: receipts[index]!,
          proof: await log.inclusionProof(index, sth.treeSize),
          treeHead: sth,
        };
        assert.deepEqual(verifyBundle(bundle, key), { ok: true });
        const changed = structuredClone(records[index]!);
        changed.outcome.rows += 1;
        assert.equal(verifyBundle({ ...bundle, record: changed }, key).ok, false, 'changed record');
        const other = (index + 1) % N;
        assert.equal(verifyBundle({ ...bundle, receipt: receipts[other]! }, key).ok, false, 'other receipt');
        const forged: SignedTreeHead = { ...sth, timestamp: sth.timestamp + 1 };
        assert.equal(verifyBundle({ ...bundle, treeHead: forged }, key).ok, false, 'altered head');
      }
      const { generateKeyPairSync } = await import('node:crypto');
      const stranger = generateKeyPairSync('ed25519').publicKey;
      const bundle = {
        record: records[0]!,
        receipt: receipts[0]!,
        proof: await log.inclusionProof(0, N),
        treeHead: sth,
      };
      assert.equal(verifyBundle(bundle, stranger).ok, false, 'another key');
    });

    it('keeps old tree heads consistent with new ones as the log grows', async () => {
      const saved = await log.treeHead();
      for (let i = 0; i < 13; i++) {
        const r = sampleRecord(N + i, name);
        const receipt = await log.append(r);
        records[receipt.index] = r;
        receipts[receipt.index] = receipt;
      }
      const newer = await log.treeHead();
      assert.equal(newer.treeSize, N + 13);
      const proof = await log.consistencyProof(saved.treeSize, newer.treeSize);
      const key = log.publicKey().pem;
      assert.deepEqual(verifyCheckpoint(saved, newer, proof, key), { ok: true });
      assert.equal(verifyCheckpoint(newer, saved, proof, key).ok, false, 'a smaller newer head is a rollback');
    });

    it('passes a full audit of its storage', async (t) => {
      if (!subject.storage) {
        t.skip('no storage to audit');
        return;
      }
      const report = await auditStorage(subject.storage, log.publicKey().pem, { chunk: 300 });
      assert.deepEqual(report.findings, []);
      assert.equal(report.ok, true);
      assert.equal(report.size, N + 13);
      assert.ok(report.treeHeadsChecked >= 3);
    });
  });
}
