/**
 * Load generator run in a worker thread, so that the client's work does not sit on the server's event loop.
 * workerData: { url, body, headers, connections, seconds, warmupSeconds, expectItems }.
 * Posts back { latenciesMs: number[], seconds: number, errors: number }.
 */
import { parentPort, workerData } from 'node:worker_threads';

interface Job {
  url: string;
  body: string;
  headers: Record<string, string>;
  connections: number;
  seconds: number;
  warmupSeconds: number;
  expectItems: number;
}

const job = workerData as Job;
const lat: number[] = [];
let errors = 0;

async function one(record: boolean): Promise<void> {
  const t0 = performance.now();
  const r = await fetch(job.url, { method: 'POST', body: job.body, headers: job.headers });
  const j = (await r.json()) as { errors?: unknown; data?: { records?: { items?: unknown[] } } };
  if (!record) return;
  if (j.errors || j.data?.records?.items?.length !== job.expectItems) errors += 1;
  lat.push(performance.now() - t0);
}

async function run(seconds: number, record: boolean): Promise<number> {
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: job.connections }, async () => {
      while (performance.now() < end) await one(record);
    }),
  );
  return (performance.now() - t0) / 1000;
}

await run(job.warmupSeconds, false);
const seconds = await run(job.seconds, true);
parentPort?.postMessage({ latenciesMs: lat, seconds, errors });
