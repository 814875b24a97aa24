/**
 * Storage of the verifiable log (DESIGN.md §6): the leaves (canonical JSON records), the hashes of every
 * complete subtree of the RFC 9162 tree over them, and the signed tree heads handed out. VerifiableLog does the
 * batching (group commit), the signing and the proofs; a storage adapter makes batches durable and answers
 * reads. Adapters: `FileLogStorage` (append-only files, one process) and `PostgresLogStorage` (several gateway
 * instances, one sequencer at a time).
 *
 * Contract:
 * - `append(batch)` makes the whole batch durable (fsync / commit) before it resolves, assigns it consecutive
 *   indices after every earlier batch, and resolves with the first one. Indices are dense from 0, never reused;
 *   leaves and node hashes are never changed. A rejection means none of the batch is in the log, with one
 *   exception: an adapter that could not undo a failed write stops accepting appends until it is reopened, and
 *   records of that (never acknowledged) batch which did reach the disk may then be found in the log.
 * - `size()` is the number of durable, integrated leaves: every read below is answered for indices < size().
 * - `getNodes(ids)` returns the hash of each complete subtree `{level, index}` (level 0: the stored leaf hash)
 *   lying wholly inside [0, size()), in the order asked; anything else is an error.
 * - `getLeaves(start, end)` returns leaves [start, end) (end ≤ size()) with their stored leaf hashes. An adapter
 *   that detects a damaged leaf throws a `LogCorruptionError` naming its index.
 * - `list` returns leaves newest first, skipping `offset` matches; `dataset` / `org` filter on the values given
 *   with each leaf at append (the record's `dataset` and `requester.org`).
 * - `bind(identity)` records which log key the storage belongs to on first use and refuses another key later.
 * - Tree heads are stored as given, in order; `treeHeads()` returns them all (for audits).
 */
import type { NodeId } from './merkle/tree-math.js';
import type { SignedTreeHead } from './signed-tree-head.js';

/** Largest record (canonical JSON, UTF-8 bytes) a log accepts. */
export const MAX_LEAF_BYTES = 16 * 1024 * 1024;

export interface LeafInput {
  /** The record as RFC 8785 canonical JSON. */
  data: string;
  /** SHA-256(0x00 || data). */
  leafHash: Buffer;
  /** Filter values for `list`: the record's dataset and requester org. */
  dataset: string | null;
  org: string | null;
}

export interface StoredLeaf {
  index: number;
  data: string;
  /** The leaf hash the tree holds for this index. */
  leafHash: Buffer;
}

export interface LogIdentity {
  logId: string;
  publicKeyPem: string;
}

export interface LogListQuery {
  first: number;
  offset: number;
  dataset?: string | null;
  org?: string | null;
}

export interface LogStorage {
  readonly kind: 'file' | 'postgres';
  bind(identity: LogIdentity): Promise<void>;
  /** The identity bound by `bind`, or null before the first bind. */
  identity(): Promise<LogIdentity | null>;
  append(batch: readonly LeafInput[]): Promise<number>;
  size(): Promise<number>;
  getLeaves(start: number, end: number): Promise<StoredLeaf[]>;
  getNodes(ids: readonly NodeId[]): Promise<Buffer[]>;
  list(query: LogListQuery): Promise<StoredLeaf[]>;
  putTreeHead(sth: SignedTreeHead): Promise<void>;
  latestTreeHead(): Promise<SignedTreeHead | null>;
  treeHeads(): Promise<SignedTreeHead[]>;
  close(): Promise<void>;
}

/** Stored data that fails its own checks (checksum, length, hash): the log needs an audit. */
export class LogCorruptionError extends Error {
  constructor(
    message: string,
    /** The first leaf index affected, when known. */
    readonly index: number | null = null,
  ) {
    super(message);
    this.name = 'LogCorruptionError';
  }
}
