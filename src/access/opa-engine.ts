/**
 * PolicyEngine adapter that evaluates the compiled Rego bundle (policies/build/policy.wasm, entrypoint
 * `citygate/decision`) in-process with @open-policy-agent/opa-wasm. Deny by default: a thrown error, an
 * undefined result or an output that is not exactly a PolicyOutput becomes a denial; `evaluate` never
 * throws. See docs/adr/0001-policy-engine.md.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import { MASK_KINDS, type MaskKind } from '../catalogue/classification.js';
import {
  EFFECTS,
  TIERS,
  type Effect,
  type FieldDecision,
  type GeometryDecision,
  type PolicyInput,
  type PolicyOutput,
  type Tier,
} from './decision.js';
import type { PolicyEngine } from './policy-engine.port.js';

/** The wasm entrypoint the bundle is built with (deploy/tools/policy-build.sh). */
export const POLICY_ENTRYPOINT = 'citygate/decision';

/** Denial reasons for a decision the policy could not make. */
export const POLICY_ERROR = 'policy-error';
export const POLICY_UNDEFINED = 'policy-undefined';
export type PolicyFailure = typeof POLICY_ERROR | typeof POLICY_UNDEFINED;

export interface OpaPolicyEngineOptions {
  /**
   * Called with a description of every evaluation that ended in a policy-error / policy-undefined
   * denial, for the server log. The description names fields and rule locations, never data values.
   */
  onFailure?: (failure: PolicyFailure, problem: string) => void;
}

/**
 * The refusal of everything: allow false, every requested field denied with `reason`, geometry denied,
 * minCell 10, no extent, no grant. Its tier is `public`, the least privileged tier that sees data.
 */
export function denial(input: PolicyInput, reason: string): PolicyOutput {
  const requested: unknown = (input as Partial<PolicyInput> | null | undefined)?.fields;
  const names = Array.isArray(requested) ? requested.map((f: unknown) => (f as { name?: unknown } | null)?.name) : [];
  return {
    allow: false,
    tier: 'public',
    // fromEntries defines own properties, so a field named "__proto__" cannot reach the prototype.
    fields: Object.fromEntries(
      names
        .filter((n): n is string => typeof n === 'string')
        .map((n): [string, FieldDecision] => [n, { effect: 'deny', reason }]),
    ),
    geometry: { effect: 'deny' },
    minCell: 10,
    extent: null,
    grantId: null,
    reasons: [reason],
  };
}

export type PolicyOutputCheck =
  { ok: true; output: PolicyOutput } | { ok: false; failure: PolicyFailure; problem: string };

const OUTPUT_KEYS = ['allow', 'tier', 'fields', 'geometry', 'minCell', 'extent', 'grantId', 'reasons'] as const;
const GEOMETRY_EFFECTS: readonly GeometryDecision['effect'][] = ['allow', 'generalise', 'deny'];
const H3_MAX_RESOLUTION = 15;

class Malformed extends Error {
  constructor(
    readonly failure: PolicyFailure,
    problem: string,
  ) {
    super(problem);
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const own = (o: Record<string, unknown>, key: string): boolean => Object.prototype.hasOwnProperty.call(o, key);

const oneOf = <T extends string>(allowed: readonly T[], v: unknown): v is T =>
  typeof v === 'string' && (allowed as readonly string[]).includes(v);

function onlyKeys(o: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const key of Object.keys(o)) {
    if (!allowed.includes(key)) throw new Malformed(POLICY_ERROR, `${where} has an unexpected key "${key}"`);
  }
}

function fieldDecision(raw: unknown, where: string): FieldDecision {
  if (!isRecord(raw)) throw new Malformed(POLICY_ERROR, `${where} is not an object`);
  onlyKeys(raw, ['effect', 'mask', 'reason'], where);
  const { effect, mask, reason } = raw;
  if (!oneOf<Effect>(EFFECTS, effect)) throw new Malformed(POLICY_ERROR, `${where}.effect is not a known effect`);
  if (typeof reason !== 'string') throw new Malformed(POLICY_ERROR, `${where}.reason is not a string`);
  if (effect === 'mask') {
    if (!oneOf<MaskKind>(MASK_KINDS, mask)) throw new Malformed(POLICY_ERROR, `${where}.mask is not a known mask kind`);
    return { effect, mask, reason };
  }
  if (own(raw, 'mask')) throw new Malformed(POLICY_ERROR, `${where}.mask is present but the effect is not mask`);
  return { effect, reason };
}

function geometryDecision(raw: unknown): GeometryDecision {
  if (!isRecord(raw)) throw new Malformed(POLICY_ERROR, 'geometry is not an object');
  onlyKeys(raw, ['effect', 'h3Resolution'], 'geometry');
  const { effect, h3Resolution } = raw;
  if (!oneOf(GEOMETRY_EFFECTS, effect)) throw new Malformed(POLICY_ERROR, 'geometry.effect is not a known effect');
  if (effect === 'generalise') {
    if (
      typeof h3Resolution !== 'number' ||
      !Number.isInteger(h3Resolution) ||
      h3Resolution < 0 ||
      h3Resolution > H3_MAX_RESOLUTION
    ) {
      throw new Malformed(POLICY_ERROR, 'geometry.h3Resolution is not an H3 resolution (0..15)');
    }
    return { effect, h3Resolution };
  }
  if (own(raw, 'h3Resolution')) {
    throw new Malformed(POLICY_ERROR, 'geometry.h3Resolution is present but the effect is not generalise');
  }
  return { effect };
}

function stringArray(raw: unknown, where: string): string[] {
  if (!Array.isArray(raw) || !raw.every((s) => typeof s === 'string')) {
    throw new Malformed(POLICY_ERROR, `${where} is not a list of strings`);
  }
  return [...raw];
}

/**
 * Checks that `raw` (the `result` of one evaluation) is exactly a PolicyOutput for `input`: the eight
 * keys and no others, known effects, `mask` only with effect mask, `h3Resolution` only with geometry
 * generalise, a decision for every requested field and for nothing else, and no allowed request with a
 * denied field. A missing key or field decision is `policy-undefined` (a rule left undefined); anything
 * else wrong is `policy-error`. Returns a fresh object, never `raw` itself.
 */
export function validatePolicyOutput(input: PolicyInput, raw: unknown): PolicyOutputCheck {
  try {
    if (raw === undefined) throw new Malformed(POLICY_UNDEFINED, 'the result is undefined');
    if (!isRecord(raw)) throw new Malformed(POLICY_ERROR, 'the result is not an object');
    for (const key of OUTPUT_KEYS) {
      if (!own(raw, key)) throw new Malformed(POLICY_UNDEFINED, `${key} is undefined`);
    }
    onlyKeys(raw, OUTPUT_KEYS, 'the result');

    const { allow, tier, fields, minCell, extent, grantId } = raw;
    if (typeof allow !== 'boolean') throw new Malformed(POLICY_ERROR, 'allow is not a boolean');
    if (!oneOf<Tier>(TIERS, tier)) throw new Malformed(POLICY_ERROR, 'tier is not a known tier');
    if (!isRecord(fields)) throw new Malformed(POLICY_ERROR, 'fields is not an object');
    const requested = new Set(input.fields.map((f) => f.name));
    for (const name of Object.keys(fields)) {
      if (!requested.has(name)) {
        throw new Malformed(POLICY_ERROR, `fields has a decision for "${name}", which was not requested`);
      }
    }
    const decisions: [string, FieldDecision][] = [];
    for (const name of requested) {
      if (!own(fields, name)) throw new Malformed(POLICY_UNDEFINED, `no decision for requested field "${name}"`);
      decisions.push([name, fieldDecision(fields[name], `fields["${name}"]`)]);
    }
    if (allow && decisions.some(([, d]) => d.effect === 'deny')) {
      throw new Malformed(POLICY_ERROR, 'allow is true although a requested field is denied');
    }
    const geometry = geometryDecision(raw.geometry);
    if (!Number.isSafeInteger(minCell) || (minCell as number) < 1) {
      throw new Malformed(POLICY_ERROR, 'minCell is not a positive integer');
    }
    if (grantId !== null && typeof grantId !== 'string') {
      throw new Malformed(POLICY_ERROR, 'grantId is neither null nor a string');
    }

    return {
      ok: true,
      output: {
        allow,
        tier,
        fields: Object.fromEntries(decisions),
        geometry,
        minCell: minCell as number,
        extent: extent === null ? null : stringArray(extent, 'extent'),
        grantId,
        reasons: stringArray(raw.reasons, 'reasons'),
      },
    };
  } catch (err) {
    if (err instanceof Malformed) return { ok: false, failure: err.failure, problem: err.message };
    return { ok: false, failure: POLICY_ERROR, problem: `validation failed: ${describe(err)}` };
  }
}

/** opa-wasm throws strings (aborts) as well as Errors. */
function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === 'string' ? err : 'unknown error';
}

type LoadedPolicy = Awaited<ReturnType<typeof loadPolicy>>;

/** Evaluated once at load: a bundle that cannot decide this is refused. */
const CANARY_INPUT: PolicyInput = {
  requester: { authenticated: false, org: null, roles: [] },
  purpose: null,
  mode: 'aggregate',
  dataset: { id: 'canary', ownerOrg: 'canary', grade: 'general', personal: 'none', openClass: 'unconditional' },
  fields: [{ name: 'canary', grade: 'general', personal: 'none', openClass: 'unconditional', maskKind: 'redact' }],
  grants: [],
};

export class OpaPolicyEngine implements PolicyEngine {
  private constructor(
    private readonly policy: LoadedPolicy,
    /** First 16 hex characters of the sha256 of the wasm bytes (as in policies/build/MANIFEST.json). */
    readonly revision: string,
    private readonly options: OpaPolicyEngineOptions,
  ) {}

  /**
   * Loads a compiled bundle. Rejects with a message naming the path when the file cannot be read, is not
   * an OPA wasm module, lacks the citygate/decision entrypoint or cannot decide a canary request; the
   * caller then denies everything.
   */
  static async load(wasmPath: string | URL, options: OpaPolicyEngineOptions = {}): Promise<OpaPolicyEngine> {
    const where = String(wasmPath);
    let bytes: Buffer;
    try {
      bytes = await readFile(wasmPath);
    } catch (err) {
      throw new Error(`Cannot read the policy bundle ${where}: ${describe(err)}`, { cause: err });
    }
    let policy: LoadedPolicy;
    try {
      policy = await loadPolicy(bytes);
    } catch (err) {
      throw new Error(`The policy bundle ${where} is not a loadable OPA wasm module: ${describe(err)}`, { cause: err });
    }
    const entrypoints: unknown = policy.entrypoints;
    if (!isRecord(entrypoints) || !own(entrypoints, POLICY_ENTRYPOINT)) {
      throw new Error(`The policy bundle ${where} has no ${POLICY_ENTRYPOINT} entrypoint (run npm run policy:build).`);
    }
    const revision = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
    const engine = new OpaPolicyEngine(policy, revision, options);
    const canary = engine.decide(CANARY_INPUT);
    if (!canary.ok) {
      throw new Error(
        `The policy bundle ${where} (revision ${revision}) does not return a PolicyOutput: ${canary.problem}`,
      );
    }
    return engine;
  }

  /** The decision for `input`; a denial whenever the policy cannot decide. Never throws. */
  evaluate(input: PolicyInput): PolicyOutput {
    let checked: PolicyOutputCheck;
    try {
      checked = this.decide(input);
    } catch (err) {
      // decide() catches what it expects; this keeps the promise that evaluate never throws.
      checked = { ok: false, failure: POLICY_ERROR, problem: describe(err) };
    }
    if (checked.ok) return checked.output;
    try {
      this.options.onFailure?.(checked.failure, checked.problem);
    } catch {
      // a failing logger must not turn a denial into an exception
    }
    return denial(input, checked.failure);
  }

  private decide(input: PolicyInput): PolicyOutputCheck {
    let resultSet: unknown;
    try {
      resultSet = this.policy.evaluate(input, POLICY_ENTRYPOINT);
    } catch (err) {
      return { ok: false, failure: POLICY_ERROR, problem: `evaluation failed: ${describe(err)}` };
    }
    if (!Array.isArray(resultSet) || resultSet.length === 0) {
      return { ok: false, failure: POLICY_UNDEFINED, problem: 'the result set is empty' };
    }
    if (resultSet.length !== 1 || !isRecord(resultSet[0])) {
      return { ok: false, failure: POLICY_ERROR, problem: 'the result set is not a single result' };
    }
    return validatePolicyOutput(input, resultSet[0].result);
  }
}
