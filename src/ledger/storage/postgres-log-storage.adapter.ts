/**
 * LogStorage in PostgreSQL (production): several gateway instances share one log (tables of migration
 * 0002_verifiable_log). As in Trillian, writers do not touch the tree: they enqueue batches, and one
 * *sequencer* at a time — the instance holding a session-level `pg_try_advisory_lock` — integrates them:
 * in one transaction it assigns dense indices after `log_state.tree_size`, writes the leaves and every
 * completed subtree hash, marks the queue rows with their first index, advances `tree_size` and notifies.
 * Writers learn their index by LISTEN/NOTIFY (with polling as a fallback). If the sequencer's session dies, its
 * lock goes with it and another instance takes over at its next election tick (`electionIntervalMs`).
 *
 * Fencing: the sequencer locks the `log_state` row and checks `tree_size` against its in-memory frontier in
 * every transaction, and the primary keys of `log_leaves` / `log_nodes` refuse a second writer of an index.
 * Durability: a batch is durable once its queue row commits; `append` resolves when it has been integrated.
 * A writer that gives up waiting (timeout, close) withdraws its queue row with `delete … where first_idx is null`:
 * that either removes the row (the batch will never be in the log: reject) or finds it integrated (resolve),
 * so a rejection always means "not in the log".
 *
 * This adapter uses `pg` directly rather than the Db port: it needs a dedicated session for the advisory lock
 * and another for LISTEN.
 */
import { Logger } from '@nestjs/common';
import pg from 'pg';
import { CompactRange } from '../merkle/compact-range.js';
import { hashLeaf } from '../merkle/hasher.js';
import { isIndex, type NodeId } from '../merkle/tree-math.js';
import type { LeafInput, LogIdentity, LogListQuery, LogStorage, StoredLeaf } from '../log-storage.port.js';
import type { SignedTreeHead } from '../signed-tree-head.js';

const log = new Logger('PostgresLogStorage');

/** Advisory lock key of the sequencer role (7_340_001: migrations, 7_340_002: the table adapter). */
export const SEQUENCER_LOCK = 7_340_003;
const CH_QUEUED = 'citygate_log_queued';
const CH_INTEGRATED = 'citygate_log_integrated';

const INT8 = 20;
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8
      ? (v: string) => Number(v)
      : (pg.types.getTypeParser as (o: number, f?: string) => unknown)(oid, format)) as typeof pg.types.getTypeParser,
};

export interface PostgresLogStorageOptions {
  connectionString: string;
  /** Connections for reads and enqueues (default 4); the lock and LISTEN sessions come on top. */
  poolSize?: number;
  /** How often an instance that is not the sequencer tries to become it (default 500 ms). */
  electionIntervalMs?: number;
  /** Fallback polling for integrated batches and queued work, should a notification be missed (default 250 ms). */
  pollIntervalMs?: number;
  /** Queued batches integrated per transaction (default 64). */
  maxQueueBatches?: number;
  /** A batch not integrated after this long is withdrawn and its append rejected (default 30,000 ms). */
  appendTimeoutMs?: number;
}

interface Waiter {
  resolve: (first: number) => void;
  reject: (err: Error) => void;
  deadline: number;
}

interface QueueRow {
  id: number;
  records: string[];
  datasets: (string | null)[];
  orgs: (string | null)[];
}

export class PostgresLogStorage implements LogStorage {
  readonly kind = 'postgres' as const;
  private lockClient: pg.Client | null = null;
  private isSequencer = false;
  private electing = false;
  private frontier: CompactRange | null = null;
  private integrating: Promise<void> | null = null;
  private again = false;
  private readonly waiters = new Map<number, Waiter>();
  private checking = false;
  private recheck = false;
  private integratedDone: number[] = [];
  private lastSweep = Date.now();
  private closed = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly opts: Required<PostgresLogStorageOptions>;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly listener: pg.Client,
    opts: PostgresLogStorageOptions,
  ) {
    this.opts = {
      connectionString: opts.connectionString,
      poolSize: opts.poolSize ?? 4,
      electionIntervalMs: opts.electionIntervalMs ?? 500,
      pollIntervalMs: opts.pollIntervalMs ?? 250,
      maxQueueBatches: opts.maxQueueBatches ?? 64,
      appendTimeoutMs: opts.appendTimeoutMs ?? 30_000,
    };
  }

  /** Connects, listens, and tries at once to become the sequencer. The tables come from `migrate()`. */
  static async open(opts: PostgresLogStorageOptions): Promise<PostgresLogStorage> {
    const pool = new pg.Pool({ connectionString: opts.connectionString, max: opts.poolSize ?? 4, types });
    pool.on('error', (err) => log.warn(`idle connection error: ${err.message}`));
    const listener = new pg.Client({ connectionString: opts.connectionString, types });
    try {
      await listener.connect();
      await listener.query(`listen ${CH_QUEUED}`);
      await listener.query(`listen ${CH_INTEGRATED}`);
    } catch (err) {
      await pool.end();
      await listener.end().catch(() => undefined);
      throw err;
    }
    const storage = new PostgresLogStorage(pool, listener, opts);
    listener.on('notification', (msg) => {
      if (msg.channel === CH_QUEUED) storage.kick();
      else if (msg.channel === CH_INTEGRATED) void storage.checkWaiters();
    });
    listener.on('error', (err) => log.warn(`LISTEN session lost (${err.message}); polling instead`));
    await storage.tryElect();
    storage.timers.push(
      setInterval(() => void storage.tryElect(), storage.opts.electionIntervalMs),
      setInterval(() => {
        if (storage.waiters.size > 0) void storage.checkWaiters();
        storage.kick();
      }, storage.opts.pollIntervalMs),
    );
    for (const t of storage.timers) t.unref();
    return storage;
  }

  /** Whether this instance currently holds the sequencer lock. */
  get sequencer(): boolean {
    return this.isSequencer;
  }

  async bind(identity: LogIdentity): Promise<void> {
    await this.pool.query(
      `insert into log_state (id, log_id, public_key) values (1, $1, $2) on conflict (id) do nothing`,
      [identity.logId, identity.publicKeyPem],
    );
    const bound = await this.identity();
    if (bound?.logId !== identity.logId) {
      throw new Error(`the PostgreSQL log belongs to log ${bound?.logId ?? '?'}, not ${identity.logId}: wrong key`);
    }
    this.kick();
  }

  async identity(): Promise<LogIdentity | null> {
    const { rows } = await this.pool.query<{ log_id: string; public_key: string }>(
      'select log_id, public_key from log_state where id = 1',
    );
    const r = rows[0];
    return r ? { logId: r.log_id, publicKeyPem: r.public_key } : null;
  }

  async append(batch: readonly LeafInput[]): Promise<number> {
    if (this.closed) throw new Error('the log storage is closed');
    if (batch.length === 0) return this.size();
    for (const [i, leaf] of batch.entries()) {
      if (!hashLeaf(leaf.data).equals(leaf.leafHash)) {
        throw new Error(`leafHash of batch entry ${i} is not SHA-256(0x00 || data)`);
      }
    }
    const { rows } = await this.pool.query<{ id: number }>(
      `with q as (insert into log_queue (records, datasets, orgs) values ($1::text[], $2::text[], $3::text[]) returning id)
       select q.id, pg_notify($4, '') from q`,
      [batch.map((l) => l.data), batch.map((l) => l.dataset), batch.map((l) => l.org), CH_QUEUED],
    );
    const id = rows[0]?.id;
    if (id === undefined) throw new Error('enqueueing the batch returned no id');
    const first = new Promise<number>((resolve, reject) => {
      this.waiters.set(id, { resolve, reject, deadline: Date.now() + this.opts.appendTimeoutMs });
    });
    this.kick();
    return first;
  }

  async size(): Promise<number> {
    const { rows } = await this.pool.query<{ tree_size: number }>('select tree_size from log_state where id = 1');
    return rows[0]?.tree_size ?? 0;
  }

  async getNodes(ids: readonly NodeId[]): Promise<Buffer[]> {
    if (ids.length === 0) return [];
    for (const id of ids) {
      if (!isIndex(id.level) || !isIndex(id.index)) throw new RangeError(`node ${id.level}:${id.index} is invalid`);
    }
    const { rows } = await this.pool.query<{ hash: Buffer | null }>(
      `select n.hash from unnest($1::smallint[], $2::bigint[]) with ordinality as t(level, idx, ord)
       left join log_nodes n on n.level = t.level and n.idx = t.idx order by t.ord`,
      [ids.map((i) => i.level), ids.map((i) => i.index)],
    );
    return rows.map((r, i) => {
      if (!r.hash) throw new RangeError(`node ${ids[i]!.level}:${ids[i]!.index} is not a complete subtree of the log`);
      return r.hash;
    });
  }

  async getLeaves(start: number, end: number): Promise<StoredLeaf[]> {
    const size = await this.size();
    if (!isIndex(start) || !isIndex(end) || start > end || end > size) {
      throw new RangeError(`leaves [${start}, ${end}) are not in the log (size ${size})`);
    }
    if (start === end) return [];
    const { rows } = await this.pool.query<{ idx: number; record: string; hash: Buffer }>(
      `select l.idx, l.record, n.hash from log_leaves l join log_nodes n on n.level = 0 and n.idx = l.idx
       where l.idx >= $1 and l.idx < $2 order by l.idx`,
      [start, end],
    );
    if (rows.length !== end - start) throw new Error(`leaves [${start}, ${end}) are incomplete in log_leaves`);
    return rows.map((r) => ({ index: r.idx, data: r.record, leafHash: r.hash }));
  }

  async list(query: LogListQuery): Promise<StoredLeaf[]> {
    const { rows } = await this.pool.query<{ idx: number; record: string; hash: Buffer }>(
      `select l.idx, l.record, n.hash from log_leaves l join log_nodes n on n.level = 0 and n.idx = l.idx
       where ($1::text is null or l.dataset = $1) and ($2::text is null or l.org = $2)
       order by l.idx desc limit $3 offset $4`,
      [query.dataset ?? null, query.org ?? null, Math.max(0, query.first), Math.max(0, query.offset)],
    );
    return rows.map((r) => ({ index: r.idx, data: r.record, leafHash: r.hash }));
  }

  async putTreeHead(sth: SignedTreeHead): Promise<void> {
    await this.pool.query('insert into log_tree_heads (tree_size, sth) values ($1, $2)', [
      sth.treeSize,
      JSON.stringify(sth),
    ]);
  }

  async latestTreeHead(): Promise<SignedTreeHead | null> {
    const { rows } = await this.pool.query<{ sth: string }>(
      'select sth from log_tree_heads order by tree_size desc, id desc limit 1',
    );
    return rows[0] ? (JSON.parse(rows[0].sth) as SignedTreeHead) : null;
  }

  async treeHeads(): Promise<SignedTreeHead[]> {
    const { rows } = await this.pool.query<{ sth: string }>('select sth from log_tree_heads order by id');
    return rows.map((r) => JSON.parse(r.sth) as SignedTreeHead);
  }

  // --- Sequencer election and integration ---------------------------------------------------------------

  private async tryElect(): Promise<void> {
    if (this.isSequencer || this.electing || this.closed) return;
    this.electing = true;
    try {
      if (!this.lockClient) {
        const client = new pg.Client({ connectionString: this.opts.connectionString, types });
        client.on('error', (err) => this.stepDown(client, err));
        await client.connect();
        this.lockClient = client;
      }
      const { rows } = await this.lockClient.query<{ ok: boolean }>('select pg_try_advisory_lock($1) as ok', [
        SEQUENCER_LOCK,
      ]);
      if (rows[0]?.ok && !this.closed) {
        this.isSequencer = true;
        this.frontier = null;
        this.kick();
      }
    } catch (err) {
      log.warn(`sequencer election failed: ${(err as Error).message}`);
      if (this.lockClient) this.stepDown(this.lockClient, err as Error);
    } finally {
      this.electing = false;
    }
  }

  private stepDown(client: pg.Client, err: Error): void {
    if (this.lockClient !== client) return;
    if (this.isSequencer) log.warn(`sequencer session lost (${err.message}); stepping down`);
    this.isSequencer = false;
    this.frontier = null;
    this.lockClient = null;
    client.end().catch(() => undefined);
  }

  /** Starts (or re-arms) integration when this instance is the sequencer. */
  private kick(): void {
    if (!this.isSequencer || this.closed) return;
    if (this.integrating) {
      this.again = true;
      return;
    }
    this.integrating = this.integrateLoop().finally(() => {
      this.integrating = null;
    });
  }

  private async integrateLoop(): Promise<void> {
    do {
      this.again = false;
      try {
        while (this.isSequencer && (await this.integrateOnce()) > 0);
      } catch (err) {
        // A lost session steps down in the client's error handler; anything else is retried at the next tick.
        log.warn(`integration failed: ${(err as Error).message}`);
        this.frontier = null;
        return;
      }
    } while (this.again && this.isSequencer && !this.closed);
  }

  /** One sequencer transaction; returns the number of queue rows integrated. */
  private async integrateOnce(): Promise<number> {
    const c = this.lockClient;
    if (!c) return 0;
    await c.query('begin');
    try {
      const st = await c.query<{ tree_size: number }>('select tree_size from log_state where id = 1 for update');
      const size = st.rows[0]?.tree_size;
      if (size === undefined) {
        await c.query('rollback');
        return 0; // not bound to a key yet
      }
      if (!this.frontier || this.frontier.size !== size) this.frontier = await loadFrontier(c, size);
      if (this.integratedDone.length > 0) {
        await c.query('delete from log_queue where id = any($1::bigint[])', [this.integratedDone]);
      }
      if (Date.now() - this.lastSweep > 60_000) {
        // Rows of writers that died before collecting their index.
        await c.query(
          `delete from log_queue where first_idx is not null and enqueued_at < now() - interval '10 minutes'`,
        );
      }
      const q = await c.query<QueueRow>(
        `select id, records, datasets, orgs from log_queue where first_idx is null order by id limit $1 for update`,
        [this.opts.maxQueueBatches],
      );
      if (q.rows.length === 0) {
        await c.query('commit');
        this.integratedDone = [];
        return 0;
      }
      const range = this.frontier.clone();
      const leafIdx: number[] = [];
      const leafRec: string[] = [];
      const leafDs: (string | null)[] = [];
      const leafOrg: (string | null)[] = [];
      const nodeLevel: number[] = [];
      const nodeIdx: number[] = [];
      const nodeHash: string[] = [];
      const queueIds: number[] = [];
      const firsts: number[] = [];
      let next = size;
      for (const row of q.rows) {
        queueIds.push(row.id);
        firsts.push(next);
        row.records.forEach((rec, i) => {
          leafIdx.push(next++);
          leafRec.push(rec);
          leafDs.push(row.datasets[i] ?? null);
          leafOrg.push(row.orgs[i] ?? null);
          range.append(hashLeaf(rec), (level, index, hash) => {
            nodeLevel.push(level);
            nodeIdx.push(index);
            nodeHash.push(hash.toString('hex'));
          });
        });
      }
      await c.query(
        `with l as (insert into log_leaves (idx, record, dataset, org)
                    select * from unnest($1::bigint[], $2::text[], $3::text[], $4::text[])),
              n as (insert into log_nodes (level, idx, hash)
                    select t.level, t.idx, decode(t.h, 'hex') from unnest($5::smallint[], $6::bigint[], $7::text[]) as t(level, idx, h)),
              q as (update log_queue set first_idx = t.f from unnest($8::bigint[], $9::bigint[]) as t(id, f)
                    where log_queue.id = t.id),
              s as (update log_state set tree_size = $10 where id = 1)
         select pg_notify($11, $12)`,
        [
          leafIdx,
          leafRec,
          leafDs,
          leafOrg,
          nodeLevel,
          nodeIdx,
          nodeHash,
          queueIds,
          firsts,
          next,
          CH_INTEGRATED,
          String(next),
        ],
      );
      await c.query('commit');
      this.frontier = range;
      this.integratedDone = [];
      queueIds.forEach((id, i) => {
        const w = this.waiters.get(id);
        if (w) {
          this.waiters.delete(id);
          this.integratedDone.push(id);
          w.resolve(firsts[i]!);
        }
      });
      return q.rows.length;
    } catch (err) {
      await c.query('rollback').catch(() => undefined);
      throw err;
    }
  }

  /** Resolves waiters whose batches another instance integrated; withdraws those past their deadline. */
  private async checkWaiters(force = false): Promise<void> {
    if (this.waiters.size === 0) return;
    if (this.checking) {
      this.recheck = true;
      return;
    }
    this.checking = true;
    try {
      do {
        this.recheck = false;
        await this.collectIntegrated(force);
      } while (this.recheck && this.waiters.size > 0);
    } catch (err) {
      log.warn(`checking queued batches failed: ${(err as Error).message}`);
    } finally {
      this.checking = false;
    }
  }

  private async collectIntegrated(force: boolean): Promise<void> {
    const ids = [...this.waiters.keys()];
    const { rows } = await this.pool.query<{ id: number; first_idx: number }>(
      'select id, first_idx from log_queue where id = any($1::bigint[]) and first_idx is not null',
      [ids],
    );
    const done: number[] = [];
    for (const r of rows) {
      const w = this.waiters.get(r.id);
      if (!w) continue;
      this.waiters.delete(r.id);
      done.push(r.id);
      w.resolve(r.first_idx);
    }
    if (done.length > 0) await this.pool.query('delete from log_queue where id = any($1::bigint[])', [done]);
    const now = Date.now();
    for (const [id, w] of this.waiters) {
      if (force || now >= w.deadline) await this.withdraw(id, w);
    }
  }

  /** Takes a batch back if no sequencer has integrated it; otherwise collects its index. */
  private async withdraw(id: number, w: Waiter): Promise<void> {
    const del = await this.pool.query('delete from log_queue where id = $1 and first_idx is null returning id', [id]);
    this.waiters.delete(id);
    if (del.rowCount === 1) {
      w.reject(new Error('no sequencer integrated the batch in time; it was withdrawn and is not in the log'));
      return;
    }
    const { rows } = await this.pool.query<{ first_idx: number }>(
      'delete from log_queue where id = $1 returning first_idx',
      [id],
    );
    const first = rows[0]?.first_idx;
    if (first === undefined) w.reject(new Error(`queued batch ${id} vanished`));
    else w.resolve(first);
  }

  /** Integrates what it can, withdraws batches still waiting, releases the sequencer lock and disconnects. */
  async close(): Promise<void> {
    if (this.closed) return;
    for (const t of this.timers) clearInterval(t);
    if (this.isSequencer) {
      while (this.integrating) await this.integrating;
      await this.integrateOnce().catch(() => 0);
    }
    if (this.waiters.size > 0) {
      while (this.checking) await new Promise((r) => setTimeout(r, 5));
      await this.checkWaiters(true);
    }
    this.closed = true;
    this.isSequencer = false;
    const lock = this.lockClient;
    this.lockClient = null;
    await lock?.end().catch(() => undefined); // ending the session releases the advisory lock
    await this.listener.end().catch(() => undefined);
    await this.pool.end();
    for (const [, w] of this.waiters) w.reject(new Error('the log storage is closed'));
    this.waiters.clear();
  }
}

async function loadFrontier(c: pg.Client, size: number): Promise<CompactRange> {
  const ids = CompactRange.nodesFor(size);
  if (ids.length === 0) return CompactRange.empty();
  const { rows } = await c.query<{ hash: Buffer | null }>(
    `select n.hash from unnest($1::smallint[], $2::bigint[]) with ordinality as t(level, idx, ord)
     left join log_nodes n on n.level = t.level and n.idx = t.idx order by t.ord`,
    [ids.map((i) => i.level), ids.map((i) => i.index)],
  );
  if (rows.some((r) => !r.hash)) throw new Error(`log_nodes lacks the frontier of size ${size}`);
  return CompactRange.fromHashes(
    size,
    rows.map((r) => r.hash!),
  );
}
