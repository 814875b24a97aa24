import { Logger } from '@nestjs/common';
import type { AccessOutcome, AccessService } from '../access/access.service.js';
import type { AccessRequest } from '../access/access-request.js';
import { DomainError, forbidden } from '../errors/domain.error.js';
import type { Requester } from '../identity/requester.js';
import type { ProvenanceLog, Receipt } from '../ledger/provenance-log.port.js';
import { fastCanonicalJson } from '../ledger/canonical-json.js';
import { sha256Hex, type ProvenanceRecord } from '../ledger/provenance-record.js';
import type { QueryEngine } from './query-engine.js';
import type { AggregateResult, RecordsResult } from './query.types.js';

const log = new Logger('DataService');

export interface Released<T> {
  result: T;
  receipt: Receipt;
}

/**
 * The one path data takes out of CityGate: decide (AccessService) → execute (QueryEngine, plans only)
 * → log (ProvenanceLog, durable) → release. Refusals are logged too. Nothing is returned before its
 * record is durable; if logging fails the data is withheld.
 */
export class DataService {
  constructor(
    private readonly access: AccessService,
    private readonly engine: QueryEngine,
    private readonly log: ProvenanceLog,
    /** Called after a record is durable (the auditors' index); a failure here is logged, never fatal. */
    private readonly afterAppend: (index: number, record: ProvenanceRecord) => Promise<void> = async () => undefined,
  ) {}

  async records(requester: Requester, request: AccessRequest, deadline: number): Promise<Released<RecordsResult>> {
    const outcome = await this.access.decide(requester, request);
    if (!outcome.allowed) throw await this.refuse(requester, request, outcome);
    const result = await this.engine.records(outcome.plan, deadline);
    const grains = result.items.map((i) => i.grainId ?? i.cell ?? i.id);
    const receipt = await this.release(requester, request, outcome, result.items, result.items.length, grains);
    return { result, receipt };
  }

  async aggregate(requester: Requester, request: AccessRequest, deadline: number): Promise<Released<AggregateResult>> {
    const outcome = await this.access.decide(requester, request);
    if (!outcome.allowed) throw await this.refuse(requester, request, outcome);
    const result = await this.engine.aggregate(outcome.plan, deadline);
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

  private async release(
    requester: Requester,
    request: AccessRequest,
    outcome: Extract<AccessOutcome, { allowed: true }>,
    payload: unknown,
    rows: number,
    grains: string[],
  ): Promise<Receipt> {
    const record = this.record(requester, request, outcome, {
      released: true,
      rows,
      resultHash: sha256Hex(fastCanonicalJson(payload)),
      refusal: null,
      grains,
    });
    record.id = outcome.plan.id;
    return this.append(record);
  }

  private async refuse(
    requester: Requester,
    request: AccessRequest,
    outcome: Extract<AccessOutcome, { allowed: false }>,
  ): Promise<DomainError> {
    const record = this.record(requester, request, outcome, {
      released: false,
      rows: 0,
      resultHash: null,
      refusal: 'FORBIDDEN',
      grains: [],
    });
    const receipt = await this.append(record);
    return forbidden(
      outcome.message,
      { reasons: outcome.summary.reasons },
      { receipt, reasons: outcome.summary.reasons },
    );
  }

  private record(
    requester: Requester,
    request: AccessRequest,
    outcome: AccessOutcome,
    result: ProvenanceRecord['outcome'],
  ): ProvenanceRecord {
    return {
      v: 1,
      kind: 'access',
      id: crypto.randomUUID(),
      at: new Date().toISOString(),
      requester: { sub: requester.sub, org: requester.org, roles: [...requester.roles], via: requester.via },
      purpose: request.purpose,
      dataset: request.datasetId,
      mode: request.mode,
      fields: Object.keys(outcome.summary.effects),
      queryHash: sha256Hex(fastCanonicalJson(request)),
      scope: { within: request.within, bbox: request.bbox },
      decision: outcome.summary,
      outcome: result,
    };
  }

  private async append(record: ProvenanceRecord): Promise<Receipt> {
    let receipt: Receipt;
    try {
      receipt = await this.log.append(record);
    } catch (err) {
      throw new DomainError(
        'UNAVAILABLE',
        'The provenance log cannot record this request now; nothing was released.',
        err,
      );
    }
    // The index is derived from the log and caught up at start-up; a failure must not withhold a logged release.
    await this.afterAppend(receipt.index, record).catch((err: unknown) =>
      log.warn(`audit index: ${(err as Error).message}`),
    );
    return receipt;
  }
}
