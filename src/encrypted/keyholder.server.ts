/**
 * The owner's key holder as a process (`citygate keyholder`): a small HTTP server on 127.0.0.1 that holds the
 * owner's secret key and decrypts a result cell only when the gateway's verifiable log approves it.
 *
 * POST /decrypt {computationId, receiptIndex, cell, kind, ciphertext (base64)}:
 *   1. fetches the receipt bundle at `receiptIndex` from the gateway (GraphQL `receiptBundle`, an owner token of the owning department);
 *   2. verifies it offline with the pinned log public key (signed tree head, leaf hash, inclusion proof:
 *      a tampered record or a forged approval fails here), and checks the tree head against the key holder's
 *      saved checkpoint with a consistency proof: a log rolled back or forked since is refused;
 *   3. takes the cell from the record itself: same computation id, released, this key's id, and the cell's
 *      result hash, records and units covered (never the requester's claims);
 *   4. finds the owner's approval in the log, verified the same way: the standing rule the record names (its
 *      `he-rule-set` record, set by an owner of the dataset's organisation, and re-checked against the
 *      computation), or the owner's `he-approved` record naming this record's index and leaf hash. The gateway
 *      only says where that record is; a pending computation is refused PENDING_APPROVAL, one the owner refused
 *      REFUSED_BY_OWNER;
 *   5. refuses a cell it opened before (REPLAY): opened cells are recorded durably before the answer leaves;
 *   6. KeyHolder.decryptApproved (hash match, k units, k records, disclosure control, rounding).
 * Answers 200 {value, rounded} or 403 {refusal}. Each decryption and refusal is appended to a JSONL log.
 */
import fs from 'node:fs';
import { appendFile } from 'node:fs/promises';
import path from 'node:path';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ProvenanceRecord } from '../ledger/provenance-record.js';
import type { PublicKeyInput } from '../ledger/signed-tree-head.js';
import type { SignedTreeHead } from '../ledger/signed-tree-head.js';
import { verifyBundle, verifyCheckpoint, type ReceiptBundle } from '../ledger/verifier.js';
import { ruleCovers } from './approval-rule.js';
import { KeyHolderRefusal } from './encrypted.errors.js';
import type { ApprovalRecord, KeyHolder, ReleaseKind, Released } from './keyholder.js';

/** Runs one GraphQL query against the gateway and returns `data` (throws on errors). */
export type GatewayGraphql = (query: string, variables: Record<string, unknown>) => Promise<Record<string, unknown>>;

export interface CellApproval extends ApprovalRecord {
  /** Records in the cell, from the logged record. */
  readonly records: number;
  /** The computation's kind, from the logged record. */
  readonly kind: string;
}

export interface ApprovalSource {
  /** The approval of one result cell, from the verified log; null when the log does not show one. */
  lookup(computationId: string, receiptIndex: number, cell: number): Promise<CellApproval | null>;
}

/** A GatewayGraphql over HTTP (fetch) with a bearer token. */
export function httpGraphql(gatewayUrl: string, token: string): GatewayGraphql {
  const url = new URL('/graphql', gatewayUrl).toString();
  return async (query, variables) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { data?: Record<string, unknown> | null; errors?: { message: string }[] };
    if (body.errors?.length || !body.data) throw new Error(`gateway: ${body.errors?.[0]?.message ?? res.status}`);
    return body.data;
  };
}

/** Where the key holder keeps the largest signed tree head it has verified (its view of the log). */
export interface CheckpointStore {
  load(): SignedTreeHead | null;
  save(sth: SignedTreeHead): void;
}

/** A checkpoint in a JSON file, replaced atomically (write, fsync, rename). */
export function fileCheckpoint(file: string): CheckpointStore {
  return {
    load() {
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw err;
      }
      try {
        return JSON.parse(text) as SignedTreeHead;
      } catch {
        // A damaged checkpoint is not an empty one: starting afresh would accept a rolled-back log.
        throw new KeyHolderRefusal('LOG_INCONSISTENT', `the checkpoint ${path.basename(file)} is unreadable`);
      }
    },
    save(sth) {
      const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
      const fd = fs.openSync(tmp, 'w', 0o600);
      try {
        fs.writeSync(fd, JSON.stringify(sth));
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, file);
      fsyncDir(path.dirname(file));
    },
  };
}

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The result cells the key holder has opened: each (computation id, cell) is answered once. `add` is durable
 * when it returns; the key holder calls it before its answer leaves.
 */
export interface OpenedCells {
  has(computationId: string, cell: number): boolean;
  add(computationId: string, cell: number): void;
}

/**
 * Opened cells in an append-only JSONL file, each line fsynced before `add` returns, read back on start. A torn
 * last line (a crash while writing it) was never answered and is dropped; damage anywhere else refuses to start.
 */
export function fileOpenedCells(file: string): OpenedCells {
  const seen = new Set<string>();
  const key = (id: string, cell: number) => `${cell} ${id}`;
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const lines = text.split('\n');
  const complete = lines.slice(0, -1); // the last element is '' after a final newline, else a torn line
  for (const [i, line] of complete.entries()) {
    try {
      const e = JSON.parse(line) as { computationId: unknown; cell: unknown };
      if (typeof e.computationId !== 'string' || !Number.isSafeInteger(e.cell)) throw new Error('bad entry');
      seen.add(key(e.computationId, e.cell as number));
    } catch {
      throw new Error(`${path.basename(file)}: line ${i + 1} is damaged; the key holder will not start on it`);
    }
  }
  const fd = fs.openSync(file, 'a', 0o600);
  // Cut a torn tail, so that the next entry starts on a line of its own.
  if (!text.endsWith('\n') && text.length > 0) {
    fs.ftruncateSync(fd, Buffer.byteLength(text, 'utf8') - Buffer.byteLength(lines[lines.length - 1] ?? '', 'utf8'));
  }
  fs.fsyncSync(fd);
  fsyncDir(path.dirname(file));
  return {
    has: (id, cell) => seen.has(key(id, cell)),
    add(id, cell) {
      fs.writeSync(fd, JSON.stringify({ computationId: id, cell, at: new Date().toISOString() }) + '\n');
      fs.fsyncSync(fd);
      seen.add(key(id, cell));
    },
  };
}

/** Opened cells in memory only (tests): forgets them on restart. */
export function memoryOpenedCells(): OpenedCells {
  const seen = new Set<string>();
  return {
    has: (id, cell) => seen.has(`${cell} ${id}`),
    add: (id, cell) => void seen.add(`${cell} ${id}`),
  };
}

/** A checkpoint held in memory only (tests, or a key holder that accepts losing it on restart). */
export function memoryCheckpoint(): CheckpointStore {
  let sth: SignedTreeHead | null = null;
  return { load: () => sth, save: (s) => void (sth = s) };
}

/**
 * Checks a verified tree head against the checkpoint: the smaller of the two must be a prefix of the larger
 * (a consistency proof from the gateway), equal sizes must have equal roots. Moves the checkpoint forward.
 * Serialised, so that concurrent requests cannot move it backwards.
 */
function checkpointGuard(gql: GatewayGraphql, logPublicKey: PublicKeyInput, store: CheckpointStore) {
  let queue: Promise<unknown> = Promise.resolve();
  const check = async (seen: SignedTreeHead): Promise<void> => {
    let saved: SignedTreeHead | null;
    try {
      saved = store.load();
    } catch (err) {
      if (err instanceof KeyHolderRefusal) throw err;
      throw new KeyHolderRefusal('LOG_INCONSISTENT', 'the checkpoint cannot be read');
    }
    if (!saved) return store.save(seen);
    const [older, newer] = seen.treeSize >= saved.treeSize ? [saved, seen] : [seen, saved];
    let proof = null;
    if (older.treeSize > 0 && older.treeSize < newer.treeSize) {
      try {
        const data = await gql(
          'query($a: Int!, $b: Int!) { consistencyProof(fromSize: $a, toSize: $b) { fromSize toSize hashes } }',
          { a: older.treeSize, b: newer.treeSize },
        );
        proof = data.consistencyProof as { fromSize: number; toSize: number; hashes: string[] };
      } catch {
        // A log that was rolled back cannot prove that it contains what the key holder saw.
        throw new KeyHolderRefusal('LOG_INCONSISTENT', `no consistency proof ${older.treeSize} → ${newer.treeSize}`);
      }
    }
    const verdict = verifyCheckpoint(older, newer, proof, logPublicKey);
    if (!verdict.ok) throw new KeyHolderRefusal('LOG_INCONSISTENT', verdict.reason);
    if (newer === seen && seen.treeSize > saved.treeSize) store.save(seen);
  };
  return (seen: SignedTreeHead): Promise<void> => {
    const run = queue.then(() => check(seen));
    queue = run.catch(() => undefined);
    return run;
  };
}

/**
 * Approvals read from the gateway's verifiable log and verified with the pinned log public key. With a
 * checkpoint, every tree head is also checked for consistency with the largest one seen before.
 */
export function logApprovals(
  gql: GatewayGraphql,
  logPublicKey: PublicKeyInput,
  keyId: string,
  opts: { checkpoint?: CheckpointStore; ownerOrg?: string } = {},
): ApprovalSource {
  const guard = opts.checkpoint ? checkpointGuard(gql, logPublicKey, opts.checkpoint) : null;
  /** The log entry at `index`, verified with the log key and against the checkpoint; null when it does not verify. */
  const verified = async (index: number): Promise<ReceiptBundle | null> => {
    if (!Number.isSafeInteger(index) || index < 0) return null;
    let bundle: ReceiptBundle;
    try {
      const data = await gql('query($i: Int!) { receiptBundle(index: $i) }', { i: index });
      bundle = JSON.parse(String(data.receiptBundle)) as ReceiptBundle;
    } catch {
      return null;
    }
    if (!verifyBundle(bundle, logPublicKey).ok || bundle.receipt.index !== index) return null;
    await guard?.(bundle.treeHead);
    return bundle;
  };
  /** A step taken by an owner of the dataset's organisation (and of the key holder's, when it is pinned). */
  const byOwner = (r: { requester: { org: string | null; roles: string[] }; ownerOrg: string }): boolean =>
    r.requester.org === r.ownerOrg &&
    r.requester.roles.includes('owner') &&
    (opts.ownerOrg === undefined || r.ownerOrg === opts.ownerOrg);

  /** The owner's decision on the computation logged as `computation`, from the log only. */
  const decision = async (computation: ReceiptBundle): Promise<'approved' | 'pending' | 'refused' | null> => {
    const record = computation.record;
    if (record.kind !== 'access' || !record.encrypted) return null;
    const enc = record.encrypted;
    const approval = enc.approval;
    if (!approval) return null; // logged before owner approvals existed: never decrypted
    if (approval.status === 'approved') {
      // A standing rule: its own record, set before this computation, and it must cover the computation.
      if (!(approval.ruleIndex < computation.receipt.index)) return null;
      const rule = (await verified(approval.ruleIndex))?.record;
      if (
        rule?.kind !== 'he-rule-set' ||
        rule.rule.id !== approval.ruleId ||
        rule.dataset !== record.dataset ||
        !byOwner(rule) ||
        !ruleCovers(rule.rule, {
          datasetId: record.dataset,
          column: enc.column,
          requesterOrg: record.requester.org,
          purpose: record.purpose,
          kind: enc.kind,
          unitsCovered: enc.cells.map((c) => c.unitsCovered),
        })
      ) {
        return null;
      }
      return 'approved';
    }
    // Pending when logged: the gateway says where the owner's decision is; the log must show it.
    let where: { status: string; decisionIndex: number | null };
    try {
      const data = await gql('query($id: String!) { encryptedComputation(id: $id) { status decisionIndex } }', {
        id: enc.computationId,
      });
      where = data.encryptedComputation as typeof where;
    } catch {
      return null;
    }
    if (where.decisionIndex === null || where.decisionIndex === undefined) return 'pending';
    if (!(where.decisionIndex > computation.receipt.index)) return null;
    const step = (await verified(where.decisionIndex))?.record;
    if (
      (step?.kind !== 'he-approved' && step?.kind !== 'he-refused') ||
      step.computation.id !== enc.computationId ||
      step.computation.index !== computation.receipt.index ||
      step.computation.leafHash !== computation.receipt.leafHash ||
      step.dataset !== record.dataset ||
      !byOwner(step)
    ) {
      return null;
    }
    return step.kind === 'he-approved' ? 'approved' : 'refused';
  };

  return {
    async lookup(computationId, receiptIndex, cell) {
      if (!Number.isSafeInteger(receiptIndex) || receiptIndex < 0 || !Number.isSafeInteger(cell) || cell < 0) {
        return null;
      }
      const bundle = await verified(receiptIndex);
      if (!bundle) return null;
      const record: ProvenanceRecord = bundle.record;
      if (record.kind !== 'access') return null;
      const enc = record.encrypted;
      if (
        !enc ||
        record.mode !== 'encrypted' ||
        record.id !== computationId ||
        enc.computationId !== computationId ||
        enc.keyId !== keyId ||
        record.outcome.released !== true ||
        record.decision.allow !== true
      ) {
        return null;
      }
      const c = enc.cells[cell];
      if (!c || typeof c.resultHash !== 'string') return null;
      const status = await decision(bundle);
      if (status === null) return null;
      return {
        computationId,
        resultHash: c.resultHash,
        unitsCovered: c.unitsCovered,
        approved: status === 'approved',
        status,
        records: c.records,
        kind: enc.kind,
      };
    },
  };
}

export interface DecryptBody {
  computationId: string;
  receiptIndex: number;
  cell: number;
  /** Ignored when the log shows the computation (its logged kind is used). */
  kind?: ReleaseKind;
  /** base64 */
  ciphertext: string;
}

export type DecryptOutcome = { ok: true; released: Released } | { ok: false; refusal: string; message: string };

/** Cells being decrypted right now, per record of opened cells: a concurrent request for one is a replay. */
const inFlight = new WeakMap<OpenedCells, Set<string>>();

/**
 * The key holder's decision for one request: approval from the verified log, then (once per cell, when `opened`
 * is given) decryptApproved. A cell is claimed before it is decrypted and recorded durably before the answer
 * leaves, so two concurrent requests for one cell cannot both be answered, even if decryption yields.
 */
export async function decryptFromLog(
  keyHolder: KeyHolder,
  approvals: ApprovalSource,
  body: DecryptBody,
  opened?: OpenedCells,
): Promise<DecryptOutcome> {
  let claimed: { busy: Set<string>; key: string } | null = null;
  try {
    const approval = await approvals.lookup(body.computationId, body.receiptIndex, body.cell);
    const ciphertext = new Uint8Array(Buffer.from(String(body.ciphertext), 'base64'));
    // The kind (a mean divides by the records) is the logged computation's, never the requester's claim.
    const kind = (approval?.kind ?? body.kind) as ReleaseKind;
    if (approval?.approved === true && opened) {
      const busy = inFlight.get(opened) ?? new Set<string>();
      inFlight.set(opened, busy);
      const key = `${body.cell} ${approval.computationId}`;
      if (busy.has(key) || opened.has(approval.computationId, body.cell)) {
        throw new KeyHolderRefusal('REPLAY', `${approval.computationId}: cell ${body.cell} was opened before`);
      }
      busy.add(key);
      claimed = { busy, key };
    }
    const released = await Promise.resolve(
      keyHolder.decryptApproved(
        { computationId: body.computationId, kind, ciphertext, records: approval?.records ?? 0 },
        approval,
      ),
    );
    opened?.add(body.computationId, body.cell);
    return { ok: true, released };
  } catch (err) {
    if (err instanceof KeyHolderRefusal) return { ok: false, refusal: err.code, message: err.message };
    throw err;
  } finally {
    claimed?.busy.delete(claimed.key);
  }
}

export interface KeyHolderServerOptions {
  keyHolder: KeyHolder;
  approvals: ApprovalSource;
  /** The cells opened so far (durable in production: fileOpenedCells); each is answered once. */
  opened: OpenedCells;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  /** JSONL file each decryption and refusal is appended to. */
  decryptionLog?: string;
  /** Largest request body (default 4 MiB). */
  maxBodyBytes?: number;
}

export interface KeyHolderServer {
  readonly url: string;
  close(): Promise<void>;
}

export async function startKeyHolderServer(opts: KeyHolderServerOptions): Promise<KeyHolderServer> {
  const maxBody = opts.maxBodyBytes ?? 4 * 1024 * 1024;
  const server = http.createServer((req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'POST' || req.url !== '/decrypt') return reply(404, { error: 'POST /decrypt' });
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBody) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      void (async () => {
        let body: DecryptBody;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as DecryptBody;
        } catch {
          return reply(400, { error: 'invalid JSON' });
        }
        try {
          const out = await decryptFromLog(opts.keyHolder, opts.approvals, body, opts.opened);
          if (opts.decryptionLog) {
            const entry = {
              at: new Date().toISOString(),
              computationId: String(body.computationId),
              receiptIndex: body.receiptIndex,
              cell: body.cell,
              ...(out.ok
                ? { decrypted: true, rounded: out.released.rounded }
                : { decrypted: false, refusal: out.refusal }),
            };
            await appendFile(opts.decryptionLog, JSON.stringify(entry) + '\n');
          }
          if (out.ok) reply(200, { computationId: body.computationId, cell: body.cell, ...out.released });
          else reply(403, { refusal: out.refusal, message: out.message });
        } catch {
          reply(500, { error: 'internal error' });
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve));
  const addr = server.address() as AddressInfo;
  return {
    url: `http://${opts.host ?? '127.0.0.1'}:${addr.port}`,
    close: () => new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve()))),
  };
}
