/**
 * Sandbox jobs (DESIGN.md §7, docs/sandbox-jobs.md): submission, the durable queue's runner, the release path and
 * owner review. The path of a real run: AccessService decides (mode `sandbox`, the only way to get a plan) →
 * QueryEngine reads the plan's fields as columns under the plan's row filter → the sandbox runs the code → every
 * output table passes disclosure control → the differencing audit against the organisation's earlier releases →
 * (owner review, when the dataset requires it) → the provenance record is appended → only then are the outputs
 * visible. A dummy run reads synthetic records (dummy-data.ts) and is released as dummy without checks.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { Logger } from '@nestjs/common';
import type { AccessOutcome, AccessService } from '../access/access.service.js';
import type { AccessRequest } from '../access/access-request.js';
import { PURPOSES, type Purpose } from '../access/decision.js';
import type { CatalogueService, Dataset } from '../catalogue/catalogue.service.js';
import type { Config } from '../config/config.js';
import { DomainError, forbidden } from '../errors/domain.error.js';
import type { Requester } from '../identity/requester.js';
import { fastCanonicalJson } from '../ledger/canonical-json.js';
import type { Receipt } from '../ledger/provenance-log.port.js';
import type { JobProvenance } from '../ledger/provenance-record.js';
import { sha256Hex } from '../ledger/provenance-record.js';
import type { ProvenanceRecorder } from '../ledger/provenance-recorder.js';
import type { ColumnarInput, QueryEngine } from '../query/query-engine.js';
import type { Db } from '../store/db.port.js';
import type { DifferencingAuditor } from './disclosure/differencing-auditor.js';
import type { AuditScope } from './disclosure/release-history.port.js';
import { dummyColumns } from './dummy-data.js';
import { DEMO_DP_SETTINGS, dpSettingsFor, type DpDatasetSettings } from './dp/dp-settings.js';
import { dpRelease, jobDpQueryKey, type DpOutputVerdict } from './dp/job-dp.js';
import type { PrivacyBudgetRepository } from './dp/privacy-budget.repository.js';
import { PUBLIC_BUDGET_ORG } from './dp/private-aggregate.service.js';
import {
  type JobCheck,
  type JobDpSpend,
  type JobRecord,
  type JobRefusal,
  type JobStatus,
  type JobTable,
  type PendingRelease,
  type SubmitJobInput,
} from './job.types.js';
import { JobErrors } from './jobs.errors.js';
import type { JobsRepository } from './jobs.repository.js';
import {
  asCheckedTable,
  assignmentLimits,
  buildDeclaredTables,
  resolveDomains,
  validateDeclaration,
  type BuiltTable,
  type DeclaredTable,
  type UnitLevel,
} from './job-outputs.js';
import { canonicalTable, checkOutput, named, type SandboxTable } from './output-check.js';
import type { SandboxJob, SandboxRunner } from './sandbox.port.js';

const log = new Logger('Jobs');

/** A job left running by a stopped gateway is run this many times in all, then failed. */
export const MAX_ATTEMPTS = 2;
const MAX_CODE = 256 * 1024;
const MAX_FIELDS = 64;
const RESERVED_COLUMNS = new Set(['record_id', 'district_id', 'subdistrict_id', 'community_id', 'building_id']);

/** How the caller relates to a job: decides what they see. */
export type JobViewer = 'submitter' | 'owner' | 'auditor';

export interface JobView {
  job: JobRecord;
  viewer: JobViewer;
  /** Released outputs, or pending ones for an owner reviewing them; null otherwise. */
  outputs: JobTable[] | null;
}

export interface JobsDeps {
  db: Db;
  repo: JobsRepository;
  catalogue: CatalogueService;
  access: AccessService;
  queryEngine: QueryEngine;
  recorder: ProvenanceRecorder;
  auditor: DifferencingAuditor;
  sandbox: SandboxRunner;
  config: Config['jobs'];
  /** The durable privacy budget that DP releases draw on (datasets with DP settings). */
  budget: PrivacyBudgetRepository;
  /** Which datasets release only with differential privacy (default: the demo's). */
  dpSettings?: readonly DpDatasetSettings[];
}

export class JobsService {
  private readonly instance = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private again = false;
  private stopping = false;
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly d: JobsDeps) {}

  // ---- lifecycle -------------------------------------------------------------------------------------------------

  /** Recovers jobs a stopped gateway left running, then polls the queue. */
  async start(): Promise<void> {
    const r = await this.d.repo.recoverExpired(MAX_ATTEMPTS);
    if (r.requeued.length + r.failed.length > 0) {
      log.log(`recovered jobs: ${r.requeued.length} queued again, ${r.failed.length} failed`);
    }
    this.timer = setInterval(() => this.wake(), this.d.config.pollMs);
    this.timer.unref();
    this.wake();
  }

  /**
   * Stops claiming jobs. Jobs still running are abandoned as a crash would leave them: their lease expires and
   * the next start runs them again (once).
   */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    await this.d.sandbox.close();
    await Promise.allSettled([...this.running]);
  }

  /** Looks for queued jobs now (after a submission, a finished job, or a poll). */
  wake(): void {
    if (this.stopping) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = true;
    void this.tick()
      .catch((err: unknown) => log.warn(`queue: ${(err as Error).message}`))
      .finally(() => {
        this.ticking = false;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  private async tick(): Promise<void> {
    await this.d.repo.recoverExpired(MAX_ATTEMPTS);
    while (!this.stopping && this.running.size < this.d.config.concurrency) {
      const job = await this.d.repo.claim(this.instance, this.d.config.leaseMs);
      if (job === null) return;
      const p: Promise<void> = this.execute(job).finally(() => {
        this.running.delete(p);
        this.wake();
      });
      this.running.add(p);
    }
  }

  // ---- caller operations -----------------------------------------------------------------------------------------

  async submit(requester: Requester, input: SubmitJobInput): Promise<JobRecord> {
    const dataset = this.d.catalogue.get(input.datasetId);
    if (!dataset) throw notFoundDataset();
    const fields = validateFields(dataset, input.fields);
    const purpose = validatePurpose(input.purpose);
    if (input.code.length === 0 || input.code.length > MAX_CODE) {
      throw JobErrors.badInput(`code must hold 1 to ${MAX_CODE} characters.`);
    }
    const dpSettings = dpSettingsFor(dataset.id, this.d.dpSettings ?? DEMO_DP_SETTINGS);
    // The output tables, declared before the code sees data (job-outputs.ts); a dummy run is checked the same way.
    const declared = await validateDeclaration(
      dataset,
      fields,
      input.outputs,
      async (level, within) => (await this.unitsOf(level, within === null ? null : [within])).length,
      dpSettings,
    );
    const id = randomUUID();
    const codeHash = sha256Hex(input.code);
    if (input.runOn === 'real') {
      // The decision now, so that a caller without access learns it at once (and it is logged); again at run time.
      const outcome = await this.d.access.decide(requester, request(dataset.id, fields, purpose));
      if (!outcome.allowed) {
        const receipt = await this.appendRefusal(
          requester,
          dataset,
          { id, codeHash, language: input.language, fields, purpose },
          outcome,
          { rule: 'access', reason: outcome.message, table: null, cells: [] },
          [{ check: 'access', verdict: 'refused', detail: outcome.summary.reasons.join('; ') }],
          null,
        );
        throw forbidden(outcome.message, { reasons: outcome.summary.reasons }, { receipt });
      }
    }
    // A job is kept for its submitter: anonymous callers share one identity, so they cannot own jobs.
    if (requester.via === 'anonymous') {
      throw new DomainError(
        'UNAUTHENTICATED',
        'Sign in (or use an API key) to run jobs: a job is kept for its submitter.',
      );
    }
    const job = await this.d.repo.insert({
      id,
      submitter: requester,
      datasetId: dataset.id,
      ownerOrg: dataset.ownerOrg,
      fields,
      purpose,
      language: input.language,
      runOn: input.runOn,
      code: input.code,
      codeHash,
      declared,
    });
    this.wake();
    return job;
  }

  /**
   * The official unit ids of a level from the store's hierarchy (never the records), in every given scope: each
   * scope a list of unit ids (a grant's extent, a declared `within`); a unit lies inside one of them or contains one.
   */
  private async unitsOf(level: UnitLevel, ...scopes: (readonly string[] | null)[]): Promise<string[]> {
    const params: unknown[] = [level];
    const where = ['level = $1'];
    for (const scope of scopes) {
      if (scope === null) continue;
      params.push([...scope]);
      const p = `$${params.length}::text[]`;
      where.push(
        // Inside a scope unit, or above one (a subdistrict key over a grant of one community: its subdistrict).
        `(id = any(${p}) or district_id = any(${p}) or subdistrict_id = any(${p}) or community_id = any(${p})
           or parent_id = any(${p}) or id in (select unnest(array[s.district_id, s.subdistrict_id, s.community_id])
             from units s where s.id = any(${p})))`,
      );
    }
    const rows = await this.d.db.query<{ id: string }>(`select id from units where ${where.join(' and ')}`, params);
    return rows.map((r) => r.id);
  }

  async get(requester: Requester, id: string): Promise<JobView> {
    const job = validId(id) ? await this.d.repo.get(id) : null;
    const viewer = job === null ? null : viewerOf(requester, job);
    if (job === null || viewer === null) throw JobErrors.notFound();
    return view(job, viewer);
  }

  /** The caller's own jobs; an owner also sees jobs on the organisation's datasets, an auditor every job. */
  async list(requester: Requester, first: number): Promise<JobView[]> {
    if (requester.via === 'anonymous') return [];
    const auditor = isAuditor(requester);
    const owner = requester.via === 'jwt' && requester.roles.includes('owner') && requester.org !== null;
    const jobs = await this.d.repo.list({
      ...(auditor ? {} : { submitterSub: requester.sub }),
      ...(!auditor && owner ? { ownerOrg: requester.org! } : {}),
      first,
    });
    return jobs.flatMap((j) => {
      const v = viewerOf(requester, j);
      return v === null ? [] : [view(j, v)];
    });
  }

  async cancel(requester: Requester, id: string): Promise<JobView> {
    const view0 = await this.get(requester, id);
    if (view0.viewer !== 'submitter') throw forbidden('Only the submitter may cancel a job.');
    const done = await this.d.repo.transition(
      id,
      ['queued', 'running', 'awaiting_review'],
      'cancelled',
      { pending: null },
      [`cancelled by ${requester.sub}`],
    );
    if (done === null) throw JobErrors.notCancellable();
    return view(done, 'submitter');
  }

  /** An owner of the dataset's organisation requires (or stops requiring) review of releases from it. */
  async setReviewRequired(requester: Requester, datasetId: string, required: boolean): Promise<boolean> {
    const dataset = this.d.catalogue.get(datasetId);
    if (!dataset) throw notFoundDataset();
    if (!isOwnerOf(requester, dataset.ownerOrg)) throw JobErrors.notOwner();
    await this.d.repo.setReviewRequired(dataset.id, required, requester.sub);
    log.log(
      `review of sandbox releases from ${dataset.id} ${required ? 'required' : 'no longer required'} by ${requester.sub}`,
    );
    return required;
  }

  async reviewRequired(datasetId: string): Promise<boolean> {
    return this.d.repo.reviewRequired(datasetId);
  }

  /** An owner approves (release) or rejects (refusal) a job waiting for review. Logged either way. */
  async review(requester: Requester, id: string, approve: boolean, reason: string): Promise<JobView> {
    const current = await this.get(requester, id);
    const job = current.job;
    if (!isOwnerOf(requester, job.ownerOrg)) throw JobErrors.notReviewer();
    if (requester.sub === job.submitter.sub) throw JobErrors.selfReview();
    if (reason.trim().length === 0 || reason.length > 500) throw JobErrors.reasonRequired();
    if (job.status !== 'awaiting_review' || job.pending === null) throw JobErrors.notAwaitingReview();
    const dataset = this.d.catalogue.get(job.datasetId);
    if (!dataset) throw notFoundDataset();
    const pending = job.pending;
    const review = { by: requester.sub, approved: approve, reason };
    const outcome = await this.d.access.decide(job.submitter, request(dataset.id, job.fields, job.purpose));
    let updated: JobRecord | null;
    if (!outcome.allowed) {
      updated = await this.refuse(
        job,
        dataset,
        outcome,
        accessRefusal(outcome),
        pending.checks,
        ['awaiting_review'],
        review,
      );
    } else if (!approve) {
      updated = await this.refuse(
        job,
        dataset,
        outcome,
        { rule: 'owner-review', reason: 'an owner of the dataset rejected this release', table: null, cells: [] },
        [...pending.checks, { check: 'owner-review', verdict: 'rejected', detail: `by ${requester.sub}` }],
        ['awaiting_review'],
        review,
      );
    } else {
      updated = await this.publish(
        job,
        dataset,
        outcome,
        {
          ...pending,
          checks: [...pending.checks, { check: 'owner-review', verdict: 'approved', detail: `by ${requester.sub}` }],
        },
        ['awaiting_review'],
        review,
      );
    }
    if (updated === null) throw JobErrors.notAwaitingReview();
    return view(updated, 'owner');
  }

  // ---- running a job ---------------------------------------------------------------------------------------------

  private async execute(job: JobRecord): Promise<void> {
    const renew = setInterval(
      () => void this.d.repo.renew(job.id, this.instance, this.d.config.leaseMs).catch(() => undefined),
      Math.max(250, Math.floor(this.d.config.leaseMs / 3)),
    );
    try {
      await this.runJob(job);
    } catch (err) {
      if (this.stopping) return;
      const message = err instanceof DomainError ? err.message : 'internal error';
      log.warn(`job ${job.id}: ${(err as Error).message}`);
      await this.holdUnsuccessful(job);
      await this.d.repo
        .transition(job.id, ['running'], 'failed', { error: message }, [`failed: ${message}`])
        .catch(() => undefined);
    } finally {
      clearInterval(renew);
    }
  }

  /**
   * An unsuccessful real run ends no earlier than its wall-clock limit after it started, so that when it ends
   * says nothing about how (a throw is as slow as a timeout).
   */
  private async holdUnsuccessful(job: JobRecord): Promise<void> {
    if (job.runOn !== 'real' || job.startedAt === null) return;
    const wait = job.startedAt.getTime() + this.d.config.wallMs - Date.now();
    const until = Date.now() + wait;
    while (!this.stopping && Date.now() < until) {
      await new Promise((r) => setTimeout(r, Math.min(100, until - Date.now())));
    }
  }

  private async runJob(job: JobRecord): Promise<void> {
    const dataset = this.d.catalogue.get(job.datasetId);
    if (!dataset) {
      await this.d.repo.transition(job.id, ['running'], 'failed', { error: 'the dataset is gone' }, ['failed']);
      return;
    }
    let outcome: AccessOutcome | null = null;
    let input: ColumnarInput;
    if (job.runOn === 'real') {
      outcome = await this.d.access.decide(job.submitter, request(dataset.id, job.fields, job.purpose));
      if (!outcome.allowed) {
        await this.refuse(job, dataset, outcome, accessRefusal(outcome), [], ['running'], null);
        return;
      }
      input = await this.d.queryEngine.columns(outcome.plan, Date.now() + 10 * 60_000, this.d.config.maxRows);
    } else {
      input = await dummyColumns(this.d.db, dataset, job.fields, this.d.config.dummyRows, job.id);
    }
    // Not the number of real records: that is a statistic no check has passed.
    await this.d.repo.appendLog(job.id, [
      `input: ${job.runOn === 'real' ? 'the records your decision allows' : `${input.rowCount} dummy records`}, ${job.fields.length} field(s)`,
    ]);
    const declared = job.declared;
    if (declared === null) {
      await this.d.repo.transition(
        job.id,
        ['running'],
        'failed',
        { error: 'INVALID_OUTPUT: the job was queued without declared output tables; submit it again with outputs' },
        ['failed: no declared outputs'],
      );
      return;
    }
    const run = await this.d.sandbox.run(sandboxJob(job, dataset, input, this.d.config, declared));
    if (this.stopping) return; // abandoned: the lease runs out and the next start retries it
    if (run.status === 'error') {
      await this.holdUnsuccessful(job);
      const error = `${run.code}: ${run.message}`;
      await this.d.repo.transition(job.id, ['running'], 'failed', { error }, [`sandbox: ${error}`]);
      return;
    }
    // On real data the exact CPU time is a number the code controls: reported in whole seconds, rounded up.
    const cpu =
      job.runOn === 'real'
        ? `at most ${Math.max(1, Math.ceil(run.cpuMs / 1000))} s CPU`
        : `${Math.round(run.cpuMs)} ms CPU`;
    const ran = `sandbox: ${run.tables.length} table(s), ${cpu}`;
    const dpSettings = dpSettingsFor(dataset.id, this.d.dpSettings ?? DEMO_DP_SETTINGS);
    // The gateway builds the declared tables from the code's assignment: every row, every count and sum its own.
    const extent = job.runOn === 'real' && outcome?.allowed ? outcome.summary.extent : null;
    const domains = await resolveDomains(declared, dataset, (level, within) =>
      this.unitsOf(level, extent, within === null ? null : [within]),
    );
    const built = buildDeclaredTables(declared, domains, run.tables, input, dpSettings !== null);
    if (!built.ok) {
      if (job.runOn === 'dummy' || outcome === null || !outcome.allowed) {
        const error = `INVALID_OUTPUT: ${built.reason}`;
        await this.d.repo.transition(job.id, ['running'], 'failed', { error }, [ran, `output: ${built.reason}`]);
        return;
      }
      await this.d.repo.appendLog(job.id, [ran]);
      await this.refuse(
        job,
        dataset,
        outcome,
        { rule: built.rule, reason: built.reason, table: built.table, cells: [] },
        [{ check: 'declared-outputs', verdict: 'refused', detail: built.rule }],
        ['running'],
        null,
      );
      return;
    }
    // Rows in canonical order (output-check.ts: canonicalTable), as released.
    const checked: SandboxTable[] = built.tables.map((b) => canonicalTable(asCheckedTable(b, input)));
    if (job.runOn === 'dummy' || outcome === null || !outcome.allowed) {
      const outputs = checked.map(plainTable);
      await this.d.repo.transition(job.id, ['running'], 'succeeded', { outputs, outputHash: hashTables(outputs) }, [
        ran,
        'released as dummy output (synthetic data: no disclosure checks)',
      ]);
      return;
    }
    if (dpSettings) {
      await this.d.repo.appendLog(job.id, [ran]);
      await this.releaseDp(job, dataset, outcome, input, built.tables, declared, domains, dpSettings);
      return;
    }
    const verdict = checkOutput(checked, input, outcome.plan.decision.minCell, true);
    if (!verdict.ok) {
      await this.d.repo.appendLog(job.id, [ran]);
      await this.refuse(job, dataset, outcome, verdict.refusal, verdict.checks, ['running'], null);
      return;
    }
    const diff = await this.d.auditor.check(scopeOf(job), verdict.cells);
    if (!diff.allowed && diff.refusal) {
      const checks: JobCheck[] = [
        ...verdict.checks,
        { check: 'differencing', verdict: 'refused', detail: diff.refusal.reason },
      ];
      await this.d.repo.appendLog(job.id, [ran]);
      await this.refuse(
        job,
        dataset,
        outcome,
        { rule: 'differencing', reason: diff.refusal.reason, table: null, cells: named(diff.refusal.cells) },
        checks,
        ['running'],
        null,
      );
      return;
    }
    const pending: PendingRelease = {
      tables: verdict.tables,
      cells: verdict.cells,
      checks: [
        ...verdict.checks,
        { check: 'differencing', verdict: 'passed', detail: `${verdict.cells.length} cell(s) audited` },
      ],
      rows: verdict.rows,
      inputRows: input.rowCount,
      datasetVersion: dataset.updatedAt.toISOString(),
    };
    if (await this.d.repo.reviewRequired(dataset.id)) {
      await this.d.repo.transition(job.id, ['running'], 'awaiting_review', { pending }, [
        ran,
        'checks passed; waiting for review by an owner of the dataset',
      ]);
      return;
    }
    await this.d.repo.appendLog(job.id, [ran]);
    await this.publish(job, dataset, outcome, pending, ['running'], null);
  }

  /**
   * A real run on a dataset released with differential privacy (dp/job-dp.ts): the gateway computes the declared
   * measures from the records behind each row, then answers through the privacy budget in one transaction (the
   * stored noisy tables for a repeat, free; a refusal when the budget is spent; otherwise noised once, stored and
   * charged). Small-cell suppression and the differencing audit decide on true values, so they are not applied:
   * the noise and the budget protect the cells instead.
   */
  private async releaseDp(
    job: JobRecord,
    dataset: Dataset,
    outcome: Extract<AccessOutcome, { allowed: true }>,
    input: ColumnarInput,
    tables: readonly BuiltTable[],
    declared: readonly DeclaredTable[],
    domains: Awaited<ReturnType<typeof resolveDomains>>,
    settings: DpDatasetSettings,
  ): Promise<void> {
    const verdict: DpOutputVerdict = dpRelease(tables, input, settings);
    if (!verdict.ok) {
      await this.refuse(job, dataset, outcome, verdict.refusal, [...verdict.checks], ['running'], null);
      return;
    }
    const org = job.submitter.org ?? PUBLIC_BUDGET_ORG;
    const queryKey = jobDpQueryKey({
      datasetId: dataset.id,
      datasetVersion: settings.version,
      codeHash: job.codeHash,
      fields: job.fields,
      declared,
      domains,
      extent: outcome.summary.extent,
    });
    const result = await this.d.budget.answer({
      org,
      datasetId: dataset.id,
      queryKey,
      mechanism: settings.mechanism,
      epsilonMicro: settings.epsilonMicroPerQuery,
      budgetMicro: settings.budgetMicroPerOrg,
      compute: () => Promise.resolve({ cells: verdict.cells, sensitivity: 1, sensitivities: verdict.sensitivities }),
    });
    const dpSpend: JobDpSpend = {
      queryKey,
      mechanism: settings.mechanism,
      epsilonMicro: result.status === 'exhausted' ? settings.epsilonMicroPerQuery : result.answer.epsilonMicro,
      chargedMicro: result.chargedMicro,
      cached: result.status === 'cached',
      spentMicro: result.spentMicro,
      totalMicro: result.totalMicro,
      org,
    };
    const eps = (micro: number) => String(micro / 1e6);
    if (result.status === 'exhausted') {
      const reason =
        `the privacy budget of organisation ${org} for dataset ${dataset.id} is spent ` +
        `(ε ${eps(result.spentMicro)} of ${eps(result.totalMicro)}; this release needs ε ${eps(settings.epsilonMicroPerQuery)})`;
      log.warn(`job ${job.id}: refused, ${reason}`);
      await this.refuse(
        job,
        dataset,
        outcome,
        { rule: 'privacy-budget', reason, table: null, cells: [] },
        [...verdict.checks, { check: 'differential-privacy', verdict: 'refused', detail: 'privacy budget spent' }],
        ['running'],
        null,
        dpSpend,
      );
      return;
    }
    const checks: JobCheck[] = [
      ...verdict.checks,
      {
        check: 'differential-privacy',
        verdict: 'passed',
        detail: `${settings.mechanism}, ε ${eps(dpSpend.epsilonMicro)}, ${
          dpSpend.cached ? 'the stored noisy tables (not charged)' : `charged to ${org}`
        }; budget ε ${eps(result.spentMicro)} of ${eps(result.totalMicro)} spent`,
      },
    ];
    const pending: PendingRelease = {
      tables: verdict.build(result.answer.cells),
      cells: [],
      checks,
      rows: verdict.rows,
      inputRows: input.rowCount,
      datasetVersion: dataset.updatedAt.toISOString(),
      dpSpend,
    };
    await this.d.repo.appendLog(job.id, [
      dpSpend.cached
        ? 'differential privacy: the same job was answered before; its stored noisy tables are released again, not charged'
        : `differential privacy: ${settings.mechanism} noise, ε ${eps(dpSpend.epsilonMicro)} charged; ε ${eps(
            result.totalMicro - result.spentMicro,
          )} left`,
    ]);
    if (await this.d.repo.reviewRequired(dataset.id)) {
      await this.d.repo.transition(job.id, ['running'], 'awaiting_review', { pending, dpSpend }, [
        'checks passed; waiting for review by an owner of the dataset',
      ]);
      return;
    }
    await this.publish(job, dataset, outcome, pending, ['running'], null);
  }

  /**
   * Records the release (differencing history, then the provenance log) and only then makes the outputs visible.
   * The differencing audit runs again here, serialised per organisation and dataset, so that two jobs released at
   * once cannot each pass against a history that lacks the other.
   */
  private async publish(
    job: JobRecord,
    dataset: Dataset,
    outcome: Extract<AccessOutcome, { allowed: true }>,
    pending: PendingRelease,
    from: readonly JobStatus[],
    review: JobProvenance['review'],
  ): Promise<JobRecord | null> {
    // A DP release's cells are noised and charged to the budget: the differencing history holds true cells only.
    const audit = pending.dpSpend
      ? { allowed: true, refusal: null }
      : await this.d.auditor.release(scopeOf(job), job.id, pending.cells);
    if (!audit.allowed && audit.refusal) {
      return this.refuse(
        job,
        dataset,
        outcome,
        { rule: 'differencing', reason: audit.refusal.reason, table: null, cells: named(audit.refusal.cells) },
        pending.checks.map((c) => (c.check === 'differencing' ? { ...c, verdict: 'refused' as const } : c)),
        from,
        review,
      );
    }
    const outputHash = hashTables(pending.tables);
    const record = this.d.recorder.record(job.submitter, request(dataset.id, job.fields, job.purpose), outcome, {
      released: true,
      rows: pending.rows,
      resultHash: outputHash,
      refusal: null,
      grains: releasedUnits(pending.tables),
    });
    record.job = provenance(job, dataset, pending.checks, review, pending.dpSpend ?? null);
    const receipt = await this.d.recorder.append(record);
    return this.d.repo.transition(
      job.id,
      from,
      'succeeded',
      {
        outputs: pending.tables,
        pending: null,
        receiptIndex: receipt.index,
        outputHash,
        dpSpend: pending.dpSpend ?? null,
        ...(review ? { reviewedBy: review.by, reviewReason: review.reason } : {}),
      },
      [...(review ? [`release approved by ${review.by}`] : []), `released: provenance log entry ${receipt.index}`],
    );
  }

  private async refuse(
    job: JobRecord,
    dataset: Dataset,
    outcome: AccessOutcome,
    refusal: JobRefusal,
    checks: JobCheck[],
    from: readonly JobStatus[],
    review: JobProvenance['review'],
    dpSpend: JobDpSpend | null = null,
  ): Promise<JobRecord | null> {
    if (review === null && !SHOWN_RULES.includes(refusal.rule)) await this.holdUnsuccessful(job);
    const receipt = await this.appendRefusal(job.submitter, dataset, job, outcome, refusal, checks, review, dpSpend);
    return this.d.repo.transition(
      job.id,
      from,
      'refused',
      {
        refusal,
        pending: null,
        receiptIndex: receipt.index,
        ...(dpSpend ? { dpSpend } : {}),
        ...(review ? { reviewedBy: review.by, reviewReason: review.reason } : {}),
      },
      [
        ...(review && !review.approved ? [`release rejected by ${review.by}`] : []),
        `refused (${refusal.rule}): ${refusal.reason}; provenance log entry ${receipt.index}`,
      ],
    );
  }

  private async appendRefusal(
    requester: Requester,
    dataset: Dataset,
    job: Pick<JobRecord, 'id' | 'codeHash' | 'language' | 'fields' | 'purpose'>,
    outcome: AccessOutcome,
    refusal: JobRefusal,
    checks: JobCheck[],
    review: JobProvenance['review'],
    dpSpend: JobDpSpend | null = null,
  ): Promise<Receipt> {
    const record = this.d.recorder.record(requester, request(dataset.id, job.fields, job.purpose), outcome, {
      released: false,
      rows: 0,
      resultHash: null,
      refusal: refusalCode(refusal.rule),
      grains: [],
    });
    record.job = provenance(job, dataset, checks, review, dpSpend);
    return this.d.recorder.append(record);
  }
}

// ---- helpers -----------------------------------------------------------------------------------------------------

function notFoundDataset(): DomainError {
  return new DomainError('NOT_FOUND', 'No such dataset.');
}

function request(datasetId: string, fields: string[], purpose: Purpose | null): AccessRequest {
  return {
    datasetId,
    mode: 'sandbox',
    purpose,
    fields,
    filters: [],
    sort: [],
    groupBy: null,
    measures: [],
    within: null,
    bbox: null,
    first: 0,
    offset: 0,
  };
}

function accessRefusal(outcome: AccessOutcome): JobRefusal {
  return {
    rule: 'access',
    reason: outcome.allowed ? 'refused' : outcome.message,
    table: null,
    cells: [],
  };
}

/** Differencing is audited per organisation (its members share what they learn) and per dataset. */
function scopeOf(job: JobRecord): AuditScope {
  return { org: job.submitter.org ?? `sub:${job.submitter.sub}`, population: job.datasetId };
}

/** The refusal code a record carries: access and a spent budget map to the API's codes, other rules by name. */
function refusalCode(rule: string): string {
  if (rule === 'access') return 'FORBIDDEN';
  if (rule === 'privacy-budget') return 'LIMIT_EXCEEDED';
  return rule;
}

function provenance(
  job: Pick<JobRecord, 'id' | 'codeHash' | 'language'>,
  dataset: Dataset,
  checks: JobCheck[],
  review: JobProvenance['review'],
  dpSpend: JobDpSpend | null,
): JobProvenance {
  return {
    jobId: job.id,
    codeHash: job.codeHash,
    language: job.language,
    runOn: 'real',
    inputs: [{ dataset: dataset.id, version: dataset.updatedAt.toISOString() }],
    checks,
    review,
    dpSpend,
  };
}

export function hashTables(tables: readonly JobTable[]): string {
  return sha256Hex(fastCanonicalJson(tables));
}

/** Hierarchy units named by released cells, for the auditors' grain index (bounded). */
function releasedUnits(tables: readonly JobTable[]): string[] {
  const out = new Set<string>();
  for (const t of tables) {
    for (const row of t.rows) {
      for (const c of row) {
        if (typeof c === 'string' && /^(district|subdistrict|community|building):/.test(c)) out.add(c);
        if (out.size >= 1000) return [...out];
      }
    }
  }
  return [...out];
}

function plainTable(t: { name: string; columns: string[]; rows: JobTable['rows'] }): JobTable {
  return { name: t.name, columns: t.columns, rows: t.rows, suppressed: [] };
}

function validId(id: string): boolean {
  return /^[0-9a-f-]{36}$/.test(id);
}

function validateFields(dataset: Dataset, fields: readonly string[]): string[] {
  if (fields.length === 0 || fields.length > MAX_FIELDS) {
    throw JobErrors.badInput(`fields must name 1 to ${MAX_FIELDS} fields of the dataset.`);
  }
  const out = [...new Set(fields)];
  for (const f of out) {
    if (!dataset.fields.some((d) => d.name === f) || RESERVED_COLUMNS.has(f)) {
      const shown = /^[a-z_][a-z0-9_]{0,62}$/.test(f) ? `"${f}"` : '(not a valid field name)';
      throw JobErrors.badInput(`Unknown field ${shown} for dataset ${dataset.id}.`);
    }
  }
  return out.sort();
}

function validatePurpose(p: string | null): Purpose | null {
  if (p === null) return null;
  if (!(PURPOSES as readonly string[]).includes(p))
    throw JobErrors.badInput(`purpose is one of ${PURPOSES.join(', ')}.`);
  return p as Purpose;
}

function isAuditor(r: Requester): boolean {
  return r.via === 'jwt' && r.roles.includes('auditor');
}

function isOwnerOf(r: Requester, org: string): boolean {
  return r.via === 'jwt' && r.roles.includes('owner') && r.org === org;
}

export function viewerOf(r: Requester, job: JobRecord): JobViewer | null {
  if (r.via !== 'anonymous' && r.sub === job.submitter.sub && r.via === job.submitter.via) return 'submitter';
  if (isOwnerOf(r, job.ownerOrg)) return 'owner';
  if (isAuditor(r)) return 'auditor';
  return null;
}

/** Refusals decided before the code ran or by people, never by the code's output: shown as they are. */
const SHOWN_RULES: readonly string[] = ['access', 'owner-review', 'privacy-budget'];

/** What the submitter of an unsuccessful real run sees: the same, whatever happened inside the sandbox. */
export const NOT_RELEASED: JobRefusal = {
  rule: 'not-released',
  reason:
    'Nothing was released. On real data every unsuccessful run looks the same (an error, a time or memory limit, an output that failed disclosure control); run on dummy data for details, or ask an owner of the dataset, who sees them.',
  table: null,
  cells: [],
};

/**
 * On real data the code chooses how a run ends, and each visible difference is a bit about the data (FAILED or
 * REFUSED, TIMEOUT or RUNTIME_ERROR, which rule, which cells, when). Its submitter sees one outcome, REFUSED
 * with `not-released`, and the log up to the input line; the owner of the dataset (and the submitter when they
 * own it) see the details. Refusals decided before the code ran or by people are shown as they are.
 */
export function submitterView(job: JobRecord): JobRecord {
  if (job.runOn !== 'real' || isOwnerOf(job.submitter, job.ownerOrg)) return job;
  const codeChosen =
    job.status === 'failed' || (job.status === 'refused' && !SHOWN_RULES.includes(job.refusal?.rule ?? ''));
  if (!codeChosen) return job;
  const input = job.log.findIndex((l) => l.message.startsWith('input:'));
  const kept = input >= 0 ? job.log.slice(0, input + 1) : job.log.slice(0, 1);
  return {
    ...job,
    status: 'refused',
    refusal: NOT_RELEASED,
    error: null,
    receiptIndex: null,
    log: [...kept, { at: job.finishedAt?.toISOString() ?? new Date().toISOString(), message: 'not released' }],
  };
}

/** Auditors see metadata, never values; the owner also sees outputs waiting for their review. */
function view(job: JobRecord, viewer: JobViewer): JobView {
  if (viewer === 'submitter') job = submitterView(job);
  let outputs: JobTable[] | null = null;
  if (viewer !== 'auditor') outputs = job.outputs;
  if (viewer === 'owner' && job.status === 'awaiting_review') outputs = job.pending?.tables ?? null;
  return { job, viewer, outputs };
}

function sandboxJob(
  job: JobRecord,
  dataset: Dataset,
  input: ColumnarInput,
  c: Config['jobs'],
  declared: readonly DeclaredTable[],
): SandboxJob {
  const columns: SandboxJob['columns'] = {
    record_id: { type: 'str', values: input.recordIds },
    district_id: { type: 'str', values: input.hierarchy.district_id },
    subdistrict_id: { type: 'str', values: input.hierarchy.subdistrict_id },
    community_id: { type: 'str', values: input.hierarchy.community_id },
    building_id: { type: 'str', values: input.hierarchy.building_id },
  };
  for (const f of job.fields) {
    const def = dataset.fields.find((d) => d.name === f);
    const values = input.fields[f] ?? [];
    if (def?.type === 'int' || def?.type === 'float' || def?.type === 'bool') {
      columns[f] = {
        type: 'f64',
        values: values.map((v) => (typeof v === 'number' ? v : typeof v === 'boolean' ? Number(v) : null)),
      };
    } else {
      columns[f] = { type: 'str', values: values.map((v) => (v === null ? null : String(v))) };
    }
  }
  return {
    jobId: job.id,
    code: job.code,
    language: job.language,
    columns,
    limits: { cpuMs: c.cpuMs, wallMs: c.wallMs, memoryMb: c.memoryMb, ...assignmentLimits(declared, input.rowCount) },
    // A message thrown on real data could carry values past disclosure control.
    verboseErrors: job.runOn === 'dummy',
  };
}
