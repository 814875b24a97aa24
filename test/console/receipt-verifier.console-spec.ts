/**
 * The console's in-browser receipt verifier (WebCrypto only, no server code) against the server's verifier
 * (src/ledger/verifier.ts) on the same bundles: bundles of a real verifiable log at many sizes and indices,
 * and random single-character changes to any of their parts. Both must give the same verdict, and the
 * browser must name the same reason the server gives.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { canonicalJson } from '../../src/ledger/provenance-record.js';
import { FileLogStorage } from '../../src/ledger/storage/file-log-storage.adapter.js';
import { VerifiableLog } from '../../src/ledger/verifiable-log.js';
import { verifyBundle, type ReceiptBundle } from '../../src/ledger/verifier.js';
import { sampleRecord } from '../support/provenance-fixtures.js';
import { verifyReceiptBundle } from '../../console/src/verify/receipt-verifier.js';

describe('the console receipt verifier agrees with the server verifier', () => {
  let dir: string;
  let log: VerifiableLog;
  let pem: string;
  const bundles: string[] = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'citygate-console-verify-'));
    log = await VerifiableLog.open({ storage: await FileLogStorage.open(path.join(dir, 'log')), dataDir: dir });
    pem = log.publicKey().pem;
    // Bundles taken at several tree sizes, so proofs of every shape (left edge, right edge, inner) occur.
    for (let i = 0; i < 37; i++) {
      const receipt = await log.append(sampleRecord(i, 'console'));
      if (i % 4 === 0 || i === 36) {
        for (const index of new Set([0, receipt.index, Math.floor(receipt.index / 2)])) {
          const entry = await log.get(index);
          const treeHead = await log.treeHead();
          const proof = await log.inclusionProof(index, treeHead.treeSize);
          bundles.push(
            canonicalJson({ record: entry!.record, receipt: { index, leafHash: entry!.leafHash }, proof, treeHead }),
          );
        }
      }
    }
  });
  after(async () => {
    await log?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('verifies every genuine bundle, as the server does', async () => {
    for (const b of bundles) {
      assert.ok(verifyBundle(JSON.parse(b) as ReceiptBundle, pem).ok);
      const v = await verifyReceiptBundle(b, pem);
      assert.equal(v.ok, true, JSON.stringify(v.steps.find((s) => s.status === 'fail')));
      assert.ok(v.steps.every((s) => s.status === 'pass'));
    }
  });

  it('refuses a bundle under another log key', async () => {
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'citygate-console-verify-other-'));
    const otherLog = await VerifiableLog.open({
      storage: await FileLogStorage.open(path.join(other, 'log')),
      dataDir: other,
    });
    try {
      const v = await verifyReceiptBundle(bundles[0]!, otherLog.publicKey().pem);
      assert.equal(v.failedAt, 'tree-head');
      const server = verifyBundle(JSON.parse(bundles[0]!) as ReceiptBundle, otherLog.publicKey().pem);
      assert.equal(server.ok, false);
      assert.equal(v.steps.find((s) => s.id === 'tree-head')!.detail, server.ok ? '' : server.reason);
    } finally {
      await otherLog.close();
      fs.rmSync(other, { recursive: true, force: true });
    }
  });

  it('gives the server’s verdict and reason on randomly tampered bundles', async () => {
    // Change one character of one string or number somewhere in the bundle (record, receipt, proof or head).
    const paths = (v: unknown, at: (string | number)[] = []): (string | number)[][] => {
      if (Array.isArray(v)) return v.flatMap((x, i) => paths(x, [...at, i]));
      if (v && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => paths(x, [...at, k]));
      return typeof v === 'string' || typeof v === 'number' ? [at] : [];
    };
    await fc.assert(
      fc.asyncProperty(
        fc.nat(bundles.length - 1),
        fc.nat(),
        fc.nat(),
        fc.constantFrom(...'0123456789abcdefxyz'),
        async (bi, pi, ci, ch) => {
          const bundle = JSON.parse(bundles[bi]!) as Record<string, unknown>;
          const all = paths(bundle);
          const p = all[pi % all.length]!;
          let parent: Record<string | number, unknown> = bundle;
          for (const k of p.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
          const key = p[p.length - 1]!;
          const old = parent[key];
          const s = String(old);
          const at = ci % Math.max(1, s.length);
          const changed = s.slice(0, at) + ch + s.slice(at + 1);
          parent[key] = typeof old === 'number' && /^\d+$/.test(changed) ? Number(changed) : changed;
          const server = verifyBundle(bundle as unknown as ReceiptBundle, pem);
          const browser = await verifyReceiptBundle(JSON.stringify(bundle), pem);
          assert.equal(browser.ok, server.ok, `path ${p.join('.')}: browser ${browser.failedAt}`);
          if (!server.ok) {
            const failed = browser.steps.find((st) => st.status === 'fail')!;
            assert.equal(failed.detail, server.reason, `path ${p.join('.')}`);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
