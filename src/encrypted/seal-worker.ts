/**
 * The worker-thread side of the SEAL pool (seal-worker-pool.ts): every SEAL call the gateway makes on a
 * request's behalf runs here, never on the event loop. One task at a time; each task allocates its SEAL
 * objects in try/finally blocks (aggregator.ts, column-codec.ts) and deletes them before it answers. A task
 * past its deadline is not interrupted from inside: the pool terminates the whole thread, which frees its wasm
 * memory (every SEAL object with it).
 */
import { parentPort } from 'node:worker_threads';
import { EncryptedAggregator } from './aggregator.js';
import { loadEncryptedColumn } from './column-codec.js';
import { HeError } from './encrypted.errors.js';
import { BFV_PARAMS, CKKS_PARAMS, createHeContext, type HeContext, type HeScheme } from './he-params.js';
import { loadSeal } from './seal-runtime.js';
import type { SealTask, SealTaskResult, WorkerReply } from './seal-worker.protocol.js';

const contexts = new Map<HeScheme, Promise<HeContext>>();

function context(scheme: HeScheme): Promise<HeContext> {
  let ctx = contexts.get(scheme);
  if (!ctx) {
    ctx = loadSeal().then((rt) => createHeContext(rt, scheme === 'bfv' ? BFV_PARAMS : CKKS_PARAMS));
    contexts.set(scheme, ctx);
  }
  return ctx;
}

async function run(task: SealTask): Promise<SealTaskResult> {
  switch (task.type) {
    case 'info': {
      const ctx = await context(task.scheme);
      return {
        type: 'info',
        info: {
          spec: ctx.spec,
          paramsId: ctx.paramsId,
          slotCount: ctx.slotCount,
          maxAbsResult: ctx.maxAbsResult,
        },
      };
    }
    case 'checkBundle': {
      const ctx = await context(task.bundle.scheme);
      new EncryptedAggregator(ctx, task.bundle).delete(); // loads the Galois keys: refuses a missing step
      return { type: 'checkBundle' };
    }
    case 'aggregate': {
      const ctx = await context(task.bundle.scheme);
      const aggregator = new EncryptedAggregator(ctx, task.bundle);
      try {
        const column = loadEncryptedColumn(ctx, task.layout, task.ciphertexts);
        try {
          return { type: 'aggregate', result: aggregator.aggregate(column, task.request) };
        } finally {
          column.delete();
        }
      } finally {
        aggregator.delete();
      }
    }
  }
}

const port = parentPort;
if (!port) throw new Error('seal-worker.js runs as a worker thread');
port.on('message', (msg: { id: number; task: SealTask }) => {
  run(msg.task).then(
    (result) => {
      const transfer =
        result.type === 'aggregate'
          ? result.result.cells.flatMap((c) => (c.sum ? [c.sum.ciphertext.buffer as ArrayBuffer] : []))
          : [];
      port.postMessage({ id: msg.id, ok: true, result } satisfies WorkerReply, transfer);
    },
    (err: unknown) => {
      const reply: WorkerReply =
        err instanceof HeError
          ? { id: msg.id, ok: false, he: { code: err.code, detail: err.detail } }
          : { id: msg.id, ok: false, message: err instanceof Error ? err.message : String(err) };
      port.postMessage(reply);
    },
  );
});
