import { GraphQLError } from 'graphql';
import type { ExecutionResult } from 'graphql';
import { DomainError, type ErrorCode } from '../errors/domain.error.js';
import { requestInfo } from '../ops/request-log.js';
import { LimitViolation } from './limits/query-limits.js';
import { isAdmin, type GatewayContext } from './context.js';

interface Mapped {
  code: ErrorCode;
  message: string;
  status: number;
  extensions: Record<string, unknown>;
  detail?: unknown;
}

const SUGGESTION = /\s*Did you mean [^?]*\?/g;
/** Mercurius's fixed text for a mutation (or subscription) sent over GET. */
const MERCURIUS_GET_MUTATION = 'Operation cannot be performed via a GET request';

/**
 * The one mapping from anything thrown to a GraphQL error with a stable code. Messages are the fixed,
 * user-facing ones of domain errors; anything unexpected becomes INTERNAL with no detail. Field
 * suggestions ("Did you mean ...?") are removed for everyone but admins.
 */
export function mapError(err: unknown, admin: boolean): Mapped {
  const original = err instanceof GraphQLError && err.originalError ? err.originalError : err;
  if (original instanceof DomainError) {
    return {
      code: original.code,
      message: original.message,
      status: statusOf(original.code),
      extensions: original.extensions,
      detail: original.detail,
    };
  }
  if (original instanceof LimitViolation) {
    if (original.limit === 'introspection')
      return { code: 'FORBIDDEN', message: 'Introspection is disabled.', status: 200, extensions: {} };
    return {
      code: 'LIMIT_EXCEEDED',
      message: original.message,
      status: 200,
      extensions: { limit: original.limit, max: original.max },
    };
  }
  const code = (original as { code?: unknown })?.code;
  if (code === 'UNAUTHENTICATED') {
    return {
      code: 'UNAUTHENTICATED',
      message: (original as Error).message,
      status: 401,
      extensions: {},
      detail: (original as { detail?: unknown }).detail,
    };
  }
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return { code: 'LIMIT_EXCEEDED', message: 'The request body is too large.', status: 413, extensions: {} };
  if (typeof code === 'string' && code.startsWith('FST_ERR_CTP'))
    return { code: 'BAD_USER_INPUT', message: 'The request body could not be read.', status: 400, extensions: {} };
  const httpStatus = (original as { statusCode?: unknown })?.statusCode;
  if (
    typeof code === 'string' &&
    code.startsWith('FST_') &&
    typeof httpStatus === 'number' &&
    httpStatus >= 400 &&
    httpStatus < 500
  ) {
    // e.g. a batched (array) body, which the route's schema refuses: batching is off.
    return {
      code: 'BAD_USER_INPUT',
      message: 'Invalid GraphQL request: send one operation as a JSON object.',
      status: 400,
      extensions: {},
    };
  }
  if (
    code === 'MER_ERR_GQL_PERSISTED_QUERY_NOT_SUPPORTED' ||
    code === 'MER_ERR_GQL_BATCHED_QUERIES_NOT_SUPPORTED' ||
    code === 'MER_ERR_METHOD_NOT_ALLOWED'
  ) {
    return { code: 'BAD_USER_INPUT', message: (original as Error).message, status: 400, extensions: {} };
  }
  if (original instanceof Error && original.message === MERCURIUS_GET_MUTATION) {
    // Mercurius unwraps MER_ERR_METHOD_NOT_ALLOWED into this bare Error before the formatter sees it.
    return {
      code: 'BAD_USER_INPUT',
      message: 'Mutations must be sent with POST, not GET.',
      status: 405,
      extensions: {},
    };
  }
  if (err instanceof GraphQLError && (!err.originalError || err.originalError instanceof GraphQLError)) {
    // Syntax, validation and coercion errors from graphql itself.
    const message = admin ? err.message : err.message.replace(SUGGESTION, '');
    return { code: 'BAD_USER_INPUT', message, status: 400, extensions: {} };
  }
  if (typeof code === 'string' && code.startsWith('MER_ERR_GQL'))
    return { code: 'BAD_USER_INPUT', message: 'Invalid GraphQL request.', status: 400, extensions: {} };
  return { code: 'INTERNAL', message: 'Internal error.', status: 500, extensions: {}, detail: err };
}

function statusOf(code: ErrorCode): number {
  switch (code) {
    case 'UNAUTHENTICATED':
      return 401;
    case 'BAD_USER_INPUT':
    case 'FORBIDDEN':
    case 'NOT_FOUND':
    case 'LIMIT_EXCEEDED':
    case 'DEADLINE_EXCEEDED':
      return 200;
    case 'RATE_LIMITED':
      return 429;
    case 'UNAVAILABLE':
      return 503;
    case 'INTERNAL':
      return 500;
  }
}

/** Mercurius errorFormatter. */
export function formatErrors(
  execution: ExecutionResult & { statusCode?: number },
  ctx: Partial<GatewayContext> & { reply?: GatewayContext['reply'] },
): { statusCode: number; response: ExecutionResult } {
  const admin = ctx.requester ? isAdmin({ requester: ctx.requester }) : false;
  const log = ctx.reply?.log;
  const flat: unknown[] = [];
  for (const e of execution.errors ?? []) {
    const nested = e.originalError as { errors?: unknown[] } | undefined;
    if (nested?.errors && Array.isArray(nested.errors)) flat.push(...nested.errors);
    else flat.push(e);
  }
  let status = 200;
  const errors = flat.map((e) => {
    const m = mapError(e, admin);
    if (m.code === 'INTERNAL' || m.code === 'UNAVAILABLE') log?.error({ err: m.detail }, 'request failed');
    else log?.info({ code: m.code, detail: m.detail }, m.message);
    status = Math.max(status, m.status);
    const g = e instanceof GraphQLError ? e : undefined;
    return new GraphQLError(m.message, {
      ...(g?.nodes ? { nodes: g.nodes } : {}),
      ...(g?.path ? { path: g.path } : {}),
      extensions: { ...m.extensions, code: m.code },
    });
  });
  const firstCode = errors[0]?.extensions.code;
  if (ctx.request && typeof firstCode === 'string') requestInfo(ctx.request).outcome ??= firstCode;
  const hasData = execution.data !== undefined && execution.data !== null;
  return {
    statusCode: hasData ? 200 : status,
    response: { data: execution.data ?? null, errors },
  };
}
