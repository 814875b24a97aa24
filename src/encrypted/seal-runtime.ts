/**
 * Loading node-seal (Microsoft SEAL 4.1 compiled to wasm) and keeping its objects' lifetimes explicit.
 *
 * Every SEAL object lives in wasm memory that JavaScript's garbage collector does not see: it is freed only
 * by `.delete()`. Code in this folder allocates SEAL objects inside a `withScope` block (or a try/finally)
 * so that they are deleted however the block ends. Handles returned by accessors (`parmsId()`,
 * `keyContextData()`, `qualifiers()`, ...) are new objects too and are deleted the same way.
 */
import { readFile } from 'node:fs/promises';
import initialize from 'node-seal';
import type { MainModule } from 'node-seal';

/** The node-seal module: SEAL's classes and enums. */
export type Seal = MainModule;

/** What `.delete()` applies to: every embind-wrapped SEAL object. */
export interface SealHandle {
  delete(): void;
  isDeleted(): boolean;
}

export interface SealRuntime {
  readonly seal: Seal;
  /** Bytes of wasm linear memory currently reserved (it grows on demand and never shrinks). */
  wasmHeapBytes(): number;
}

// The project's TypeScript lib (ES2024, no DOM) has no WebAssembly types: the few used here, locally.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmInstance {
  readonly exports: Record<string, unknown>;
}
interface WasmApi {
  compile(bytes: Uint8Array): Promise<object>;
  Instance: new (module: object, imports: object) => WasmInstance;
  Memory: abstract new (...args: never[]) => WasmMemory;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

let shared: Promise<SealRuntime> | null = null;
let compiled: Promise<object> | null = null;

/** The process-wide SEAL runtime (loaded once: about 30-60 ms). */
export function loadSeal(): Promise<SealRuntime> {
  shared ??= loadFreshSeal().catch((err: unknown) => {
    shared = null;
    throw err;
  });
  return shared;
}

/** A separate SEAL instance with its own wasm memory (tests measure memory on one of these). */
export async function loadFreshSeal(): Promise<SealRuntime> {
  // node-seal ships seal_throws.wasm beside its entry point; instantiating it ourselves is the only way to
  // reach the wasm Memory (emscripten does not export it), which the memory test and the bench read.
  compiled ??= readFile(new URL('seal_throws.wasm', import.meta.resolve('node-seal'))).then((b) => wasm.compile(b));
  const wasmModule = await compiled;
  let memory: WasmMemory | undefined;
  const seal = await initialize({
    // Synchronous instantiation: an error here rejects `initialize` instead of leaving it pending.
    instantiateWasm(imports: object, done: (instance: WasmInstance, module: object) => void) {
      const instance = new wasm.Instance(wasmModule, imports);
      memory = Object.values(instance.exports).find((e): e is WasmMemory => e instanceof wasm.Memory);
      done(instance, wasmModule);
      return instance.exports;
    },
  });
  if (!memory) throw new Error('node-seal: the wasm module exports no memory');
  const mem = memory;
  return { seal, wasmHeapBytes: () => mem.buffer.byteLength };
}

/** Collects SEAL handles and deletes them, newest first, when the scope ends. */
export class HandleScope {
  private readonly handles: SealHandle[] = [];

  /** Registers `h` for deletion at the end of the scope and returns it. */
  add<T extends SealHandle>(h: T): T {
    this.handles.push(h);
    return h;
  }

  /** Takes `h` out of the scope (its ownership passes to the caller). */
  release<T extends SealHandle>(h: T): T {
    const i = this.handles.lastIndexOf(h);
    if (i >= 0) this.handles.splice(i, 1);
    return h;
  }

  delete(): void {
    for (let h = this.handles.pop(); h; h = this.handles.pop()) {
      if (!h.isDeleted()) h.delete();
    }
  }
}

/** Runs `fn` with a scope whose handles are all deleted afterwards, whether `fn` returns or throws. */
export function withScope<T>(fn: (scope: HandleScope) => T): T {
  const scope = new HandleScope();
  try {
    return fn(scope);
  } finally {
    scope.delete();
  }
}

/** Deletes every handle given (skipping null and already-deleted ones). */
export function deleteAll(...handles: readonly (SealHandle | null | undefined)[]): void {
  for (const h of handles) if (h && !h.isDeleted()) h.delete();
}
