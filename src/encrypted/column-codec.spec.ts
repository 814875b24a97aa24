import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Progress } from '../spatial/progress.js';
import { EncryptedAggregator } from './aggregator.js';
import { encryptColumn, loadEncryptedColumn, type ColumnLayout } from './column-codec.js';
import { HeError, type HeErrorCode } from './encrypted.errors.js';
import { BFV_PARAMS, CKKS_PARAMS } from './he-params.js';
import { reveal, schemeFixture, type SchemeFixture } from './he.test-fixture.js';
import { loadSeal } from './seal-runtime.js';

const heError = (code: HeErrorCode, detail?: RegExp) => (err: unknown) =>
  err instanceof HeError && err.code === code && (!detail || detail.test(err.detail));

describe('column codec', () => {
  let bfv: SchemeFixture;
  let ckks: SchemeFixture;
  before(async () => {
    const runtime = await loadSeal();
    bfv = schemeFixture(runtime, BFV_PARAMS);
    ckks = schemeFixture(runtime, CKKS_PARAMS);
  });
  after(() => {
    bfv.delete();
    ckks.delete();
  });

  it('packs rows in slot order, ceil(rows / slots) ciphertexts, and reports progress per batch', async () => {
    const rows = 8192 * 2 + 5;
    const values = Array.from({ length: rows }, (_, i) => i % 1000);
    const progress: Progress[] = [];
    const streamed: number[] = [];
    const upload = await encryptColumn(bfv.ctx, bfv.keys.public, values, {
      maxAbs: 999,
      batchSize: 1,
      onProgress: (p) => progress.push(p),
      onCiphertext: (i) => void streamed.push(i),
    });
    const expected: ColumnLayout = {
      version: 1,
      scheme: 'bfv',
      paramsId: bfv.ctx.paramsId,
      keyId: bfv.keys.public.keyId,
      slotCount: 8192,
      rows,
      ciphertexts: 3,
      maxAbs: 999,
    };
    assert.deepEqual(upload.layout, expected);
    assert.equal(upload.ciphertexts.length, 3);
    assert.deepEqual(streamed, [0, 1, 2]);
    assert.deepEqual(
      progress.map((p) => [p.phase, p.done, p.total]),
      [
        ['encrypt', 0, rows],
        ['encrypt', 8192, rows],
        ['encrypt', 16384, rows],
        ['encrypt', rows, rows],
      ],
    );
    // Slot order: a group of just row 8192 + 3 (ciphertext 1, slot 3) sums to that row's value.
    const column = loadEncryptedColumn(bfv.ctx, upload.layout, upload.ciphertexts);
    try {
      const groupOf = new Int32Array(rows).fill(-1);
      groupOf[8192 + 3] = 0;
      const [cell] = bfv.aggregator.sum(column, { labels: ['one'], groupOf }).cells;
      assert.equal(reveal(bfv, cell!), values[8192 + 3]);
    } finally {
      column.delete();
    }
  });

  it('checks every value against the declared bound before encrypting anything', async () => {
    const pk = bfv.keys.public;
    let calls = 0;
    const onCiphertext = () => void calls++;
    await assert.rejects(
      encryptColumn(bfv.ctx, pk, [1, 2, 11], { maxAbs: 10, onCiphertext }),
      heError('HE_RANGE', /row 2: \|11\| exceeds maxAbs 10/),
    );
    await assert.rejects(encryptColumn(bfv.ctx, pk, [1, 2.5], { maxAbs: 10 }), heError('HE_RANGE', /not a whole/));
    await assert.rejects(encryptColumn(bfv.ctx, pk, [], { maxAbs: 10 }), heError('HE_RANGE', /empty/));
    await assert.rejects(
      encryptColumn(ckks.ctx, ckks.keys.public, [1, Number.NaN], { maxAbs: 10 }),
      heError('HE_RANGE', /not a finite/),
    );
    // rows x maxAbs beyond the plaintext range: refused, since a sum could wrap around t.
    await assert.rejects(
      encryptColumn(bfv.ctx, pk, [1, 2, 3], { maxAbs: 2 ** 52 }),
      heError('HE_RANGE', /could exceed the largest result/),
    );
    assert.equal(calls, 0);
  });

  it('loads keys and ciphertexts from Node Buffers, as files and database drivers return them', async () => {
    const upload = await encryptColumn(bfv.ctx, bfv.keys.public, [4, 5, 6], { maxAbs: 6 });
    // Buffer.concat of small buffers returns views into a shared pool, at a non-zero offset.
    const asBuffer = (b: Uint8Array) => Buffer.concat([Buffer.alloc(1), b]).subarray(1);
    const column = loadEncryptedColumn(bfv.ctx, upload.layout, upload.ciphertexts.map(asBuffer));
    const pub = bfv.keys.public;
    const aggregator = new EncryptedAggregator(bfv.ctx, { ...pub, galoisKeys: asBuffer(pub.galoisKeys) });
    try {
      const [cell] = aggregator.sum(column).cells;
      const sealed = cell!.sum!;
      const request = { computationId: 'b', kind: 'sum', ciphertext: asBuffer(sealed.ciphertext), records: 3 } as const;
      const approval = { computationId: 'b', resultHash: sealed.hash, unitsCovered: 1, approved: true };
      assert.equal(bfv.exact.decryptApproved(request, approval).value, 15);
    } finally {
      aggregator.delete();
      column.delete();
    }
  });

  it('the gateway refuses ciphertexts that do not match the layout or parameters', async () => {
    const upload = await encryptColumn(bfv.ctx, bfv.keys.public, [1, 2, 3], { maxAbs: 3 });
    const ckksUpload = await encryptColumn(ckks.ctx, ckks.keys.public, [1, 2, 3], { maxAbs: 3 });
    const layout = upload.layout;
    const cts = upload.ciphertexts;
    assert.throws(() => loadEncryptedColumn(bfv.ctx, layout, [...cts, ...cts]), heError('HE_LAYOUT'));
    assert.throws(() => loadEncryptedColumn(bfv.ctx, { ...layout, rows: 9000 }, cts), heError('HE_LAYOUT'));
    assert.throws(() => loadEncryptedColumn(ckks.ctx, layout, cts), heError('HE_LAYOUT', /column is bfv/));
    assert.throws(
      () => loadEncryptedColumn(bfv.ctx, layout, ckksUpload.ciphertexts),
      heError('HE_LAYOUT', /does not load/),
    );
    const garbage = Uint8Array.from(cts[0]!);
    garbage[0] = 1;
    assert.throws(() => loadEncryptedColumn(bfv.ctx, layout, [garbage]), heError('HE_LAYOUT', /no SEAL header/));
  });
});
