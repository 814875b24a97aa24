/**
 * Offline verification of the provenance log, with nothing but the log's public key (no server, no key file):
 * - `verifyBundle`: a record + its receipt + an inclusion proof against a signed tree head
 *   (what `citygate verify` checks);
 * - `verifyCheckpoint`: a saved tree head against a newer one and the consistency proof between them
 *   (detects a log that was rolled back, rewritten or forked);
 * - `auditStorage`: recomputes the whole tree from storage and checks every stored signed tree head
 *   (what `citygate audit verify` runs), locating damaged, changed, dropped or reordered records.
 * Verdicts are values, never exceptions, so a command can print them.
 */
import { type LogStorage, LogCorruptionError } from './log-storage.port.js';
import { CompactRange } from './merkle/compact-range.js';
import { hashLeaf } from './merkle/hasher.js';
import { verifyConsistency, verifyInclusion } from './merkle/proofs.js';
import { isIndex, nodeKey } from './merkle/tree-math.js';
import type { ConsistencyProof, InclusionProof, Receipt } from './provenance-log.port.js';
import { canonicalJson, type ProvenanceRecord } from './provenance-record.js';
import { logIdOf, toPublicKey, treeHeadProblem, type PublicKeyInput, type SignedTreeHead } from './signed-tree-head.js';

export type Verdict = { ok: true } | { ok: false; reason: string };

/** What a requester keeps to prove later that a release was logged. */
export interface ReceiptBundle {
  /** The provenance record as returned by the log (its canonical JSON is hashed). */
  record: ProvenanceRecord;
  receipt: Receipt;
  proof: InclusionProof;
  treeHead: SignedTreeHead;
}

const HEX32 = /^[0-9a-f]{64}$/;
const fail = (reason: string): Verdict => ({ ok: false, reason });

function decodeHashes(hashes: unknown): Buffer[] | null {
  if (!Array.isArray(hashes) || !hashes.every((h) => typeof h === 'string' && HEX32.test(h))) return null;
  return (hashes as string[]).map((h) => Buffer.from(h, 'hex'));
}

/** Verifies a signed tree head on its own: well formed, from this log, correctly signed. */
export function verifyTreeHead(sth: SignedTreeHead, publicKey: PublicKeyInput): Verdict {
  const problem = treeHeadProblem(sth, publicKey);
  return problem ? fail(problem) : { ok: true };
}

/**
 * Checks, in order: the tree head's signature; that the proof is for the receipt's index and the head's size;
 * that the record hashes to the receipt's leaf hash (SHA-256(0x00 || canonical JSON)); and the RFC 9162
 * inclusion proof from that leaf to the signed root.
 */
export function verifyBundle(bundle: ReceiptBundle, publicKey: PublicKeyInput): Verdict {
  const { record, receipt, proof, treeHead } = bundle;
  const sthOk = verifyTreeHead(treeHead, publicKey);
  if (!sthOk.ok) return sthOk;
  if (!receipt || !isIndex(receipt.index)) return fail('the receipt has no valid index');
  if (!proof || proof.leafIndex !== receipt.index) return fail('the proof is for another leaf than the receipt');
  if (proof.treeSize !== treeHead.treeSize) return fail('the proof is for another tree size than the tree head');
  if (receipt.index >= treeHead.treeSize) return fail('the receipt index lies beyond the signed tree');
  let leaf: Buffer;
  try {
    leaf = hashLeaf(canonicalJson(record));
  } catch {
    return fail('the record cannot be canonicalised');
  }
  if (leaf.toString('hex') !== receipt.leafHash)
    return fail('the record does not match the receipt (leaf hash differs)');
  const path = decodeHashes(proof.hashes);
  if (!path) return fail('the proof hashes are not 32-byte lowercase hex values');
  if (!verifyInclusion(receipt.index, treeHead.treeSize, leaf, path, Buffer.from(treeHead.rootHash, 'hex'))) {
    return fail('the inclusion proof does not lead to the signed root: the record is not in this log at that index');
  }
  return { ok: true };
}

/**
 * Verifies that the log grew only by appending between a saved checkpoint (an STH the auditor kept) and a
 * newer STH, using the consistency proof from the log. Refuses a newer head that is smaller (rolled back), a
 * head of the same size with another root (forked) and any proof that does not verify (rewritten history).
 */
export function verifyCheckpoint(
  saved: SignedTreeHead,
  newer: SignedTreeHead,
  proof: ConsistencyProof | null,
  publicKey: PublicKeyInput,
): Verdict {
  const a = verifyTreeHead(saved, publicKey);
  if (!a.ok) return fail(`saved checkpoint: ${a.reason}`);
  const b = verifyTreeHead(newer, publicKey);
  if (!b.ok) return fail(`newer tree head: ${b.reason}`);
  if (newer.treeSize < saved.treeSize) {
    return fail(
      `the log was rolled back: the newer tree head has ${newer.treeSize} entries, the saved checkpoint ${saved.treeSize}`,
    );
  }
  if (newer.treeSize === saved.treeSize) {
    return newer.rootHash === saved.rootHash
      ? { ok: true }
      : fail('the log forked: two signed tree heads of the same size have different roots');
  }
  const fromRoot = Buffer.from(saved.rootHash, 'hex');
  const toRoot = Buffer.from(newer.rootHash, 'hex');
  if (saved.treeSize === 0)
    return verifyConsistency(0, newer.treeSize, fromRoot, toRoot, [])
      ? { ok: true }
      : fail('the saved checkpoint of size 0 has a wrong root');
  if (!proof || proof.fromSize !== saved.treeSize || proof.toSize !== newer.treeSize) {
    return fail('the consistency proof is not for the sizes of the two tree heads');
  }
  const path = decodeHashes(proof.hashes);
  if (!path) return fail('the proof hashes are not 32-byte lowercase hex values');
  if (!verifyConsistency(saved.treeSize, newer.treeSize, fromRoot, toRoot, path)) {
    return fail('the consistency proof does not verify: the log was rewritten since the saved checkpoint');
  }
  return { ok: true };
}

export type AuditFindingKind =
  | 'identity'
  | 'tree-head-signature'
  | 'tree-head-fork'
  | 'rolled-back'
  | 'damaged-leaf'
  | 'leaf-hash'
  | 'node-hash'
  | 'tree-head-root';

export interface AuditFinding {
  kind: AuditFindingKind;
  message: string;
  /** The leaf index concerned, when one is known. */
  index?: number;
  /** The tree size concerned (tree-head findings). */
  treeSize?: number;
}

export interface AuditReport {
  ok: boolean;
  /** Leaves in storage. */
  size: number;
  /** Leaves re-hashed. */
  leavesChecked: number;
  treeHeadsChecked: number;
  findings: AuditFinding[];
  /** Findings beyond `maxFindings` that were counted but not listed. */
  findingsOmitted: number;
  /**
   * Where the first problem lies: exactly (`first === last`) when a stored leaf hash or checksum pins it to one
   * record; otherwise the leaves between the last tree head that still verifies and the first that does not
   * (or the span of a damaged stored node, or the entries a signed head has beyond the end of storage).
   */
  suspect: { first: number; last: number } | null;
}

export interface AuditOptions {
  /** Leaves read per storage call (default 4,096). */
  chunk?: number;
  /** Findings listed in the report (default 100); the rest are counted. */
  maxFindings?: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Recomputes the tree from the stored records and checks it against everything stored and signed:
 * every leaf's data against its stored leaf hash, every stored interior node, every stored tree head's
 * signature and root, and that no signed head is larger than the log (a rollback or dropped records).
 */
export async function auditStorage(
  storage: LogStorage,
  publicKey: PublicKeyInput,
  opts: AuditOptions = {},
): Promise<AuditReport> {
  const chunk = opts.chunk ?? 4096;
  const maxFindings = opts.maxFindings ?? 100;
  const findings: AuditFinding[] = [];
  let omitted = 0;
  const badLeaves: number[] = []; // ascending: leaves are checked in order
  let firstBadNode: { first: number; last: number } | null = null;
  const add = (f: AuditFinding) => {
    if (findings.length < maxFindings) findings.push(f);
    else omitted++;
    if (f.index !== undefined && (f.kind === 'damaged-leaf' || f.kind === 'leaf-hash')) badLeaves.push(f.index);
  };
  /** True when a leaf in [first, end) was already reported (its ancestors then differ as a matter of course). */
  const coversBadLeaf = (first: number, end: number) => {
    let lo = 0;
    let hi = badLeaves.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (badLeaves[mid]! < first) lo = mid + 1;
      else hi = mid;
    }
    return lo < badLeaves.length && badLeaves[lo]! < end;
  };

  const key = toPublicKey(publicKey);
  const identity = await storage.identity();
  if (identity && identity.logId !== logIdOf(key)) {
    add({ kind: 'identity', message: 'the storage belongs to another log key than the one given' });
  }

  const size = await storage.size();
  const heads = await storage.treeHeads();
  const valid: SignedTreeHead[] = [];
  for (const sth of heads) {
    const problem = treeHeadProblem(sth, key);
    if (problem) add({ kind: 'tree-head-signature', treeSize: sth?.treeSize, message: problem });
    else valid.push(sth);
  }
  const rootBySize = new Map<number, string>();
  for (const sth of valid) {
    const seen = rootBySize.get(sth.treeSize);
    if (seen !== undefined && seen !== sth.rootHash) {
      add({
        kind: 'tree-head-fork',
        treeSize: sth.treeSize,
        message: `two signed tree heads of size ${sth.treeSize} have different roots`,
      });
    }
    rootBySize.set(sth.treeSize, sth.rootHash);
  }
  const maxSigned = Math.max(0, ...valid.map((s) => s.treeSize));
  if (maxSigned > size) {
    add({
      kind: 'rolled-back',
      treeSize: maxSigned,
      message: `a signed tree head covers ${maxSigned} entries but storage holds ${size}: entries were dropped or the log was rolled back`,
    });
  }

  const range = CompactRange.empty();
  let lastGood = 0; // largest signed size whose root matched
  let firstBadHead: number | null = null;
  const checkHead = () => {
    const want = rootBySize.get(range.size);
    if (want === undefined) return;
    if (range.root().toString('hex') === want) {
      if (firstBadHead === null) lastGood = range.size;
    } else {
      firstBadHead ??= range.size;
      add({
        kind: 'tree-head-root',
        treeSize: range.size,
        message: `the signed tree head of size ${range.size} does not match the stored records`,
      });
    }
  };
  checkHead();

  for (let start = 0; start < size; start += chunk) {
    const end = Math.min(size, start + chunk);
    const leaves = await readLeavesTolerant(storage, start, end, add);
    const nodes: { level: number; index: number; hash: Buffer }[] = [];
    for (const leaf of leaves) {
      let lh: Buffer;
      if (leaf.data === null) {
        lh = leaf.stored; // damaged: go on with the stored hash so that later checks stay meaningful
      } else {
        lh = hashLeaf(leaf.data);
        if (!lh.equals(leaf.stored)) {
          add({
            kind: 'leaf-hash',
            index: leaf.index,
            message: `record ${leaf.index} does not hash to its stored leaf hash: it was changed, dropped or moved`,
          });
        }
      }
      range.append(lh, (level, index, hash) => {
        if (level > 0) nodes.push({ level, index, hash });
      });
      checkHead();
    }
    if (nodes.length > 0) {
      const stored = await storage.getNodes(nodes.map(({ level, index }) => ({ level, index })));
      nodes.forEach((n, i) => {
        const first = n.index * 2 ** n.level;
        const end = first + 2 ** n.level;
        if (stored[i]!.equals(n.hash) || coversBadLeaf(first, end)) return;
        firstBadNode ??= { first, last: end - 1 };
        add({
          kind: 'node-hash',
          index: first,
          message: `stored node ${nodeKey(n)} (leaves ${first}–${end - 1}) differs from the hashes of the records`,
        });
      });
    }
    opts.onProgress?.(end, size);
  }

  let suspect: AuditReport['suspect'] = null;
  const firstBadLeaf = badLeaves[0];
  if (firstBadLeaf !== undefined) suspect = { first: firstBadLeaf, last: firstBadLeaf };
  else if (firstBadHead !== null) suspect = { first: lastGood, last: firstBadHead - 1 };
  else if (firstBadNode !== null) suspect = firstBadNode;
  else if (maxSigned > size) suspect = { first: size, last: maxSigned - 1 };
  const total = findings.length + omitted;
  return {
    ok: total === 0,
    size,
    leavesChecked: size,
    treeHeadsChecked: heads.length,
    findings,
    findingsOmitted: omitted,
    suspect,
  };
}

interface AuditedLeaf {
  index: number;
  data: string | null;
  stored: Buffer;
}

/** Reads leaves, isolating damaged ones (reported, returned with data null and their stored hash). */
async function readLeavesTolerant(
  storage: LogStorage,
  start: number,
  end: number,
  add: (f: AuditFinding) => void,
): Promise<AuditedLeaf[]> {
  try {
    return (await storage.getLeaves(start, end)).map((l) => ({ index: l.index, data: l.data, stored: l.leafHash }));
  } catch (err) {
    if (!(err instanceof LogCorruptionError)) throw err;
  }
  const out: AuditedLeaf[] = [];
  for (let i = start; i < end; i++) {
    try {
      const [l] = await storage.getLeaves(i, i + 1);
      out.push({ index: i, data: l!.data, stored: l!.leafHash });
    } catch (err) {
      if (!(err instanceof LogCorruptionError)) throw err;
      add({ kind: 'damaged-leaf', index: i, message: err.message });
      const [stored] = await storage.getNodes([{ level: 0, index: i }]);
      out.push({ index: i, data: null, stored: stored! });
    }
  }
  return out;
}
