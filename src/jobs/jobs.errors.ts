/**
 * Errors of sandbox jobs: stable domain codes with fixed messages (the global formatter maps them). A job the
 * caller may not see is NOT_FOUND, exactly like one that does not exist.
 */
import { type DomainError, badInput, forbidden, notFound } from '../errors/domain.error.js';

export const JobErrors = {
  notFound: (): DomainError => notFound('No such job.'),
  notCancellable: (): DomainError => badInput('This job has finished and can no longer be cancelled.'),
  notAwaitingReview: (): DomainError => badInput('This job is not waiting for review.'),
  notReviewer: (): DomainError => forbidden('Only an owner of the dataset’s organisation may review its releases.'),
  selfReview: (): DomainError => forbidden('Nobody may review a job they submitted.'),
  notOwner: (): DomainError => forbidden('Only an owner of the dataset’s organisation may change its review rule.'),
  reasonRequired: (): DomainError => badInput('A review needs a reason (1 to 500 characters).'),
  badInput: (message: string): DomainError => badInput(message),
} as const;
