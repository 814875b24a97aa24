import { Logger } from '@nestjs/common';
import type { AccessOutcome } from '../access/access.service.js';
import type { AccessRequest } from '../access/access-request.js';
import { DomainError } from '../errors/domain.error.js';
import type { Requester } from '../identity/requester.js';
import { fastCanonicalJson } from './canonical-json.js';
import type { ProvenanceLog, Receipt } from './provenance-log.port.js';
import {
  sha256Hex,
  type AccessRecord,
  type GrantRecord,
  type ProvenanceRecord,
  type ReleaseUndeliveredRecord,
  type UndeliveredReason,
} from './provenance-record.js';

const log = new Logger('ProvenanceRecorder');

/**
 * Builds the provenance record of a decision and appends it durably: the step every release and refusal
 * takes before anything reaches the caller (DataService, EncryptedColumnsService). A log that cannot write
 * becomes UNAVAILABLE, so nothing is released; after the append, `afterAppend` (the auditors' index, derived
 * and rebuilt from the log when behind) runs, and its failure is logged, never fatal. `onRelease` hears of every
 * durable release (an access record with `released: true`), so that a release whose response never reached its
 * caller can be followed by a `release.undelivered` record (ops/release-delivery.ts).
 */
export class ProvenanceRecorder {
  constructor(
    private readonly provenance: ProvenanceLog,
    private readonly afterAppend: (index: number, record: ProvenanceRecord) => Promise<void> = async () => undefined,
    private readonly onRelease: (receipt: Receipt, record: AccessRecord) => void = () => undefined,
  ) {}

  record(
    requester: Requester,
    request: AccessRequest,
    outcome: AccessOutcome,
    result: AccessRecord['outcome'],
  ): AccessRecord {
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

  /**
   * A step of a grant application or grant (src/grants/grants.service.ts). `actor` null: the gateway itself
   * (an expiry it observed).
   */
  grantRecord(
    actor: Requester | null,
    event: Omit<GrantRecord, 'v' | 'id' | 'at' | 'requester'>,
    at = new Date(),
  ): GrantRecord {
    return {
      v: 1,
      id: crypto.randomUUID(),
      at: at.toISOString(),
      requester: actor
        ? { sub: actor.sub, org: actor.org, roles: [...actor.roles], via: actor.via }
        : { sub: 'citygate', org: null, roles: [], via: 'system' },
      ...event,
    };
  }

  /** The note that the release at `receipt` (whose record is `release`) did not reach its caller. */
  undeliveredRecord(release: AccessRecord, receipt: Receipt, reason: UndeliveredReason): ReleaseUndeliveredRecord {
    return {
      v: 1,
      kind: 'release.undelivered',
      id: crypto.randomUUID(),
      at: new Date().toISOString(),
      requester: release.requester,
      dataset: release.dataset,
      release: { id: release.id, index: receipt.index, leafHash: receipt.leafHash },
      reason,
    };
  }

  async append(record: ProvenanceRecord): Promise<Receipt> {
    const receipt = await this.appendDurable(record);
    await this.index(receipt, record);
    return receipt;
  }

  /**
   * The durable append alone, for a caller that makes its change visible (commits) only once the record is
   * durable, and calls `index` after committing (grants: the index shares the store, whose transaction it
   * would otherwise wait on).
   */
  async appendDurable(record: ProvenanceRecord): Promise<Receipt> {
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
    if (record.kind === 'access' && record.outcome.released) this.onRelease(receipt, record);
    return receipt;
  }

  /** Adds a durable record to the auditors' index; a failure is logged (the index catches up from the log). */
  async index(receipt: Receipt, record: ProvenanceRecord): Promise<void> {
    await this.afterAppend(receipt.index, record).catch((err: unknown) =>
      log.warn(`audit index: ${(err as Error).message}`),
    );
  }
}
