/**
 * A small pool of worker threads that run SEAL for the gateway (seal-worker.ts), so that no SEAL call ever
 * runs on the event loop: `/livez`, other requests and SIGTERM are served while an encrypted aggregate runs.
 *
 * Each task carries a deadline (the request's). A task still queued at its deadline is dropped; a task
 * running at its deadline has its thread terminated, which frees the thread's whole wasm memory and with it
 * every SEAL object the task had made; the next task gets a fresh thread. Either way the caller gets
 * DEADLINE_EXCEEDED. `close()` (gateway shutdown) terminates every thread and answers UNAVAILABLE to what
 * was pending.
 */
import { Worker } from 'node:worker_threads';
import { deadlineExceeded, DomainError, unavailable } from '../errors/domain.error.js';
import { HeError } from './encrypted.errors.js';
import type { SealTask, SealTaskResult, WorkerReply } from './seal-worker.protocol.js';

const WORKER_SCRIPT = new URL('./seal-worker.js', import.meta.url);

interface Job {
  id: number;
  task: SealTask;
  transfer: ArrayBuffer[];
  resolve(r: SealTaskResult): void;
  reject(err: unknown): void;
  timer: NodeJS.Timeout;
  slot: Slot | null;
}

interface Slot {
  worker: Worker | null;
  job: Job | null;
}

export class SealWorkerPool {
  private readonly slots: Slot[];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;
  /** Tasks handed to a thread, and threads terminated at a deadline (tests and metrics read them). */
  started = 0;
  terminations = 0;

  constructor(size: number) {
    this.slots = Array.from({ length: Math.max(1, size) }, () => ({ worker: null, job: null }));
  }

  /** Runs `task` on a free thread; rejects with DEADLINE_EXCEEDED once `deadline` (epoch ms) passes. */
  run(task: SealTask, deadline: number, transfer: ArrayBuffer[] = []): Promise<SealTaskResult> {
    if (this.closed) return Promise.reject(unavailable('The gateway is shutting down.'));
    return new Promise<SealTaskResult>((resolve, reject) => {
      const job: Job = { id: this.nextId++, task, transfer, resolve, reject, slot: null, timer: undefined as never };
      job.timer = setTimeout(() => this.expire(job), Math.max(0, deadline - Date.now()));
      this.queue.push(job);
      this.dispatch();
    });
  }

  /** Terminates every thread; pending tasks answer UNAVAILABLE. */
  async close(): Promise<void> {
    this.closed = true;
    const pending = [...this.queue, ...this.slots.flatMap((s) => (s.job ? [s.job] : []))];
    for (const job of pending) this.settle(job, () => job.reject(unavailable('The gateway is shutting down.')));
    await Promise.all(
      this.slots.map(async (s) => {
        const w = s.worker;
        s.worker = null;
        s.job = null;
        if (w) await w.terminate();
      }),
    );
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.job || this.queue.length === 0) continue;
      const job = this.queue.shift() as Job;
      slot.job = job;
      job.slot = slot;
      this.started++;
      this.worker(slot).postMessage({ id: job.id, task: job.task }, job.transfer);
    }
  }

  private worker(slot: Slot): Worker {
    if (slot.worker) return slot.worker;
    const w = new Worker(WORKER_SCRIPT);
    w.unref(); // a pool left open does not keep a CLI or a test process alive
    w.on('message', (reply: WorkerReply) => {
      const job = slot.job;
      if (!job || job.id !== reply.id) return;
      this.settle(job, () => {
        if (reply.ok) job.resolve(reply.result);
        else if ('he' in reply) job.reject(new HeError(reply.he.code, reply.he.detail));
        else job.reject(new DomainError('INTERNAL', 'Internal error.', reply.message));
      });
    });
    const lost = (err: unknown) => {
      if (slot.worker !== w) return;
      slot.worker = null;
      const job = slot.job;
      if (job) this.settle(job, () => job.reject(new DomainError('INTERNAL', 'Internal error.', err)));
    };
    w.on('error', lost);
    w.on('exit', (code) => lost(new Error(`SEAL worker exited with ${code}`)));
    slot.worker = w;
    return w;
  }

  private expire(job: Job): void {
    const slot = job.slot;
    if (slot) {
      // Running: SEAL cannot be interrupted from inside; the thread goes, and its wasm memory with it.
      const w = slot.worker;
      slot.worker = null;
      this.terminations++;
      if (w) void w.terminate();
    }
    this.settle(job, () => job.reject(deadlineExceeded()));
  }

  /** Frees the job's slot and queue place exactly once, then answers it. */
  private settle(job: Job, answer: () => void): void {
    clearTimeout(job.timer);
    const queued = this.queue.indexOf(job);
    if (queued >= 0) this.queue.splice(queued, 1);
    if (job.slot) {
      if (job.slot.job === job) job.slot.job = null;
      job.slot = null;
    } else if (queued < 0) return; // already settled
    answer();
    if (!this.closed) this.dispatch();
  }
}
