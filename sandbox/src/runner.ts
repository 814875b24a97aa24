/**
 * Runs one job in a fresh isolate, inside a worker process. The worker does one job at a time; the pool, not the
 * worker, watches the wall clock (it kills the process when a job overstays). The CPU budget is the worker's: every
 * call into the isolate carries the remaining budget as isolated-vm's `timeout`, and a watchdog on this thread
 * disposes of the isolate if a call is still busy after the budget (see `call` below).
 *
 * What crosses into the isolate: the prelude's source, the job's source (a string) and the input as an
 * `ExternalCopy` (typed arrays and string arrays, copied). What crosses out: primitive strings only, from the driver;
 * the output as JSON text written inside the isolate, parsed here with the host's `JSON.parse`. No `Reference`,
 * `Callback` or host object is ever placed in the context, and no object of the job's is ever copied out.
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
/** How long after the CPU deadline a call may still be busy before the watchdog disposes of the isolate. */
const WATCHDOG_SLACK_MS = 50;
/**
 * How long a call may stay busy after the watchdog disposed of its isolate. isolated-vm resets a termination while
 * it copies a rejection's reason (its TryCatch swallows it) and then reads the next property, so a job's proxy can
 * keep that thread busy. Its worker is then retired: the job's answer goes out, and the pool kills the process.
 */
const ABANDON_AFTER_MS = 100;
const CPU_EXCEEDED = 'the job exceeded its CPU time limit';

/** What one job came to, and whether its worker must be retired (an isolate thread it could not stop). */
export interface IsolateRun {
  outcome: WorkerOutcome;
  retire: boolean;
}

class Abandoned extends Error {}

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

export async function runInIsolate(job: WorkerJob, onCatastrophe: CatastropheHandler): Promise<IsolateRun> {
  let retire = false;
  const outcome = await runJob(job, onCatastrophe, () => (retire = true));
  return { outcome, retire };
}

async function runJob(
  job: WorkerJob,
  onCatastrophe: CatastropheHandler,
  onAbandon: () => void,
): Promise<WorkerOutcome> {
  const started = performance.now();
  const deadline = started + job.limits.cpuMs;
  const remaining = () => Math.max(1, Math.ceil(deadline - performance.now()));
  const phases: JobPhases = { isolateMs: 0, transpileMs: 0, inputMs: 0, runMs: 0, outputMs: 0 };

  const prepared = prepareSource(job.code, job.language);
  phases.transpileMs = prepared.ms;
  if (!prepared.ok) return fail('RUNTIME_ERROR', sanitiseMessage(prepared.message, 400));

  let isolate: ivm.Isolate | undefined;
  let stage: 'isolate' | 'input' | 'run' | 'check' | 'get' = 'isolate';
  const cpu = () => (isolate === undefined || isolate.isDisposed ? undefined : Number(isolate.cpuTime) / 1e6);
  let lastCpu = 0;
  let overBudget = false;
  try {
    let t = performance.now();
    const iso = new ivm.Isolate({ memoryLimit: job.limits.memoryMb, onCatastrophicError: onCatastrophe });
    isolate = iso;
    const context = iso.createContextSync();
    // The prelude is ours and runs before any job code: a synchronous call is safe here.
    const driverRef = context.evalClosureSync(PRELUDE, [], {
      result: { reference: true },
      timeout: remaining(),
    }) as ivm.Reference<Driver>;
    phases.isolateMs = performance.now() - t;

    /**
     * One call into the isolate, answered with the driver's string. isolated-vm's `timeout` covers only the call
     * itself; in the same task it then runs a microtask checkpoint and copies the reason of an unhandled promise
     * rejection (reading its `message` and `stack`: getters, proxy traps, toString and stack formatting of the job's)
     * with no limit at all. So the call runs on isolated-vm's thread (`apply`, not `applySync`) and this thread, which
     * stays free, disposes of the isolate if the call is still busy just after the CPU deadline.
     */
    const call = async (args: [op: string, a?: unknown, b?: unknown, c?: unknown]): Promise<string> => {
      let abandon: (e: Error) => void = () => undefined;
      const abandoned = new Promise<never>((_, reject) => (abandon = reject));
      let abandonTimer: NodeJS.Timeout | undefined;
      const watchdog = setTimeout(() => {
        if (!iso.isDisposed) {
          overBudget = true;
          lastCpu = cpu() ?? lastCpu;
          iso.dispose();
        }
        abandonTimer = setTimeout(() => abandon(new Abandoned()), ABANDON_AFTER_MS);
      }, remaining() + WATCHDOG_SLACK_MS);
      const applied = driverRef.apply(undefined, args as [string], { timeout: remaining() });
      applied.catch(() => undefined); // it may still settle after being abandoned
      try {
        const answer: unknown = await Promise.race([applied, abandoned]);
        lastCpu = cpu() ?? lastCpu;
        return typeof answer === 'string' ? answer : '!RUNTIME_ERROR driver misuse';
      } finally {
        clearTimeout(watchdog);
        clearTimeout(abandonTimer);
      }
    };

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
    const ran = await call([
      'run',
      prepared.source,
      input.copyInto({ release: true, transferIn: true }),
      job.verboseErrors,
    ]);
    if (ran !== '') return driverFailure(ran, lastCpu);

    stage = 'check';
    const checked = await call(['check', job.limits.maxOutputBytes, job.limits.maxOutputRows, job.verboseErrors]);
    if (checked !== '') return driverFailure(checked, lastCpu);

    stage = 'get';
    const json = await call(['get']);
    phases.runMs = performance.now() - t;
    if (lastCpu > job.limits.cpuMs) return fail('TIMEOUT', CPU_EXCEEDED, lastCpu);
    if (json.startsWith('!')) return driverFailure(json, lastCpu);

    t = performance.now();
    const check = parseOutput(json, job.limits, job.verboseErrors);
    phases.outputMs = performance.now() - t;
    if (!check.ok) return fail('INVALID_OUTPUT', check.message, lastCpu);
    return { status: 'ok', output: json, cpuMs: lastCpu, phases };
  } catch (e) {
    if (e instanceof Abandoned) {
      onAbandon();
      return fail('TIMEOUT', CPU_EXCEEDED, lastCpu);
    }
    const message = e instanceof Error ? e.message : typeof e === 'string' ? e : '';
    const spent = cpu() ?? lastCpu;
    if (overBudget || TIMED_OUT.test(message)) return fail('TIMEOUT', CPU_EXCEEDED, spent);
    if ((isolate?.isDisposed ?? false) || MEMORY.test(message)) {
      return fail('MEMORY', 'the job exceeded its memory limit', spent);
    }
    if (stage === 'input') return fail('MEMORY', 'the input could not be copied into the isolate', spent);
    if (stage !== 'isolate') {
      // The driver answers every failure with a string, so what isolated-vm throws here is the reason of a promise the
      // job rejected and never handled, copied after the call. It is the job's own text: withheld on real data.
      return fail(
        'RUNTIME_ERROR',
        job.verboseErrors
          ? `unhandled promise rejection: ${sanitiseMessage(message, 300)}`
          : 'a promise was rejected and never handled (message withheld: enable verbose errors on dummy data)',
        spent,
      );
    }
    return fail('RUNTIME_ERROR', `sandbox error: ${sanitiseMessage(message, 200)}`, spent);
  } finally {
    if (isolate !== undefined && !isolate.isDisposed) isolate.dispose();
  }
}
