/**
 * The owner's keys. The owner's key holder generates them; the secret key never leaves it. The public key
 * (encryption), relinearisation keys and Galois (rotation) keys are exported for the owner's encryption
 * client and the gateway. Everything is serialised in SEAL's own format (seal-format.ts).
 *
 * Exports use SEAL's "serializable" (seeded) forms: half of each key is regenerated from a seed on load,
 * which halves the bytes; any SEAL 4.1 `load` expands them. The Galois keys cover only the steps the
 * aggregator uses to sum all slots (slotSumSteps), 13 keys for BFV and 12 for CKKS instead of SEAL's
 * default 25.
 */
import type { GaloisKeys, PublicKey, RelinKeys, SecretKey } from 'node-seal';
import { HeError } from './encrypted.errors.js';
import { sealErrorMessage, slotSumSteps, type HeContext, type HeScheme } from './he-params.js';
import { comprMode, readSealHeader, sealInput, sha256Hex, toBytes, type Compression } from './seal-format.js';
import { withScope } from './seal-runtime.js';

/** What the owner publishes: safe to give to the gateway and the encryption client. */
export interface PublicKeyBundle {
  readonly scheme: HeScheme;
  /** HeContext.paramsId of the parameters the keys belong to. */
  readonly paramsId: string;
  /** First 16 hex characters of the SHA-256 of the public key bytes: names the key pair. */
  readonly keyId: string;
  /** SEAL's serialised EncryptionParameters (HeContext.paramsBytes), for readers that do not build them. */
  readonly params: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly relinKeys: Uint8Array;
  readonly galoisKeys: Uint8Array;
  /** The rotation steps the Galois keys cover (0 = swap the two BFV rows). */
  readonly galoisSteps: readonly number[];
}

/** The owner's secret key, serialised. Stays with the key holder (store it encrypted at rest). */
export interface SecretKeyBytes {
  readonly scheme: HeScheme;
  readonly paramsId: string;
  readonly keyId: string;
  readonly secretKey: Uint8Array;
}

export interface OwnerKeys {
  readonly secret: SecretKeyBytes;
  readonly public: PublicKeyBundle;
}

export interface KeyExportOptions {
  /** Default `zstd`; `none` for seal-python and other readers without compression support. */
  compression?: Compression;
}

/** Generates a fresh key pair with relinearisation and Galois keys; every SEAL object is deleted. */
export function generateOwnerKeys(ctx: HeContext, opts: KeyExportOptions = {}): OwnerKeys {
  const { seal } = ctx;
  const mode = comprMode(seal, opts.compression ?? 'zstd');
  const steps = slotSumSteps(ctx);
  return withScope((scope) => {
    const keygen = scope.add(new seal.KeyGenerator(ctx.context));
    const secretKey = toBytes(scope.add(keygen.secretKey()).saveToArray(mode));
    const publicKey = toBytes(scope.add(keygen.createPublicKeySerializable()).saveToArray(mode));
    const relinKeys = toBytes(scope.add(keygen.createRelinKeysSerializable()).saveToArray(mode));
    const galoisKeys = toBytes(
      scope.add(keygen.createGaloisKeysSerializableWithSteps(Int32Array.from(steps))).saveToArray(mode),
    );
    const keyId = sha256Hex(publicKey).slice(0, 16);
    const base = { scheme: ctx.spec.scheme, paramsId: ctx.paramsId, keyId };
    return {
      secret: { ...base, secretKey },
      public: { ...base, params: ctx.paramsBytes, publicKey, relinKeys, galoisKeys, galoisSteps: steps },
    };
  });
}

type Loadable = PublicKey | SecretKey | RelinKeys | GaloisKeys;

function load<T extends Loadable>(ctx: HeContext, what: string, make: () => T, bytes: Uint8Array): T {
  if (!readSealHeader(bytes)) throw new HeError('HE_KEYS', `${what}: no SEAL header`);
  const obj = make();
  try {
    obj.loadFromArray(ctx.context, sealInput(bytes));
    return obj;
  } catch (err) {
    obj.delete();
    throw new HeError('HE_KEYS', `${what} does not load under these parameters: ${sealErrorMessage(err)}`);
  }
}

function checkBundle(ctx: HeContext, b: { scheme: HeScheme; paramsId: string }): void {
  if (b.scheme !== ctx.spec.scheme || b.paramsId !== ctx.paramsId) {
    throw new HeError('HE_KEYS', `keys for ${b.scheme}/${b.paramsId}, context is ${ctx.spec.scheme}/${ctx.paramsId}`);
  }
}

/** Loads the public key. The caller deletes the result. */
export function loadPublicKey(ctx: HeContext, bundle: PublicKeyBundle): PublicKey {
  checkBundle(ctx, bundle);
  return load(ctx, 'public key', () => new ctx.seal.PublicKey(), bundle.publicKey);
}

/** Loads the relinearisation keys (not needed by today's aggregates). The caller deletes the result. */
export function loadRelinKeys(ctx: HeContext, bundle: PublicKeyBundle): RelinKeys {
  checkBundle(ctx, bundle);
  return load(ctx, 'relinearisation keys', () => new ctx.seal.RelinKeys(), bundle.relinKeys);
}

/** Loads the Galois keys and checks they cover every slot-sum step. The caller deletes the result. */
export function loadGaloisKeys(ctx: HeContext, bundle: PublicKeyBundle): GaloisKeys {
  checkBundle(ctx, bundle);
  const keys = load(ctx, 'Galois keys', () => new ctx.seal.GaloisKeys(), bundle.galoisKeys);
  const missing = slotSumSteps(ctx).filter((s) => !keys.hasKey(galoisElement(ctx, s)));
  if (missing.length > 0) {
    keys.delete();
    throw new HeError('HE_KEYS', `Galois keys lack rotation steps ${missing.join(', ')}`);
  }
  return keys;
}

/** Loads the secret key (key holder only). The caller deletes the result. */
export function loadSecretKey(ctx: HeContext, secret: SecretKeyBytes): SecretKey {
  checkBundle(ctx, secret);
  return load(ctx, 'secret key', () => new ctx.seal.SecretKey(), secret.secretKey);
}

/**
 * SEAL's Galois element for a rotation by `step` slots (SEAL 4.1 `GaloisTool::get_elt_from_step`):
 * 3^step mod 2N for a left rotation, 2N - 1 for step 0 (the BFV row swap, CKKS conjugation).
 */
export function galoisElement(ctx: Pick<HeContext, 'spec'>, step: number): number {
  const m = BigInt(2 * ctx.spec.polyModulusDegree);
  if (step === 0) return Number(m - 1n);
  const rowSize = ctx.spec.polyModulusDegree / 2;
  const pos = BigInt(step > 0 ? step : rowSize + step);
  let elt = 1n;
  let base = 3n;
  for (let e = pos; e > 0n; e >>= 1n) {
    if (e & 1n) elt = (elt * base) % m;
    base = (base * base) % m;
  }
  return Number(elt);
}
