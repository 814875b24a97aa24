import type { DocumentNode, ExecutionResult, GraphQLSchema } from 'graphql';
import type { IdentityService } from '../identity/identity.service.js';
import { isAdmin, type GatewayContext } from './context.js';
import { checkOperation, checkTokens, DEFAULT_QUERY_LIMITS, type QueryLimits } from './limits/query-limits.js';

/** Admins may introspect; the standard introspection query is deeper and wider than ordinary limits allow. */
const ADMIN_EXTRA: Partial<QueryLimits> = { maxDepth: 16, maxFields: 1000, maxTokens: 10_000 };

/**
 * Mercurius hooks that run for every operation:
 * - preParsing: authenticate the caller (a bad credential fails the whole request) and count tokens;
 * - preExecution: depth, aliases, directives, fields, page size, cost and introspection limits
 *   (runs for cached documents too, unlike preValidation);
 * - onResolution: return this request's provenance receipts in `extensions.receipts`.
 */
export function gatewayHooks(identity: IdentityService, maxPageSize: number) {
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
  };
  return {
    preParsing: async (_schema: GraphQLSchema, source: string, ctx: GatewayContext) => {
      ctx.requester = await identity.authenticate(credentialHeaders(ctx.request.raw.rawHeaders));
      const v = checkTokens(source, isAdmin(ctx) ? adminLimits : limits);
      if (v) throw v;
    },
    // Before validation, so that deep or wide documents are refused before graphql spends effort on them.
    preValidation: async (_schema: GraphQLSchema, document: DocumentNode, ctx: GatewayContext) => {
      check(document, ctx, {});
    },
    // Again before execution: cached documents skip preValidation, and variables are known only now.
    preExecution: async (
      _schema: GraphQLSchema,
      document: DocumentNode,
      ctx: GatewayContext,
      variables?: Record<string, unknown>,
    ) => {
      check(document, ctx, variables ?? {});
      return {};
    },
    onResolution: async (execution: ExecutionResult, ctx: GatewayContext) => {
      if (ctx.receipts.length > 0) {
        (execution as { extensions?: Record<string, unknown> }).extensions = {
          ...(execution.extensions ?? {}),
          receipts: ctx.receipts,
        };
      }
    },
  };
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
