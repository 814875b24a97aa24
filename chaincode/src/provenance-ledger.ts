/**
 * The rules of CityGate's provenance ledger, independent of Fabric's API (see world-state.port.ts):
 *
 * - the log's Ed25519 public key is registered once, by an administrator of the data authority;
 * - a signed tree head is anchored only if it verifies under that key and is proven, by an RFC 9162 consistency
 *   proof checked here, to extend the last anchored head: a smaller tree (rollback), a different root at the
 *   same size (fork), or a proof that does not verify is refused; the same head again changes nothing;
 * - grant lifecycle steps (applied → approved | rejected, approved → revoked | expired) are kept under the
 *   grant id, each naming the provenance record (hash and log index) that logged it, so that the key's history
 *   is the grant's life;
 * - releases of sandbox and encrypted outputs are recorded once by their hash.
 *
 * Every write emits an event. Everything is deterministic: no clock, no randomness, sorted JSON.
 */
import { LedgerError } from './errors';
import { parseJson, stableJson } from './json';
import { verifyConsistency } from './merkle';
import { parseLogKey, parseTreeHead, signatureVerifies, type SignedTreeHead } from './tree-head';
import type { WorldState } from './world-state.port';

export const KEY_LOG_KEY = 'logkey';
export const KEY_LATEST_HEAD = 'treehead-latest';
const HEAD_PREFIX = 'treehead/';
const GRANT_PREFIX = 'grant/';
const RELEASE_PREFIX = 'release/';
/** Most entries one range read returns. */
export const MAX_RANGE = 1000;
/** A consistency proof has at most about 2·log2(size) elements. */
const MAX_PROOF = 128;
const MAX_ARG = 16 * 1024;

const HEX32 = /^[0-9a-f]{64}$/;
const ID = /^[A-Za-z0-9._:-]{1,128}$/;
const MSP = /^[A-Za-z0-9._-]{1,64}$/;

export interface LogKeyRecord {
  publicKeyPem: string;
  logId: string;
  registeredBy: { mspId: string; subject: string };
  at: string;
  txId: string;
}

export interface TreeHeadAnchor extends SignedTreeHead {
  anchoredAt: string;
  txId: string;
}

export const GRANT_STATES = ['applied', 'approved', 'rejected', 'revoked', 'expired'] as const;
export type GrantState = (typeof GRANT_STATES)[number];
/** The states a grant may move to from each state (none: the grant is new). */
const NEXT: Record<GrantState | 'none', readonly GrantState[]> = {
  none: ['applied'],
  applied: ['approved', 'rejected'],
  approved: ['revoked', 'expired'],
  rejected: [],
  revoked: [],
  expired: [],
};

export interface GrantStep {
  grantId: string;
  state: GrantState;
  /** The department that owns the data (its MSP id). */
  ownerMsp: string;
  /** SHA-256 (hex) of the provenance record that logged this step, and its index in the log. */
  recordHash: string;
  logIndex: number;
  at: string;
  txId: string;
}

export const RELEASE_KINDS = ['sandbox', 'encrypted'] as const;
export type ReleaseKind = (typeof RELEASE_KINDS)[number];

export interface ReleaseRecord {
  /** SHA-256 (hex) of the released output. */
  hash: string;
  kind: ReleaseKind;
  recordHash: string;
  logIndex: number;
  at: string;
  txId: string;
}

function bad(detail: string): LedgerError {
  return new LedgerError('BAD_INPUT', detail);
}

function checkArg(value: string, name: string): void {
  if (typeof value !== 'string' || value.length > MAX_ARG) throw bad(`${name} is missing or too long`);
}

function parseSize(text: string, name: string): number {
  if (!/^(0|[1-9][0-9]{0,15})$/.test(text) || !Number.isSafeInteger(Number(text)))
    throw bad(`${name} must be a whole number ≥ 0`);
  return Number(text);
}

function parseIndex(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
    throw bad(`${name} must be a whole number ≥ 0`);
  return value;
}

function parseHash(value: unknown, name: string): string {
  if (typeof value !== 'string' || !HEX32.test(value)) throw bad(`${name} must be 64 lowercase hex digits`);
  return value;
}

function parseId(value: unknown, name: string): string {
  if (typeof value !== 'string' || !ID.test(value)) throw bad(`${name} must be 1–128 of A–Z a–z 0–9 . _ : -`);
  return value;
}

/** Keys sort like their sizes: 16 digits hold every safe integer. */
export function headKey(size: number): string {
  return HEAD_PREFIX + String(size).padStart(16, '0');
}

export class ProvenanceLedger {
  constructor(
    private readonly state: WorldState,
    /** MSP id of the city data authority (runs the gateway, owns the log key). */
    private readonly authorityMsp: string,
  ) {}

  // ---- log key ----

  async registerLogKey(publicKeyPem: string): Promise<LogKeyRecord> {
    checkArg(publicKeyPem, 'publicKeyPem');
    const { caller } = this.state;
    if (caller.mspId !== this.authorityMsp || !caller.isAdmin)
      throw new LedgerError('FORBIDDEN', `only an administrator of ${this.authorityMsp} may register the log key`);
    if ((await this.state.get(KEY_LOG_KEY)) !== null)
      throw new LedgerError('LOG_KEY_ALREADY_REGISTERED', 'the log key is registered already and cannot be replaced');
    const { logId, pem } = parseLogKey(publicKeyPem);
    const record: LogKeyRecord = {
      publicKeyPem: pem,
      logId,
      registeredBy: { mspId: caller.mspId, subject: caller.subject },
      at: this.state.txTime,
      txId: this.state.txId,
    };
    await this.write(KEY_LOG_KEY, record, 'LogKeyRegistered');
    return record;
  }

  async logKey(): Promise<LogKeyRecord | null> {
    const text = await this.state.get(KEY_LOG_KEY);
    return text === null ? null : (JSON.parse(text) as LogKeyRecord);
  }

  // ---- tree heads ----

  /**
   * Anchors `treeHeadJson` (a SignedTreeHead) given `proofJson`, the hex consistency proof from the last
   * anchored head (an empty array for the first head). Returns the anchor now on the ledger.
   */
  async anchorTreeHead(treeHeadJson: string, proofJson: string): Promise<TreeHeadAnchor> {
    checkArg(treeHeadJson, 'treeHead');
    checkArg(proofJson, 'proof');
    const registered = await this.logKey();
    if (!registered) throw new LedgerError('LOG_KEY_NOT_REGISTERED', 'no log key is registered yet');
    const head = parseTreeHead(parseJson(treeHeadJson, () => bad('treeHead is not JSON')));
    const proof = this.parseProof(proofJson);
    const { key } = parseLogKey(registered.publicKeyPem);
    if (head.logId !== registered.logId)
      throw new LedgerError(
        'TREE_HEAD_SIGNATURE',
        'the tree head names another log: it is not signed by the registered log key',
      );
    if (!signatureVerifies(head, key))
      throw new LedgerError(
        'TREE_HEAD_SIGNATURE',
        'the tree head signature does not verify under the registered log key',
      );

    const last = await this.latestTreeHead();
    if (last) {
      if (head.treeSize < last.treeSize)
        throw new LedgerError(
          'TREE_HEAD_ROLLBACK',
          `the tree head of size ${head.treeSize} is smaller than the anchored head of size ${last.treeSize}: the log was rolled back`,
        );
      if (head.treeSize === last.treeSize) {
        if (head.rootHash !== last.rootHash)
          throw new LedgerError(
            'TREE_HEAD_FORK',
            `the tree head of size ${head.treeSize} has another root than the anchored head of that size: the log was forked`,
          );
        return last; // Nothing new: the ledger already holds this tree.
      }
      if (head.timestamp < last.timestamp)
        throw bad(`the tree head's timestamp is earlier than the anchored head of size ${last.treeSize}`);
      const ok = verifyConsistency(
        last.treeSize,
        head.treeSize,
        Buffer.from(last.rootHash, 'hex'),
        Buffer.from(head.rootHash, 'hex'),
        proof.map((p) => Buffer.from(p, 'hex')),
      );
      if (!ok)
        throw new LedgerError(
          'TREE_HEAD_INCONSISTENT',
          `the consistency proof does not show that the tree of size ${head.treeSize} extends the anchored tree of size ${last.treeSize}: the log was forked or the proof is wrong`,
        );
    } else if (proof.length !== 0) {
      throw bad('the first anchored tree head takes an empty consistency proof');
    }
    const anchor: TreeHeadAnchor = { ...head, anchoredAt: this.state.txTime, txId: this.state.txId };
    await this.state.put(headKey(head.treeSize), stableJson(anchor));
    await this.write(KEY_LATEST_HEAD, anchor, 'TreeHeadAnchored');
    return anchor;
  }

  private parseProof(proofJson: string): string[] {
    const proof = parseJson(proofJson, () => bad('proof is not JSON'));
    if (!Array.isArray(proof) || proof.length > MAX_PROOF)
      throw bad(`proof must be an array of at most ${MAX_PROOF} hashes`);
    return proof.map((p, i) => parseHash(p, `proof[${i}]`));
  }

  async latestTreeHead(): Promise<TreeHeadAnchor | null> {
    const text = await this.state.get(KEY_LATEST_HEAD);
    return text === null ? null : (JSON.parse(text) as TreeHeadAnchor);
  }

  async treeHead(sizeText: string): Promise<TreeHeadAnchor> {
    const size = parseSize(sizeText, 'treeSize');
    const text = await this.state.get(headKey(size));
    if (text === null) throw new LedgerError('NOT_FOUND', `no tree head of size ${size} is anchored`);
    return JSON.parse(text) as TreeHeadAnchor;
  }

  /** Anchored heads with fromSize ≤ treeSize ≤ toSize, smallest first (at most MAX_RANGE). */
  async treeHeads(fromText: string, toText: string): Promise<TreeHeadAnchor[]> {
    const from = parseSize(fromText, 'fromSize');
    const to = parseSize(toText, 'toSize');
    if (to < from) throw bad('toSize must not be smaller than fromSize');
    // 2^53 still has 16 digits, so headKey(to + 1) is a valid exclusive end for every safe size.
    const rows = await this.state.range(headKey(from), headKey(to + 1), MAX_RANGE);
    return rows.map((r) => JSON.parse(r.value) as TreeHeadAnchor);
  }

  // ---- grants ----

  /**
   * Records one step of a grant's life: `stepJson` = {grantId, state, ownerMsp, recordHash, logIndex}.
   * Only the data authority's gateway records grant steps; the endorsement policy adds the owner's peers.
   */
  async recordGrantStep(stepJson: string): Promise<GrantStep> {
    checkArg(stepJson, 'step');
    this.requireAuthority('record grant steps');
    const v = parseJson(stepJson, () => bad('step is not JSON'));
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw bad('step must be an object');
    const o = v as Record<string, unknown>;
    const grantId = parseId(o.grantId, 'grantId');
    if (typeof o.state !== 'string' || !(GRANT_STATES as readonly string[]).includes(o.state))
      throw bad(`state must be one of ${GRANT_STATES.join(', ')}`);
    const state = o.state as GrantState;
    if (typeof o.ownerMsp !== 'string' || !MSP.test(o.ownerMsp)) throw bad('ownerMsp must be an MSP id');
    const recordHash = parseHash(o.recordHash, 'recordHash');
    const logIndex = parseIndex(o.logIndex, 'logIndex');

    const key = GRANT_PREFIX + grantId;
    const text = await this.state.get(key);
    const current = text === null ? null : (JSON.parse(text) as GrantStep);
    const from = current?.state ?? 'none';
    if (!NEXT[from].includes(state))
      throw new LedgerError(
        'GRANT_TRANSITION',
        current
          ? `grant ${grantId} is ${current.state}: it cannot become ${state}`
          : `grant ${grantId} is not recorded: its first step must be applied`,
      );
    if (current && current.ownerMsp !== o.ownerMsp)
      throw bad(`grant ${grantId} belongs to ${current.ownerMsp}, not ${o.ownerMsp}`);
    if (current && logIndex <= current.logIndex)
      throw bad(`the step's logIndex must come after the previous step's (${current.logIndex})`);
    const step: GrantStep = {
      grantId,
      state,
      ownerMsp: o.ownerMsp,
      recordHash,
      logIndex,
      at: this.state.txTime,
      txId: this.state.txId,
    };
    await this.write(key, step, 'GrantStepRecorded');
    return step;
  }

  async grant(idText: string): Promise<GrantStep> {
    const id = parseId(idText, 'grantId');
    const text = await this.state.get(GRANT_PREFIX + id);
    if (text === null) throw new LedgerError('NOT_FOUND', `grant ${id} is not recorded`);
    return JSON.parse(text) as GrantStep;
  }

  /** Every step of a grant, oldest first (the key's history on the ledger). */
  async grantHistory(idText: string): Promise<GrantStep[]> {
    const id = parseId(idText, 'grantId');
    const rows = await this.state.history(GRANT_PREFIX + id);
    return rows.flatMap((r) => (r.value === null ? [] : [JSON.parse(r.value) as GrantStep]));
  }

  /** Grants with startId ≤ id < endId in id order (endId empty: to the end), at most MAX_RANGE. */
  async grants(startText: string, endText: string): Promise<GrantStep[]> {
    const start = startText === '' ? '' : parseId(startText, 'startId');
    const end = endText === '' ? '' : parseId(endText, 'endId');
    const rows = await this.state.range(
      GRANT_PREFIX + start,
      end === '' ? GRANT_PREFIX + '~' : GRANT_PREFIX + end,
      MAX_RANGE,
    );
    return rows.map((r) => JSON.parse(r.value) as GrantStep);
  }

  // ---- releases ----

  /** Records a release once: `releaseJson` = {hash, kind, recordHash, logIndex}. */
  async recordRelease(releaseJson: string): Promise<ReleaseRecord> {
    checkArg(releaseJson, 'release');
    this.requireAuthority('record releases');
    const v = parseJson(releaseJson, () => bad('release is not JSON'));
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw bad('release must be an object');
    const o = v as Record<string, unknown>;
    const hash = parseHash(o.hash, 'hash');
    if (typeof o.kind !== 'string' || !(RELEASE_KINDS as readonly string[]).includes(o.kind))
      throw bad(`kind must be one of ${RELEASE_KINDS.join(', ')}`);
    const record: ReleaseRecord = {
      hash,
      kind: o.kind as ReleaseKind,
      recordHash: parseHash(o.recordHash, 'recordHash'),
      logIndex: parseIndex(o.logIndex, 'logIndex'),
      at: this.state.txTime,
      txId: this.state.txId,
    };
    const key = RELEASE_PREFIX + hash;
    if ((await this.state.get(key)) !== null)
      throw new LedgerError('ALREADY_RECORDED', `a release with hash ${hash} is recorded already`);
    await this.write(key, record, 'ReleaseRecorded');
    return record;
  }

  async release(hashText: string): Promise<ReleaseRecord> {
    const hash = parseHash(hashText, 'hash');
    const text = await this.state.get(RELEASE_PREFIX + hash);
    if (text === null) throw new LedgerError('NOT_FOUND', `no release with hash ${hash} is recorded`);
    return JSON.parse(text) as ReleaseRecord;
  }

  /** Releases with startHash ≤ hash < endHash (empty: unbounded), in hash order, at most MAX_RANGE. */
  async releases(startText: string, endText: string): Promise<ReleaseRecord[]> {
    const hexPrefix = (t: string, name: string): string => {
      if (!/^[0-9a-f]{0,64}$/.test(t)) throw bad(`${name} must be up to 64 lowercase hex digits`);
      return t;
    };
    const start = RELEASE_PREFIX + hexPrefix(startText, 'startHash');
    const end = endText === '' ? RELEASE_PREFIX + '~' : RELEASE_PREFIX + hexPrefix(endText, 'endHash');
    const rows = await this.state.range(start, end, MAX_RANGE);
    return rows.map((r) => JSON.parse(r.value) as ReleaseRecord);
  }

  // ---- helpers ----

  private requireAuthority(what: string): void {
    if (this.state.caller.mspId !== this.authorityMsp)
      throw new LedgerError('FORBIDDEN', `only ${this.authorityMsp}'s gateway may ${what}`);
  }

  private async write(key: string, value: object, event: string): Promise<void> {
    const json = stableJson(value);
    await this.state.put(key, json);
    this.state.emit(event, json);
  }
}
