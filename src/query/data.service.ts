import type { AccessOutcome, AccessPlan, AccessService } from '../access/access.service.js';
import type { AccessRequest } from '../access/access-request.js';
import { badInput, forbidden, type DomainError } from '../errors/domain.error.js';
import type { Requester } from '../identity/requester.js';
import type { Receipt } from '../ledger/provenance-log.port.js';
import { fastCanonicalJson } from '../ledger/canonical-json.js';
import { sha256Hex } from '../ledger/provenance-record.js';
import { checkDeadline, type QueryEngine } from './query-engine.js';
import type { AggregateResult, OutRecord, RecordsResult } from './query.types.js';
import type { ProvenanceRecorder } from '../ledger/provenance-recorder.js';
import { DEMO_DP_SETTINGS, dpSettingsFor, type DpDatasetSettings } from '../jobs/dp/dp-settings.js';
import type { DifferencingAuditor } from '../jobs/disclosure/differencing-auditor.js';
import { answerFromRelease } from './statistical-release.js';
import type { StatisticalReleases } from './statistical-releases.service.js';

export interface Released<T> {
  result: T;
  receipt: Receipt;
}

/** A release streamed in batches (downloads): recorded, with its row count, before the first batch is read. */
export interface StreamedRelease {
  rows: number;
  geometry: RecordsResult['geometry'];
  fields: string[];
  batches: AsyncGenerator<OutRecord[]>;
}

/**
 * The one path data takes out of CityGate: decide (AccessService) → execute (QueryEngine, plans only)
 * → log (ProvenanceRecorder, durable) → release. Refusals are logged too. Nothing is returned before its
 * record is durable; if logging fails the data is withheld.
 */
export class DataService {
  constructor(
    private readonly access: AccessService,
    private readonly engine: QueryEngine,
    private readonly recorder: ProvenanceRecorder,
    private readonly releases: StatisticalReleases | null = null,
    private readonly dpSettings: readonly DpDatasetSettings[] = DEMO_DP_SETTINGS,
    /** The one differencing audit of every release path (shared with sandbox jobs); null: none. */
    private readonly auditor: DifferencingAuditor | null = null,
  ) {}

  async records(requester: Requester, request: AccessRequest, deadline: number): Promise<Released<RecordsResult>> {
    const outcome = await this.access.decide(requester, request);
    if (!outcome.allowed) throw await this.refuse(requester, request, outcome);
    const result = await this.engine.records(outcome.plan, deadline);
    checkDeadline(deadline); // nothing is released past the deadline: the caller has been answered already
    const grains = result.items.map((i) => i.grainId ?? i.cell ?? i.id);
    const receipt = await this.release(requester, request, outcome, result.items, result.items.length, grains);
    return { result, receipt };
  }

  /**
   * All records a plan covers, for a download: decide, count, append the release record (rows = the count;
   * resultHash null, since the content is not known before it streams), then hand out the batches.
   * `beforeRelease` runs after the decision and before the record (the rate limiter charges the count there).
   */
  async recordStream(
    requester: Requester,
    request: AccessRequest,
    batchSize: number,
    beforeRelease: (rows: number) => Promise<void> = async () => undefined,
  ): Promise<Released<StreamedRelease>> {
    const outcome = await this.access.decide(requester, request);
    if (!outcome.allowed) throw await this.refuse(requester, request, outcome);
    const rows = await this.engine.count(outcome.plan);
    await beforeRelease(rows);
    const record = this.recorder.record(requester, request, outcome, {
      released: true,
      rows,
      resultHash: null,
      refusal: null,
      grains: [],
    });
    const receipt = await this.recorder.append(record);
    return {
      receipt,
      result: {
        rows,
        geometry: outcome.plan.decision.geometry.effect,
        fields: [...request.fields],
        batches: this.engine.recordBatches(outcome.plan, batchSize),
      },
    };
  }

  async aggregate(requester: Requester, request: AccessRequest, deadline: number): Promise<Released<AggregateResult>> {
    const outcome = await this.access.decide(requester, request);
    if (!outcome.allowed) throw await this.refuse(requester, request, outcome);
    // A dataset answered with differential privacy gives exact aggregates to its owner only: the public gets its
    // DP release, everyone else privateAggregate (against their organisation's budget).
    const tier = outcome.plan.decision.tier;
    if (dpSettingsFor(outcome.plan.dataset.id, this.dpSettings) && tier !== 'owner' && tier !== 'public') {
      throw await this.refuse(requester, request, {
        allowed: false,
        message:
          'This dataset is answered with differential privacy: ask privateAggregate, which charges your organisation’s privacy budget.',
        summary: { ...outcome.summary, allow: false, reasons: [...outcome.summary.reasons, 'dp-only'] },
        dataset: outcome.plan.dataset,
      });
    }
    const result = await this.aggregateResult(outcome.plan, deadline);
    checkDeadline(deadline);
    await this.audit(requester, request, outcome, result, deadline);
    const released = result.cells.filter((c) => !c.suppressed);
    const receipt = await this.release(
      requester,
      request,
      outcome,
      { cells: result.cells, total: result.total },
      released.length,
      released.map((c) => c.key),
    );
    return { result, receipt };
  }

  /**
   * The public's aggregates of a dataset with small-cell protection come from its statistical release, never
   * from a scan: suppression is then joint across everything the public can ask. Everyone else is answered live.
   */
  private async aggregateResult(plan: AccessPlan, deadline: number): Promise<AggregateResult> {
    const { decision, dataset, request } = plan;
    const dp = dpSettingsFor(dataset.id, this.dpSettings);
    if (dp && decision.tier === 'public') {
      if (!this.releases) throw new Error('a DP dataset needs its statistical release for the public');
      return answerFromRelease(await this.releases.forDpDataset(dataset, dp), request);
    }
    if (!this.releases || decision.tier !== 'public' || decision.minCell <= 1) {
      // A fully open, non-personal dataset (the public's minimum cell is 1) is answered live, down to buildings,
      // but over official units only: an arbitrary region could place a record below its building, finer than
      // anything the public's generalised geometry shows.
      if (decision.tier === 'public' && decision.minCell <= 1 && (request.bbox !== null || request.polygon)) {
        throw badInput(
          'Public aggregates are answered for official units and H3 cells only: arbitrary regions (bbox, polygon) are not answered. Use groupBy with within a unit.',
        );
      }
      return this.engine.aggregate(plan, deadline);
    }
    const fields = dataset.fields
      .filter((f) => (f.type === 'int' || f.type === 'float') && (decision.fields[f.name]?.effect ?? 'deny') !== 'deny')
      .map((f) => f.name);
    const release = await this.releases.forDataset(dataset, fields, decision.minCell);
    return answerFromRelease(release, request);
  }

  /**
   * A department's aggregate (any region, filter or level within its extent) with small-cell protection goes
   * through the same differencing audit as its sandbox jobs: the records behind each released cell are checked
   * against every cell the organisation already holds of the dataset, and a cell that differs from one of them
   * by fewer than the minimum cell refuses the answer. The public is answered from its release and needs none.
   */
  private async audit(
    requester: Requester,
    request: AccessRequest,
    outcome: Extract<AccessOutcome, { allowed: true }>,
    result: AggregateResult,
    deadline: number,
  ): Promise<void> {
    const { decision, dataset } = outcome.plan;
    if (!this.auditor || (decision.tier !== 'granted' && decision.tier !== 'department') || decision.minCell <= 1) {
      return;
    }
    const units = await this.engine.cellUnits(outcome.plan, deadline);
    const cells = [...result.cells, result.total]
      .filter((c) => !c.suppressed && (units.get(c.key)?.length ?? 0) > 0)
      .map((c) => ({ cell: `${result.groupBy}=${c.key}`, units: units.get(c.key)! }));
    const scope = { org: requester.org ?? `sub:${requester.sub}`, population: dataset.id };
    const audit = await this.auditor.release(scope, `aggregate:${crypto.randomUUID()}`, cells, {
      threshold: decision.minCell,
    });
    if (audit.allowed) return;
    const record = this.recorder.record(requester, request, outcome, {
      released: false,
      rows: 0,
      resultHash: null,
      refusal: 'differencing',
      grains: [],
    });
    const receipt = await this.recorder.append(record);
    throw forbidden(
      `Together with an earlier release to your organisation, this aggregate would single out fewer than ${decision.minCell} records (differencing); nothing was released.`,
      { reasons: [...outcome.summary.reasons, 'differencing'] },
      { receipt, reasons: [...outcome.summary.reasons, 'differencing'] },
    );
  }

  private async release(
    requester: Requester,
    request: AccessRequest,
    outcome: Extract<AccessOutcome, { allowed: true }>,
    payload: unknown,
    rows: number,
    grains: string[],
  ): Promise<Receipt> {
    const record = this.recorder.record(requester, request, outcome, {
      released: true,
      rows,
      resultHash: sha256Hex(fastCanonicalJson(payload)),
      refusal: null,
      grains,
    });
    return this.recorder.append(record);
  }

  private async refuse(
    requester: Requester,
    request: AccessRequest,
    outcome: Extract<AccessOutcome, { allowed: false }>,
  ): Promise<DomainError> {
    const record = this.recorder.record(requester, request, outcome, {
      released: false,
      rows: 0,
      resultHash: null,
      refusal: 'FORBIDDEN',
      grains: [],
    });
    const receipt = await this.recorder.append(record);
    return forbidden(
      outcome.message,
      { reasons: outcome.summary.reasons },
      { receipt, reasons: outcome.summary.reasons },
    );
  }
}
