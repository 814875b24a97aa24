import type { LogPublicKey } from './log-key.js';
import type { ProvenanceRecord } from './provenance-record.js';
import type { SignedTreeHead } from './signed-tree-head.js';

/** What a caller gets back for an appended record: its position and leaf hash. */
export interface Receipt {
  index: number;
  leafHash: string;
}

/**
 * The provenance log. Contract:
 * - `append` resolves only once the record is durable (committed to storage); a rejection means the
 *   record is not in the log, and the caller must not release anything that depended on it.
 * - Indices are assigned densely from 0 in append order and never reused; records are never changed.
 * - `get` returns the record at an index exactly as appended, or null beyond the end.
 * The verifiable log (Merkle tree, signed tree heads, proofs: VerifiableProvenanceLog below) replaces the table
 * adapter behind this port.
 */
export interface ProvenanceLog {
  append(record: ProvenanceRecord): Promise<Receipt>;
  size(): Promise<number>;
  get(index: number): Promise<{ record: ProvenanceRecord; leafHash: string } | null>;
  /** Records newest first, for the auditor's trail. */
  list(opts: {
    first: number;
    offset: number;
    dataset?: string | null;
    org?: string | null;
  }): Promise<{ index: number; record: ProvenanceRecord; leafHash: string }[]>;
}

/** RFC 9162 inclusion proof: `hashes` (hex, leaf to root) lead from leaf `leafIndex` to the root at `treeSize`. */
export interface InclusionProof {
  leafIndex: number;
  treeSize: number;
  hashes: string[];
}

/** RFC 9162 consistency proof: the tree of size `fromSize` is a prefix of the tree of size `toSize`. */
export interface ConsistencyProof {
  fromSize: number;
  toSize: number;
  hashes: string[];
}

/**
 * A ProvenanceLog that can prove what it holds (RFC 9162 Merkle tree, Ed25519-signed tree heads). Contract,
 * on top of ProvenanceLog's:
 * - leaf `i` of the tree is SHA-256(0x00 || canonical JSON of record `i`), i.e. the receipt's `leafHash`;
 * - `treeHead()` signs (or reuses) a head for the current durable size; every head it ever returns stays
 *   consistent with every later one;
 * - `inclusionProof(index, treeSize)` needs 0 ≤ index < treeSize ≤ size(); `consistencyProof(from, to)` needs
 *   1 ≤ from ≤ to ≤ size(). Anything else is refused with a BAD_USER_INPUT DomainError naming the limit.
 */
export interface VerifiableProvenanceLog extends ProvenanceLog {
  treeHead(): Promise<SignedTreeHead>;
  inclusionProof(index: number, treeSize: number): Promise<InclusionProof>;
  consistencyProof(fromSize: number, toSize: number): Promise<ConsistencyProof>;
  /** The key auditors verify tree heads with. */
  publicKey(): LogPublicKey;
}

/** Nest injection token for the ProvenanceLog. */
export const PROVENANCE_LOG = Symbol('PROVENANCE_LOG');
