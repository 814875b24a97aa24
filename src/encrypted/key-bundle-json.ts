/**
 * The JSON form of an owner's public key bundle (what `citygate he keygen` writes and the gateway reads):
 * the bundle's fields with byte fields in base64.
 */
import { badInput } from '../errors/domain.error.js';
import type { PublicKeyBundle } from './keys.js';

export function parseJson(s: string): unknown {
  try {
    return JSON.parse(s) as unknown;
  } catch {
    throw badInput('Not valid JSON.');
  }
}

export function fromBase64(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'base64'));
}

/** A PublicKeyBundle as JSON with its byte fields in base64 (what `citygate he keygen` writes). */
export function parseBundle(s: string): PublicKeyBundle {
  const j = parseJson(s) as Record<string, unknown>;
  const b = (k: string): Uint8Array => {
    if (typeof j[k] !== 'string') throw badInput(`The key bundle lacks ${k}.`);
    return fromBase64(j[k]);
  };
  if (!Array.isArray(j.galoisSteps)) throw badInput('The key bundle lacks galoisSteps.');
  return {
    scheme: j.scheme as PublicKeyBundle['scheme'],
    paramsId: String(j.paramsId),
    keyId: String(j.keyId),
    params: b('params'),
    publicKey: b('publicKey'),
    relinKeys: b('relinKeys'),
    galoisKeys: b('galoisKeys'),
    galoisSteps: (j.galoisSteps as unknown[]).map(Number),
  };
}

/** The JSON form of a PublicKeyBundle that `parseBundle` reads. */
export function bundleToJson(b: PublicKeyBundle): string {
  const b64 = (u: Uint8Array) => Buffer.from(u).toString('base64');
  return JSON.stringify({
    scheme: b.scheme,
    paramsId: b.paramsId,
    keyId: b.keyId,
    params: b64(b.params),
    publicKey: b64(b.publicKey),
    relinKeys: b64(b.relinKeys),
    galoisKeys: b64(b.galoisKeys),
    galoisSteps: b.galoisSteps,
  });
}
