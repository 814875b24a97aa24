/**
 * LedgerAnchor: where the verifiable log is witnessed outside the gateway (docs/fabric.md). Not wired into the
 * gateway yet (no `LEDGER=fabric`); the Fabric adapter beside it is the only implementation.
 *
 * Contract:
 * - `anchor(log)` anchors the log's current signed tree head together with the RFC 9162 consistency proof from
 *   the last head on the ledger, and resolves with the head on the ledger once its transaction has committed.
 *   Anchoring a head the ledger already holds changes nothing. Anchors are serialised: one at a time.
 * - `recordGrantStep` and `recordRelease` resolve once committed. Both are idempotent: repeating a step or a
 *   release that is already on the ledger with the same content resolves; different content is refused.
 * - A refusal by the ledger (a rollback, a fork, another key, an endorsement policy failure) rejects with an
 *   `AnchorError` of kind `rejected` and the ledger's code: never retried, it needs an operator. Conflicts and
 *   outages are retried within bounds, then reject with kind `conflict` or `unavailable`.
 */
import type { VerifiableProvenanceLog } from '../provenance-log.port.js';
import type { SignedTreeHead } from '../signed-tree-head.js';

export interface AnchoredHead extends SignedTreeHead {
  /** When the ledger accepted it (the transaction's time, ISO 8601) and in which transaction. */
  anchoredAt: string;
  txId: string;
}

export type GrantState = 'applied' | 'approved' | 'rejected' | 'revoked' | 'expired';

export interface GrantStepInput {
  grantId: string;
  state: GrantState;
  /** MSP id of the organisation that owns the data. */
  ownerMsp: string;
  /** SHA-256 (hex) of the provenance record that logged the step, and its index in the log. */
  recordHash: string;
  logIndex: number;
}

export interface ReleaseInput {
  /** SHA-256 (hex) of the released output. */
  hash: string;
  kind: 'sandbox' | 'encrypted';
  recordHash: string;
  logIndex: number;
}

export interface LedgerAnchor {
  /** The last head on the ledger, or null before the first anchor. */
  latestAnchor(): Promise<AnchoredHead | null>;
  anchor(log: VerifiableProvenanceLog): Promise<AnchoredHead>;
  recordGrantStep(step: GrantStepInput): Promise<void>;
  recordRelease(release: ReleaseInput): Promise<void>;
  close(): Promise<void>;
}

export type AnchorErrorKind = 'rejected' | 'conflict' | 'unavailable';

export class AnchorError extends Error {
  constructor(
    readonly kind: AnchorErrorKind,
    /** The ledger's code (e.g. TREE_HEAD_ROLLBACK, ENDORSEMENT_POLICY_FAILURE, MVCC_READ_CONFLICT) or a gRPC status name. */
    readonly code: string,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'AnchorError';
  }
}
