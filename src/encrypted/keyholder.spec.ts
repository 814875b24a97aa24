import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AggregateCell } from './aggregator.js';
import { encryptColumn, type EncryptedColumn } from './column-codec.js';
import { KeyHolderRefusal, type RefusalCode } from './encrypted.errors.js';
import { BFV_PARAMS, CKKS_PARAMS } from './he-params.js';
import { approvalFor, encryptedColumn, schemeFixture, type SchemeFixture } from './he.test-fixture.js';
import {
  KeyHolder,
  roundValue,
  type ApprovalLookup,
  type ApprovalRecord,
  type DecryptRequest,
  type KeyHolderOptions,
} from './keyholder.js';
import { sha256Hex } from './seal-format.js';
import { loadSeal } from './seal-runtime.js';

const K = 5;

const refused = (code: RefusalCode) => (err: unknown) => {
  assert.ok(err instanceof KeyHolderRefusal, `expected a refusal, got ${String(err)}`);
  assert.equal(err.code, code, err.detail);
  // The detail stays out of serialised errors.
  assert.ok(!JSON.stringify(err).includes('detail'));
  return true;
};

/** Test-only approval log: a map from computation id to record. */
function logOf(records: readonly ApprovalRecord[]): ApprovalLookup {
  const byId = new Map(records.map((r) => [r.computationId, r]));
  return (id) => Promise.resolve(byId.get(id) ?? null);
}

function requestFor(computationId: string, cell: AggregateCell, kind: DecryptRequest['kind'] = 'sum'): DecryptRequest {
  return { computationId, kind, ciphertext: cell.sum!.ciphertext, records: cell.records };
}

describe('key holder', () => {
  let bfv: SchemeFixture;
  let ckks: SchemeFixture;
  let column: EncryptedColumn;
  /** 40 rows of 1..40 in 4 groups of 10 rows (sums 55, 155, 255, 355), and one group of 3 rows. */
  const values = Array.from({ length: 43 }, (_, i) => i + 1);
  const groups = {
    labels: ['d1', 'd2', 'd3', 'd4', 'tiny'],
    groupOf: Int32Array.from({ length: 43 }, (_, r) => Math.min(4, Math.floor(r / 10))),
  };
  let cells: readonly AggregateCell[];
  const holders: KeyHolder[] = [];
  const holder = (fx: SchemeFixture, approvals: ApprovalRecord[], over: Partial<KeyHolderOptions> = {}) => {
    const h = new KeyHolder(fx.ctx, fx.keys.secret, { k: K, approvals: logOf(approvals), ...over });
    holders.push(h);
    return h;
  };

  before(async () => {
    const runtime = await loadSeal();
    bfv = schemeFixture(runtime, BFV_PARAMS);
    ckks = schemeFixture(runtime, CKKS_PARAMS);
    column = await encryptedColumn(bfv, values, 100);
    cells = bfv.aggregator.sum(column, groups).cells;
  });
  after(() => {
    for (const h of holders) h.delete();
    column.delete();
    bfv.delete();
    ckks.delete();
  });

  it('releases an approved result, rounded to base 5 (sums) or 4 significant digits (means)', async () => {
    const d2 = cells[1]!;
    const kh = holder(bfv, [approvalFor('c-d2', d2, 7)]);
    assert.deepEqual(await kh.decrypt(requestFor('c-d2', d2)), { value: 155, rounded: { rule: 'base', base: 5 } });
    const mean = await kh.decrypt(requestFor('c-d2', d2, 'mean'));
    assert.deepEqual(mean, { value: 15.5, rounded: { rule: 'significant', digits: 4 } });
    const d1 = cells[0]!;
    const kh2 = holder(bfv, [approvalFor('c-d1', d1, 7)], { integerRounding: { rule: 'base', base: 10 } });
    // 55 rounds half away from zero to 60.
    assert.equal((await kh2.decrypt(requestFor('c-d1', d1))).value, 60);
    assert.equal(kh.decryptions + kh2.decryptions, 3);
  });

  it('refuses without an approval, or with one that does not say approved: true', async () => {
    const d2 = cells[1]!;
    const good = approvalFor('c', d2, 7);
    const kh = holder(bfv, []);
    await assert.rejects(kh.decrypt(requestFor('c', d2)), refused('NOT_APPROVED'));
    const tampered: unknown[] = [
      { ...good, approved: false },
      { ...good, approved: 'true' },
      { ...good, computationId: 'other' },
      { ...good, unitsCovered: '7' },
      { ...good, unitsCovered: 7.5 },
      { ...good, resultHash: good.resultHash.toUpperCase() },
      { ...good, resultHash: good.resultHash.slice(0, 63) },
      { computationId: 'c', resultHash: good.resultHash, approved: true },
      null,
      'approved',
    ];
    for (const a of tampered) {
      assert.throws(() => kh.decryptApproved(requestFor('c', d2), a as ApprovalRecord), refused('NOT_APPROVED'));
    }
    assert.equal(kh.decryptions, 0);
  });

  it('refuses a ciphertext from outside: one the approved computation did not produce', async () => {
    const d2 = cells[1]!;
    const kh = holder(bfv, [approvalFor('c-d2', d2, 7)]);
    // Another (genuine) result cell submitted under d2's approval.
    await assert.rejects(kh.decrypt(requestFor('c-d2', cells[2]!)), refused('HASH_MISMATCH'));
    // A raw column ciphertext, individual records in its slots.
    const raw = await encryptColumn(bfv.ctx, bfv.keys.public, values, { maxAbs: 100 });
    const rawRequest = { computationId: 'c-d2', kind: 'sum', ciphertext: raw.ciphertexts[0]!, records: 40 } as const;
    await assert.rejects(kh.decrypt(rawRequest), refused('HASH_MISMATCH'));
    // The approved bytes with one bit flipped.
    const flipped = Uint8Array.from(d2.sum!.ciphertext);
    flipped[flipped.length - 1]! ^= 1;
    await assert.rejects(kh.decrypt({ ...requestFor('c-d2', d2), ciphertext: flipped }), refused('HASH_MISMATCH'));
    // A tampered approval naming another result's hash does not match d2's bytes either.
    const swapped = { ...approvalFor('c-d2', d2, 7), resultHash: cells[3]!.sum!.hash };
    assert.throws(() => kh.decryptApproved(requestFor('c-d2', d2), swapped), refused('HASH_MISMATCH'));
    assert.equal(kh.decryptions, 0);
  });

  it('refuses results covering fewer than k units, or holding fewer than k records', async () => {
    const d2 = cells[1]!;
    const tiny = cells[4]!;
    const kh = holder(bfv, [
      approvalFor('few-units', d2, K - 1),
      approvalFor('few-records', tiny, 7),
      approvalFor('ok', d2, K),
    ]);
    await assert.rejects(kh.decrypt(requestFor('few-units', d2)), refused('BELOW_K'));
    assert.equal(tiny.records, 3);
    await assert.rejects(kh.decrypt(requestFor('few-records', tiny)), refused('DISCLOSURE'));
    for (const records of [K - 1, 2.5, -10, Number.NaN]) {
      await assert.rejects(kh.decrypt({ ...requestFor('ok', d2), records }), refused('DISCLOSURE'));
    }
    assert.equal(kh.decryptions, 0);
  });

  it('even with an approval naming it, refuses to open a ciphertext that is not a slot sum', async () => {
    // A compromised log approving a raw column ciphertext: its slots are individual records.
    const raw = await encryptColumn(bfv.ctx, bfv.keys.public, values, { maxAbs: 100 });
    const bytes = raw.ciphertexts[0]!;
    const approval = { computationId: 'raw', resultHash: sha256Hex(bytes), unitsCovered: 50, approved: true };
    const kh = holder(bfv, [approval]);
    await assert.rejects(
      kh.decrypt({ computationId: 'raw', kind: 'sum', ciphertext: bytes, records: 43 }),
      refused('DISCLOSURE'),
    );
    // Bytes that are not a ciphertext at all.
    const junk = new Uint8Array(64).fill(7);
    const junkApproval = { computationId: 'junk', resultHash: sha256Hex(junk), unitsCovered: 50, approved: true };
    assert.throws(
      () => kh.decryptApproved({ computationId: 'junk', kind: 'sum', ciphertext: junk, records: 43 }, junkApproval),
      refused('MALFORMED'),
    );
  });

  it('refuses a zero result while zeros are disclosive', async () => {
    const zeros = await encryptedColumn(bfv, new Array<number>(20).fill(0), 1);
    try {
      const [cell] = bfv.aggregator.sum(zeros).cells;
      const kh = holder(bfv, [approvalFor('z', cell!, 9)]);
      await assert.rejects(kh.decrypt(requestFor('z', cell!)), refused('DISCLOSURE'));
      const lenient = holder(bfv, [approvalFor('z', cell!, 9)], { zerosDisclosive: false });
      assert.equal((await lenient.decrypt(requestFor('z', cell!))).value, 0);
    } finally {
      zeros.delete();
    }
  });

  it('CKKS: releases slot sums (within the noise floor) and refuses raw ciphertexts', async () => {
    const reals = Array.from({ length: 30 }, (_, i) => i * 0.25 + 0.123);
    const col = await encryptedColumn(ckks, reals, 10);
    try {
      const [cell] = ckks.aggregator.mean(col).cells;
      const kh = holder(ckks, [approvalFor('m', cell!, 6)]);
      const expected = reals.reduce((a, b) => a + b, 0);
      assert.deepEqual(await kh.decrypt(requestFor('m', cell!)), {
        value: roundValue(expected, { rule: 'significant', digits: 4 }),
        rounded: { rule: 'significant', digits: 4 },
      });
      assert.equal((await kh.decrypt(requestFor('m', cell!, 'mean'))).value, 3.748);
      const raw = await encryptColumn(ckks.ctx, ckks.keys.public, reals, { maxAbs: 10 });
      const bytes = raw.ciphertexts[0]!;
      const rawKh = holder(ckks, [
        { computationId: 'r', resultHash: sha256Hex(bytes), unitsCovered: 9, approved: true },
      ]);
      await assert.rejects(
        rawKh.decrypt({ computationId: 'r', kind: 'sum', ciphertext: bytes, records: 30 }),
        refused('DISCLOSURE'),
      );
    } finally {
      col.delete();
    }
  });

  it('a failing approval lookup fails closed', async () => {
    const kh = new KeyHolder(bfv.ctx, bfv.keys.secret, {
      k: K,
      approvals: () => Promise.reject(new Error('log unavailable')),
    });
    holders.push(kh);
    await assert.rejects(kh.decrypt(requestFor('c', cells[1]!)), /log unavailable/);
    assert.equal(kh.decryptions, 0);
  });

  it('rounds halves away from zero, by base or significant digits', () => {
    const base5 = { rule: 'base', base: 5 } as const;
    const sig4 = { rule: 'significant', digits: 4 } as const;
    const table: [number, typeof base5 | typeof sig4, number][] = [
      [0, base5, 0],
      [2, base5, 0],
      [2.5, base5, 5],
      [-2.5, base5, -5],
      [7, base5, 5],
      [123457, base5, 123455],
      [5011809859.68, sig4, 5012000000],
      [2.87345, sig4, 2.873],
      [-2.87355, sig4, -2.874],
      [0.000123456, sig4, 0.0001235],
      [15.5, sig4, 15.5],
      [99995, sig4, 100000],
    ];
    for (const [x, rule, expected] of table)
      assert.equal(roundValue(x, rule), expected, `${x} ${JSON.stringify(rule)}`);
    assert.throws(() => holder(bfv, [], { integerRounding: { rule: 'base', base: 0 } }), RangeError);
    assert.throws(() => holder(bfv, [], { k: 0 }), RangeError);
  });
});
