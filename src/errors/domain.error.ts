/**
 * Domain errors carry a stable code and a fixed, user-facing message. Full detail goes to the server log
 * through `detail`, never to the caller. One global mapping (graphql/error-formatter.ts) turns them into
 * GraphQL errors.
 */
export const ERROR_CODES = [
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'BAD_USER_INPUT',
  'NOT_FOUND',
  'LIMIT_EXCEEDED',
  'DEADLINE_EXCEEDED',
  'RATE_LIMITED',
  'UNAVAILABLE',
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Server-side detail; never sent to the caller. */
    readonly detail?: unknown,
    /** Safe, caller-visible extra fields (e.g. a provenance receipt of the refusal). */
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const forbidden = (message: string, detail?: unknown, extensions?: Record<string, unknown>) =>
  new DomainError('FORBIDDEN', message, detail, extensions);
export const badInput = (message: string, detail?: unknown) => new DomainError('BAD_USER_INPUT', message, detail);
export const notFound = (message: string) => new DomainError('NOT_FOUND', message);
export const limitExceeded = (message: string) => new DomainError('LIMIT_EXCEEDED', message);
export const deadlineExceeded = (message = 'The request ran past its deadline.') =>
  new DomainError('DEADLINE_EXCEEDED', message);
export const unavailable = (message: string, detail?: unknown) => new DomainError('UNAVAILABLE', message, detail);
