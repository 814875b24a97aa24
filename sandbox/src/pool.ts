/**
 * A pool of sandbox worker processes. Jobs queue; each goes to an idle worker, which runs it in a fresh isolate.
 * The pool never runs job code itself and never blocks on a worker, so its process (the gateway) stays responsive.
 *
 * The pool enforces what a worker cannot be trusted to enforce on itself:
 * - wall clock: a job still running at `wallMs` + `graceMs` after dispatch has its worker killed (SIGKILL);
 * - memory: while a job runs, the worker's resident memory is sampled; past the job's budget the worker is killed
 *   (isolated-vm's limit is soft; RLIMIT_AS is the last backstop);
 * - crashes: a worker that dies mid-job fails the job with CRASHED;
 * and a killed or dead worker is replaced. Results from workers are checked again (shape, codes, output) and every
 * message is sanitised, so a compromised worker can at worst fail its own job.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { SandboxJobError, inputBytes, normaliseJob } from './input.js';
import { type IsolationOptions, type IsolationReport, type LaunchPlan, planLaunch } from './launcher.js';
import { parseOutput } from './output.js';
import {
  DEFAULT_LIMITS,
  ERROR_CODES,
  type JobLimits,
  type JobPhases,
  type JobResult,
  MAX_LIMITS,
  type SandboxErrorCode,
  type SandboxJob,
  type WorkerJob,
  type WorkerToPool,
} from './protocol.js';
import { sanitiseMessage } from './sanitize.js';

export { SandboxJobError };

export interface SandboxPoolOptions {
  /** Worker processes. Default 2. */
  workers?: number;
  /** Limits of a job that does not state them. */
  defaults?: Partial<JobLimits>;
  /** The most a job may ask for. */
  ceilings?: Partial<JobLimits>;
  /** Extra time after `wallMs` before the worker is killed. Default 250 ms. */
  graceMs?: number;
  /** `--max-old-space-size` of a worker's own heap (the isolates have their own limits). Default 512. */
  workerHeapMb?: number;
  /** RLIMIT_AS of a worker. Default 4096 + 4 × the memory ceiling. */
  addressSpaceMb?: number;
  /** A job's worker is killed when its resident memory grows by more than `rssFactor × memoryMb` + 3 × input. */
  rssFactor?: number;
  /** Worker niceness (lower CPU priority than the gateway). Default 10. */
  niceness?: number;
  /** Jobs waiting beyond this are refused. Default 1000. */
  maxQueue?: number;
  /** Time for a worker to start. Default 15 s. */
  startTimeoutMs?: number;
  isolation?: IsolationOptions;
  /** Lines the workers write on stderr (Node's own messages; jobs cannot write). Default: dropped. */
  onWorkerLog?: (line: string) => void;
}

export interface PoolHealth {
  workers: number;
  idle: number;
  busy: number;
  starting: number;
  queued: number;
  served: number;
  restarts: number;
  killed: { timeout: number; memory: number };
  crashed: number;
  isolation: IsolationReport;
}

export class SandboxPoolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SandboxPoolError';
  }
}

interface Pending {
  job: WorkerJob;
  resolve: (r: JobResult) => void;
}

interface Running extends Pending {
  seq: number;
  dispatchedAt: number;
  baseRss: number;
  rssLimit: number;
  wallTimer: NodeJS.Timeout;
  rssTimer: NodeJS.Timeout | undefined;
}

interface Slot {
  child: ChildProcess;
  pid: number;
  state: 'starting' | 'idle' | 'busy' | 'dead';
  running?: Running;
  fatal?: string;
  startTimer?: NodeJS.Timeout;
  onReady?: () => void;
}

const PAGE = 4096;
const RSS_SAMPLE_MS = 20;
const RSS_SLACK = 64 * 1024 * 1024;

function rssOf(pid: number): number | null {
  try {
    const statm = fs.readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ');
    return Number(statm[1]) * PAGE;
  } catch {
    return null;
  }
}

export class SandboxPool {
  private readonly slots = new Set<Slot>();
  private readonly queue: Pending[] = [];
  private readonly defaults: JobLimits;
  private readonly ceilings: JobLimits;
  private readonly plan: LaunchPlan;
  private readonly size: number;
  private readonly graceMs: number;
  private readonly rssFactor: number;
  private readonly niceness: number;
  private readonly maxQueue: number;
  private readonly startTimeoutMs: number;
  private readonly onWorkerLog: (line: string) => void;
  private seq = 0;
  private closed = false;
  private startFailures = 0;
  private respawnTimer: NodeJS.Timeout | undefined;
  private readonly stats = { served: 0, restarts: 0, timeout: 0, memory: 0, crashed: 0 };

  private constructor(opts: SandboxPoolOptions) {
    this.ceilings = { ...MAX_LIMITS, ...opts.ceilings };
    this.defaults = { ...DEFAULT_LIMITS, ...opts.defaults };
    for (const k of Object.keys(this.defaults) as (keyof JobLimits)[]) {
      this.defaults[k] = Math.min(this.defaults[k], this.ceilings[k]);
    }
    this.size = Math.max(1, Math.floor(opts.workers ?? 2));
    this.graceMs = opts.graceMs ?? 250;
    this.rssFactor = opts.rssFactor ?? 4;
    this.niceness = opts.niceness ?? 10;
    this.maxQueue = opts.maxQueue ?? 1000;
    this.startTimeoutMs = opts.startTimeoutMs ?? 15_000;
    this.onWorkerLog = opts.onWorkerLog ?? (() => undefined);
    this.plan = planLaunch({
      isolation: opts.isolation ?? {},
      heapMb: opts.workerHeapMb ?? 512,
      addressSpaceMb: opts.addressSpaceMb ?? 4096 + 4 * this.ceilings.memoryMb,
    });
  }

  /** Starts the workers and resolves when all are ready. */
  static async start(opts: SandboxPoolOptions = {}): Promise<SandboxPool> {
    const pool = new SandboxPool(opts);
    try {
      await Promise.all(Array.from({ length: pool.size }, () => pool.spawnWorker()));
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  /** Runs a job. Resolves with its outcome; rejects only for a malformed job, a full queue or a closed pool. */
  run(job: SandboxJob): Promise<JobResult> {
    if (this.closed) return Promise.reject(new SandboxPoolError('the sandbox pool is closed'));
    let normalised: WorkerJob;
    try {
      normalised = normaliseJob(job, this.defaults, this.ceilings);
    } catch (e) {
      return Promise.reject(e instanceof SandboxJobError ? e : new SandboxJobError('invalid job'));
    }
    if (this.queue.length >= this.maxQueue) return Promise.reject(new SandboxPoolError('the sandbox queue is full'));
    return new Promise<JobResult>((resolve) => {
      this.queue.push({ job: normalised, resolve });
      this.pump();
    });
  }

  /** A snapshot, answered at once (the pool never waits on its workers). */
  health(): PoolHealth {
    let idle = 0;
    let busy = 0;
    let starting = 0;
    for (const s of this.slots) {
      if (s.state === 'idle') idle++;
      else if (s.state === 'busy') busy++;
      else if (s.state === 'starting') starting++;
    }
    return {
      workers: this.slots.size,
      idle,
      busy,
      starting,
      queued: this.queue.length,
      served: this.stats.served,
      restarts: this.stats.restarts,
      killed: { timeout: this.stats.timeout, memory: this.stats.memory },
      crashed: this.stats.crashed,
      isolation: { ...this.plan.isolation },
    };
  }

  /** Worker pids (for tests and operators). */
  pids(): number[] {
    return [...this.slots].filter((s) => s.state !== 'dead').map((s) => s.pid);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.respawnTimer);
    for (const p of this.queue.splice(0)) p.resolve(this.error('CRASHED', 'the sandbox pool was closed'));
    const exits = [...this.slots].map(
      (s) =>
        new Promise<void>((resolve) => {
          if (s.child.exitCode !== null || s.child.signalCode !== null) return resolve();
          s.child.once('exit', () => resolve());
          if (s.running !== undefined) this.finish(s, this.error('CRASHED', 'the sandbox pool was closed'));
          s.child.kill('SIGKILL');
        }),
    );
    await Promise.all(exits);
    this.slots.clear();
  }

  // ---- workers ----------------------------------------------------------------------------------------------------

  private spawnWorker(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const child = spawn(this.plan.command, this.plan.args, {
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
        serialization: 'advanced',
        env: this.plan.env,
        cwd: this.plan.cwd,
      });
      const slot: Slot = { child, pid: child.pid ?? -1, state: 'starting' };
      this.slots.add(slot);
      let settled = false;
      const settle = (err?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(slot.startTimer);
        if (err === undefined) resolve();
        else reject(err);
      };
      slot.startTimer = setTimeout(() => {
        settle(new SandboxPoolError('a sandbox worker did not start in time'));
        child.kill('SIGKILL');
      }, this.startTimeoutMs);
      slot.onReady = () => settle();
      child.stderr?.setEncoding('utf8');
      let partial = '';
      child.stderr?.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        if (partial.length > 4096) partial = '';
        for (const line of lines) if (line.trim() !== '') this.onWorkerLog(line);
      });
      child.on('message', (m: unknown) => this.onMessage(slot, m));
      child.on('error', () => {
        settle(new SandboxPoolError('a sandbox worker could not be started'));
        this.onExit(slot);
      });
      child.on('exit', () => {
        settle(new SandboxPoolError('a sandbox worker ended while starting'));
        this.onExit(slot);
      });
      if (child.pid !== undefined) {
        try {
          os.setPriority(child.pid, this.niceness);
        } catch {
          // not permitted: run at normal priority
        }
      }
    });
  }

  private onMessage(slot: Slot, m: unknown): void {
    if (typeof m !== 'object' || m === null) return this.misbehaved(slot);
    const msg = m as WorkerToPool;
    switch (msg.type) {
      case 'ready':
        if (slot.state !== 'starting') return this.misbehaved(slot);
        slot.state = 'idle';
        this.startFailures = 0;
        slot.onReady?.();
        this.pump();
        return;
      case 'fatal':
        slot.fatal = 'the isolate failed catastrophically';
        return;
      case 'result': {
        const running = slot.running;
        if (running === undefined || msg.seq !== running.seq) return this.misbehaved(slot);
        this.finish(slot, this.judge(running, msg.outcome));
        if (msg.retire === true) {
          // The worker could not stop its isolate (job code still busy on one of its threads): replace it.
          slot.state = 'dead';
          slot.child.kill('SIGKILL');
          return;
        }
        slot.state = 'idle';
        this.pump();
        return;
      }
      default:
        return this.misbehaved(slot);
    }
  }

  /** The worker's word on a job, checked: it is not trusted with the output or the codes. */
  private judge(running: Running, outcome: unknown): JobResult {
    const wallMs = performance.now() - running.dispatchedAt;
    if (typeof outcome !== 'object' || outcome === null) return this.error('CRASHED', 'the worker answered nonsense');
    const o = outcome as Record<string, unknown>;
    const cpuMs = typeof o.cpuMs === 'number' && Number.isFinite(o.cpuMs) && o.cpuMs >= 0 ? o.cpuMs : undefined;
    if (o.status === 'ok' && typeof o.output === 'string') {
      const check = parseOutput(o.output, running.job.limits, running.job.verboseErrors);
      if (!check.ok) return { ...this.error('INVALID_OUTPUT', check.message), cpuMs: cpuMs ?? 0, wallMs };
      const result: JobResult = { status: 'ok', tables: check.tables, cpuMs: cpuMs ?? 0, wallMs };
      const phases = this.phases(o.phases);
      if (phases !== undefined) result.phases = phases;
      return result;
    }
    if (o.status === 'error' && typeof o.code === 'string' && (ERROR_CODES as readonly string[]).includes(o.code)) {
      const r = this.error(o.code as SandboxErrorCode, sanitiseMessage(o.message, 600));
      return cpuMs === undefined ? { ...r, wallMs } : { ...r, cpuMs, wallMs };
    }
    return this.error('CRASHED', 'the worker answered nonsense');
  }

  private phases(p: unknown): JobPhases | undefined {
    if (typeof p !== 'object' || p === null) return undefined;
    const out: Record<string, number> = {};
    for (const k of ['isolateMs', 'transpileMs', 'inputMs', 'runMs', 'outputMs']) {
      const v = (p as Record<string, unknown>)[k];
      if (typeof v !== 'number' || !Number.isFinite(v)) return undefined;
      out[k] = v;
    }
    return out as unknown as JobPhases;
  }

  private misbehaved(slot: Slot): void {
    if (slot.running !== undefined) {
      this.stats.crashed++;
      this.finish(slot, this.error('CRASHED', 'the sandbox worker misbehaved and was replaced'));
    }
    slot.state = 'dead';
    slot.child.kill('SIGKILL');
  }

  private onExit(slot: Slot): void {
    if (!this.slots.has(slot)) return;
    const wasStarting = slot.state === 'starting';
    if (slot.running !== undefined) {
      this.stats.crashed++;
      this.finish(slot, this.error('CRASHED', slot.fatal ?? 'the sandbox worker ended unexpectedly'));
    }
    clearTimeout(slot.startTimer);
    slot.state = 'dead';
    this.slots.delete(slot);
    if (this.closed) return;
    if (wasStarting) this.startFailures++;
    this.replenish();
  }

  private replenish(): void {
    if (this.closed || this.respawnTimer !== undefined) return;
    const missing = this.size - this.slots.size;
    if (missing <= 0) return;
    const delay = this.startFailures === 0 ? 0 : Math.min(30_000, 100 * 2 ** Math.min(this.startFailures, 9));
    if (this.startFailures >= 3 && this.slots.size === 0) {
      for (const p of this.queue.splice(0)) p.resolve(this.error('CRASHED', 'no sandbox worker is available'));
    }
    this.respawnTimer = setTimeout(() => {
      this.respawnTimer = undefined;
      for (let i = this.size - this.slots.size; i > 0; i--) {
        this.stats.restarts++;
        this.spawnWorker().catch(() => undefined);
      }
    }, delay);
  }

  // ---- dispatch -----------------------------------------------------------------------------------------------

  private pump(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (slot.state !== 'idle') continue;
      if (!slot.child.connected || slot.child.exitCode !== null || slot.child.signalCode !== null) {
        slot.state = 'dead'; // it died while idle: its exit event will replace it
        continue;
      }
      const next = this.queue.shift() as Pending;
      this.dispatch(slot, next);
    }
  }

  /** The job never reached the worker (its channel was closed): put it back at the head of the queue. */
  private undeliverable(slot: Slot, running: Running): void {
    if (slot.running !== running) return;
    slot.running = undefined;
    clearTimeout(running.wallTimer);
    clearInterval(running.rssTimer);
    slot.state = 'dead';
    slot.child.kill('SIGKILL');
    this.queue.unshift({ job: running.job, resolve: running.resolve });
    this.pump();
  }

  private dispatch(slot: Slot, pending: Pending): void {
    const seq = ++this.seq;
    const { limits } = pending.job;
    const baseRss = rssOf(slot.pid) ?? 0;
    const running: Running = {
      ...pending,
      seq,
      dispatchedAt: performance.now(),
      baseRss,
      rssLimit:
        baseRss + this.rssFactor * limits.memoryMb * 1024 * 1024 + 3 * inputBytes(pending.job.columns) + RSS_SLACK,
      wallTimer: setTimeout(
        () => this.kill(slot, 'TIMEOUT', 'the job exceeded its wall-clock limit'),
        limits.wallMs + this.graceMs,
      ),
      rssTimer: undefined,
    };
    if (baseRss > 0) {
      running.rssTimer = setInterval(() => {
        const rss = rssOf(slot.pid);
        if (rss !== null && rss > running.rssLimit) this.kill(slot, 'MEMORY', 'the job exceeded its memory limit');
      }, RSS_SAMPLE_MS);
    }
    slot.state = 'busy';
    slot.running = running;
    try {
      slot.child.send({ type: 'job', seq, job: pending.job }, (err) => {
        if (err !== null) this.undeliverable(slot, running);
      });
    } catch {
      this.undeliverable(slot, running);
    }
  }

  private kill(slot: Slot, code: 'TIMEOUT' | 'MEMORY', message: string): void {
    if (slot.running === undefined) return;
    if (code === 'TIMEOUT') this.stats.timeout++;
    else this.stats.memory++;
    const wallMs = performance.now() - slot.running.dispatchedAt;
    this.finish(slot, { ...this.error(code, message), wallMs });
    slot.state = 'dead';
    slot.child.kill('SIGKILL');
  }

  private finish(slot: Slot, result: JobResult): void {
    const running = slot.running;
    if (running === undefined) return;
    slot.running = undefined;
    clearTimeout(running.wallTimer);
    clearInterval(running.rssTimer);
    this.stats.served++;
    if (result.wallMs === undefined) result.wallMs = performance.now() - running.dispatchedAt;
    running.resolve(result);
  }

  private error(code: SandboxErrorCode, message: string): Extract<JobResult, { status: 'error' }> {
    return { status: 'error', code, message };
  }
}
