import type { ProvenanceRecord } from './provenance-record.js';

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
 * The verifiable log (Merkle tree, signed tree heads, proofs) replaces the table adapter behind this port.
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

/** Nest injection token for the ProvenanceLog. */
export const PROVENANCE_LOG = Symbol('PROVENANCE_LOG');
