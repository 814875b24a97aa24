/**
 * Errors of the encrypted-columns library. Each carries a stable code and a fixed message; the precise
 * cause goes to `detail`, which is non-enumerable so that serialising the error does not carry it along
 * (it is for the server log). The gateway maps the codes to its DomainError codes.
 */

/** Why the library refused to build or run an encrypted computation (a programming or input error). */
export type HeErrorCode =
  /** Encryption parameters that do not meet 128-bit security, or that SEAL does not accept. */
  | 'HE_PARAMS'
  /** A value outside the column's declared bound, or an aggregate that could overflow the plaintext space. */
  | 'HE_RANGE'
  /** Ciphertexts that do not match their layout or the parameter set. */
  | 'HE_LAYOUT'
  /** Keys that do not load under these parameters, or Galois keys missing a rotation step. */
  | 'HE_KEYS'
  /** Weights or a group index that do not fit the column. */
  | 'HE_INPUT';

export const HE_MESSAGES: Readonly<Record<HeErrorCode, string>> = Object.freeze({
  HE_PARAMS: 'homomorphic encryption parameters rejected',
  HE_RANGE: 'value out of the encrypted column range',
  HE_LAYOUT: 'ciphertexts do not match the column layout',
  HE_KEYS: 'encryption keys do not match the parameters',
  HE_INPUT: 'aggregate inputs do not match the column',
});

export class HeError extends Error {
  declare readonly detail: string;

  constructor(
    readonly code: HeErrorCode,
    detail: string,
  ) {
    super(HE_MESSAGES[code]);
    this.name = 'HeError';
    Object.defineProperty(this, 'detail', { value: detail, enumerable: false });
  }
}

/** Why the key holder refused to decrypt. Nothing is decrypted when any of these is raised. */
export type RefusalCode =
  /** No approval record for the computation, or one that is not a well-formed `approved: true` record. */
  | 'NOT_APPROVED'
  /** The approval covers fewer than k spatial units. */
  | 'BELOW_K'
  /** The ciphertext is not the one the approved computation produced (a ciphertext from outside). */
  | 'HASH_MISMATCH'
  /** The result fails disclosure control: fewer than k records, a disclosive zero, or not an aggregate. */
  | 'DISCLOSURE'
  /** The bytes are not a ciphertext under the key holder's parameters, or its noise budget is exhausted. */
  | 'MALFORMED'
  /** The log's signed tree head is not consistent with the checkpoint the key holder kept (rolled back or forked). */
  | 'LOG_INCONSISTENT'
  /** The computation waits for its owner's approval (no approval record in the log yet). */
  | 'PENDING_APPROVAL'
  /** The owner refused the computation (a refusal record in the log). */
  | 'REFUSED_BY_OWNER'
  /** This cell of this computation was opened before: each decrypt request is answered once. */
  | 'REPLAY';

export const REFUSAL_MESSAGES: Readonly<Record<RefusalCode, string>> = Object.freeze({
  NOT_APPROVED: 'the computation is not approved for decryption',
  BELOW_K: 'the result covers too few units to be released',
  HASH_MISMATCH: 'the ciphertext is not the approved result',
  DISCLOSURE: 'the result fails disclosure control',
  MALFORMED: 'the result cannot be decrypted',
  LOG_INCONSISTENT: 'the provenance log is not consistent with what the key holder saw before',
  PENDING_APPROVAL: 'the computation waits for the owner’s approval',
  REFUSED_BY_OWNER: 'the owner refused this computation',
  REPLAY: 'this result cell was already decrypted once',
});

export class KeyHolderRefusal extends Error {
  declare readonly detail: string;

  constructor(
    readonly code: RefusalCode,
    detail: string,
  ) {
    super(REFUSAL_MESSAGES[code]);
    this.name = 'KeyHolderRefusal';
    Object.defineProperty(this, 'detail', { value: detail, enumerable: false });
  }
}
