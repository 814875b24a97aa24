/**
 * Why a grant operation was refused. Each code has a fixed message and a gateway error code; messages never
 * say whether an application or grant the caller may not see exists (NOT_FOUND for both).
 */
import { DomainError, type ErrorCode } from '../errors/domain.error.js';

export enum GrantErrorCode {
  /** Only a department's analysts apply. */
  NotAnApplicant = 'NOT_AN_APPLICANT',
  /** Grant applications and grants are for departments, auditors and admins. */
  NotForCaller = 'NOT_FOR_CALLER',
  NoSuchDataset = 'NO_SUCH_DATASET',
  OwnDataset = 'OWN_DATASET',
  NothingToGrant = 'NOTHING_TO_GRANT',
  BadFields = 'BAD_FIELDS',
  BadPurpose = 'BAD_PURPOSE',
  BadExtent = 'BAD_EXTENT',
  BadPeriod = 'BAD_PERIOD',
  BadText = 'BAD_TEXT',
  /** The application does not exist or the caller may not see it. */
  NoSuchApplication = 'NO_SUCH_APPLICATION',
  NotTheOwner = 'NOT_THE_OWNER',
  AlreadyDecided = 'ALREADY_DECIDED',
  NotNarrower = 'NOT_NARROWER',
  ReasonRequired = 'REASON_REQUIRED',
  /** The grant does not exist or the caller may not see it. */
  NoSuchGrant = 'NO_SUCH_GRANT',
  MayNotRevoke = 'MAY_NOT_REVOKE',
  AlreadyEnded = 'ALREADY_ENDED',
}

const CODES: Readonly<Record<GrantErrorCode, ErrorCode>> = {
  [GrantErrorCode.NotAnApplicant]: 'FORBIDDEN',
  [GrantErrorCode.NotForCaller]: 'FORBIDDEN',
  [GrantErrorCode.NoSuchDataset]: 'NOT_FOUND',
  [GrantErrorCode.OwnDataset]: 'BAD_USER_INPUT',
  [GrantErrorCode.NothingToGrant]: 'BAD_USER_INPUT',
  [GrantErrorCode.BadFields]: 'BAD_USER_INPUT',
  [GrantErrorCode.BadPurpose]: 'BAD_USER_INPUT',
  [GrantErrorCode.BadExtent]: 'BAD_USER_INPUT',
  [GrantErrorCode.BadPeriod]: 'BAD_USER_INPUT',
  [GrantErrorCode.BadText]: 'BAD_USER_INPUT',
  [GrantErrorCode.NoSuchApplication]: 'NOT_FOUND',
  [GrantErrorCode.NotTheOwner]: 'FORBIDDEN',
  [GrantErrorCode.AlreadyDecided]: 'BAD_USER_INPUT',
  [GrantErrorCode.NotNarrower]: 'BAD_USER_INPUT',
  [GrantErrorCode.ReasonRequired]: 'BAD_USER_INPUT',
  [GrantErrorCode.NoSuchGrant]: 'NOT_FOUND',
  [GrantErrorCode.MayNotRevoke]: 'FORBIDDEN',
  [GrantErrorCode.AlreadyEnded]: 'BAD_USER_INPUT',
};

const MESSAGES: Readonly<Record<GrantErrorCode, string>> = {
  [GrantErrorCode.NotAnApplicant]: "Grant applications are made by a department's analysts.",
  [GrantErrorCode.NotForCaller]: 'Grant applications and grants are for departments, auditors and admins.',
  [GrantErrorCode.NoSuchDataset]: 'No such dataset.',
  [GrantErrorCode.OwnDataset]: 'Your department owns this dataset: it needs no grant.',
  [GrantErrorCode.NothingToGrant]:
    'Every field of this dataset is open without a grant: there is nothing to apply for.',
  [GrantErrorCode.BadFields]: 'Invalid fields.',
  [GrantErrorCode.BadPurpose]: 'Unknown purpose.',
  [GrantErrorCode.BadExtent]: 'Invalid extent.',
  [GrantErrorCode.BadPeriod]: 'Invalid period.',
  [GrantErrorCode.BadText]: 'Invalid text.',
  [GrantErrorCode.NoSuchApplication]: 'No such grant application.',
  [GrantErrorCode.NotTheOwner]: "Only an owner of the dataset's department may decide on this application.",
  [GrantErrorCode.AlreadyDecided]: 'This application has already been decided.',
  [GrantErrorCode.NotNarrower]: 'An approval may narrow the application, never widen it.',
  [GrantErrorCode.ReasonRequired]: 'A reason is required.',
  [GrantErrorCode.NoSuchGrant]: 'No such grant.',
  [GrantErrorCode.MayNotRevoke]: "Only an owner of the dataset's department or an admin may revoke this grant.",
  [GrantErrorCode.AlreadyEnded]: 'This grant has already been revoked or has expired.',
};

/**
 * A refused grant operation. `specific` replaces the generic message only with text built from validated
 * values (field names, unit ids in their checked form, limits): never a replay of arbitrary input.
 */
export function grantError(code: GrantErrorCode, specific?: string): DomainError {
  return new DomainError(CODES[code], specific ?? MESSAGES[code], { grantError: code });
}
