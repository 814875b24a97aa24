/**
 * The owner's approval of encrypted computations (DESIGN.md §8, docs/encrypted-columns.md). A computation on an
 * encrypted column is logged `pending` unless one of the owner's standing rules for that dataset and column
 * covers it (the record then names the rule). A pending computation waits for the owning organisation's owner,
 * who approves or refuses it. Every decision and every rule change is a provenance record, durable before it
 * takes effect; the key holder decrypts only what it can verify from those records (keyholder.server.ts).
 *
 * Who may act: an owner (JWT, role `owner`) of the dataset's organisation. Anyone else is FORBIDDEN; an owner
 * gets NOT_FOUND for an id that is not among its own organisation's, whether it exists or not, so that ids of
 * other organisations' computations and rules cannot be probed.
 */
import { PURPOSES, type Purpose } from '../access/decision.js';
import type { CatalogueService, Dataset } from '../catalogue/catalogue.service.js';
import { badInput, forbidden, notFound } from '../errors/domain.error.js';
import type { Requester } from '../identity/requester.js';
import type { Receipt } from '../ledger/provenance-log.port.js';
import type {
  AccessRecord,
  EncryptedApprovalRule,
  EncryptedDecisionRecord,
  EncryptedRuleRecord,
} from '../ledger/provenance-record.js';
import type { ProvenanceRecorder } from '../ledger/provenance-recorder.js';
import type { Db, Queryable } from '../store/db.port.js';
import { ruleCovers, type ComputationFacts } from './approval-rule.js';

export type ComputationStatus = 'pending' | 'approved' | 'refused';
export const COMPUTATION_STATUSES: readonly ComputationStatus[] = ['pending', 'approved', 'refused'];
const RULE_KINDS = ['sum', 'count', 'mean', 'weightedSum'];
const NUMERIC = new Set(['int', 'float']);
const MAX_REASON = 500;
const MAX_RULE_ORGS = 50;
const MAX_LISTED = 500;

export type Approval = NonNullable<NonNullable<AccessRecord['encrypted']>['approval']>;

export interface EncryptedComputation {
  computationId: string;
  dataset: string;
  column: string;
  kind: string;
  keyId: string;
  requesterSub: string;
  requesterOrg: string | null;
  purpose: string | null;
  cells: number;
  /** The fewest units any released cell covers. */
  minUnitsCovered: number;
  /** Log index of the computation's record. */
  receiptIndex: number;
  status: ComputationStatus;
  /** The standing rule that approved it, if any. */
  ruleId: string | null;
  /** Log index of the owner's decision record (manual approvals and refusals). */
  decisionIndex: number | null;
  decidedBy: string | null;
  reason: string | null;
  createdAt: string;
  decidedAt: string | null;
}

export interface ApprovalRuleInput {
  dataset: string;
  column: string;
  orgs: string[];
  purposes: string[] | null;
  kinds: string[] | null;
  minUnits: number;
}

export interface ApprovalRule extends EncryptedApprovalRule {
  dataset: string;
  createdBy: string;
  createdAt: string;
  /** Log index of the record that set the rule. */
  setIndex: number;
  revokedAt: string | null;
  revokedBy: string | null;
  revokeIndex: number | null;
  revokeReason: string | null;
}

export class EncryptedApprovalsService {
  constructor(
    private readonly db: Db,
    private readonly catalogue: CatalogueService,
    private readonly recorder: ProvenanceRecorder,
  ) {}

  /** The approval a new computation is logged with: the oldest active rule that covers it, else pending. */
  async standingApproval(c: ComputationFacts): Promise<Approval> {
    const rules = await this.db.query<Record<string, unknown>>(
      `select * from he_approval_rules where dataset_id = $1 and column_name = $2 and revoked_at is null
       order by set_index`,
      [c.datasetId, c.column],
    );
    const rule = rules.map(toRule).find((r) => ruleCovers(r, c));
    return rule ? { status: 'approved', ruleId: rule.id, ruleIndex: rule.setIndex } : { status: 'pending' };
  }

  /** Remembers a logged computation, so that its owner can find and decide it. */
  async track(record: AccessRecord, receipt: Receipt): Promise<void> {
    const enc = record.encrypted;
    const ds = this.catalogue.get(record.dataset);
    if (!enc || !ds) return;
    const approval = enc.approval ?? { status: 'pending' };
    const units = enc.cells.map((c) => c.unitsCovered);
    await this.db.query(
      `insert into he_computations (computation_id, dataset_id, column_name, owner_org, key_id, kind, requester_sub,
         requester_org, purpose, cells, min_units, log_index, leaf_hash, status, rule_id, decided_by, decided_at)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
       on conflict (computation_id) do nothing`,
      [
        enc.computationId,
        record.dataset,
        enc.column,
        ds.ownerOrg,
        enc.keyId,
        enc.kind,
        record.requester.sub,
        record.requester.org,
        record.purpose,
        enc.cells.length,
        units.length > 0 ? Math.min(...units) : 0,
        receipt.index,
        receipt.leafHash,
        approval.status,
        approval.status === 'approved' ? approval.ruleId : null,
        approval.status === 'approved' ? 'rule' : null,
        approval.status === 'approved' ? record.at : null,
      ],
    );
  }

  /** The owner's computations, newest first (optionally of one dataset and one status). */
  async computations(
    requester: Requester,
    filter: { dataset: string | null; status: string | null },
  ): Promise<EncryptedComputation[]> {
    const org = this.ownerOrg(requester);
    if (filter.status !== null && !COMPUTATION_STATUSES.includes(filter.status as ComputationStatus)) {
      throw badInput(`status is one of ${COMPUTATION_STATUSES.join(', ')}.`);
    }
    const rows = await this.db.query<Record<string, unknown>>(
      `select * from he_computations where owner_org = $1 and ($2::text is null or dataset_id = $2)
         and ($3::text is null or status = $3) order by created_at desc, log_index desc limit ${MAX_LISTED}`,
      [org, filter.dataset, filter.status],
    );
    return rows.map(toComputation);
  }

  async computation(requester: Requester, id: string): Promise<EncryptedComputation> {
    return toComputation(await this.ownComputation(this.db, requester, id));
  }

  approve(requester: Requester, id: string, reason: string | null): Promise<EncryptedComputation> {
    return this.decide(requester, id, 'approved', reason);
  }

  refuse(requester: Requester, id: string, reason: string): Promise<EncryptedComputation> {
    if (!reason?.trim()) throw badInput('Say why the computation is refused.');
    return this.decide(requester, id, 'refused', reason);
  }

  /** Logs the decision (durable) inside the transaction that changes the status: no change without its record. */
  private async decide(
    requester: Requester,
    id: string,
    status: 'approved' | 'refused',
    reason: string | null,
  ): Promise<EncryptedComputation> {
    const why = checkReason(reason);
    let appended: { record: EncryptedDecisionRecord; receipt: Receipt } | null = null;
    const row = await this.db.transaction(async (tx) => {
      const c = toComputation(await this.ownComputation(tx, requester, id, true));
      if (c.status !== 'pending') throw badInput(`The computation is already ${c.status}.`);
      const record: EncryptedDecisionRecord = {
        v: 1,
        kind: status === 'approved' ? 'he-approved' : 'he-refused',
        id: crypto.randomUUID(),
        at: new Date().toISOString(),
        requester: actor(requester),
        dataset: c.dataset,
        ownerOrg: requester.org as string,
        computation: {
          id: c.computationId,
          index: c.receiptIndex,
          leafHash: await this.leafHashOf(tx, c.computationId),
          column: c.column,
          keyId: c.keyId,
        },
        reason: why,
      };
      const receipt = await this.recorder.appendDurable(record);
      appended = { record, receipt };
      const updated = await tx.query<Record<string, unknown>>(
        `update he_computations set status = $2, decision_index = $3, decided_by = $4, reason = $5,
           decided_at = $6 where computation_id = $1 returning *`,
        [id, status, receipt.index, requester.sub, why, record.at],
      );
      return updated[0] as Record<string, unknown>;
    });
    await this.indexAfterCommit(appended);
    return toComputation(row);
  }

  /** The owner's rules (optionally of one dataset), oldest first; revoked ones only when asked. */
  async rules(requester: Requester, dataset: string | null, includeRevoked: boolean): Promise<ApprovalRule[]> {
    const org = this.ownerOrg(requester);
    const rows = await this.db.query<Record<string, unknown>>(
      `select * from he_approval_rules where owner_org = $1 and ($2::text is null or dataset_id = $2)
         and ($3::boolean or revoked_at is null) order by set_index limit ${MAX_LISTED}`,
      [org, dataset, includeRevoked],
    );
    return rows.map(toRule);
  }

  /** Sets a standing rule; it approves computations logged after its record is durable. */
  async setRule(requester: Requester, input: ApprovalRuleInput, reason: string | null): Promise<ApprovalRule> {
    const org = this.ownerOrg(requester);
    const ds = this.catalogue.get(input.dataset);
    // Another organisation's dataset reads as an unknown one.
    if (!ds || ds.ownerOrg !== org) throw notFound('No such dataset among your organisation’s.');
    const rule = await this.checkRule(ds, input);
    const why = checkReason(reason);
    let appended: { record: EncryptedRuleRecord; receipt: Receipt } | null = null;
    const row = await this.db.transaction(async (tx) => {
      const record: EncryptedRuleRecord = {
        v: 1,
        kind: 'he-rule-set',
        id: crypto.randomUUID(),
        at: new Date().toISOString(),
        requester: actor(requester),
        dataset: ds.id,
        ownerOrg: org,
        rule,
        reason: why,
      };
      const receipt = await this.recorder.appendDurable(record);
      appended = { record, receipt };
      const rows = await tx.query<Record<string, unknown>>(
        `insert into he_approval_rules (rule_id, owner_org, dataset_id, column_name, orgs, purposes, kinds, min_units,
           created_by, created_at, set_index)
         values ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7::jsonb, $8, $9, $10, $11) returning *`,
        [
          rule.id,
          org,
          ds.id,
          rule.column,
          JSON.stringify(rule.orgs),
          rule.purposes === null ? null : JSON.stringify(rule.purposes),
          rule.kinds === null ? null : JSON.stringify(rule.kinds),
          rule.minUnits,
          requester.sub,
          record.at,
          receipt.index,
        ],
      );
      return rows[0] as Record<string, unknown>;
    });
    await this.indexAfterCommit(appended);
    return toRule(row);
  }

  /** Revokes a rule: computations logged after the revocation record are no longer approved by it. */
  async revokeRule(requester: Requester, id: string, reason: string): Promise<ApprovalRule> {
    const org = this.ownerOrg(requester);
    if (!reason?.trim()) throw badInput('Say why the rule is revoked.');
    const why = checkReason(reason);
    let appended: { record: EncryptedRuleRecord; receipt: Receipt } | null = null;
    const row = await this.db.transaction(async (tx) => {
      const found = await tx.query<Record<string, unknown>>(
        `select * from he_approval_rules where rule_id = $1 and owner_org = $2 for update`,
        [String(id), org],
      );
      if (!found[0]) throw notFound('No such rule among your organisation’s.');
      const rule = toRule(found[0]);
      if (rule.revokedAt !== null) throw badInput('The rule is already revoked.');
      const record: EncryptedRuleRecord = {
        v: 1,
        kind: 'he-rule-revoked',
        id: crypto.randomUUID(),
        at: new Date().toISOString(),
        requester: actor(requester),
        dataset: rule.dataset,
        ownerOrg: org,
        rule: {
          id: rule.id,
          column: rule.column,
          orgs: rule.orgs,
          purposes: rule.purposes,
          kinds: rule.kinds,
          minUnits: rule.minUnits,
        },
        reason: why,
      };
      const receipt = await this.recorder.appendDurable(record);
      appended = { record, receipt };
      const rows = await tx.query<Record<string, unknown>>(
        `update he_approval_rules set revoked_at = $2, revoked_by = $3, revoke_index = $4, revoke_reason = $5
         where rule_id = $1 returning *`,
        [rule.id, record.at, requester.sub, receipt.index, why],
      );
      return rows[0] as Record<string, unknown>;
    });
    await this.indexAfterCommit(appended);
    return toRule(row);
  }

  // --- who may act ---------------------------------------------------------------------------------------------

  /** The caller's organisation, if the caller is one of its owners; FORBIDDEN otherwise. */
  private ownerOrg(requester: Requester): string {
    if (requester.via !== 'jwt' || !requester.roles.includes('owner') || requester.org === null) {
      throw forbidden('Only an owner of the owning organisation approves encrypted computations.');
    }
    return requester.org;
  }

  /** A computation of the caller's organisation; NOT_FOUND alike for unknown ids and other organisations'. */
  private async ownComputation(
    q: Queryable,
    requester: Requester,
    id: string,
    lock = false,
  ): Promise<Record<string, unknown>> {
    const org = this.ownerOrg(requester);
    const rows = await q.query<Record<string, unknown>>(
      `select * from he_computations where computation_id = $1 and owner_org = $2${lock ? ' for update' : ''}`,
      [String(id), org],
    );
    if (!rows[0]) throw notFound('No such computation among your organisation’s.');
    return rows[0];
  }

  private async leafHashOf(q: Queryable, id: string): Promise<string> {
    const rows = await q.query<{ leaf_hash: string }>(
      `select leaf_hash from he_computations where computation_id = $1`,
      [id],
    );
    return String(rows[0]?.leaf_hash);
  }

  private async checkRule(ds: Dataset, input: ApprovalRuleInput): Promise<EncryptedApprovalRule> {
    const field = ds.fields.find((f) => f.name === input.column);
    if (!field || !NUMERIC.has(field.type)) throw badInput('Encrypted columns are numeric fields of the dataset.');
    const orgs = [...new Set(input.orgs ?? [])].sort();
    if (orgs.length === 0 || orgs.length > MAX_RULE_ORGS) {
      throw badInput(`A rule names 1 to ${MAX_RULE_ORGS} organisations.`);
    }
    const known = await this.db.query<{ id: string }>(`select id from orgs where id = any($1::text[])`, [orgs]);
    const missing = orgs.find((o) => !known.some((k) => k.id === o));
    if (missing !== undefined) throw badInput(`Unknown organisation "${missing.slice(0, 80)}".`);
    const list = (values: string[] | null, allowed: readonly string[], what: string): string[] | null => {
      if (values === null || values === undefined) return null;
      const set = [...new Set(values)].sort();
      const bad = set.find((v) => !allowed.includes(v));
      if (set.length === 0 || bad !== undefined) {
        throw badInput(`${what} are some of ${allowed.join(', ')} (or null for any).`);
      }
      return set;
    };
    const purposes = list(input.purposes, PURPOSES, 'purposes') as Purpose[] | null;
    const kinds = list(input.kinds, RULE_KINDS, 'kinds');
    if (!Number.isSafeInteger(input.minUnits) || input.minUnits < 1 || input.minUnits > 1_000_000) {
      throw badInput('minUnits is a whole number from 1.');
    }
    return { id: crypto.randomUUID(), column: input.column, orgs, purposes, kinds, minUnits: input.minUnits };
  }

  private async indexAfterCommit(
    appended: { record: EncryptedDecisionRecord | EncryptedRuleRecord; receipt: Receipt } | null,
  ): Promise<void> {
    if (appended) await this.recorder.index(appended.receipt, appended.record);
  }
}

function actor(r: Requester): EncryptedDecisionRecord['requester'] {
  return { sub: r.sub, org: r.org, roles: [...r.roles], via: r.via };
}

function checkReason(reason: string | null): string | null {
  if (reason === null || reason === undefined) return null;
  const r = String(reason).trim();
  if (r.length > MAX_REASON) throw badInput(`A reason has at most ${MAX_REASON} characters.`);
  return r === '' ? null : r;
}

const iso = (v: unknown): string | null =>
  v === null || v === undefined ? null : new Date(v instanceof Date ? v : (v as string)).toISOString();
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function toComputation(r: Record<string, unknown>): EncryptedComputation {
  return {
    computationId: String(r.computation_id),
    dataset: String(r.dataset_id),
    column: String(r.column_name),
    kind: String(r.kind),
    keyId: String(r.key_id),
    requesterSub: String(r.requester_sub),
    requesterOrg: (r.requester_org as string | null) ?? null,
    purpose: (r.purpose as string | null) ?? null,
    cells: Number(r.cells),
    minUnitsCovered: Number(r.min_units),
    receiptIndex: Number(r.log_index),
    status: r.status as ComputationStatus,
    ruleId: (r.rule_id as string | null) ?? null,
    decisionIndex: num(r.decision_index),
    decidedBy: (r.decided_by as string | null) ?? null,
    reason: (r.reason as string | null) ?? null,
    createdAt: iso(r.created_at) as string,
    decidedAt: iso(r.decided_at),
  };
}

function toRule(r: Record<string, unknown>): ApprovalRule {
  return {
    id: String(r.rule_id),
    dataset: String(r.dataset_id),
    column: String(r.column_name),
    orgs: r.orgs as string[],
    purposes: (r.purposes as Purpose[] | null) ?? null,
    kinds: (r.kinds as string[] | null) ?? null,
    minUnits: Number(r.min_units),
    createdBy: String(r.created_by),
    createdAt: iso(r.created_at) as string,
    setIndex: Number(r.set_index),
    revokedAt: iso(r.revoked_at),
    revokedBy: (r.revoked_by as string | null) ?? null,
    revokeIndex: num(r.revoke_index),
    revokeReason: (r.revoke_reason as string | null) ?? null,
  };
}
