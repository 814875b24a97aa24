/**
 * Browser verification of a provenance receipt bundle with nothing but the log's public key (WebCrypto only:
 * SHA-256 and Ed25519). It re-implements, on purpose without importing the server, what `citygate verify`
 * checks (src/ledger/verifier.ts), step by step so that the page can show where a bundle fails:
 *   1. parse        the bundle is JSON with a record, a receipt, an inclusion proof and a signed tree head;
 *   2. public-key   the PEM is an Ed25519 SubjectPublicKeyInfo; the log id is SHA-256 of its DER bytes;
 *   3. tree-head    the head is well formed, names this log and its Ed25519 signature over the RFC 8785
 *                   canonical JSON of {logId, rootHash, timestamp, treeSize} verifies;
 *   4. proof-shape  the proof is for the receipt's index and the head's size, and the index lies in the tree;
 *   5. leaf-hash    SHA-256(0x00 || canonical JSON of the record) equals the receipt's leaf hash;
 *   6. inclusion    the RFC 9162 inclusion proof leads from that leaf to the signed root.
 * Runs in browsers and in Node (both have globalThis.crypto.subtle).
 */

export type StepId = 'parse' | 'public-key' | 'tree-head' | 'proof-shape' | 'leaf-hash' | 'inclusion';
export type StepStatus = 'pass' | 'fail' | 'not-reached';

export interface Step {
  id: StepId;
  title: string;
  status: StepStatus;
  detail: string;
}

export interface Verification {
  ok: boolean;
  /** The first step that failed, or null. */
  failedAt: StepId | null;
  steps: Step[];
}

export const STEP_TITLES: Record<StepId, string> = {
  parse: 'Read the bundle',
  'public-key': 'Load the log public key',
  'tree-head': 'Check the signed tree head (Ed25519)',
  'proof-shape': 'Match the proof to the receipt',
  'leaf-hash': 'Recompute the leaf hash of the record',
  inclusion: 'Recompute the root from the inclusion proof',
};

const ORDER: StepId[] = ['parse', 'public-key', 'tree-head', 'proof-shape', 'leaf-hash', 'inclusion'];
const HEX32 = /^[0-9a-f]{64}$/;
const B64_SIG = /^[A-Za-z0-9+/]{86}==$/;

class StepFailure extends Error {}

/** RFC 8785 canonical JSON of a value parsed from JSON (null, booleans, finite numbers, strings, arrays, objects). */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new Error('non-finite number');
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) return '[' + value.map((v) => canonicalJson(v)).join(',') + ']';
      const o = value as Record<string, unknown>;
      // The default sort compares UTF-16 code units, as RFC 8785 §3.2.3 requires.
      const keys = Object.keys(o)
        .filter((k) => o[k] !== undefined)
        .sort();
      return '{' + keys.map((k) => JSON.stringify(k) + ':' + canonicalJson(o[k])).join(',') + '}';
    }
    default:
      throw new Error(`a ${typeof value} cannot be canonicalised`);
  }
}

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

function fromHex(hex: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function fromBase64(b64: string): Uint8Array<ArrayBuffer> {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function sha256(data: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', data));
}

/** RFC 9162 leaf hash: SHA-256(0x00 || UTF-8 of the record's canonical JSON), hex. */
export async function leafHashOf(record: unknown): Promise<string> {
  return toHex(await sha256(concat(Uint8Array.of(0), new TextEncoder().encode(canonicalJson(record)))));
}

const hashChildren = (l: Uint8Array, r: Uint8Array) => sha256(concat(Uint8Array.of(1), l, r));

/** RFC 9162 §2.1.3.2: the root an inclusion proof leads to, or null when it cannot fit this index and size. */
export async function rootFromInclusionProof(
  index: number,
  size: number,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
): Promise<Uint8Array | null> {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return null;
  let fn = index;
  let sn = size - 1;
  let r: Uint8Array = leaf;
  for (const p of proof) {
    if (p.length !== 32 || sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = await hashChildren(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = await hashChildren(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

/** DER bytes of the SubjectPublicKeyInfo in a PEM "PUBLIC KEY" block. */
function pemToDer(pem: string): Uint8Array<ArrayBuffer> {
  const m = /-----BEGIN PUBLIC KEY-----([\s\S]+?)-----END PUBLIC KEY-----/.exec(pem);
  if (!m?.[1]) throw new StepFailure('the key is not a PEM "PUBLIC KEY" block');
  try {
    return fromBase64(m[1].replace(/\s+/g, ''));
  } catch {
    throw new StepFailure('the PEM block is not base64');
  }
}

interface Bundle {
  record: unknown;
  receipt: { index: unknown; leafHash: unknown };
  proof: { leafIndex: unknown; treeSize: unknown; hashes: unknown };
  treeHead: { logId: unknown; treeSize: unknown; rootHash: unknown; timestamp: unknown; signature: unknown };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Verifies a receipt bundle (the JSON text of the `receiptBundle` query) against the log's public key (PEM). */
export async function verifyReceiptBundle(bundleText: string, publicKeyPem: string): Promise<Verification> {
  const steps: Step[] = ORDER.map((id) => ({ id, title: STEP_TITLES[id], status: 'not-reached', detail: '' }));
  const run = async (id: StepId, body: () => Promise<string> | string): Promise<boolean> => {
    const step = steps.find((s) => s.id === id)!;
    try {
      step.detail = await body();
      step.status = 'pass';
      return true;
    } catch (err) {
      step.status = 'fail';
      step.detail = err instanceof StepFailure ? err.message : `unexpected: ${(err as Error).message}`;
      return false;
    }
  };
  const done = (): Verification => {
    const failed = steps.find((s) => s.status === 'fail');
    return { ok: !failed, failedAt: failed?.id ?? null, steps };
  };

  let bundle!: Bundle;
  let key!: CryptoKey;
  let logId = '';
  let leaf!: Uint8Array;

  if (
    !(await run('parse', () => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(bundleText);
      } catch {
        throw new StepFailure('the bundle is not JSON');
      }
      if (
        !isObject(parsed) ||
        !isObject(parsed.receipt) ||
        !isObject(parsed.proof) ||
        !isObject(parsed.treeHead) ||
        !('record' in parsed)
      )
        throw new StepFailure('the bundle needs record, receipt, proof and treeHead');
      bundle = parsed as unknown as Bundle;
      return `receipt ${String(bundle.receipt.index)} in a tree of ${String(bundle.treeHead.treeSize)} entries`;
    }))
  )
    return done();

  if (
    !(await run('public-key', async () => {
      const der = pemToDer(publicKeyPem);
      try {
        key = await crypto.subtle.importKey('spki', der, { name: 'Ed25519' }, false, ['verify']);
      } catch {
        throw new StepFailure('the key is not an Ed25519 public key');
      }
      logId = toHex(await sha256(der));
      return `Ed25519 key, log id ${logId.slice(0, 16)}…`;
    }))
  )
    return done();

  if (
    !(await run('tree-head', async () => {
      const h = bundle.treeHead;
      if (!Number.isSafeInteger(h.treeSize) || (h.treeSize as number) < 0)
        throw new StepFailure('the tree head has an invalid treeSize');
      if (!Number.isSafeInteger(h.timestamp) || (h.timestamp as number) < 0)
        throw new StepFailure('the tree head has an invalid timestamp');
      if (typeof h.rootHash !== 'string' || !HEX32.test(h.rootHash))
        throw new StepFailure('the tree head has an invalid rootHash');
      if (typeof h.signature !== 'string' || !B64_SIG.test(h.signature))
        throw new StepFailure('the tree head has no valid signature');
      if (h.logId !== logId)
        throw new StepFailure('the tree head belongs to another log (logId does not match the public key)');
      const message = new TextEncoder().encode(
        canonicalJson({ logId: h.logId, treeSize: h.treeSize, rootHash: h.rootHash, timestamp: h.timestamp }),
      );
      const ok = await crypto.subtle.verify({ name: 'Ed25519' }, key, fromBase64(h.signature), message);
      if (!ok) throw new StepFailure('the tree head signature does not verify');
      return `signed at ${new Date(h.timestamp as number).toISOString()}, ${String(h.treeSize)} entries`;
    }))
  )
    return done();

  if (
    !(await run('proof-shape', () => {
      const { receipt, proof, treeHead } = bundle;
      if (!Number.isSafeInteger(receipt.index) || (receipt.index as number) < 0)
        throw new StepFailure('the receipt has no valid index');
      if (proof.leafIndex !== receipt.index) throw new StepFailure('the proof is for another leaf than the receipt');
      if (proof.treeSize !== treeHead.treeSize)
        throw new StepFailure('the proof is for another tree size than the tree head');
      if ((receipt.index as number) >= (treeHead.treeSize as number))
        throw new StepFailure('the receipt index lies beyond the signed tree');
      return `leaf ${String(receipt.index)} of ${String(treeHead.treeSize)}`;
    }))
  )
    return done();

  if (
    !(await run('leaf-hash', async () => {
      let computed: string;
      try {
        computed = await leafHashOf(bundle.record);
      } catch {
        throw new StepFailure('the record cannot be canonicalised');
      }
      if (computed !== bundle.receipt.leafHash)
        throw new StepFailure('the record does not match the receipt (leaf hash differs)');
      leaf = fromHex(computed);
      return `SHA-256(0x00 ‖ record) = ${computed.slice(0, 16)}…`;
    }))
  )
    return done();

  await run('inclusion', async () => {
    const { hashes } = bundle.proof;
    if (!Array.isArray(hashes) || !hashes.every((x) => typeof x === 'string' && HEX32.test(x)))
      throw new StepFailure('the proof hashes are not 32-byte lowercase hex values');
    const root = await rootFromInclusionProof(
      bundle.receipt.index as number,
      bundle.treeHead.treeSize as number,
      leaf,
      (hashes as string[]).map(fromHex),
    );
    if (!root || toHex(root) !== bundle.treeHead.rootHash)
      throw new StepFailure(
        'the inclusion proof does not lead to the signed root: the record is not in this log at that index',
      );
    return `${hashes.length} proof hashes lead to root ${toHex(root).slice(0, 16)}…`;
  });
  return done();
}
