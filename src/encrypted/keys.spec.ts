import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EncryptedAggregator } from './aggregator.js';
import { encryptColumn, loadEncryptedColumn } from './column-codec.js';
import { HeError } from './encrypted.errors.js';
import { BFV_PARAMS, CKKS_PARAMS, createHeContext, slotSumSteps, type HeContext } from './he-params.js';
import {
  galoisElement,
  generateOwnerKeys,
  loadGaloisKeys,
  loadPublicKey,
  loadRelinKeys,
  loadSecretKey,
  type OwnerKeys,
  type PublicKeyBundle,
} from './keys.js';
import { KeyHolder } from './keyholder.js';
import { SEAL_MAGIC, readSealHeader, sha256Hex, toBytes } from './seal-format.js';
import { loadSeal, withScope } from './seal-runtime.js';

const heKeys = (err: unknown) => err instanceof HeError && err.code === 'HE_KEYS';

/** SEAL's header, checked byte by byte: magic 0x5EA1 on disk, header size 16, version 4.1. */
function assertSealHeader(bytes: Uint8Array, compression: 'none' | 'zstd'): void {
  assert.deepEqual([...bytes.subarray(0, 5)], [0x5e, 0xa1, 0x10, 4, 1]);
  assert.equal(bytes[5], compression === 'none' ? 0 : 2);
  const header = readSealHeader(bytes);
  assert.ok(header);
  assert.equal(header.magic, SEAL_MAGIC);
  assert.equal(header.compression, compression);
  assert.equal(header.size, bytes.length);
}

describe('owner keys', () => {
  let bfv: HeContext;
  let ckks: HeContext;
  const generated = new Map<string, OwnerKeys>();
  const keysFor = (ctx: HeContext, compression: 'none' | 'zstd'): OwnerKeys => {
    const id = `${ctx.spec.scheme}/${compression}`;
    let keys = generated.get(id);
    if (!keys) generated.set(id, (keys = generateOwnerKeys(ctx, { compression })));
    return keys;
  };

  before(async () => {
    const runtime = await loadSeal();
    bfv = createHeContext(runtime, BFV_PARAMS);
    ckks = createHeContext(runtime, CKKS_PARAMS);
  });
  after(() => {
    bfv.delete();
    ckks.delete();
  });

  for (const compression of ['none', 'zstd'] as const) {
    it(`exports every key in SEAL's format (compression ${compression}) and loads it back`, () => {
      for (const ctx of [bfv, ckks]) {
        const keys = keysFor(ctx, compression);
        const pub = keys.public;
        for (const bytes of [pub.publicKey, pub.relinKeys, pub.galoisKeys, keys.secret.secretKey]) {
          assertSealHeader(bytes, compression);
        }
        assert.equal(pub.keyId, sha256Hex(pub.publicKey).slice(0, 16));
        assertSealHeader(pub.params, 'none');
        assert.equal(sha256Hex(pub.params).slice(0, 16), ctx.paramsId);
        assert.equal(keys.secret.keyId, pub.keyId);
        assert.deepEqual(pub.galoisSteps, slotSumSteps(ctx));
        withScope((scope) => {
          scope.add(loadPublicKey(ctx, pub));
          scope.add(loadRelinKeys(ctx, pub));
          const galois = scope.add(loadGaloisKeys(ctx, pub));
          assert.equal(galois.size(), slotSumSteps(ctx).length);
          for (const step of slotSumSteps(ctx)) assert.ok(galois.hasKey(galoisElement(ctx, step)), `step ${step}`);
          const secret = scope.add(loadSecretKey(ctx, keys.secret));
          // Re-saving a loaded secret key without compression gives the same bytes: a lossless round trip.
          if (compression === 'none') {
            assert.deepEqual(toBytes(secret.saveToArray(ctx.seal.ComprModeType.none)), keys.secret.secretKey);
          }
        });
      }
    });
  }

  it('zstd makes the Galois keys smaller', () => {
    const plain = keysFor(bfv, 'none').public;
    const zstd = keysFor(bfv, 'zstd').public;
    assert.ok(zstd.galoisKeys.length < plain.galoisKeys.length);
  });

  it('a column encrypted with loaded keys decrypts with the loaded secret key', async () => {
    const keys = keysFor(bfv, 'none');
    const values = [5, -3, 12, 0, 7];
    const upload = await encryptColumn(bfv, keys.public, values, { maxAbs: 20, compression: 'none' });
    for (const ct of upload.ciphertexts) assertSealHeader(ct, 'none');
    // A ciphertext survives load + save unchanged.
    withScope((scope) => {
      const ct = scope.add(new bfv.seal.Ciphertext());
      ct.loadFromArray(bfv.context, upload.ciphertexts[0]!);
      assert.deepEqual(toBytes(ct.saveToArray(bfv.seal.ComprModeType.none)), upload.ciphertexts[0]);
    });
    const column = loadEncryptedColumn(bfv, upload.layout, upload.ciphertexts);
    const aggregator = new EncryptedAggregator(bfv, keys.public, { compression: 'none' });
    const holder = new KeyHolder(bfv, keys.secret, {
      k: 1,
      approvals: () => Promise.resolve(null),
      integerRounding: { rule: 'base', base: 1 },
    });
    try {
      const [cell] = aggregator.sum(column).cells;
      assertSealHeader(cell!.sum!.ciphertext, 'none');
      const approval = { computationId: 'c', resultHash: cell!.sum!.hash, unitsCovered: 1, approved: true };
      const released = holder.decryptApproved(
        { computationId: 'c', kind: 'sum', ciphertext: cell!.sum!.ciphertext, records: cell!.records },
        approval,
      );
      assert.equal(released.value, 21);
    } finally {
      holder.delete();
      aggregator.delete();
      column.delete();
    }
  });

  it('refuses keys of another parameter set, corrupt bytes, and Galois keys missing a step', () => {
    const bfvKeys = keysFor(bfv, 'zstd');
    const ckksKeys = keysFor(ckks, 'zstd');
    assert.throws(() => loadPublicKey(bfv, ckksKeys.public), heKeys);
    assert.throws(() => loadSecretKey(ckks, bfvKeys.secret), heKeys);
    // A CKKS key relabelled as BFV still does not load under the BFV context.
    const relabelled: PublicKeyBundle = { ...ckksKeys.public, scheme: 'bfv', paramsId: bfv.paramsId };
    assert.throws(() => loadPublicKey(bfv, relabelled), heKeys);
    const corrupt = Uint8Array.from(bfvKeys.public.publicKey);
    corrupt[0] = 0;
    assert.throws(() => loadPublicKey(bfv, { ...bfvKeys.public, publicKey: corrupt }), heKeys);
    const truncated = bfvKeys.public.publicKey.subarray(0, 1000);
    assert.throws(() => loadPublicKey(bfv, { ...bfvKeys.public, publicKey: truncated }), heKeys);
    const partial = withScope((scope) => {
      const keygen = scope.add(new bfv.seal.KeyGenerator(bfv.context));
      const gk = scope.add(keygen.createGaloisKeysWithSteps(Int32Array.from([1, 2, 4])));
      return toBytes(gk.saveToArray(bfv.seal.ComprModeType.zstd));
    });
    assert.throws(
      () => loadGaloisKeys(bfv, { ...bfvKeys.public, galoisKeys: partial }),
      (err: unknown) => heKeys(err) && /lack rotation steps 0, 8, 16/.test((err as HeError).detail),
    );
  });
});
