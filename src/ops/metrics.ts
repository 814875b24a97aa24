/**
 * Prometheus metrics of one gateway instance (its own prom-client registry, so that several gateways in one
 * process, as in tests, do not share counts). Labels carry operation names, outcomes and effects only, never
 * argument values or data.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ProvenanceRecord } from '../ledger/provenance-record.js';
import type { LogIntegrity } from '../ledger/verifiable-log.js';

export interface MetricsSources {
  /** Size of the provenance log (leaves). */
  logSize: () => Promise<number>;
  /** Leaves appended since the last anchored tree head; null while no ledger anchor is configured. */
  anchorLag: () => Promise<number | null>;
  /** The provenance log's last integrity verdict (on opening and from the background verifier). */
  logIntegrity?: () => LogIntegrity;
  /** Sandbox jobs queued or running, read from the shared job queue (so every instance reports the same). */
  sandboxQueueDepth?: () => Promise<number>;
}

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'operation' | 'outcome'>;
  private readonly duration: Histogram<'kind'>;
  private readonly decisions: Counter<'effect' | 'mode'>;
  private readonly fieldEffects: Counter<'effect'>;
  private readonly rateLimited: Counter<'kind' | 'tier'>;
  private readonly sandboxQueue: Gauge;

  constructor(sources: MetricsSources, opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'citygate_process_' });
    this.requests = new Counter({
      name: 'citygate_requests_total',
      help: 'Requests by GraphQL operation name (or HTTP route) and outcome (ok, or the error code).',
      labelNames: ['operation', 'outcome'],
      registers,
    });
    this.duration = new Histogram({
      name: 'citygate_request_duration_seconds',
      help: 'Request duration by kind (graphql, download).',
      labelNames: ['kind'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.decisions = new Counter({
      name: 'citygate_decisions_total',
      help: 'Access decisions recorded in the provenance log, by effect (release or refuse) and mode.',
      labelNames: ['effect', 'mode'],
      registers,
    });
    this.fieldEffects = new Counter({
      name: 'citygate_field_effects_total',
      help: 'Per-field effects of recorded decisions (allow, mask, generalise, aggregate-only, deny).',
      labelNames: ['effect'],
      registers,
    });
    this.rateLimited = new Counter({
      name: 'citygate_rate_limited_total',
      help: 'Requests refused by a rate limit, by limit kind and tier.',
      labelNames: ['kind', 'tier'],
      registers,
    });
    const queueDepth = sources.sandboxQueueDepth;
    this.sandboxQueue = new Gauge({
      name: 'citygate_sandbox_queue_depth',
      help: 'Sandbox jobs queued or running.',
      registers,
      ...(queueDepth
        ? {
            async collect() {
              this.set(await queueDepth());
            },
          }
        : {}),
    });
    new Gauge({
      name: 'citygate_log_size',
      help: 'Leaves in the verifiable provenance log.',
      registers,
      async collect() {
        this.set(await sources.logSize());
      },
    });
    const integrity = sources.logIntegrity;
    if (integrity) {
      new Gauge({
        name: 'citygate_log_integrity_ok',
        help: '1 while the provenance log verifies; 0 once a check failed (no release is served).',
        registers,
        collect() {
          this.set(integrity().ok ? 1 : 0);
        },
      });
      new Gauge({
        name: 'citygate_log_verified_records',
        help: 'Records of the provenance log covered by the last integrity check that passed.',
        registers,
        collect() {
          this.set(integrity().verifiedSize);
        },
      });
      new Gauge({
        name: 'citygate_log_verification_runs',
        help: 'Background verifications of the whole provenance log, by result (ok or failed).',
        labelNames: ['result'],
        registers,
        collect() {
          const s = integrity();
          this.set({ result: 'ok' }, s.runs - s.failures);
          this.set({ result: 'failed' }, s.failures);
        },
      });
      new Gauge({
        name: 'citygate_log_last_verified_timestamp_seconds',
        help: 'When the last passing integrity check of the provenance log completed (0: never).',
        registers,
        collect() {
          this.set((integrity().lastOkAt ?? 0) / 1000);
        },
      });
      new Gauge({
        name: 'citygate_log_verification_duration_seconds',
        help: 'How long the last integrity check of the provenance log took.',
        registers,
        collect() {
          this.set(integrity().lastDurationMs / 1000);
        },
      });
    }
    new Gauge({
      name: 'citygate_anchor_lag',
      help: 'Log leaves not yet covered by an anchored tree head (0 while no ledger anchor is configured).',
      registers,
      async collect() {
        this.set((await sources.anchorLag()) ?? 0);
      },
    });
  }

  request(operation: string, outcome: string, kind: 'graphql' | 'download', seconds: number): void {
    this.requests.inc({ operation, outcome });
    this.duration.observe({ kind }, seconds);
  }

  decision(record: ProvenanceRecord): void {
    if (record.kind !== 'access') return; // grant steps are not access decisions
    this.decisions.inc({ effect: record.outcome.released ? 'release' : 'refuse', mode: record.mode });
    for (const effect of Object.values(record.decision.effects)) this.fieldEffects.inc({ effect });
  }

  limited(kind: string, tier: string): void {
    this.rateLimited.inc({ kind, tier });
  }

  /** For a queue without a store to read from (tests); the gateway's gauge reads the job queue itself. */
  setSandboxQueueDepth(depth: number): void {
    this.sandboxQueue.set(depth);
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
