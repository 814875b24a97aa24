/**
 * What the provenance log records matches what the caller got. A release is logged before it leaves (append, then
 * respond); when its response then does not reach the caller, a `release.undelivered` record naming the release
 * follows it in the log, with the reason (ledger/provenance-record.ts, UNDELIVERED_REASONS).
 *
 * How: each resolver (and each download's preparation) runs in a *scope* (AsyncLocalStorage), and the
 * ProvenanceRecorder reports every durable release to the scope it was appended in. A scope ends answered (its
 * result went into the response), past its deadline, or failed. When the response's connection closes, each
 * release counts as delivered only if its scope was answered before the response was sent, the whole response
 * was written (the response's `finish`) and it was not a server error. A release appended after that moment (a stuck
 * resolver that finished late) is reported at once.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { Logger } from '@nestjs/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Receipt } from '../ledger/provenance-log.port.js';
import type { AccessRecord, ReleaseUndeliveredRecord, UndeliveredReason } from '../ledger/provenance-record.js';

const log = new Logger('ReleaseDelivery');

/** What one scope (a resolver, a download's preparation) came to. */
type ScopeState = 'running' | 'answered' | 'deadline' | 'failed';

interface Release {
  receipt: Receipt;
  record: AccessRecord;
  decided: boolean;
}

interface Scope {
  delivery: Delivery;
  state: ScopeState;
  /** True when the scope answered before the response went out (its result is part of it). */
  inResponse: boolean;
  releases: Release[];
}

interface Delivery {
  scopes: Scope[];
  /** Set when the response's connection closed (the response is over, written or not). */
  settled: { finished: boolean; status: number } | null;
  /** The request-level backstop answered DEADLINE_EXCEEDED for the whole request (ops/request-deadline.ts). */
  backstop: boolean;
}

export interface UndeliveredReport {
  release: Receipt;
  reason: UndeliveredReason;
}

export class ReleaseDeliveries {
  private readonly deliveries = new WeakMap<object, Delivery>();
  private readonly current = new AsyncLocalStorage<Scope>();
  /** Undelivered records still being appended (tests and shutdown wait on them). */
  private readonly pending = new Set<Promise<unknown>>();

  constructor(
    private readonly recorder: {
      undeliveredRecord(release: AccessRecord, receipt: Receipt, reason: UndeliveredReason): ReleaseUndeliveredRecord;
      append(record: ReleaseUndeliveredRecord): Promise<Receipt>;
    },
    /** Hears of each report (metrics); the record is appended regardless. */
    private readonly onReport: (report: UndeliveredReport) => void = () => undefined,
  ) {}

  /** Tracks every request's response from its start; settles when its connection closes. */
  install(fastify: FastifyInstance): void {
    fastify.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      const delivery: Delivery = { scopes: [], settled: null, backstop: false };
      this.deliveries.set(request.raw, delivery);
      // 'finish': the whole response was handed to the connection (writableFinished says the same on a real
      // socket, but not on an injected request).
      let finished = false;
      reply.raw.once('finish', () => (finished = true));
      reply.raw.once('close', () => {
        delivery.settled = { finished: finished || reply.raw.writableFinished, status: reply.raw.statusCode };
        for (const scope of delivery.scopes) this.decide(scope);
      });
    });
  }

  /**
   * Runs `fn` as a scope of `request`: releases it appends belong to the scope. The returned handle ends the
   * scope: `answered` once its result is in hand in time, `missed` when the deadline passed or it failed.
   */
  run<T>(request: FastifyRequest, fn: () => Promise<T>): { result: Promise<T>; end: (state: ScopeState) => void } {
    const delivery = this.deliveries.get(request.raw);
    if (!delivery) return { result: fn(), end: () => undefined };
    const scope: Scope = { delivery, state: 'running', inResponse: false, releases: [] };
    delivery.scopes.push(scope);
    const result = this.current.run(scope, fn);
    return {
      result,
      end: (state) => {
        if (scope.state !== 'running') return;
        scope.state = state;
        scope.inResponse = state === 'answered' && delivery.settled === null && !delivery.backstop;
        this.decide(scope);
      },
    };
  }

  /** The request-level backstop answered for the whole request: nothing still running reaches the caller. */
  backstopAnswered(request: FastifyRequest): void {
    const delivery = this.deliveries.get(request.raw);
    if (delivery) delivery.backstop = true;
  }

  /** From the ProvenanceRecorder: a release is durable. Outside a request scope (sandbox jobs) it is not tracked. */
  released(receipt: Receipt, record: AccessRecord): void {
    // A sandbox job's outputs are served later, by their own fields, not in the response of the request that
    // happened to start the job runner.
    if (record.job) return;
    const scope = this.current.getStore();
    if (!scope) return;
    scope.releases.push({ receipt, record, decided: false });
    this.decide(scope);
  }

  /** Resolves once every undelivered record reported so far is durable (or failed and was logged). */
  async flushed(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private decide(scope: Scope): void {
    for (const release of scope.releases) {
      if (release.decided) continue;
      const reason = verdict(scope);
      if (reason === undefined) continue; // not known yet
      release.decided = true;
      if (reason !== null) this.report(release, reason);
    }
  }

  private report(release: Release, reason: UndeliveredReason): void {
    this.onReport({ release: release.receipt, reason });
    const record = this.recorder.undeliveredRecord(release.record, release.receipt, reason);
    const p = this.recorder
      .append(record)
      .catch((err: unknown) =>
        log.error(
          `release #${release.receipt.index} was not delivered (${reason}), and that could not be logged: ${(err as Error).message}`,
        ),
      )
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
  }
}

/** null: delivered; undefined: not known yet; otherwise why the release did not reach the caller. */
function verdict(scope: Scope): UndeliveredReason | null | undefined {
  const settled = scope.delivery.settled;
  switch (scope.state) {
    case 'deadline':
      return 'deadline';
    case 'failed':
      return 'not-in-response';
    case 'running':
      if (!settled) return undefined;
      // The response went out while this scope still ran: its result cannot be in it.
      if (scope.delivery.backstop) return 'deadline';
      return settled.finished ? 'not-in-response' : 'connection-closed';
    case 'answered':
      if (!scope.inResponse) return scope.delivery.backstop ? 'deadline' : 'not-in-response';
      if (!settled) return undefined;
      if (!settled.finished) return 'connection-closed';
      if (settled.status >= 500) return 'response-failed';
      return null;
  }
}
