/**
 * Every refusal carries a stable code at the start of its message ("TREE_HEAD_FORK: ..."), so that clients can
 * classify it from the endorsement error without parsing prose.
 */
export type LedgerErrorCode =
  | 'BAD_INPUT'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'ALREADY_RECORDED'
  | 'LOG_KEY_ALREADY_REGISTERED'
  | 'LOG_KEY_NOT_REGISTERED'
  | 'TREE_HEAD_SIGNATURE'
  | 'TREE_HEAD_ROLLBACK'
  | 'TREE_HEAD_FORK'
  | 'TREE_HEAD_INCONSISTENT'
  | 'GRANT_TRANSITION';

export class LedgerError extends Error {
  constructor(
    readonly code: LedgerErrorCode,
    detail: string,
  ) {
    super(`${code}: ${detail}`);
    this.name = 'LedgerError';
  }
}
