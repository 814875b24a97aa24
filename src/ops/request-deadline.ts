/**
 * No request can freeze the gateway, and a deadline always ends in an answer with an error code, never in a closed
 * socket. Three layers, all measured from one deadline per request (arrival + CITYGATE_REQUEST_TIMEOUT_MS):
 * 1. the work itself checks the deadline and stops with DEADLINE_EXCEEDED (query engine, SEAL worker pool), so
 *    that a refusal can be logged and its receipt returned;
 * 2. every resolver (and a download's preparation) races the deadline plus RESOLVER_GRACE_MS: one stuck on a slow
 *    await is answered DEADLINE_EXCEEDED while it goes on (its late release, if any, is logged as undelivered);
 * 3. a backstop per request answers DEADLINE_EXCEEDED at the deadline plus RESPONSE_GRACE_MS when nothing has been
 *    sent and no resolver still races (a hook stuck before any resolver: authentication, rate limiting).
 * A grace timer that fires late (the event loop was busy, so the work could not answer either) grants its grace
 * once more. The socket idle timeout (Fastify's connectionTimeout) is the deadline plus SOCKET_MARGIN_MS, beyond
 * all of these.
 */
import { type CallHandler, type ExecutionContext, Inject, Injectable, type NestInterceptor } from '@nestjs/common';
import { GqlExecutionContext, type GqlContextType } from '@nestjs/graphql';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { from, lastValueFrom, type Observable } from 'rxjs';
import { deadlineExceeded } from '../errors/domain.error.js';
import type { GatewayContext } from '../graphql/context.js';
import type { ReleaseDeliveries } from './release-delivery.js';
import { requestInfo } from './request-log.js';

/** How long past its deadline a resolver may take to answer DEADLINE_EXCEEDED itself, with its refusal record. */
export const RESOLVER_GRACE_MS = 1_000;
/** How long past its deadline a request may go without any response before the backstop answers. */
export const RESPONSE_GRACE_MS = 2_000;
/** The socket idle timeout beyond the deadline: longer than every layer above. */
export const SOCKET_MARGIN_MS = 5_000;
/**
 * A grace timer that fires this late found the event loop busy (a long synchronous step, e.g. an embedded
 * database reading many rows): the work had no time to answer either, so the grace starts once more from now.
 */
const LATE_TIMER_MS = 100;
/** How often a backstop that found a resolver still racing looks again. */
const BACKSTOP_RECHECK_MS = 100;

/** Fastify's connectionTimeout for a request deadline of `requestTimeoutMs`. */
export function socketTimeoutMs(requestTimeoutMs: number): number {
  return requestTimeoutMs + SOCKET_MARGIN_MS;
}

const DEADLINE_MESSAGE = 'The request ran past its deadline.';

export class RequestDeadlines {
  private readonly deadlines = new WeakMap<object, number>();
  /** Races still running per request: the backstop leaves a request whose resolvers race to them. */
  private readonly racing = new WeakMap<object, number>();

  constructor(
    /** Read per request (tests shorten it for one request). */
    private readonly requestTimeoutMs: () => number,
    private readonly deliveries: ReleaseDeliveries,
    /**
     * RESOLVER_GRACE_MS unless given: a test of the first layer alone (the work stops itself and logs its refusal)
     * lengthens it, so that a slow disk on a loaded machine cannot let the second layer answer first.
     */
    private readonly resolverGraceMs: number = RESOLVER_GRACE_MS,
  ) {}

  /**
   * Sets each request's deadline on arrival, and the backstop of GraphQL and download requests: past the
   * deadline plus RESPONSE_GRACE_MS with nothing sent, the request is answered DEADLINE_EXCEEDED.
   */
  install(fastify: FastifyInstance): void {
    fastify.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      const deadline = Date.now() + this.requestTimeoutMs();
      this.deadlines.set(request.raw, deadline);
      const route = request.routeOptions.url;
      const kind = route === '/graphql' ? 'graphql' : route?.startsWith('/download/') ? 'download' : null;
      if (!kind) return;
      const timer = graceTimer(deadline, RESPONSE_GRACE_MS, () => this.backstop(request, reply, kind));
      reply.raw.once('close', () => timer.clear());
    });
  }

  /** The request's deadline (epoch ms); a request the hook did not see gets one from now. */
  deadlineOf(request: FastifyRequest): number {
    return this.deadlines.get(request.raw) ?? Date.now() + this.requestTimeoutMs();
  }

  /**
   * Runs `fn` (a resolver, a download's preparation) as a release scope of `request`, racing the request's deadline
   * plus RESOLVER_GRACE_MS: past it, the caller gets DEADLINE_EXCEEDED while `fn` goes on unheard.
   */
  race<T>(request: FastifyRequest, fn: () => Promise<T>): Promise<T> {
    const { result, end } = this.deliveries.run(request, fn);
    this.racing.set(request.raw, (this.racing.get(request.raw) ?? 0) + 1);
    let done = false;
    const over = () => {
      if (done) return;
      done = true;
      this.racing.set(request.raw, (this.racing.get(request.raw) ?? 1) - 1);
    };
    let timer: { clear(): void } | undefined;
    const expired = new Promise<never>((_resolve, reject) => {
      timer = graceTimer(this.deadlineOf(request), this.resolverGraceMs, () => {
        over();
        end('deadline');
        reject(deadlineExceeded());
      });
    });
    const settled = result.finally(() => {
      timer?.clear();
      over();
    });
    settled.then(
      () => end('answered'),
      () => end('failed'),
    );
    return Promise.race([settled, expired]);
  }

  private backstop(request: FastifyRequest, reply: FastifyReply, kind: 'graphql' | 'download'): void {
    if (reply.sent || reply.raw.headersSent || reply.raw.destroyed) return;
    if ((this.racing.get(request.raw) ?? 0) > 0) {
      // A resolver still races its own deadline (a busy event loop delayed it): its answer carries more (the
      // refusal's receipt, other fields' data). Look again shortly.
      const timer = setTimeout(() => this.backstop(request, reply, kind), BACKSTOP_RECHECK_MS);
      reply.raw.once('close', () => clearTimeout(timer));
      return;
    }
    this.deliveries.backstopAnswered(request);
    requestInfo(request).outcome = 'DEADLINE_EXCEEDED';
    void reply.header('content-type', 'application/json; charset=utf-8');
    if (kind === 'graphql') {
      void reply
        .code(200)
        .send({ data: null, errors: [{ message: DEADLINE_MESSAGE, extensions: { code: 'DEADLINE_EXCEEDED' } }] });
    } else {
      void reply.code(504).send({ error: { code: 'DEADLINE_EXCEEDED', message: DEADLINE_MESSAGE } });
    }
  }
}

/** Calls `fn` at `deadline + graceMs`; when it fires late (a busy event loop), once more `graceMs` from then. */
function graceTimer(deadline: number, graceMs: number, fn: () => void): { clear(): void } {
  let timer: NodeJS.Timeout;
  const arm = (at: number, retries: number) => {
    timer = setTimeout(
      () => {
        if (retries > 0 && Date.now() - at > LATE_TIMER_MS) arm(Date.now() + graceMs, retries - 1);
        else fn();
      },
      Math.max(0, at - Date.now()),
    );
  };
  arm(deadline + graceMs, 1);
  return { clear: () => clearTimeout(timer) };
}

/**
 * Every GraphQL resolver the Nest GraphQL module calls (root queries and mutations) races its request's deadline
 * (RequestDeadlines.race). Other handlers pass through: downloads race their preparation themselves.
 */
@Injectable()
export class DeadlineInterceptor implements NestInterceptor {
  constructor(@Inject(RequestDeadlines) private readonly deadlines: RequestDeadlines) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType<GqlContextType>() !== 'graphql') return next.handle();
    const ctx = GqlExecutionContext.create(context).getContext<GatewayContext>();
    return from(this.deadlines.race(ctx.request, () => lastValueFrom(next.handle(), { defaultValue: undefined })));
  }
}
