import { Logger } from '@nestjs/common';
import type { AccessOutcome } from '../access/access.service.js';
import type { AccessRequest } from '../access/access-request.js';
import { DomainError } from '../errors/domain.error.js';
import type { Requester } from '../identity/requester.js';
import { fastCanonicalJson } from './canonical-json.js';
import type { ProvenanceLog, Receipt } from './provenance-log.port.js';
import { sha256Hex, type ProvenanceRecord } from './provenance-record.js';

const log = new Logger('ProvenanceRecorder');

/**
 * Builds the provenance record of a decision and appends it durably: the step every release and refusal
 * takes before anything reaches the caller (DataService, EncryptedColumnsService). A log that cannot write
 * becomes UNAVAILABLE, so nothing is released; after the append, `afterAppend` (the auditors' index, derived
 * and rebuilt from the log when behind) runs, and its failure is logged, never fatal.
 */
export class ProvenanceRecorder {
  constructor(
    private readonly provenance: ProvenanceLog,
    private readonly afterAppend: (index: number, record: ProvenanceRecord) => Promise<void> = async () => undefined,
  ) {}

  record(
    requester: Requester,
    request: AccessRequest,
    outcome: AccessOutcome,
    result: ProvenanceRecord['outcome'],
  ): ProvenanceRecord {
    return {
      v: 1,
      kind: 'access',
      id: outcome.allowed ? outcome.plan.id : crypto.randomUUID(),
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

  async append(record: ProvenanceRecord): Promise<Receipt> {
    let receipt: Receipt;
    try {
      receipt = await this.provenance.append(record);
    } catch (err) {
      throw new DomainError(
        'UNAVAILABLE',
        'The provenance log cannot record this request now; nothing was released.',
        err,
      );
    }
    await this.afterAppend(receipt.index, record).catch((err: unknown) =>
      log.warn(`audit index: ${(err as Error).message}`),
    );
    return receipt;
  }
}
