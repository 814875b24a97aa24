/**
 * Retry classes for Fabric Gateway errors, decided once here:
 * - `rejected`: the chaincode refused (its message starts with a CODE:), or the transaction committed as invalid
 *   for any reason other than a read conflict (e.g. ENDORSEMENT_POLICY_FAILURE). Retrying cannot help.
 * - `conflict`: committed as MVCC_READ_CONFLICT or PHANTOM_READ_CONFLICT: another transaction changed what this
 *   one read. Retry from a fresh read.
 * - `unavailable`: a peer or the orderer could not be reached, a deadline passed, endorsements could not be
 *   gathered (a peer down), or the commit status is unknown. Retry later; every operation is idempotent, so
 *   repeating one that did commit is harmless.
 */
import { AnchorError, type AnchorErrorKind } from './ledger-anchor.port.js';

/** Transaction validation codes (Fabric's peer.TxValidationCode) that the adapter names. */
export const TX_CODES: Record<number, string> = {
  10: 'ENDORSEMENT_POLICY_FAILURE',
  11: 'MVCC_READ_CONFLICT',
  12: 'PHANTOM_READ_CONFLICT',
};

const GRPC_NAMES: Record<number, string> = {
  1: 'CANCELLED',
  2: 'UNKNOWN',
  3: 'INVALID_ARGUMENT',
  4: 'DEADLINE_EXCEEDED',
  5: 'NOT_FOUND',
  7: 'PERMISSION_DENIED',
  8: 'RESOURCE_EXHAUSTED',
  9: 'FAILED_PRECONDITION',
  10: 'ABORTED',
  13: 'INTERNAL',
  14: 'UNAVAILABLE',
};
const RETRYABLE_GRPC = new Set([1, 2, 4, 8, 10, 13, 14]);

/** The chaincode's error codes are upper-case words at the start of its message, after Fabric's prefix. */
const CHAINCODE_CODE = /(?:^|, |: )([A-Z][A-Z_]{2,}): /;

interface GatewayLike {
  name?: string;
  message?: string;
  code?: unknown;
  details?: unknown;
}

/** An error from the adapter's own commit check. */
export class CommitFailure extends Error {
  constructor(
    readonly txCode: number,
    readonly transactionId: string,
  ) {
    super(`transaction ${transactionId} committed as invalid (${TX_CODES[txCode] ?? `code ${txCode}`})`);
    this.name = 'CommitFailure';
  }
}

function chaincodeCode(e: GatewayLike): { code: string; message: string } | null {
  const messages = Array.isArray(e.details)
    ? (e.details as { message?: unknown }[]).map((d) => (typeof d.message === 'string' ? d.message : ''))
    : [];
  for (const m of [...messages, e.message ?? '']) {
    const match = CHAINCODE_CODE.exec(m);
    if (match?.[1] && !Object.values(GRPC_NAMES).includes(match[1])) {
      return { code: match[1], message: m.slice(m.indexOf(match[1])) };
    }
  }
  return null;
}

/** Turns anything a Fabric call threw into an AnchorError of the right class. */
export function classify(err: unknown, what: string): AnchorError {
  if (err instanceof AnchorError) return err;
  if (err instanceof CommitFailure) {
    const code = TX_CODES[err.txCode] ?? `TX_${err.txCode}`;
    const kind: AnchorErrorKind = err.txCode === 11 || err.txCode === 12 ? 'conflict' : 'rejected';
    return new AnchorError(kind, code, `${what}: ${err.message}`, err);
  }
  const e = (err ?? {}) as GatewayLike;
  const fromChaincode = chaincodeCode(e);
  if (fromChaincode) return new AnchorError('rejected', fromChaincode.code, `${what}: ${fromChaincode.message}`, err);
  if (e.name === 'CommitStatusError') {
    return new AnchorError('unavailable', 'COMMIT_STATUS_UNKNOWN', `${what}: the commit status is unknown`, err);
  }
  const grpc = typeof e.code === 'number' ? e.code : null;
  if (grpc !== null && RETRYABLE_GRPC.has(grpc)) {
    return new AnchorError('unavailable', GRPC_NAMES[grpc] ?? `GRPC_${grpc}`, `${what}: ${e.message ?? 'failed'}`, err);
  }
  const name = grpc !== null ? (GRPC_NAMES[grpc] ?? `GRPC_${grpc}`) : 'FAILED';
  return new AnchorError('rejected', name, `${what}: ${e.message ?? String(err)}`, err);
}
