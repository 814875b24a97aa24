/**
 * Integrity of the provenance log where it matters: when the gateway opens it, before it signs a new tree head,
 * and continuously in the background (issue #12; DESIGN.md §6). A log that does not verify serves no release.
 *
 * `verifyLogIntegrity` checks, against the storage's own data and nothing it could rewrite alone:
 * - the storage's own findings on opening (a damaged frame before the acknowledged end, lost tree heads, ...);
 * - every stored signed tree head: its signature under the log key, that its size is not beyond the log, that the
 *   tree stored for that size has its root, and the RFC 9162 consistency between consecutive heads;
 * - the head last seen by a witness kept apart from the log (the store's table): the log must still contain it;
 * - the records since the last verified point: re-hashed, compared with the stored leaf and node hashes and the
 *   signed roots they pass.
 * Verdicts are values; a caller decides to serve degraded.
 */
import { LogCorruptionError, type LogStorage } from './log-storage.port.js';
import { CompactRange } from './merkle/compact-range.js';
import { hashLeaf } from './merkle/hasher.js';
import { consistencyPlan, foldRange, planNodes, resolvePlan, verifyConsistency } from './merkle/proofs.js';
import { nodeKey, type NodeId } from './merkle/tree-math.js';
import { treeHeadProblem, type SignedTreeHead } from './signed-tree-head.js';

/** A point up to which the whole log was verified. */
export interface VerifiedPoint {
  size: number;
  root: string;
}

/** A place apart from the log's own files that remembers its latest signed head and last verified point. */
export interface LogWitness {
  readonly name: string;
  load(logId: string): Promise<{ head: SignedTreeHead | null; verified: VerifiedPoint | null }>;
  saveHead(logId: string, sth: SignedTreeHead): Promise<void>;
  saveVerified(logId: string, point: VerifiedPoint): Promise<void>;
}

export type IntegrityVerdict = { ok: true; size: number; root: string } | { ok: false; reason: string };

export interface VerifyOptions {
  /** Re-hash records only from this verified point on (its root is checked first). Default: from 0. */
  from?: VerifiedPoint | null;
  /** A point a witness saw verified: the log must still contain it unchanged (checked even when `from` is null). */
  known?: VerifiedPoint | null;
  /** A head kept by a witness: the log must contain it. */
  witnessHead?: SignedTreeHead | null;
  witnessName?: string;
  /** Leaves per read (default 2,048). */
  chunk?: number;
  /** Give the event loop a turn between chunks (the background verifier). */
  yieldBetweenChunks?: boolean;
}

const fail = (reason: string): IntegrityVerdict => ({ ok: false, reason });

export async function rootAt(storage: LogStorage, size: number): Promise<Buffer> {
  return foldRange(await storage.getNodes(CompactRange.nodesFor(size)));
}

/** True when the stored tree shows that the tree of `from` leaves with `fromRoot` is a prefix of `to` with `toRoot`. */
export async function storedConsistency(
  storage: LogStorage,
  from: number,
  fromRoot: Buffer,
  to: number,
  toRoot: Buffer,
): Promise<boolean> {
  if (from === to || from === 0) return verifyConsistency(from, to, fromRoot, toRoot, []);
  const plan = consistencyPlan(from, to);
  const ids = planNodes(plan);
  const proof = resolvePlan(plan, ids, await storage.getNodes(ids));
  return verifyConsistency(from, to, fromRoot, toRoot, proof);
}

export async function verifyLogIntegrity(
  storage: LogStorage,
  publicKeyPem: string,
  opts: VerifyOptions = {},
): Promise<IntegrityVerdict> {
  const found = (storage as { problems?: readonly string[] }).problems;
  if (found && found.length > 0) return fail(found[0]!);
  try {
    return await verify(storage, publicKeyPem, opts);
  } catch (err) {
    if (err instanceof LogCorruptionError) return fail(err.message);
    throw err;
  }
}

async function verify(storage: LogStorage, publicKeyPem: string, opts: VerifyOptions): Promise<IntegrityVerdict> {
  const size = await storage.size();
  const heads = await storage.treeHeads();
  const chunk = opts.chunk ?? 2048;

  // Signed heads: signature, size, root, and consistency with the one before.
  let previous: { sth: SignedTreeHead; root: Buffer } | null = null;
  for (const [i, sth] of heads.entries()) {
    const problem = treeHeadProblem(sth, publicKeyPem);
    if (problem) return fail(`stored signed tree head ${i + 1}: ${problem}`);
    if (sth.treeSize > size) {
      return fail(
        `a signed tree head covers ${sth.treeSize} records but the log holds ${size}: records were dropped or the log was rolled back`,
      );
    }
    const root = Buffer.from(sth.rootHash, 'hex');
    if (!(await rootAt(storage, sth.treeSize)).equals(root)) {
      return fail(`the stored tree does not match the signed tree head of size ${sth.treeSize}`);
    }
    if (previous) {
      if (sth.treeSize < previous.sth.treeSize) {
        return fail(`signed tree head ${i + 1} (size ${sth.treeSize}) is smaller than the one before it: a fork`);
      }
      if (!(await storedConsistency(storage, previous.sth.treeSize, previous.root, sth.treeSize, root))) {
        return fail(
          `signed tree heads of size ${previous.sth.treeSize} and ${sth.treeSize} are not consistent: a fork`,
        );
      }
    }
    previous = { sth, root };
  }

  // The witness's head must still be in the log, unchanged.
  const w = opts.witnessHead;
  if (w) {
    const problem = treeHeadProblem(w, publicKeyPem);
    const where = opts.witnessName ?? 'the witness';
    if (problem) return fail(`the signed tree head kept by ${where}: ${problem}`);
    if (w.treeSize > size) {
      return fail(
        `${where} saw a signed tree head of size ${w.treeSize} but the log holds ${size}: the log was rolled back or truncated`,
      );
    }
    if (!(await rootAt(storage, w.treeSize)).equals(Buffer.from(w.rootHash, 'hex'))) {
      return fail(`the log no longer matches the signed tree head of size ${w.treeSize} kept by ${where}: a fork`);
    }
    const latest = heads[heads.length - 1];
    if (!latest || latest.treeSize < w.treeSize) {
      return fail(
        `${where} saw a signed tree head of size ${w.treeSize} that the log's own heads do not reach: heads were deleted`,
      );
    }
  }

  const known = opts.known;
  if (known && known.size > 0) {
    const where = opts.witnessName ?? 'the witness';
    if (known.size > size) {
      return fail(
        `${where} saw the log verified at ${known.size} records but it now holds ${size}: records were dropped or the log was rolled back`,
      );
    }
    if ((await rootAt(storage, known.size)).toString('hex') !== known.root) {
      return fail(`the log no longer matches the tree verified at size ${known.size} (kept by ${where}): a fork`);
    }
  }

  // Records since the verified point.
  const from = opts.from && opts.from.size > 0 ? opts.from : null;
  if (from && from.size > size) {
    return fail(`the log was verified up to ${from.size} records but now holds ${size}: records were dropped`);
  }
  let range: CompactRange;
  if (from) {
    const frontier = await storage.getNodes(CompactRange.nodesFor(from.size));
    range = CompactRange.fromHashes(from.size, frontier);
    if (range.root().toString('hex') !== from.root) {
      return fail(`the stored tree no longer matches the root verified at size ${from.size}`);
    }
  } else {
    range = CompactRange.empty();
  }
  const rootBySize = new Map(heads.map((h) => [h.treeSize, h.rootHash]));
  for (let start = range.size; start < size; start += chunk) {
    const end = Math.min(size, start + chunk);
    const leaves = await storage.getLeaves(start, end);
    const nodes: { id: NodeId; hash: Buffer }[] = [];
    for (const leaf of leaves) {
      const lh = hashLeaf(leaf.data);
      if (!lh.equals(leaf.leafHash)) {
        return fail(`record ${leaf.index} does not hash to its stored leaf hash: it was changed or moved`);
      }
      range.append(lh, (level, index, hash) => {
        if (level > 0) nodes.push({ id: { level, index }, hash });
      });
      const want = rootBySize.get(range.size);
      if (want !== undefined && range.root().toString('hex') !== want) {
        return fail(`the records do not match the signed tree head of size ${range.size}`);
      }
    }
    if (nodes.length > 0) {
      const stored = await storage.getNodes(nodes.map((n) => n.id));
      const bad = nodes.findIndex((n, i) => !stored[i]!.equals(n.hash));
      if (bad >= 0) return fail(`stored node ${nodeKey(nodes[bad]!.id)} differs from the hashes of its records`);
    }
    if (opts.yieldBetweenChunks) await new Promise((resolve) => setImmediate(resolve));
  }
  const root = range.root();
  if (size > 0 && !(await rootAt(storage, size)).equals(root)) {
    return fail(`the stored tree of size ${size} does not match its records`);
  }
  return { ok: true, size, root: root.toString('hex') };
}
