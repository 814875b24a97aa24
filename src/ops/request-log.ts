/**
 * One structured log line and one metrics sample per request. What a line may hold is fixed here: the route
 * or GraphQL operation (root field names from the schema, the operation name when it is a plain GraphQL
 * name), the requester's org, roles and kind of credential, the outcome (ok or an error code), the HTTP
 * status, records released and the duration. Never argument values, headers, URLs with query strings or data.
 */
import { Logger } from '@nestjs/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Requester } from '../identity/requester.js';
import type { GatewayMetrics } from './metrics.js';

export interface RequestInfo {
  kind: 'graphql' | 'download' | 'http';
  /** e.g. `query records`, `mutation registerConsumer`, `download csv`. */
  operation: string | null;
  operationName: string | null;
  requester: Requester | null;
  /** `ok` or the first error code. */
  outcome: string | null;
  records: number;
}

const infos = new WeakMap<object, RequestInfo>();
const GRAPHQL_NAME = /^[_A-Za-z][_0-9A-Za-z]{0,63}$/;

/** The info record of one request (created on first use). */
export function requestInfo(request: FastifyRequest): RequestInfo {
  let info = infos.get(request.raw);
  if (!info) {
    info = { kind: 'http', operation: null, operationName: null, requester: null, outcome: null, records: 0 };
    infos.set(request.raw, info);
  }
  return info;
}

export function safeOperationName(name: unknown): string | null {
  return typeof name === 'string' && GRAPHQL_NAME.test(name) ? name : null;
}

export interface RequestLogLine {
  msg: 'request';
  kind: RequestInfo['kind'];
  route: string;
  operation: string | null;
  operationName: string | null;
  org: string | null;
  roles: string[];
  via: string | null;
  outcome: string;
  status: number;
  records: number;
  ms: number;
}

/**
 * Logs and counts every GraphQL and download request when its response has been sent, and also one whose
 * connection closed before its response was written (outcome `CONNECTION_CLOSED`): a request never goes unlogged.
 */
export function installRequestLog(
  fastify: FastifyInstance,
  metrics: GatewayMetrics,
  sink: (line: RequestLogLine) => void = defaultSink(),
): void {
  const logged = new WeakSet<object>();
  const line = (request: FastifyRequest, reply: FastifyReply, closed: boolean) => {
    if (logged.has(request.raw)) return;
    const route = request.routeOptions.url ?? 'unmatched';
    const info = infos.get(request.raw);
    if (!info && route !== '/graphql') return; // health probes and metrics scrapes are not logged
    logged.add(request.raw);
    const i = info ?? requestInfo(request);
    const kind = route === '/graphql' ? 'graphql' : i.kind;
    const outcome = closed
      ? 'CONNECTION_CLOSED'
      : (i.outcome ?? (reply.statusCode < 400 ? 'ok' : `HTTP_${reply.statusCode}`));
    const ms = reply.elapsedTime;
    metrics.request(i.operation ?? route, outcome, kind === 'download' ? 'download' : 'graphql', ms / 1000);
    sink({
      msg: 'request',
      kind,
      route,
      operation: i.operation,
      operationName: i.operationName,
      org: i.requester?.org ?? null,
      roles: i.requester ? [...i.requester.roles] : [],
      via: i.requester?.via ?? null,
      outcome,
      status: reply.statusCode,
      records: i.records,
      ms: Math.round(ms * 10) / 10,
    });
  };
  fastify.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    let finished = false;
    reply.raw.once('finish', () => (finished = true));
    reply.raw.once('close', () => {
      if (!finished && !reply.raw.writableFinished) line(request, reply, true);
    });
  });
  fastify.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => line(request, reply, false));
}

function defaultSink(): (line: RequestLogLine) => void {
  const log = new Logger('Request');
  return (line) => log.log(line);
}
