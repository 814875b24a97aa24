import { randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { AccessService } from './access/access.service.js';
import { DenyAllEngine } from './access/deny-all.engine.js';
import { OpaPolicyEngine } from './access/opa-engine.js';
import type { PolicyEngine } from './access/policy-engine.port.js';
import { CatalogueService } from './catalogue/catalogue.service.js';
import type { Config } from './config/config.js';
import { GrantsRepository } from './grants/grants.repository.js';
import { seedDemoGrants } from './grants/demo-grants.js';
import { GrantsService } from './grants/grants.service.js';
import { IdentityService } from './identity/identity.service.js';
import { AuditIndex } from './audit/audit-index.js';
import { AuditService } from './audit/audit.service.js';
import type { LogStorage } from './ledger/log-storage.port.js';
import { openLogStorageForGateway } from './ledger/verifiable-log.factory.js';
import { StoreLogWitness } from './ledger/store-witness.js';
import { StatisticalReleases } from './query/statistical-releases.service.js';
import { ProvenanceRecorder } from './ledger/provenance-recorder.js';
import { ReleaseDeliveries } from './ops/release-delivery.js';
import { VerifiableLog } from './ledger/verifiable-log.js';
import { DataService } from './query/data.service.js';
import { ConsumersService } from './consumers/consumers.service.js';
import { RateLimiter, rateSubject, type RateSubject } from './consumers/rate-limiter.js';
import { DownloadsService } from './downloads/downloads.service.js';
import { GatewayMetrics } from './ops/metrics.js';
import { Readiness } from './ops/readiness.js';
import type { Requester } from './identity/requester.js';
import { EncryptedApprovalsService } from './encrypted/encrypted-approvals.service.js';
import { EncryptedColumnsService } from './encrypted/encrypted-columns.service.js';
import { SealWorkerPool } from './encrypted/seal-worker-pool.js';
import { EncryptedUploadsService } from './encrypted/encrypted-uploads.service.js';
import { PrivacyBudgetRepository } from './jobs/dp/privacy-budget.repository.js';
import { PrivateAggregateService } from './jobs/dp/private-aggregate.service.js';
import { Masker } from './query/masking.js';
import { QueryEngine } from './query/query-engine.js';
import { DifferencingAuditor } from './jobs/disclosure/differencing-auditor.js';
import { PgReleaseHistory } from './jobs/disclosure/pg-release-history.adapter.js';
import { JobsRepository } from './jobs/jobs.repository.js';
import { JobsService } from './jobs/jobs.service.js';
import { SandboxPoolRunner } from './jobs/sandbox-pool.adapter.js';
import { isDemoSeeded, seedDemoCity } from './spatial/demo-city.seeder.js';
import { progressBar } from './spatial/progress.js';
import { ReceiptTokens } from './ledger/receipt-tokens.js';
import { openDb } from './store/db.factory.js';
import type { Db } from './store/db.port.js';

/** Every service of one gateway instance, wired from config. */
export interface Gateway {
  config: Config;
  db: Db;
  catalogue: CatalogueService;
  grants: GrantsRepository;
  /** Applications, approvals, revocation and expiry of grants. */
  grantsService: GrantsService;
  engine: PolicyEngine;
  access: AccessService;
  log: VerifiableLog;
  /** Tokens that open a receipt bundle to whoever holds the response (anonymous and API-key callers). */
  receiptTokens: ReceiptTokens;
  audit: AuditService;
  auditIndex: AuditIndex;
  queryEngine: QueryEngine;
  data: DataService;
  encrypted: EncryptedColumnsService;
  encryptedApprovals: EncryptedApprovalsService;
  encryptedUploads: EncryptedUploadsService;
  /** Differentially private aggregates against each organisation's durable privacy budget. */
  privateAggregates: PrivateAggregateService;
  identity: IdentityService;
  limiter: RateLimiter;
  consumers: ConsumersService;
  downloads: DownloadsService;
  metrics: GatewayMetrics;
  readiness: Readiness;
  /** Follows each logged release to its response; logs `release.undelivered` when it did not arrive. */
  deliveries: ReleaseDeliveries;
  /** Whom a request is counted against for rate limits. */
  rateSubject(requester: Requester, clientAddress: string): Promise<RateSubject>;
  /** Flushes and closes the provenance log, then the store (when this gateway opened it). */
  jobs: JobsService;
  close(): Promise<void>;
}

export interface GatewayOverrides {
  /** Replace the policy engine (benchmarks and tests only). */
  engine?: PolicyEngine;
  /** Use an already open store (tests share one PGlite per process). */
  db?: Db;
  /** Use this log storage instead of the configured one (tests), and this to reopen it after a failure. */
  logStorage?: LogStorage;
  reopenLogStorage?: () => Promise<LogStorage>;
  /** Draw progress while seeding the demo city. */
  progress?: boolean;
  /** Also export Node's process metrics (heap, event loop) on /metrics; off in tests. */
  processMetrics?: boolean;
}

const log = new Logger('Gateway');

/** Opens the store, seeds the demo city on first start, loads the catalogue, grants and policy bundle. */
export async function buildGateway(config: Config, overrides: GatewayOverrides = {}): Promise<Gateway> {
  const db = overrides.db ?? (await openDb(config));
  if (config.demo.enabled && !(await isDemoSeeded(db))) {
    log.log(`Seeding the demo city (${config.demo.rooms} rooms, seed "${config.demo.seed}")...`);
    const stats = await seedDemoCity(db, {
      rooms: config.demo.rooms,
      seed: config.demo.seed,
      ...(overrides.progress ? { onProgress: progressBar('demo city') } : {}),
    });
    log.log(
      `Demo city seeded in ${(stats.ms / 1000).toFixed(1)} s: ${stats.rooms} rooms, ${stats.boxes} boxes, ${stats.segments} segments.`,
    );
  }
  const catalogue = new CatalogueService(db);
  await catalogue.reload();
  const grants = new GrantsRepository(db);
  await grants.load();
  if (config.demo.enabled) await seedDemoGrants(db, grants);
  const engine = overrides.engine ?? (await loadEngine(config.policyWasmPath));
  const access = new AccessService(catalogue, grants, engine);
  const provenance = await VerifiableLog.open({
    storage: overrides.logStorage ?? (await openLogStorageForGateway(config)),
    dataDir: config.dataDir,
    reopen: overrides.reopenLogStorage ?? (() => openLogStorageForGateway(config)),
    witness: new StoreLogWitness(db),
  });
  provenance.startVerifier(config.logVerifyIntervalSeconds * 1000);
  const auditIndex = new AuditIndex(db);
  // A damaged log must not keep the gateway from starting degraded (it says why in /readyz).
  await auditIndex.catchUp(provenance).catch((err: unknown) => {
    if (provenance.integrity().ok) throw err;
    log.warn(`the audit index could not catch up with the damaged provenance log: ${String(err)}`);
  });
  const queryEngine = new QueryEngine(db, new Masker(await storeSecret(db, 'mask-secret')));
  const receiptTokens = new ReceiptTokens(await storeSecret(db, 'receipt-secret'));
  const metrics = new GatewayMetrics(
    // No ledger anchor exists yet, so nothing lags behind one.
    {
      logSize: () => provenance.size(),
      logIntegrity: () => provenance.integrity(),
      anchorLag: async () => null,
      sandboxQueueDepth: async () =>
        Number(
          (
            await db.query<{ n: number }>(`select count(*)::int as n from jobs where status in ('queued', 'running')`)
          )[0]?.n ?? 0,
        ),
    },
    { defaultMetrics: overrides.processMetrics ?? false },
  );
  const recorder = new ProvenanceRecorder(
    provenance,
    async (index, record) => {
      metrics.decision(record);
      await auditIndex.add(index, record);
    },
    (receipt, record) => deliveries.released(receipt, record),
  );
  const deliveries = new ReleaseDeliveries(recorder);
  const limiter = new RateLimiter(db, config.rateLimits, Date.now, (kind, tier) => metrics.limited(kind, tier));
  const consumers = new ConsumersService(db, limiter, config);
  // One budget for privateAggregate, sandbox jobs and the public's DP releases: all draw on (organisation, dataset).
  const budget = new PrivacyBudgetRepository(db);
  const releases = new StatisticalReleases(db, recorder, budget);
  // One differencing audit for departments' aggregates, privateAggregate and sandbox jobs: one history per
  // organisation and dataset.
  const auditor = new DifferencingAuditor(new PgReleaseHistory(db));
  const data = new DataService(access, queryEngine, recorder, releases, undefined, auditor);
  const encryptedApprovals = new EncryptedApprovalsService(db, catalogue, recorder);
  const encrypted = new EncryptedColumnsService(db, catalogue, access, recorder, encryptedApprovals, {
    pool: new SealWorkerPool(config.he.workers),
    maxOperations: config.he.maxOperations,
  });
  const encryptedUploads = new EncryptedUploadsService(db, encrypted);
  const grantsService = new GrantsService(db, catalogue, grants, recorder);
  // Other instances' grant changes reach this one by notification (and by the version check per decision).
  await grants.watch();
  await grantsService.start();
  const privateAggregates = new PrivateAggregateService(
    access,
    queryEngine,
    recorder,
    budget,
    undefined,
    releases,
    auditor,
  );
  const identity = await IdentityService.create(config, db);
  const jobs = new JobsService({
    db,
    repo: new JobsRepository(db),
    catalogue,
    access,
    queryEngine,
    recorder,
    auditor,
    sandbox: new SandboxPoolRunner({
      workers: config.jobs.workers,
      cpuMs: config.jobs.cpuMs,
      wallMs: config.jobs.wallMs,
      memoryMb: config.jobs.memoryMb,
    }),
    config: config.jobs,
    budget,
  });
  await jobs.start();
  return {
    config,
    db,
    catalogue,
    grants,
    grantsService,
    engine,
    access,
    log: provenance,
    receiptTokens,
    audit: new AuditService(db),
    auditIndex,
    queryEngine,
    data,
    encrypted,
    encryptedApprovals,
    encryptedUploads,
    privateAggregates,
    identity,
    limiter,
    consumers,
    downloads: new DownloadsService(catalogue, access, data, limiter),
    deliveries,
    metrics,
    readiness: new Readiness(db, provenance),
    rateSubject: (requester, address) => rateSubject(requester, address, (id) => consumers.tierOfKey(id)),
    jobs,
    close: async () => {
      await jobs.stop();
      grantsService.stop();
      await grants.close();
      await encrypted.close(); // stops the SEAL threads first: background key checks then end at once
      await encryptedUploads.close();
      await deliveries.flushed(); // undelivered-release records still being appended
      await provenance.close();
      if (!overrides.db) await db.close();
    },
  };
}

async function loadEngine(wasmPath: string): Promise<PolicyEngine> {
  try {
    return await OpaPolicyEngine.load(wasmPath);
  } catch (err) {
    log.error(`Policy bundle ${wasmPath} failed to load; every data request will be denied. ${(err as Error).message}`);
    return new DenyAllEngine((err as Error).message);
  }
}

/**
 * A 32-byte secret kept in the store, made on first use, so that every gateway instance agrees: the masking key
 * (pseudonyms) and the receipt-token key. Secret.
 */
async function storeSecret(db: Db, key: 'mask-secret' | 'receipt-secret'): Promise<Buffer> {
  const fresh = randomBytes(32).toString('base64');
  await db.query(`insert into kv (key, value) values ($1, to_jsonb($2::text)) on conflict (key) do nothing`, [
    key,
    fresh,
  ]);
  const rows = await db.query<{ value: string }>(`select value from kv where key = $1`, [key]);
  const v = rows[0]?.value;
  if (typeof v !== 'string') throw new Error(`${key} missing from the store`);
  return Buffer.from(v, 'base64');
}
