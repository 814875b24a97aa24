/**
 * The worker process. Started by {@link SandboxPool} (never by hand) with IPC and `serialization: 'advanced'`, an
 * empty environment, `--no-node-snapshot` (isolated-vm needs it), a small `--max-old-space-size`, Node's permission
 * model (read access to its own code only; no writes, child processes, workers or network) and, where the host
 * allows, OS limits (prlimit) and an empty network namespace (unshare). One job at a time, each in a fresh isolate.
 */
import { runInIsolate } from './runner.js';
import { prepareSource } from './transpile.js';
import type { PoolToWorker, WorkerJob, WorkerToPool } from './protocol.js';

function send(message: WorkerToPool): void {
  if (process.send === undefined || !process.connected) process.exit(0);
  process.send(message);
}

function onCatastrophe(message: string): void {
  // V8 has lost control of an isolate: report and end the process (the pool replaces it).
  try {
    send({ type: 'fatal', message: String(message).slice(0, 200) });
  } finally {
    process.abort();
  }
}

function isJob(m: unknown): m is Extract<PoolToWorker, { type: 'job' }> {
  if (typeof m !== 'object' || m === null) return false;
  const j = (m as { job?: Partial<WorkerJob> }).job;
  return (
    (m as { type?: unknown }).type === 'job' &&
    typeof (m as { seq?: unknown }).seq === 'number' &&
    typeof j === 'object' &&
    j !== null &&
    typeof j.code === 'string' &&
    typeof j.columns === 'object' &&
    typeof j.limits === 'object'
  );
}

if (process.send === undefined) {
  console.error('the sandbox worker is started by SandboxPool over IPC');
  process.exit(2);
}

let retiring = false;
process.on('message', (m: unknown) => {
  if (typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'exit') process.exit(0);
  if (!isJob(m)) return;
  if (retiring) return;
  void runInIsolate(m.job, onCatastrophe).then(({ outcome, retire }) => {
    // An isolate thread this process could not stop: answer, take no further job, and let the pool kill it.
    if (retire) retiring = true;
    send(retire ? { type: 'result', seq: m.seq, outcome, retire } : { type: 'result', seq: m.seq, outcome });
  });
});
process.on('disconnect', () => process.exit(0));
// Load and warm TypeScript before taking jobs, so that no job's wall clock pays for it.
try {
  prepareSource('export const warm: number = 1;', 'ts');
} catch {
  // without TypeScript, module syntax and TypeScript jobs fail with a message; plain scripts still run
}
send({ type: 'ready', pid: process.pid, node: process.version });
