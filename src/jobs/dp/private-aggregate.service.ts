/**
 * Differentially private aggregates (docs/differential-privacy.md): decide (AccessService, mode
 * `aggregate`) → normalise the query to its key → differencing audit (departments: the records behind each cell,
 * against every cell the organisation already holds of the dataset) → answer through the privacy budget (one
 * transaction: cached, exhausted, or computed with the query engine, noised once and stored) → log
 * (ProvenanceRecorder, with the epsilon charged) → release. Nothing leaves before its provenance record is durable.
 */
import { randomUUID } from 'node:crypto';
import type { AccessOutcome, AccessService } from '../../access/access.service.js';
import type { AccessRequest, FieldFilter, HierarchyLevel } from '../../access/access-request.js';
import type { Purpose } from '../../access/decision.js';
import { badInput, DomainError, forbidden } from '../../errors/domain.error.js';
import type { Requester } from '../../identity/requester.js';
import { fastCanonicalJson } from '../../ledger/canonical-json.js';
import type { Receipt } from '../../ledger/provenance-log.port.js';
import { sha256Hex, type AccessRecord } from '../../ledger/provenance-record.js';
import type { ProvenanceRecorder } from '../../ledger/provenance-recorder.js';
import type { QueryEngine } from '../../query/query-engine.js';
import type { DifferencingAuditor } from '../disclosure/differencing-auditor.js';
import { answerFromRelease } from '../../query/statistical-release.js';
import type { StatisticalReleases } from '../../query/statistical-releases.service.js';
import { sumSensitivity, type DpMechanism } from './discrete-noise.js';
import { DEMO_DP_SETTINGS, dpSettingsFor, type DpDatasetSettings } from './dp-settings.js';
import type { PrivacyBudgetRepository, TrueCell } from './privacy-budget.repository.js';
import { canonicalPolygon, dpQueryKey, type DpMeasure, type DpQuery } from './query-key.js';

/** The budget key of callers without an organisation (anonymous and API-key callers share one). */
export const PUBLIC_BUDGET_ORG = 'public';

export interface PrivateAggregateInput {
  datasetId: string;
  measure: 'count' | 'sum';
  /** The summed field (sum only). */
  field: string | null;
  groupBy: HierarchyLevel;
  unitIds: string[];
  polygon: number[][][] | null;
  conditions: FieldFilter[];
  purpose: Purpose | null;
}

export interface PrivateAggregateAnswer {
  datasetId: string;
  groupBy: HierarchyLevel;
  measure: 'count' | 'sum';
  field: string | null;
  mechanism: DpMechanism;
  /** The epsilon the answer cost when it was first given (µε). */
  epsilonMicro: number;
  /** What this call charged: 0 when the stored answer was returned. */
  chargedMicro: number;
  cached: boolean;
  spentMicro: number;
  totalMicro: number;
  cells: TrueCell[];
  queryKey: string;
  receipt: Receipt;
}

export class PrivateAggregateService {
  constructor(
    private readonly access: AccessService,
    private readonly engine: QueryEngine,
    private readonly recorder: ProvenanceRecorder,
    private readonly budget: PrivacyBudgetRepository,
    private readonly settings: readonly DpDatasetSettings[] = DEMO_DP_SETTINGS,
    /** The public's answers come from the dataset's DP release (no per-caller budget); null: from the budget. */
    private readonly releases: StatisticalReleases | null = null,
    /** The one differencing audit of every release path (shared with aggregates and sandbox jobs); null: none. */
    private readonly auditor: DifferencingAuditor | null = null,
  ) {}

  async answer(requester: Requester, input: PrivateAggregateInput, deadline: number): Promise<PrivateAggregateAnswer> {
    const settings = dpSettingsFor(input.datasetId, this.settings);
    if (!settings) throw badInput('This dataset is not answered with differential privacy; use aggregate.');
    const { measure, sensitivity } = this.measureOf(settings, input);
    if (input.unitIds.length > 1) throw badInput('privateAggregate takes at most one unit id.');
    // The engine filters with the normalised polygon, so equivalent polygons select the same grains.
    const polygon = input.polygon
      ? canonicalPolygon(input.polygon).map((r) => r.map(([x, y]) => [x / 1e7, y / 1e7]))
      : null;
    const request: AccessRequest = {
      datasetId: input.datasetId,
      mode: 'aggregate',
      purpose: input.purpose,
      fields: [],
      filters: input.conditions,
      sort: [],
      groupBy: { kind: 'level', level: input.groupBy },
      measures: [
        measure.kind === 'count'
          ? { fn: 'count', field: null }
          : { fn: 'sum', field: measure.field, clamp: { lower: measure.lower, upper: measure.upper } },
      ],
      within: input.unitIds[0] ?? null,
      bbox: null,
      polygon,
      first: 0,
      offset: 0,
    };
    const outcome = await this.access.decide(requester, request);
    if (!outcome.allowed) {
      const receipt = await this.log(requester, request, outcome, { released: false, refusal: 'FORBIDDEN' });
      throw forbidden(
        outcome.message,
        { reasons: outcome.summary.reasons },
        { receipt, reasons: outcome.summary.reasons },
      );
    }
    if (outcome.plan.decision.tier === 'public' && this.releases) {
      return this.fromRelease(requester, input, request, outcome, settings);
    }
    const query: DpQuery = {
      datasetId: input.datasetId,
      datasetVersion: settings.version,
      measure,
      groupBy: [input.groupBy],
      filter: {
        unitIds: input.unitIds,
        conditions: input.conditions.map((c) => ({ field: c.field, op: c.op, value: c.value })),
        ...(input.polygon ? { polygon: input.polygon } : {}),
      },
      // A grant's extent restricts the rows: a different extent is a different question.
      extent: outcome.summary.extent,
      // The schema (never the data) completes the normal form: `gt 3` on an integer is `gte 4`.
      fieldTypes: Object.fromEntries(outcome.plan.dataset.fields.map((f) => [f.name, f.type])),
    };
    const queryKey = dpQueryKey(query);
    const org = requester.org ?? PUBLIC_BUDGET_ORG;
    const plan = outcome.plan;
    // Before anything is charged: a refused answer costs no epsilon.
    await this.audit(requester, request, outcome, input.groupBy, deadline);
    const result = await this.budget.answer({
      org,
      datasetId: input.datasetId,
      queryKey,
      mechanism: settings.mechanism,
      epsilonMicro: settings.epsilonMicroPerQuery,
      budgetMicro: settings.budgetMicroPerOrg,
      compute: async (tx) => {
        const cells = await this.engine.unsuppressedCells(plan, deadline, tx);
        return {
          sensitivity,
          cells: cells.map((c) => ({
            key: c.key,
            label: c.label,
            value: measure.kind === 'count' ? c.count : Math.round(c.values[0] ?? 0),
          })),
        };
      },
    });
    const dp = {
      queryKey,
      mechanism: settings.mechanism,
      epsilonMicro: result.status === 'exhausted' ? settings.epsilonMicroPerQuery : result.answer.epsilonMicro,
      chargedMicro: result.chargedMicro,
      cached: result.status === 'cached',
      spentMicro: result.spentMicro,
      totalMicro: result.totalMicro,
    };
    if (result.status === 'exhausted') {
      const receipt = await this.log(requester, request, outcome, { released: false, refusal: 'LIMIT_EXCEEDED', dp });
      throw new DomainError(
        'LIMIT_EXCEEDED',
        'The privacy budget of your organisation for this dataset is spent; repeat an earlier query to see its answer again.',
        { org, datasetId: input.datasetId },
        { receipt, budget: { spentEpsilon: result.spentMicro / 1e6, totalEpsilon: result.totalMicro / 1e6 } },
      );
    }
    const cells = result.answer.cells;
    const receipt = await this.log(requester, request, outcome, { released: true, refusal: null, dp, cells });
    return {
      datasetId: input.datasetId,
      groupBy: input.groupBy,
      measure: input.measure,
      field: measure.kind === 'sum' ? measure.field : null,
      mechanism: result.answer.mechanism,
      epsilonMicro: result.answer.epsilonMicro,
      chargedMicro: result.chargedMicro,
      cached: result.status === 'cached',
      spentMicro: result.spentMicro,
      totalMicro: result.totalMicro,
      cells,
      queryKey,
      receipt,
    };
  }

  /**
   * The public tier has no budget of its own to spend: every public caller gets the cells of the dataset's one
   * DP release (noised once per data version from the public budget), so no caller can spend it for the others.
   */
  private async fromRelease(
    requester: Requester,
    input: PrivateAggregateInput,
    request: AccessRequest,
    outcome: Extract<AccessOutcome, { allowed: true }>,
    settings: DpDatasetSettings,
  ): Promise<PrivateAggregateAnswer> {
    if (input.polygon || input.conditions.length > 0) {
      throw badInput(
        'The public gets the published DP statistics of this dataset: by district, subdistrict or community, optionally within one unit, without polygons or conditions.',
      );
    }
    const release = await this.releases!.forDpDataset(outcome.plan.dataset, settings);
    const agg = answerFromRelease(release, {
      ...request,
      measures: [{ fn: input.measure, field: input.measure === 'sum' ? input.field : null }],
    });
    const cells: TrueCell[] = agg.cells.map((c) => ({
      key: c.key,
      label: c.label,
      value: Number(c.values[0]?.value ?? 0),
    }));
    const state = await this.budget.budget(PUBLIC_BUDGET_ORG, input.datasetId);
    const dp = {
      queryKey: release.hash,
      mechanism: settings.mechanism,
      epsilonMicro: release.dp!.epsilonMicro,
      chargedMicro: 0,
      cached: true,
      spentMicro: state?.spentMicro ?? 0,
      totalMicro: state?.totalMicro ?? settings.budgetMicroPerOrg,
    };
    const receipt = await this.log(requester, request, outcome, { released: true, refusal: null, dp, cells });
    return {
      datasetId: input.datasetId,
      groupBy: input.groupBy,
      measure: input.measure,
      field: input.measure === 'sum' ? input.field : null,
      ...dp,
      cells,
      receipt,
    };
  }

  /**
   * A department's privateAggregate goes through the differencing audit its aggregates and sandbox jobs go through
   * (one history per organisation and dataset): the records behind each cell of the answer (it has no total) are
   * checked against every cell the organisation already holds, and a cell whose difference with one of them is
   * non-empty and smaller than the minimum cell refuses the whole answer, logged, before the budget is touched.
   * Noise bounds what each answer tells; the audit stops the two-question subtraction that noise at a small
   * epsilon per answer would still let through over repeated pairs. The cells are recorded when they pass, before
   * the budget answers: an answer then refused by an exhausted budget leaves its cells in the history, which only
   * makes later audits stricter. The public is answered from its release and the owner is not audited.
   */
  private async audit(
    requester: Requester,
    request: AccessRequest,
    outcome: Extract<AccessOutcome, { allowed: true }>,
    groupBy: HierarchyLevel,
    deadline: number,
  ): Promise<void> {
    const { decision, dataset } = outcome.plan;
    if (!this.auditor || (decision.tier !== 'granted' && decision.tier !== 'department') || decision.minCell <= 1) {
      return;
    }
    const units = await this.engine.cellUnits(outcome.plan, deadline);
    units.delete('total');
    const cells = [...units]
      .filter(([, u]) => u.length > 0)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, u]) => ({ cell: `${groupBy}=${key}`, units: u }));
    if (cells.length === 0) return;
    const scope = { org: requester.org ?? `sub:${requester.sub}`, population: dataset.id };
    const audit = await this.auditor.release(scope, `private-aggregate:${randomUUID()}`, cells, {
      threshold: decision.minCell,
    });
    if (audit.allowed) return;
    const reasons = [...outcome.summary.reasons, 'differencing'];
    const receipt = await this.log(requester, request, outcome, { released: false, refusal: 'differencing' });
    throw forbidden(
      `Together with an earlier release to your organisation, this answer would single out fewer than ${decision.minCell} records (differencing); nothing was released or charged.`,
      { reasons },
      { receipt, reasons },
    );
  }

  /** The DP measure and the sensitivity of one cell; a sum needs an integer field with declared bounds. */
  private measureOf(
    settings: DpDatasetSettings,
    input: PrivateAggregateInput,
  ): { measure: DpMeasure; sensitivity: number } {
    if (input.measure === 'count') {
      if (input.field) throw badInput('COUNT takes no field.');
      return { measure: { kind: 'count' }, sensitivity: 1 };
    }
    const bounds = input.field ? settings.sumBounds[input.field] : undefined;
    if (!input.field || !bounds) {
      const allowed = Object.keys(settings.sumBounds).join(', ') || 'none';
      throw badInput(`SUM needs a field with declared bounds; this dataset allows: ${allowed}.`);
    }
    return {
      measure: { kind: 'sum', field: input.field, lower: bounds.lower, upper: bounds.upper },
      sensitivity: sumSensitivity(bounds.lower, bounds.upper),
    };
  }

  private async log(
    requester: Requester,
    request: AccessRequest,
    outcome: AccessOutcome,
    o: { released: boolean; refusal: string | null; dp?: AccessRecord['dp']; cells?: TrueCell[] },
  ): Promise<Receipt> {
    const record = this.recorder.record(requester, request, outcome, {
      released: o.released,
      rows: o.cells?.length ?? 0,
      resultHash: o.cells ? sha256Hex(fastCanonicalJson(o.cells)) : null,
      refusal: o.refusal,
      grains: o.cells?.map((c) => c.key) ?? [],
    });
    return this.recorder.append(o.dp ? { ...record, dp: o.dp } : record);
  }
}
