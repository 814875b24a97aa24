/**
 * The key holder's core: the only code that holds the owner's secret key, and the only way a result
 * leaves encryption. It is not a decryption oracle. Before anything is decrypted:
 *   1. the gateway's log must hold an approval for the computation (`approved: true`, well-formed, same
 *      computation id): otherwise NOT_APPROVED, or PENDING_APPROVAL / REFUSED_BY_OWNER when the log shows
 *      that the owner has not decided yet or refused;
 *   2. the SHA-256 of the submitted ciphertext bytes must equal the approval's result hash, so a
 *      ciphertext that did not come out of that computation (one submitted from outside, or an upload
 *      of raw column data) is refused: HASH_MISMATCH;
 *   3. the approval must cover at least k spatial units: BELOW_K;
 *   4. the result cell must hold at least k records: DISCLOSURE.
 * After decryption, and before anything is returned:
 *   5. the ciphertext must decrypt correctly (BFV noise budget > 0): MALFORMED otherwise;
 *   6. every slot must hold the same value, which is what the aggregator's slot sum produces; anything
 *      else (e.g. a column ciphertext, whose slots are individual records) is refused: DISCLOSURE;
 *   7. a result of exactly zero is refused while `zerosDisclosive` (default): with non-negative data it
 *      says that every record in the cell is zero: DISCLOSURE.
 * Released values are rounded (ADR 0003): integer sums (BFV sum and weighted sum) to the nearest multiple
 * of a base (default 5), reals (CKKS results and every mean) to significant digits (default 4); halves
 * round away from zero. Only the rounded value is returned, with the rule used.
 *
 * The approval check is a function of the computation id (`ApprovalLookup`), so that the gateway's
 * verifiable log can back it; it must come from that log, never from the requester.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Decryptor, SecretKey } from 'node-seal';
import { KeyHolderRefusal } from './encrypted.errors.js';
import { sealErrorMessage, type HeContext } from './he-params.js';
import { loadSecretKey, type SecretKeyBytes } from './keys.js';
import { readSealHeader, sealInput, sha256Hex } from './seal-format.js';
import { withScope } from './seal-runtime.js';
import { createSlotEncoder, type SlotEncoder } from './slot-encoder.js';

/** What the gateway's log records when a computation's release is approved. */
export interface ApprovalRecord {
  readonly computationId: string;
  /** Lowercase hex SHA-256 of the result ciphertext bytes (AggregateCell.sum.hash). */
  readonly resultHash: string;
  /** Spatial units the result covers. */
  readonly unitsCovered: number;
  readonly approved: boolean;
  /** The owner's decision as the log shows it, when known: names the refusal of an unapproved computation. */
  readonly status?: 'approved' | 'pending' | 'refused';
}

/** Fetches the approval for a computation from the gateway's log; null when there is none. */
export type ApprovalLookup = (computationId: string) => Promise<ApprovalRecord | null>;

export type ReleaseKind = 'sum' | 'weightedSum' | 'mean';

export interface DecryptRequest {
  readonly computationId: string;
  readonly kind: ReleaseKind;
  /** The result ciphertext exactly as the aggregator serialised it. */
  readonly ciphertext: Uint8Array;
  /** Records in the result cell (AggregateCell.records): checked against k, and the divisor of a mean. */
  readonly records: number;
}

export type Rounding =
  { readonly rule: 'base'; readonly base: number } | { readonly rule: 'significant'; readonly digits: number };

export interface Released {
  /** The rounded value: the only form in which a result leaves the key holder. */
  readonly value: number;
  /** The rounding rule applied. */
  readonly rounded: Rounding;
}

/**
 * The key holder as the gateway sees it (the owner's process may run it in-process, as `KeyHolder`, or
 * behind a remote adapter). Contract: resolves with the rounded value only for a ciphertext whose exact
 * bytes the gateway's log approved, covering at least k units and k records, that passes disclosure
 * control; otherwise rejects with KeyHolderRefusal and decrypts nothing it would release.
 */
export interface KeyHolderPort {
  decrypt(request: DecryptRequest): Promise<Released>;
}

export interface KeyHolderOptions {
  /** Minimum units covered and records in a released result. */
  readonly k: number;
  readonly approvals: ApprovalLookup;
  /** For integer sums (BFV sum, weighted sum); default `{ rule: 'base', base: 5 }`. */
  readonly integerRounding?: Rounding;
  /** For CKKS results and every mean; default `{ rule: 'significant', digits: 4 }`. */
  readonly realRounding?: Rounding;
  /** Refuse results of exactly zero (CKKS: |value| <= 1e-4); default true. */
  readonly zerosDisclosive?: boolean;
}

const RELEASE_KINDS: readonly ReleaseKind[] = ['sum', 'weightedSum', 'mean'];
const HASH_HEX = /^[0-9a-f]{64}$/;
/**
 * CKKS results carry an absolute error of about 5e-6 at scale 2^40 (measured: slots of one slot sum
 * differ by up to 6e-6 whatever their magnitude). Slots within 1e-4 (plus 1e-9 relative, for doubles'
 * own precision on large values) count as equal, and |value| <= 1e-4 as zero.
 */
const CKKS_NOISE_FLOOR = 1e-4;

export class KeyHolder implements KeyHolderPort {
  private readonly secretKey: SecretKey;
  private readonly decryptor: Decryptor;
  private readonly encoder: SlotEncoder;
  private readonly k: number;
  private readonly integerRounding: Rounding;
  private readonly realRounding: Rounding;
  private readonly zerosDisclosive: boolean;
  private readonly approvals: ApprovalLookup;
  private decrypted = 0;

  constructor(
    private readonly ctx: HeContext,
    secret: SecretKeyBytes,
    options: KeyHolderOptions,
  ) {
    if (!Number.isSafeInteger(options.k) || options.k < 1) throw new RangeError(`k must be a whole number >= 1`);
    this.k = options.k;
    this.approvals = options.approvals;
    this.integerRounding = checkRounding(options.integerRounding ?? { rule: 'base', base: 5 });
    this.realRounding = checkRounding(options.realRounding ?? { rule: 'significant', digits: 4 });
    this.zerosDisclosive = options.zerosDisclosive ?? true;
    this.secretKey = loadSecretKey(ctx, secret);
    try {
      this.decryptor = new ctx.seal.Decryptor(ctx.context, this.secretKey);
      this.encoder = createSlotEncoder(ctx);
    } catch (err) {
      this.secretKey.delete();
      throw err;
    }
  }

  /** Ciphertexts decrypted so far (refusals before step 5 decrypt nothing and do not count). */
  get decryptions(): number {
    return this.decrypted;
  }

  /** Looks the computation's approval up in the gateway's log, then `decryptApproved`. */
  async decrypt(request: DecryptRequest): Promise<Released> {
    const approval = await this.approvals(request.computationId);
    return this.decryptApproved(request, approval);
  }

  /**
   * Decrypts `request.ciphertext` if, and only if, `approval` (from the gateway's log) approves exactly
   * these bytes and the result passes disclosure control; throws KeyHolderRefusal otherwise.
   */
  decryptApproved(request: DecryptRequest, approval: ApprovalRecord | null): Released {
    const refuse = (code: KeyHolderRefusal['code'], detail: string): never => {
      throw new KeyHolderRefusal(code, `${String(request.computationId)}: ${detail}`);
    };
    if (!isApproval(approval)) return refuse('NOT_APPROVED', 'no well-formed approval record');
    if (approval.approved !== true) {
      if (approval.status === 'pending') return refuse('PENDING_APPROVAL', 'the owner has not decided yet');
      if (approval.status === 'refused') return refuse('REFUSED_BY_OWNER', 'the owner refused it');
      return refuse('NOT_APPROVED', 'approval record says not approved');
    }
    if (typeof request.computationId !== 'string' || approval.computationId !== request.computationId) {
      return refuse('NOT_APPROVED', 'the approval is for another computation');
    }
    if (!(request.ciphertext instanceof Uint8Array)) return refuse('MALFORMED', 'no ciphertext bytes');
    if (!RELEASE_KINDS.includes(request.kind)) return refuse('MALFORMED', `unknown kind ${String(request.kind)}`);
    const actual = Buffer.from(sha256Hex(request.ciphertext), 'hex');
    if (!timingSafeEqual(actual, Buffer.from(approval.resultHash, 'hex'))) {
      return refuse('HASH_MISMATCH', 'ciphertext hash differs from the approved result');
    }
    if (approval.unitsCovered < this.k) {
      return refuse('BELOW_K', `covers ${approval.unitsCovered} units, k = ${this.k}`);
    }
    if (!Number.isSafeInteger(request.records) || request.records < this.k) {
      return refuse('DISCLOSURE', `${String(request.records)} records, k = ${this.k}`);
    }
    if (!readSealHeader(request.ciphertext)) return refuse('MALFORMED', 'no SEAL header');

    const raw = withScope((scope) => {
      const ct = scope.add(new this.ctx.seal.Ciphertext());
      try {
        ct.loadFromArray(this.ctx.context, sealInput(request.ciphertext));
      } catch (err) {
        return refuse('MALFORMED', `does not load: ${sealErrorMessage(err)}`);
      }
      if (ct.size() !== 2) return refuse('MALFORMED', `ciphertext of size ${ct.size()}`);
      if (this.ctx.spec.scheme === 'bfv' && this.decryptor.invariantNoiseBudget(ct) <= 0) {
        return refuse('MALFORMED', 'noise budget exhausted');
      }
      const pt = scope.add(new this.ctx.seal.Plaintext());
      this.decrypted++;
      this.decryptor.decrypt(ct, pt);
      const slots = this.encoder.decode(pt);
      const first = slots[0] as number;
      const tolerance = this.ctx.spec.scheme === 'bfv' ? 0 : CKKS_NOISE_FLOOR + 1e-9 * Math.abs(first);
      if (!slots.every((v) => Math.abs(v - first) <= tolerance)) {
        slots.fill(0);
        return refuse('DISCLOSURE', 'not an aggregate: slots differ');
      }
      slots.fill(0);
      return first;
    });
    const zero = this.ctx.spec.scheme === 'bfv' ? raw === 0 : Math.abs(raw) <= CKKS_NOISE_FLOOR;
    if (zero && this.zerosDisclosive) return refuse('DISCLOSURE', 'a zero result');
    const exact = request.kind === 'mean' ? raw / request.records : raw;
    const rule = request.kind === 'mean' || this.ctx.spec.scheme === 'ckks' ? this.realRounding : this.integerRounding;
    return { value: roundValue(exact, rule), rounded: rule };
  }

  delete(): void {
    this.encoder.delete();
    this.decryptor.delete();
    this.secretKey.delete();
  }
}

function isApproval(a: unknown): a is ApprovalRecord {
  if (typeof a !== 'object' || a === null) return false;
  const r = a as Record<string, unknown>;
  return (
    typeof r.computationId === 'string' &&
    typeof r.resultHash === 'string' &&
    HASH_HEX.test(r.resultHash) &&
    typeof r.unitsCovered === 'number' &&
    Number.isSafeInteger(r.unitsCovered) &&
    r.unitsCovered >= 0 &&
    typeof r.approved === 'boolean'
  );
}

function checkRounding(r: Rounding): Rounding {
  const ok =
    r.rule === 'base'
      ? Number.isFinite(r.base) && r.base > 0
      : Number.isInteger(r.digits) && r.digits >= 1 && r.digits <= 15;
  if (!ok) throw new RangeError(`invalid rounding ${JSON.stringify(r)}`);
  return Object.freeze({ ...r });
}

/** Rounds `x` by `rule`; halves go away from zero. */
export function roundValue(x: number, rule: Rounding): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  const sign = Math.sign(x);
  const a = Math.abs(x);
  if (rule.rule === 'base') return sign * Math.round(a / rule.base) * rule.base + 0;
  const exponent = Math.floor(Math.log10(a)) - rule.digits + 1;
  const unit = 10 ** Math.abs(exponent);
  // Divide or multiply by an exact power of ten so that integers and short decimals stay exact.
  const r = exponent >= 0 ? Math.round(a / unit) * unit : Math.round(a * unit) / unit;
  return sign * r + 0;
}

/**
 * Diagnostics for tests and the bench: the BFV invariant noise budget (bits) left in a serialised
 * ciphertext; null for CKKS, which has none. Needs the secret key; reveals nothing about the plaintext.
 */
export function measureNoiseBudget(ctx: HeContext, secret: SecretKeyBytes, ciphertext: Uint8Array): number | null {
  if (ctx.spec.scheme !== 'bfv') return null;
  return withScope((scope) => {
    const sk = scope.add(loadSecretKey(ctx, secret));
    const decryptor = scope.add(new ctx.seal.Decryptor(ctx.context, sk));
    const ct = scope.add(new ctx.seal.Ciphertext());
    ct.loadFromArray(ctx.context, sealInput(ciphertext));
    return decryptor.invariantNoiseBudget(ct);
  });
}
