/**
 * Runs one job in a fresh isolate, inside a worker process. Synchronous on purpose: the worker does one job at a time
 * and the pool, not the worker, watches the wall clock (it kills the process when a job overstays).
 *
 * What crosses into the isolate: the prelude's source, the job's source (a string) and the input as an
 * `ExternalCopy` (typed arrays and string arrays, copied). What crosses out: primitive strings from the driver, and
 * the output graph once, with isolated-vm's `copy` (after the driver checked and froze it). No `Reference`, `Callback`
 * or host object is ever placed in the context.
 */
import ivm from 'isolated-vm';
import { parseOutput } from './output.js';
import { sandboxPrelude } from './prelude.js';
import { type JobPhases, type SandboxErrorCode, type WorkerJob, type WorkerOutcome } from './protocol.js';
import { sanitiseMessage } from './sanitize.js';
import { prepareSource } from './transpile.js';

const PRELUDE = `return (${sandboxPrelude.toString()})();`;

type Driver = (op: string, a?: unknown, b?: unknown, c?: unknown) => unknown;

const TIMED_OUT = /Script execution timed out/;
const MEMORY = /memory limit|Isolate was disposed|Array buffer allocation failed/i;

function fail(code: SandboxErrorCode, message: string, cpuMs?: number): WorkerOutcome {
  return cpuMs === undefined ? { status: 'error', code, message } : { status: 'error', code, message, cpuMs };
}

/** `'!CODE message'` from the driver. */
function driverFailure(answer: string, cpuMs: number): WorkerOutcome {
  const space = answer.indexOf(' ');
  const code = answer.slice(1, space < 0 ? undefined : space);
  const message = sanitiseMessage(space < 0 ? '' : answer.slice(space + 1), 600);
  switch (code) {
    case 'TIMEOUT':
    case 'MEMORY':
    case 'INVALID_OUTPUT':
    case 'RUNTIME_ERROR':
      return fail(code, message, cpuMs);
    default:
      return fail('RUNTIME_ERROR', 'the job failed', cpuMs);
  }
}

/** Called by isolated-vm when V8 lost control of an isolate: the process must end. */
export type CatastropheHandler = (message: string) => void;

export function runInIsolate(job: WorkerJob, onCatastrophe: CatastropheHandler): WorkerOutcome {
  const started = performance.now();
  const deadline = started + job.limits.cpuMs;
  const remaining = () => Math.max(1, Math.ceil(deadline - performance.now()));
  const phases: JobPhases = { isolateMs: 0, transpileMs: 0, inputMs: 0, runMs: 0, outputMs: 0 };

  const prepared = prepareSource(job.code, job.language);
  phases.transpileMs = prepared.ms;
  if (!prepared.ok) return fail('RUNTIME_ERROR', sanitiseMessage(prepared.message, 400));

  let isolate: ivm.Isolate | undefined;
  let stage: 'isolate' | 'input' | 'run' | 'check' | 'copy' = 'isolate';
  const cpu = () => (isolate === undefined || isolate.isDisposed ? undefined : Number(isolate.cpuTime) / 1e6);
  let lastCpu = 0;
  try {
    let t = performance.now();
    isolate = new ivm.Isolate({ memoryLimit: job.limits.memoryMb, onCatastrophicError: onCatastrophe });
    const context = isolate.createContextSync();
    const driverRef = context.evalClosureSync(PRELUDE, [], {
      result: { reference: true },
      timeout: remaining(),
    }) as ivm.Reference<Driver>;
    phases.isolateMs = performance.now() - t;

    stage = 'input';
    t = performance.now();
    // A typed array that arrived over IPC is a view into the whole message buffer, and isolated-vm copies a view's
    // entire buffer: give each column a buffer of its own (one copy), then hand those buffers over without another.
    const columns: Record<string, unknown> = {};
    const buffers: ArrayBuffer[] = [];
    for (const [name, values] of Object.entries(job.columns)) {
      if (values instanceof Float64Array || values instanceof Int32Array) {
        const own = values.slice();
        buffers.push(own.buffer);
        columns[name] = own;
      } else {
        columns[name] = values;
      }
    }
    const input = new ivm.ExternalCopy(
      { columns, rowCount: job.rowCount, params: job.params },
      { transferList: buffers },
    );
    phases.inputMs = performance.now() - t;

    stage = 'run';
    t = performance.now();
    const ran = driverRef.applySync(
      undefined,
      ['run', prepared.source, input.copyInto({ release: true, transferIn: true }), job.verboseErrors],
      { timeout: remaining() },
    ) as unknown;
    lastCpu = cpu() ?? lastCpu;
    if (ran !== '') return driverFailure(String(ran), lastCpu);

    stage = 'check';
    const checked = driverRef.applySync(
      undefined,
      ['check', job.limits.maxOutputBytes, job.limits.maxOutputRows, job.verboseErrors],
      { timeout: remaining() },
    ) as unknown;
    lastCpu = cpu() ?? lastCpu;
    if (checked !== '') return driverFailure(String(checked), lastCpu);

    stage = 'copy';
    const output: unknown = driverRef.applySync(undefined, ['get'], { timeout: remaining(), result: { copy: true } });
    lastCpu = cpu() ?? lastCpu;
    phases.runMs = performance.now() - t;
    if (lastCpu > job.limits.cpuMs) return fail('TIMEOUT', 'the job exceeded its CPU time limit', lastCpu);

    t = performance.now();
    const json = JSON.stringify(output);
    const check = parseOutput(json, job.limits, job.verboseErrors);
    phases.outputMs = performance.now() - t;
    if (!check.ok) return fail('INVALID_OUTPUT', check.message, lastCpu);
    return { status: 'ok', output: json, cpuMs: lastCpu, phases };
  } catch (e) {
    const message = e instanceof Error ? e.message : typeof e === 'string' ? e : '';
    const spent = cpu() ?? lastCpu;
    if (TIMED_OUT.test(message)) return fail('TIMEOUT', 'the job exceeded its CPU time limit', spent);
    if ((isolate?.isDisposed ?? false) || MEMORY.test(message)) {
      return fail('MEMORY', 'the job exceeded its memory limit', spent);
    }
    if (stage === 'copy') {
      // isolated-vm refuses to copy proxies, functions, accessors and cycles (the driver's check cannot see proxies).
      const why = /circular/i.test(message)
        ? 'cyclic structures are not allowed in the output'
        : /could not be cloned/i.test(message)
          ? 'proxies and functions are not allowed in the output'
          : 'the output could not be copied (getters, proxies or functions)';
      return fail('INVALID_OUTPUT', why, spent);
    }
    if (stage === 'input') return fail('MEMORY', 'the input could not be copied into the isolate', spent);
    return fail('RUNTIME_ERROR', `sandbox error: ${sanitiseMessage(message, 200)}`, spent);
  } finally {
    if (isolate !== undefined && !isolate.isDisposed) isolate.dispose();
  }
}
