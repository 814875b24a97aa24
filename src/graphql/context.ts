import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Requester } from '../identity/requester.js';
import type { Receipt } from '../ledger/provenance-log.port.js';

/** Per-request GraphQL context. `requester` is set by the preParsing hook before anything resolves. */
export interface GatewayContext {
  reply: FastifyReply;
  request: FastifyRequest;
  requester: Requester;
  /** Epoch ms after which work stops with LIMIT_EXCEEDED. */
  deadline: number;
  /** Provenance receipts of this request's decisions, returned in `extensions.receipts`. */
  receipts: (Receipt & { dataset: string; released: boolean })[];
  /** Purpose from the X-Purpose header, if given. */
  headerPurpose: string | null;
  /** Records this request released (charged against the caller's rate limit after the query). */
  releasedRows: number;
}

export function isAdmin(ctx: Pick<GatewayContext, 'requester'>): boolean {
  return ctx.requester.via === 'jwt' && ctx.requester.roles.includes('admin');
}
