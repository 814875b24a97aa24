import { Kind, OperationTypeNode, type DocumentNode, type ExecutionResult, type GraphQLSchema } from 'graphql';
import type { RateLimiter, RateSubject } from '../consumers/rate-limiter.js';
import { ERROR_CODES } from '../errors/domain.error.js';
import type { IdentityService } from '../identity/identity.service.js';
import type { Requester } from '../identity/requester.js';
import { requestInfo, safeOperationName } from '../ops/request-log.js';
import { isAdmin, type GatewayContext } from './context.js';
import { mapError } from './error-formatter.js';
import { checkOperation, checkTokens, DEFAULT_QUERY_LIMITS, type QueryLimits } from './limits/query-limits.js';

/** Admins may introspect; the standard introspection query is deeper and wider than ordinary limits allow. */
const ADMIN_EXTRA: Partial<QueryLimits> = { maxDepth: 16, maxFields: 1000, maxTokens: 10_000 };

/** Rate limiting of GraphQL operations (src/consumers/rate-limiter.ts). */
export interface RateHooks {
  limiter: RateLimiter;
  subjectOf: (requester: Requester, clientAddress: string) => Promise<RateSubject>;
}

/**
 * Mercurius hooks that run for every operation:
 * - preParsing: authenticate the caller (a bad credential fails the whole request) and count tokens;
 * - preExecution: depth, aliases, directives, fields, page size, cost and introspection limits
 *   (runs for cached documents too, unlike preValidation), then the caller's rate limit (one operation);
 * - onResolution: charge the records released against the rate limit, and return this request's
 *   provenance receipts in `extensions.receipts`, each with the token that opens its receipt bundle.
 */
export function gatewayHooks(
  identity: IdentityService,
  maxPageSize: number,
  rate: RateHooks | null = null,
  /** Adds to each receipt the token that opens its bundle to whoever holds the response (ledger/receipt-tokens). */
  receiptToken: ((index: number, leafHash: string) => string) | null = null,
) {
  const subjects = new WeakMap<object, RateSubject>();
  const limits: QueryLimits = { ...DEFAULT_QUERY_LIMITS, maxPageSize };
  const adminLimits: QueryLimits = { ...limits, ...ADMIN_EXTRA };
  const check = (document: DocumentNode, ctx: GatewayContext, variables: Record<string, unknown>) => {
    const admin = isAdmin(ctx);
    const body = ctx.request.body as { operationName?: unknown } | undefined;
    const query = ctx.request.query as { operationName?: unknown } | undefined;
    const operationName =
      typeof body?.operationName === 'string'
        ? body.operationName
        : typeof query?.operationName === 'string'
          ? query.operationName
          : null;
    const v = checkOperation(document, {
      limits: admin ? adminLimits : limits,
      allowIntrospection: admin,
      variables,
      operationName,
    });
    if (v) throw v;
    return operationName;
  };
  return {
    preParsing: async (_schema: GraphQLSchema, source: string, ctx: GatewayContext) => {
      requestInfo(ctx.request).kind = 'graphql';
      ctx.requester = await identity.authenticate(credentialHeaders(ctx.request.raw.rawHeaders));
      requestInfo(ctx.request).requester = ctx.requester;
      const v = checkTokens(source, isAdmin(ctx) ? adminLimits : limits);
      if (v) throw v;
    },
    // Before validation, so that deep or wide documents are refused before graphql spends effort on them.
    preValidation: async (_schema: GraphQLSchema, document: DocumentNode, ctx: GatewayContext) => {
      check(document, ctx, {});
    },
    // Again before execution: cached documents skip preValidation, and variables are known only now.
    preExecution: async (
      schema: GraphQLSchema,
      document: DocumentNode,
      ctx: GatewayContext,
      variables?: Record<string, unknown>,
    ) => {
      const operationName = check(document, ctx, variables ?? {});
      const info = requestInfo(ctx.request);
      const op = describeOperation(schema, document, operationName);
      info.operation = op.operation;
      info.operationName = safeOperationName(op.name);
      if (rate) {
        const subject = await rate.subjectOf(ctx.requester, ctx.request.ip);
        try {
          await rate.limiter.begin(subject);
        } catch (err) {
          const retry = (err as { retryAfterSeconds?: unknown }).retryAfterSeconds;
          if (typeof retry === 'number') void ctx.reply.header('retry-after', String(retry));
          throw err;
        }
        subjects.set(ctx, subject);
      }
      return {};
    },
    onResolution: async (execution: ExecutionResult, ctx: GatewayContext) => {
      const info = requestInfo(ctx.request);
      info.records = ctx.releasedRows;
      const first = execution.errors?.[0];
      // Mercurius may hand over errors already formatted (their code in extensions): keep that code.
      const formatted = first?.extensions?.code;
      info.outcome = first
        ? typeof formatted === 'string' && (ERROR_CODES as readonly string[]).includes(formatted)
          ? formatted
          : mapError(first, false).code
        : 'ok';
      const subject = subjects.get(ctx);
      if (rate && subject && ctx.releasedRows > 0) await rate.limiter.charge(subject, ctx.releasedRows);
      if (ctx.receipts.length > 0) {
        (execution as { extensions?: Record<string, unknown> }).extensions = {
          ...(execution.extensions ?? {}),
          receipts: receiptToken
            ? ctx.receipts.map((r) => ({ ...r, token: receiptToken(r.index, r.leafHash) }))
            : ctx.receipts,
        };
      }
    },
  };
}

/**
 * `query records,aggregate`: the operation type and its root fields, named only when the schema has them
 * (a bounded label set for metrics), and the operation's own name.
 */
function describeOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null,
): { operation: string; name: string | null } {
  const ops = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  const op = ops.find((d) => (operationName ? d.name?.value === operationName : true)) ?? ops[0];
  if (!op) return { operation: 'unknown', name: null };
  const root = op.operation === OperationTypeNode.MUTATION ? schema.getMutationType() : schema.getQueryType();
  const known = root?.getFields() ?? {};
  const names = new Set<string>();
  for (const sel of op.selectionSet.selections) {
    if (sel.kind === Kind.FIELD) names.add(sel.name.value in known ? sel.name.value : '?');
    else names.add('...');
  }
  return { operation: `${op.operation} ${[...names].sort().join(',')}`.slice(0, 200), name: op.name?.value ?? null };
}

/**
 * Credential headers from the raw header list: Node's parser silently keeps only the first of repeated
 * Authorization headers, and an ambiguous credential must be refused, not guessed.
 */
export function credentialHeaders(raw: string[]): {
  authorization?: string | string[];
  'x-api-key'?: string | string[];
} {
  const auth: string[] = [];
  const key: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (name === 'authorization') auth.push(raw[i + 1] as string);
    else if (name === 'x-api-key') key.push(raw[i + 1] as string);
  }
  return {
    ...(auth.length ? { authorization: auth.length === 1 ? auth[0] : auth } : {}),
    ...(key.length ? { 'x-api-key': key.length === 1 ? key[0] : key } : {}),
  };
}
