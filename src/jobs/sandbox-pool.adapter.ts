/**
 * {@link SandboxRunner} over the sandbox package's `SandboxPool` (isolated-vm isolates in worker processes with OS
 * limits). One pool per gateway, started on the first job so that a gateway that runs no job spawns no worker.
 */
import { Logger } from '@nestjs/common';
import { SandboxPool, type JobResult, type SandboxJob } from '#sandbox';
import type { SandboxRunner } from './sandbox.port.js';

const log = new Logger('SandboxPool');

export interface PoolSettings {
  workers: number;
  cpuMs: number;
  wallMs: number;
  memoryMb: number;
}

export class SandboxPoolRunner implements SandboxRunner {
  private pool: Promise<SandboxPool> | null = null;
  private closed = false;

  constructor(private readonly settings: PoolSettings) {}

  async run(job: SandboxJob): Promise<JobResult> {
    return (await this.start()).run(job);
  }

  health(): { workers: number; busy: number; queued: number } | null {
    return this.started?.health() ?? null;
  }

  private started: SandboxPool | null = null;

  private start(): Promise<SandboxPool> {
    if (this.closed) return Promise.reject(new Error('the sandbox pool is closed'));
    if (this.pool === null) {
      const s = this.settings;
      this.pool = SandboxPool.start({
        workers: s.workers,
        defaults: { cpuMs: s.cpuMs, wallMs: s.wallMs, memoryMb: s.memoryMb },
        ceilings: { cpuMs: s.cpuMs, wallMs: s.wallMs, memoryMb: s.memoryMb },
        onWorkerLog: (line) => log.warn(line),
      }).then((p) => {
        this.started = p;
        log.log(`${s.workers} sandbox workers started (${JSON.stringify(p.health().isolation)})`);
        return p;
      });
      // A failed start is retried on the next job.
      this.pool.catch(() => {
        this.pool = null;
      });
    }
    return this.pool;
  }

  async close(): Promise<void> {
    this.closed = true;
    const p = this.pool;
    this.pool = null;
    if (p) await (await p.catch(() => null))?.close();
  }
}
