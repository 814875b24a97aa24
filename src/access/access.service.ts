import { randomUUID } from 'node:crypto';
import type { CatalogueService, Dataset } from '../catalogue/catalogue.service.js';
import type { FieldDef } from '../catalogue/catalogue.types.js';
import { badInput, DomainError, notFound } from '../errors/domain.error.js';
import type { GrantsRepository } from '../grants/grants.repository.js';
import type { Requester } from '../identity/requester.js';
import type { AccessRequest } from './access-request.js';
import type { Effect, PolicyInput, PolicyOutput } from './decision.js';
import type { PolicyEngine } from './policy-engine.port.js';

/** What a decision covered, for the provenance record. */
export interface DecisionSummary {
  allow: boolean;
  tier: PolicyOutput['tier'];
  effects: Record<string, Effect>;
  geometry: PolicyOutput['geometry']['effect'];
  minCell: number;
  extent: string[] | null;
  grantId: string | null;
  bundleRevision: string;
  reasons: string[];
}

interface PlanData {
  id: string;
  requester: Requester;
  dataset: Dataset;
  request: AccessRequest;
  decision: PolicyOutput;
  bundleRevision: string;
  decidedAt: Date;
}

let issuePlan: (d: PlanData) => AccessPlan;
const issued = new WeakSet<object>();

/**
 * A request the access service has decided to allow, with the obligations the query engine must apply.
 * Only this module can make one (private constructor; the factory is module-private), and the query
 * engine checks at run time that a plan it receives was issued here.
 */
export class AccessPlan {
  readonly #data: PlanData;
  private constructor(data: PlanData) {
    this.#data = Object.freeze(data);
    issued.add(this);
  }
  static {
    issuePlan = (d) => new AccessPlan(d);
  }
  get id(): string {
    return this.#data.id;
  }
  get requester(): Requester {
    return this.#data.requester;
  }
  get dataset(): Dataset {
    return this.#data.dataset;
  }
  get request(): AccessRequest {
    return this.#data.request;
  }
  get decision(): PolicyOutput {
    return this.#data.decision;
  }
  get bundleRevision(): string {
    return this.#data.bundleRevision;
  }
  get decidedAt(): Date {
    return this.#data.decidedAt;
  }
  effect(field: string): Effect {
    return this.#data.decision.fields[field]?.effect ?? 'deny';
  }
}

/** True only for plans issued by AccessService. */
export function isIssuedPlan(p: unknown): p is AccessPlan {
  return typeof p === 'object' && p !== null && issued.has(p);
}

export type AccessOutcome =
  | { allowed: true; plan: AccessPlan; summary: DecisionSummary }
  | { allowed: false; message: string; summary: DecisionSummary; dataset: Dataset };

interface MemoEntry {
  output: PolicyOutput;
  expiresAt: number;
}

const MEMO_MAX = 20_000;
const RAW_VISIBLE: readonly Effect[] = ['allow', 'mask', 'generalise'];

/**
 * The policy decision point: the one place where a request for data is decided. Facts come from the
 * catalogue (classifications) and casbin (grants); the tier rules are the OPA bundle. Deny by default.
 */
export class AccessService {
  private memo = new Map<string, MemoEntry>();
  memoHits = 0;
  memoMisses = 0;

  constructor(
    private readonly catalogue: CatalogueService,
    private readonly grants: GrantsRepository,
    private readonly engine: PolicyEngine,
    private readonly now: () => Date = () => new Date(),
  ) {
    // A grant change drops every memoised decision at once (the version in the key already keeps them unused).
    grants.onChange(() => this.memo.clear());
  }

  get bundleRevision(): string {
    return this.engine.revision;
  }

  /** Decides a request. Throws NOT_FOUND / BAD_USER_INPUT for malformed requests (no decision made). */
  async decide(requester: Requester, request: AccessRequest): Promise<AccessOutcome> {
    const dataset = this.catalogue.get(request.datasetId);
    if (!dataset) throw notFound('No such dataset.');
    const fieldNames = this.referencedFields(dataset, request);
    const now = this.now();
    const output = await this.evaluate(requester, dataset, request.mode, request.purpose, fieldNames, now);
    const summary = summarise(output, this.engine.revision);
    const refusal = output.allow ? checkUse(request, output) : refusalMessage(output);
    if (refusal) return { allowed: false, message: refusal, summary: { ...summary, allow: false }, dataset };
    const plan = issuePlan({
      id: randomUUID(),
      requester,
      dataset,
      request,
      decision: output,
      bundleRevision: this.engine.revision,
      decidedAt: now,
    });
    return { allowed: true, plan, summary };
  }

  /**
   * Whether `decide` would allow this request, for catalogue previews: the same decision and the same use
   * checks as the query path (not logged, not a release). NOT_FOUND and BAD_USER_INPUT count as "no".
   */
  async wouldAllow(requester: Requester, request: AccessRequest): Promise<boolean> {
    try {
      return (await this.decide(requester, request)).allowed;
    } catch (e) {
      if (e instanceof DomainError && (e.code === 'NOT_FOUND' || e.code === 'BAD_USER_INPUT')) return false;
      throw e;
    }
  }

  /** The decision the caller would get for these fields, for catalogue previews (not logged, not a release). */
  async preview(
    requester: Requester,
    dataset: Dataset,
    mode: AccessRequest['mode'],
    fields: string[],
  ): Promise<PolicyOutput> {
    return this.evaluate(requester, dataset, mode, null, fields, this.now());
  }

  private async evaluate(
    requester: Requester,
    dataset: Dataset,
    mode: PolicyInput['mode'],
    purpose: PolicyInput['purpose'],
    fieldNames: string[],
    now: Date,
  ): Promise<PolicyOutput> {
    const authenticated = requester.via === 'jwt';
    const org = authenticated ? requester.org : null;
    const roles = [...requester.roles].sort();
    // Another instance may have changed grants: catch up before deciding (a no-op on a single-process store).
    if (org) await this.grants.sync();
    const key = JSON.stringify([
      authenticated,
      org,
      roles,
      this.grants.version,
      this.catalogue.version,
      dataset.id,
      purpose,
      mode,
      this.engine.revision,
      fieldNames,
    ]);
    const hit = this.memo.get(key);
    if (hit && hit.expiresAt > now.getTime()) {
      this.memoHits += 1;
      return hit.output;
    }
    this.memoMisses += 1;
    const grants = org ? await this.grants.activeGrants(org, roles, dataset.id, now) : [];
    const input: PolicyInput = {
      requester: { authenticated, org, roles },
      purpose,
      mode,
      dataset: {
        id: dataset.id,
        ownerOrg: dataset.ownerOrg,
        grade: dataset.grade,
        personal: dataset.personal,
        openClass: dataset.openClass,
      },
      fields: fieldNames.map((n) => toInputField(dataset.fields.find((f) => f.name === n) as FieldDef)),
      grants: grants.map((g) => ({ id: g.id, purpose: g.purpose, fields: [...g.fields], extent: [...g.extent] })),
    };
    const output = this.engine.evaluate(input);
    if (this.memo.size >= MEMO_MAX) {
      const oldest = this.memo.keys().next().value;
      if (oldest !== undefined) this.memo.delete(oldest);
    }
    this.memo.set(key, {
      output,
      expiresAt: org ? this.grants.nextBoundary(org, dataset.id, now) : Number.POSITIVE_INFINITY,
    });
    return output;
  }

  /** Every dataset field the request touches (returned, filtered, sorted, grouped or measured), validated. */
  private referencedFields(dataset: Dataset, r: AccessRequest): string[] {
    const names = new Set<string>();
    const add = (name: string) => {
      if (!dataset.fields.some((f) => f.name === name)) {
        // Echo the name only when it looks like one: error messages never replay arbitrary input.
        const shown = /^[a-z_][a-z0-9_]{0,62}$/.test(name) ? `"${name}"` : '(not a valid field name)';
        throw badInput(`Unknown field ${shown} for dataset ${dataset.id}.`);
      }
      names.add(name);
    };
    if (r.mode === 'raw' || r.mode === 'sandbox') r.fields.forEach(add);
    r.filters.forEach((f) => add(f.field));
    r.sort.forEach((s) => add(s.field));
    if (r.groupBy?.kind === 'field') add(r.groupBy.field);
    for (const m of r.measures) if (m.field !== null) add(m.field);
    return [...names].sort();
  }
}

/** Obligations the decision implies for how the request may use each field. Returns a refusal message or null. */
function checkUse(r: AccessRequest, d: PolicyOutput): string | null {
  const eff = (f: string): Effect => d.fields[f]?.effect ?? 'deny';
  if (r.mode === 'raw') {
    for (const f of r.fields) {
      if (!RAW_VISIBLE.includes(eff(f))) return `You may not read field "${f}" of this dataset as records.`;
    }
  } else if (r.mode === 'sandbox') {
    // Inside the sandbox a job sees values as they are: only fields the policy allows outright.
    for (const f of r.fields) {
      if (eff(f) !== 'allow') return `You may not read field "${f}" of this dataset in the sandbox.`;
    }
  } else {
    for (const m of r.measures) {
      if (m.field === null) continue;
      const e = eff(m.field);
      if (e === 'deny') return `You may not aggregate field "${m.field}" of this dataset.`;
      if ((m.fn === 'min' || m.fn === 'max') && e !== 'allow') {
        return `min and max reveal a single record's value: not allowed on field "${m.field}".`;
      }
    }
    if (r.groupBy?.kind === 'field' && eff(r.groupBy.field) !== 'allow') {
      return `Grouping by a field you may not read ("${r.groupBy.field}") is refused.`;
    }
    // Building-level cells are for the public only where its minimum cell is 1 (a fully open, non-personal
    // dataset, docs/policy.md §4): anywhere else a building is too small a cell for a published statistic.
    if (r.groupBy?.kind === 'level' && r.groupBy.level === 'building' && d.tier === 'public' && d.minCell > 1) {
      return 'Public aggregates go no finer than communities.';
    }
  }
  for (const f of r.filters) {
    if (eff(f.field) !== 'allow') return `Filtering on a field you may not read ("${f.field}") is refused.`;
  }
  for (const s of r.sort) {
    if (eff(s.field) !== 'allow') return `Sorting on a field you may not read ("${s.field}") is refused.`;
  }
  return null;
}

function toInputField(f: FieldDef) {
  return { name: f.name, grade: f.grade, personal: f.personal, openClass: f.openClass, maskKind: f.maskKind };
}

function summarise(d: PolicyOutput, revision: string): DecisionSummary {
  return {
    allow: d.allow,
    tier: d.tier,
    effects: Object.fromEntries(Object.entries(d.fields).map(([k, v]) => [k, v.effect])),
    geometry: d.geometry.effect,
    minCell: d.minCell,
    extent: d.extent,
    grantId: d.grantId,
    bundleRevision: revision,
    reasons: d.reasons,
  };
}

function refusalMessage(d: PolicyOutput): string {
  switch (d.tier) {
    case 'auditor':
      return 'Auditors see provenance metadata, never data values.';
    case 'public':
      return 'This dataset is not open to the public in this mode.';
    case 'department':
      return 'This request needs a grant for the purpose given.';
    case 'granted':
      return 'Your grant does not cover this request.';
    case 'owner':
      return 'This request is not allowed.';
  }
}
