/**
 * Escape and abuse suite. Every attempt states the one outcome it must have: the job fails with a specific code, or it
 * succeeds and what it saw shows no host object, path or capability. After every attempt a canary job checks that the
 * pool still serves and that the next isolate is pristine, and the host checks that its own realm is untouched.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SandboxPool } from './pool.js';
import type { JobResult, SandboxErrorCode, SandboxJob } from './protocol.js';
import { HOST_MARKERS, expectError, firstColumn, okTables, probeCode } from './testing/support.js';

const LIMITS = { cpuMs: 1500, wallMs: 4000, memoryMb: 64 };

/** The standard globals of a job's context, after the prelude removed the ambient capabilities. */
const EXPECTED_GLOBALS = [
  'AggregateError',
  'Array',
  'ArrayBuffer',
  'AsyncDisposableStack',
  'BigInt',
  'BigInt64Array',
  'BigUint64Array',
  'Boolean',
  'DataView',
  'Date',
  'DisposableStack',
  'Error',
  'EvalError',
  'Float16Array',
  'Float32Array',
  'Float64Array',
  'Function',
  'Infinity',
  'Int16Array',
  'Int32Array',
  'Int8Array',
  'Intl',
  'Iterator',
  'JSON',
  'Map',
  'Math',
  'NaN',
  'Number',
  'Object',
  'Promise',
  'Proxy',
  'RangeError',
  'ReferenceError',
  'Reflect',
  'RegExp',
  'Set',
  'String',
  'SuppressedError',
  'Symbol',
  'SyntaxError',
  'Temporal',
  'TypeError',
  'URIError',
  'Uint16Array',
  'Uint32Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'WeakMap',
  'WeakSet',
  'decodeURI',
  'decodeURIComponent',
  'encodeURI',
  'encodeURIComponent',
  'escape',
  'eval',
  'globalThis',
  'isFinite',
  'isNaN',
  'parseFloat',
  'parseInt',
  'undefined',
  'unescape',
];

/** Runs in a fresh isolate after every attempt: nothing of an earlier job may be visible. */
const CANARY = `globalThis.main = function (input) {
  const extraGlobals = Object.getOwnPropertyNames(globalThis).filter((k) => k !== 'main' && !${JSON.stringify(EXPECTED_GLOBALS)}.includes(k));
  const dirty = [Object.prototype, Array.prototype, Function.prototype, String.prototype, Number.prototype, Promise.prototype]
    .map((p) => Object.getOwnPropertyNames(p).length);
  return { tables: [{ name: 'canary', columns: ['extra', 'protoSizes', 'sum'],
    rows: [[extraGlobals.join(','), dirty.join(','), input.columns.x[0] + input.columns.x[1]]] }] };
};`;

interface Attempt {
  name: string;
  job: Omit<SandboxJob, 'jobId' | 'columns'> & { columns?: SandboxJob['columns'] };
  /** The error code the attempt must end with, or 'ok' and a check of what it returned. */
  expect: SandboxErrorCode | 'ok';
  check?: (r: JobResult) => void;
  /** Upper bound of the pool's answer time. */
  withinMs?: number;
}

const x = { type: 'f64' as const, values: Float64Array.from([1, 2, 3]) };
const s = { type: 'str' as const, values: ['a', 'b', 'c'] };
const COLUMNS = { x, s, n: { type: 'i32' as const, values: Int32Array.from([7, 8, 9]) } };

/** Every value the probes print must be free of host markers. */
function noHostLeak(r: JobResult): void {
  const text = JSON.stringify(r);
  for (const m of HOST_MARKERS) assert.doesNotMatch(text, m);
}

const allEqual =
  (expected: string) =>
  (r: JobResult): void => {
    noHostLeak(r);
    for (const seen of firstColumn(r)) assert.equal(seen, expected);
  };

/**
 * The job was stopped by its CPU budget, in the worker (the isolate's time limit or the worker's watchdog), and not
 * by the pool's wall-clock kill, whose message differs and which comes without a CPU measurement.
 */
function byCpuLimit(r: JobResult, cpuMs: number): void {
  assert.ok(r.status === 'error');
  assert.equal(r.message, 'the job exceeded its CPU time limit');
  assert.ok(r.cpuMs !== undefined && r.cpuMs >= cpuMs * 0.9, `cpuMs ${r.cpuMs}`);
  assert.ok(r.wallMs !== undefined && r.wallMs < cpuMs + 1000, `wallMs ${r.wallMs}`);
}

const code = (body: string) => `globalThis.main = function (input) { ${body} };`;
const table = (rows: string) => `({ tables: [{ name: 't', columns: ['v'], rows: ${rows} }] })`;

const ATTEMPTS: Attempt[] = [
  // ---- constructor-chain walks: every Function reachable is the isolate's own -------------------------------------
  {
    name: 'this.constructor.constructor at the top level',
    job: {
      code:
        `const t = (function () { return this.constructor.constructor('return typeof process + typeof require')(); })();\n` +
        code(`return ${table('[[t]]')};`),
    },
    expect: 'ok',
    check: allEqual('undefinedundefined'),
  },
  {
    name: 'constructor walks on every input value',
    job: {
      code: probeCode([
        `input.constructor.constructor('return typeof process')()`,
        `input.columns.constructor.constructor('return typeof process')()`,
        `input.columns.x.constructor.constructor('return typeof process')()`,
        `input.columns.x.buffer.constructor.constructor('return typeof process')()`,
        `Object.getPrototypeOf(Object.getPrototypeOf(input.columns.x)).constructor.constructor('return typeof process')()`,
        `input.columns.s.constructor.constructor('return typeof process')()`,
        `input.columns.s.map.constructor('return typeof require')()`,
        `input.columns.n.constructor.constructor('return typeof require')()`,
        `input.params.constructor.constructor('return typeof process')()`,
        `input.rowCount.constructor.constructor('return typeof process')()`,
      ]),
      params: { nested: { a: [1] } },
    },
    expect: 'ok',
    check: allEqual('undefined'),
  },
  {
    name: 'async, generator and bound function constructors',
    job: {
      code: probeCode([
        `(async function () {}).constructor.constructor('return typeof process')()`,
        `(function* () {}).constructor('yield typeof process')().next().value`,
        `(async function* () {}).constructor.constructor('return typeof process')()`,
        `(() => 1).bind(null).constructor('return typeof process')()`,
        `Reflect.construct(Function, ['return typeof process'])()`,
      ]),
    },
    expect: 'ok',
    check: allEqual('undefined'),
  },
  {
    name: 'constructor walk from an engine-made error',
    job: {
      code: probeCode([
        `(() => { try { null.x; } catch (e) { return e.constructor.constructor('return typeof process')(); } })()`,
        `(() => { try { undefinedName; } catch (e) { return Object.getPrototypeOf(e).constructor.constructor('return typeof globalThis.process')(); } })()`,
      ]),
    },
    expect: 'ok',
    check: allEqual('undefined'),
  },
  {
    name: 'a returned object carrying a constructor key is refused, and the copy reaching the host is plain',
    job: { code: code(`return { tables: [{ name: 't', columns: ['v'], rows: [[1]], constructor: Function }] };`) },
    expect: 'INVALID_OUTPUT',
  },
  ...[1, 7, 100_000].map((n): Attempt => ({
    name: `input typed arrays own exactly their column's bytes (${n} rows; an IPC view would expose the whole message)`,
    job: {
      code: code(`const c = input.columns;
          return ${table('[[c.x.buffer.byteLength === c.x.byteLength], [c.n.buffer.byteLength === c.n.byteLength], [c.x.byteOffset + c.n.byteOffset]]')};`),
      columns: {
        x: { type: 'f64', values: new Float64Array(n) },
        n: { type: 'i32', values: new Int32Array(n) },
        s: { type: 'str', values: Array<string>(n).fill('other column') },
      },
      limits: { memoryMb: 128 },
    },
    expect: 'ok',
    check: (r) => assert.deepEqual(firstColumn(r), [true, true, 0]),
  })),
  {
    name: 'module and exports objects lead nowhere',
    job: {
      code: `exports.run = function (input) {
        return { tables: [{ name: 't', columns: ['v'], rows: [[typeof module.require], [typeof module.constructor._load], [module.constructor.constructor('return typeof process')()]] }] };
      };`,
    },
    expect: 'ok',
    check: allEqual('undefined'),
  },
  {
    name: 'arguments.callee.caller cannot reach the (strict) driver',
    job: { code: code(`return ${table('[[String(arguments.callee.caller)]]')};`) },
    expect: 'ok',
    check: allEqual('null'),
  },
  // ---- stack traces -------------------------------------------------------------------------------------------
  {
    name: 'Error.prepareStackTrace is locked before job code runs; a stack names only isolate frames',
    job: {
      code: code(`
        Error.stackTraceLimit = Infinity;
        Error.prepareStackTrace = (e, frames) => frames; // sloppy code: silently ignored
        const strict = (function () { 'use strict'; try { Error.prepareStackTrace = () => 1; return 'assigned'; } catch (e) { return e.name; } })();
        const d = Object.getOwnPropertyDescriptor(Error, 'prepareStackTrace');
        const stack = new Error('x').stack;
        return ${table(`[[typeof Error.prepareStackTrace], [strict], [Reflect.defineProperty(Error, 'prepareStackTrace', { get() { return () => 1; } })],
          [delete Error.prepareStackTrace], [String(d.writable) + String(d.configurable)], [typeof stack], [stack]]`)};`),
    },
    expect: 'ok',
    check: (r) => {
      noHostLeak(r);
      const [type, strict, redefined, deleted, flags, stackType, stack] = firstColumn(r);
      assert.deepEqual(
        [type, strict, redefined, deleted, flags, stackType],
        ['undefined', 'TypeError', false, false, 'falsefalse', 'string'],
      );
      // V8's default format, not a hook's: the message line, then frames in the job's code and the driver
      assert.match(String(stack), /^Error: x\n\s+at /);
      assert.match(String(stack), /<isolated-vm>/);
    },
  },
  {
    name: 'a looping Error.prepareStackTrace does not hang the host when the error is reported',
    job: { code: code(`Error.prepareStackTrace = () => { for (;;) {} }; throw new Error('x');`) },
    expect: 'RUNTIME_ERROR',
    withinMs: 1000,
  },
  {
    name: 'a looping Error.prepareStackTrace when isolated-vm refuses to copy a proxy in the output',
    job: {
      code: code(
        `Error.prepareStackTrace = () => { for (;;) {} }; return { tables: [new Proxy({ name: 't', columns: ['v'], rows: [] }, {})] };`,
      ),
    },
    expect: 'INVALID_OUTPUT',
    withinMs: 1000,
  },
  {
    name: 'the same with Error frozen so that the hook cannot be removed',
    job: {
      code: code(
        `Error.prepareStackTrace = () => { for (;;) {} }; Object.freeze(Error); return { tables: [new Proxy({ name: 't', columns: ['v'], rows: [] }, {})] };`,
      ),
    },
    expect: 'INVALID_OUTPUT',
    withinMs: 1000,
  },
  {
    name: 'a thrown object whose message and stack are looping getters',
    job: {
      code: code(`throw { get message() { for (;;) {} }, get stack() { for (;;) {} }, get name() { for (;;) {} } };`),
    },
    expect: 'RUNTIME_ERROR',
    withinMs: 1000,
  },
  {
    name: 'a thrown Proxy with looping traps',
    job: {
      code: code(
        `throw new Proxy(new Error('x'), { get() { for (;;) {} }, getPrototypeOf() { return Error.prototype; } });`,
      ),
    },
    expect: 'RUNTIME_ERROR',
    withinMs: 2500,
  },
  {
    name: 'a thrown error at the module top level with a looping message getter',
    job: { code: `const e = new Error('x'); Object.defineProperty(e, 'message', { get() { for (;;) {} } }); throw e;` },
    expect: 'RUNTIME_ERROR',
    withinMs: 1000,
  },
  {
    name: 'stack overflow by deep recursion',
    job: { code: code(`const f = (n) => f(n + 1) + 1; return f(0);`) },
    expect: 'RUNTIME_ERROR',
    check: (r) => assert.match(r.status === 'error' ? r.message : '', /Maximum call stack size exceeded/),
  },
  {
    name: 'stack overflow, caught, then a second overflow inside the catch handler',
    job: { code: code(`const f = () => f(); try { f(); } catch { f(); }`) },
    expect: 'RUNTIME_ERROR',
  },
  // ---- proxies and species ------------------------------------------------------------------------------------
  {
    name: 'a Proxy as the whole result (its traps tell a consistent lie)',
    job: {
      code: code(`const target = ${table('[[1]]')}; return new Proxy(target, {});`),
    },
    expect: 'INVALID_OUTPUT',
  },
  {
    name: 'a Proxy as a row',
    job: { code: code(`return ${table('[new Proxy([1], {})]')};`) },
    expect: 'INVALID_OUTPUT',
  },
  {
    name: 'a Proxy whose traps loop forever, as the result (refused without calling a trap)',
    job: { code: code(`return new Proxy({}, { ownKeys() { for (;;) {} }, getPrototypeOf() { for (;;) {} } });`) },
    expect: 'INVALID_OUTPUT',
    withinMs: 1000,
  },
  {
    name: 'a Proxy trap that swaps the rows after they were checked',
    job: {
      code: code(`
        const t = { name: 't', columns: ['v'], rows: [[1]] };
        const inner = new Proxy(t, { getOwnPropertyDescriptor(o, k) { Promise.resolve().then(() => { t.rows = new Array(1e6).fill([9]); }); return Reflect.getOwnPropertyDescriptor(o, k); } });
        return { tables: [inner] };`),
    },
    expect: 'INVALID_OUTPUT',
  },
  {
    name: 'Symbol.species on an Array subclass returned as rows',
    job: {
      code: code(`class Evil extends Array { static get [Symbol.species]() { return Array; } }
        const rows = Evil.from([[1]]); return ${table('rows')};`),
    },
    expect: 'INVALID_OUTPUT',
  },
  {
    name: 'Symbol.species and Array constructor hijack before returning plain arrays',
    job: {
      code: code(`Array[Symbol.species] = Object; Object.defineProperty(Array, Symbol.species, { get() { throw new Error('species'); } });
        Array.prototype.constructor = function () { throw new Error('ctor'); };
        return ${table('[[1], [2]]')};`),
    },
    expect: 'ok',
    check: (r) => assert.deepEqual(firstColumn(r), [1, 2]),
  },
  // ---- prototype pollution ------------------------------------------------------------------------------------
  {
    name: 'polluting Object.prototype, Array.prototype and JSON before returning',
    job: {
      code: code(`Object.prototype.polluted = 'yes'; Object.prototype.toJSON = () => 'hijacked';
        Array.prototype.push = () => { throw new Error('push'); }; JSON.stringify = () => 'hijacked'; JSON.parse = () => ({});
        Object.defineProperty(Object.prototype, 'get', { value: () => 1, enumerable: false });
        return ${table('[[1]]')};`),
    },
    expect: 'ok',
    check: (r) => {
      assert.deepEqual(okTables(r), [{ name: 't', columns: ['v'], rows: [[1]] }]);
      assert.equal(Object.getPrototypeOf(okTables(r)[0]), Object.prototype);
    },
  },
  {
    name: 'setters on Array.prototype indices and Object.prototype keys the driver might write',
    job: {
      code: code(`for (let i = 0; i < 8; i++) Object.defineProperty(Array.prototype, i, { __proto__: null, set() { throw new Error('set'); }, get() { return 'fake'; } });
        for (const k of ['k:name', 'k:t', 'k:v', 'found', 'value', 'accessor', 'get', 'set']) Object.defineProperty(Object.prototype, k, { __proto__: null, set() { throw new Error('set'); }, get() { return true; } });
        const rows = [[1]]; return { tables: [{ name: 't', columns: ['v'], rows }] };`),
    },
    expect: 'ok',
    check: (r) => assert.deepEqual(okTables(r)[0]!.rows, [[1]]),
  },
  {
    name: 'a tables getter inherited from a polluted Object.prototype',
    job: { code: code(`Object.defineProperty(Object.prototype, 'tables', { get() { return []; } }); return {};`) },
    expect: 'INVALID_OUTPUT',
  },
  {
    name: 'lying replacements of Object.getOwnPropertyDescriptor, Reflect.ownKeys, Object.freeze and Array.isArray',
    job: {
      code: code(`Object.getOwnPropertyDescriptor = (o, k) => ({ value: o[k], writable: true, enumerable: true, configurable: true });
        Reflect.ownKeys = () => ['tables']; Object.freeze = (o) => o; Array.isArray = () => true; Reflect.apply = () => '';
        return { tables: [{ name: 't', columns: ['v'], get rows() { for (;;) {} } }] };`),
    },
    expect: 'INVALID_OUTPUT',
    withinMs: 1000,
  },
  // ---- probes for host capabilities ---------------------------------------------------------------------------
  {
    name: 'process, require, module loaders, timers, network and host globals are absent',
    job: {
      code: probeCode([
        'typeof process',
        'typeof require',
        'typeof Buffer',
        'typeof setTimeout',
        'typeof setInterval',
        'typeof setImmediate',
        'typeof queueMicrotask',
        'typeof fetch',
        'typeof XMLHttpRequest',
        'typeof WebSocket',
        'typeof performance',
        'typeof console',
        'typeof navigator',
        'typeof structuredClone',
        'typeof importScripts',
        'typeof Deno',
        'typeof Bun',
        'typeof global',
        'typeof _ivm',
        'typeof $0',
      ]),
    },
    expect: 'ok',
    check: allEqual('undefined'),
  },
  {
    name: 'the global object holds exactly the expected built-ins',
    job: {
      code: code(
        `return ${table('Object.getOwnPropertyNames(globalThis).filter((k) => k !== "main").sort().map((k) => [k])')};`,
      ),
    },
    expect: 'ok',
    check: (r) => assert.deepEqual(firstColumn(r), [...EXPECTED_GLOBALS].sort()),
  },
  {
    name: 'a static import of node:fs',
    job: {
      code: `import fs from 'node:fs';\nexport function run() { return { tables: [{ name: 't', columns: ['v'], rows: [[fs.readFileSync('/etc/passwd', 'utf8')]] }] }; }`,
    },
    expect: 'RUNTIME_ERROR',
    check: (r) => assert.match(r.status === 'error' ? r.message : '', /ReferenceError in module top level/),
  },
  {
    name: 'a dynamic import() of node:child_process',
    job: {
      code: `globalThis.main = async function () { const cp = await import('node:child_process'); return { tables: [{ name: 't', columns: ['v'], rows: [[String(cp.execSync('id'))]] }] }; };`,
    },
    expect: 'RUNTIME_ERROR',
  },
  {
    name: 'WebAssembly, SharedArrayBuffer and Atomics are removed',
    job: {
      code: probeCode([
        'typeof WebAssembly',
        'typeof SharedArrayBuffer',
        'typeof Atomics',
        'typeof globalThis.WebAssembly',
      ]),
    },
    expect: 'ok',
    check: allEqual('undefined'),
  },
  {
    name: 'FinalizationRegistry and WeakRef are removed (no GC timing)',
    job: { code: probeCode(['typeof FinalizationRegistry', 'typeof WeakRef']) },
    expect: 'ok',
    check: allEqual('undefined'),
  },
  {
    name: 'timing probes: Date has 1 ms resolution, performance and Temporal.Now are absent',
    job: {
      code: code(`const a = Date.now(); let b = a; let spins = 0; while (b === a && spins < 1e7) { b = Date.now(); spins++; }
        return { tables: [{ name: 't', columns: ['v'], rows: [[typeof performance], [String(Temporal.Now)], [b - a >= 1 || spins >= 1e7]] }] };`),
    },
    expect: 'ok',
    check: (r) => assert.deepEqual(firstColumn(r), ['undefined', 'undefined', true]),
  },
  {
    name: 'eval and Function work inside the isolate but reach only the isolate',
    job: {
      code: probeCode([
        `eval('1 + 1')`,
        `(0, eval)('typeof process')`,
        `Function('return this')() === globalThis`,
        `new Function('return typeof require')()`,
        `eval('(function () { return this; })')() === globalThis`,
      ]),
    },
    expect: 'ok',
    check: (r) => assert.deepEqual(firstColumn(r), ['2', 'undefined', 'true', 'undefined', 'true']),
  },
  {
    name: 'an accessor for globalThis.main is not called',
    job: { code: `Object.defineProperty(globalThis, 'main', { get() { for (;;) {} } });` },
    expect: 'RUNTIME_ERROR',
    withinMs: 1000,
  },
  {
    name: 'absurdly nested TypeScript (the transpiler runs in the worker, outside the isolate)',
    job: { code: `export const run = () => ${'('.repeat(50_000)}1${')'.repeat(50_000)};`, language: 'ts' },
    expect: 'RUNTIME_ERROR',
  },
  {
    name: 'absurdly nested JavaScript (compiled inside the isolate)',
    job: { code: `globalThis.main = () => ${'['.repeat(100_000)}${']'.repeat(100_000)};` },
    expect: 'RUNTIME_ERROR',
  },
  // ---- runaway code -------------------------------------------------------------------------------------------
  {
    name: 'an infinite loop in run',
    job: { code: code(`for (;;) {}`), limits: { cpuMs: 300 } },
    expect: 'TIMEOUT',
    withinMs: 1500,
  },
  {
    name: 'an infinite loop at the module top level',
    job: { code: `while (true) {}`, limits: { cpuMs: 300 } },
    expect: 'TIMEOUT',
    withinMs: 1500,
  },
  {
    name: 'a microtask flood',
    job: {
      code: code(`const f = () => Promise.resolve().then(f); f(); return ${table('[[1]]')};`),
      limits: { cpuMs: 300 },
    },
    expect: 'TIMEOUT',
    withinMs: 1500,
  },
  {
    name: 'an async run that never settles',
    job: { code: `export async function run() { await new Promise(() => {}); }` },
    expect: 'RUNTIME_ERROR',
    check: (r) => assert.match(r.status === 'error' ? r.message : '', /never settled/),
  },
  {
    name: 'a catastrophic regular expression',
    job: { code: code(`return ${table(`[[/^(a+)+$/.test('a'.repeat(40) + '!')]]`)};`), limits: { cpuMs: 300 } },
    expect: 'TIMEOUT',
    withinMs: 1500,
  },
  // ---- memory bombs -------------------------------------------------------------------------------------------
  {
    name: 'a growing array of arrays',
    job: { code: code(`const a = []; for (;;) a.push(new Array(1e5).fill(1.5));`) },
    expect: 'MEMORY',
  },
  {
    name: 'string doubling',
    job: { code: code(`let s = 'x'; for (;;) s = s + s;`) },
    expect: 'MEMORY',
  },
  {
    name: 'string doubling with flattening (every step materialised)',
    job: {
      code: code(`let s = 'xy'; const keep = []; for (;;) { s = (s + s).split('').reverse().join(''); keep.push(s); }`),
      limits: { cpuMs: 10_000, memoryMb: 32 },
    },
    expect: 'MEMORY',
  },
  {
    name: 'a 2 GiB ArrayBuffer',
    job: { code: code(`const b = new ArrayBuffer(2 ** 31); return ${table('[[b.byteLength]]')};`) },
    expect: 'MEMORY',
  },
  {
    name: 'many 32 MiB typed arrays (external memory)',
    job: { code: code(`const keep = []; for (;;) keep.push(new Float64Array(4 * 1024 * 1024));`) },
    expect: 'MEMORY',
  },
  {
    name: 'a Map growing without bound',
    // near the limit V8 collects garbage ever more often: give the CPU room so that memory is what stops it
    job: {
      code: code(`const m = new Map(); for (let i = 0; ; i++) m.set('k' + i, { i });`),
      limits: { cpuMs: 10_000, memoryMb: 32 },
    },
    expect: 'MEMORY',
  },
  // ---- dangerous outputs --------------------------------------------------------------------------------------
  {
    name: 'more rows than maxOutputRows',
    job: {
      code: code(`return ${table('Array.from({ length: 101 }, (_, i) => [i])')};`),
      limits: { maxOutputRows: 100 },
    },
    expect: 'INVALID_OUTPUT',
  },
  {
    name: 'an output larger than maxOutputBytes',
    job: {
      code: code(`return ${table(`[['x'.repeat(9000)], ['y'.repeat(9000)]]`)};`),
      limits: { maxOutputBytes: 16_000 },
    },
    expect: 'INVALID_OUTPUT',
  },
  {
    name: 'a huge output built to exhaust the host (10^6 rows of 100 cells)',
    job: {
      code: code(`const row = Array(100).fill(1); return ${table('Array.from({ length: 1e6 }, () => row)')};`),
      limits: { memoryMb: 512 },
    },
    expect: 'INVALID_OUTPUT',
  },
  {
    name: 'a cyclic output',
    job: { code: code(`const rows = [[1]]; rows.push(rows); return ${table('rows')};`) },
    expect: 'INVALID_OUTPUT',
  },
  {
    name: 'a cyclic root',
    job: { code: code(`const o = { tables: [] }; o.tables.push(o); return o;`) },
    expect: 'INVALID_OUTPUT',
  },
  {
    name: 'getter-laden output: the looping getters are never called',
    job: {
      code: code(`return { get tables() { for (;;) {} } };`),
    },
    expect: 'INVALID_OUTPUT',
    withinMs: 1000,
  },
  {
    name: 'a getter on a cell',
    job: {
      code: code(
        `const row = [1]; Object.defineProperty(row, 0, { get() { for (;;) {} }, enumerable: true }); return ${table('[row]')};`,
      ),
    },
    expect: 'INVALID_OUTPUT',
    withinMs: 1000,
  },
  {
    name: 'a function as a cell',
    job: { code: code(`return ${table('[[() => 1]]')};`) },
    expect: 'INVALID_OUTPUT',
  },
  ...(['as the rows', 'as a row', 'as the whole result'] as const).map((where, which): Attempt => ({
    name: `a typed array view over a huge buffer ${where}`,
    job: {
      code: code(`const big = new Float64Array(new ArrayBuffer(48 * 1024 * 1024), 0, 1);
          if (input.params.which === 0) return ${table('big')};
          if (input.params.which === 1) return ${table('[big]')};
          return big;`),
      params: { which },
      limits: { memoryMb: 128 },
    },
    expect: 'INVALID_OUTPUT',
  })),
  {
    name: 'class instances, Dates and Maps as cells',
    job: { code: code(`return ${table('[[new Date(0)], [new Map()], [new (class A {})()]]')};`) },
    expect: 'INVALID_OUTPUT',
  },
  {
    name: 'NaN and Infinity cells',
    job: { code: code(`return ${table('[[NaN], [Infinity]]')};`) },
    expect: 'INVALID_OUTPUT',
  },
  {
    name: 'sparse rows (holes would be read through Array.prototype)',
    job: {
      code: code(
        `Array.prototype[1] = 'from the prototype'; const rows = [[1]]; rows[2] = [3]; return ${table('rows')};`,
      ),
    },
    expect: 'INVALID_OUTPUT',
  },
  {
    name: 'symbol keys and undeclared keys in a table',
    job: { code: code(`return { tables: [{ name: 't', columns: ['v'], rows: [[1]], [Symbol('s')]: 1 }] };`) },
    expect: 'INVALID_OUTPUT',
  },
  {
    name: 'a BigInt and a Symbol as cells',
    job: { code: code(`return ${table('[[1n], [Symbol("x")]]')};`) },
    expect: 'INVALID_OUTPUT',
  },
  {
    name: 'a row wider than the declared columns (undeclared data)',
    job: { code: code(`return ${table('[[1, "hidden extra"]]')};`) },
    expect: 'INVALID_OUTPUT',
  },
  {
    name: 'returning the raw input column as the result',
    job: { code: code(`return input.columns.x;`) },
    expect: 'INVALID_OUTPUT',
  },
  // ---- host-side paths into job code (#12) ---------------------------------------------------------------------
  // isolated-vm runs some of a call's work after the call's time limit: it formats the stack of an error it creates
  // (a refused copy), it copies the reason of an unhandled rejection (reading `message` and `stack`, converting them
  // to strings) and it copies the result. Each attempt below aims job code at one of those places. It must end
  // quickly, or by the worker's CPU limit, never by the pool's wall-clock kill (4 s here).
  {
    name: 'an accessor Error.prepareStackTrace (defineProperty, error swallowed), then a thrown error',
    job: {
      code: code(`try { Object.defineProperty(Error, 'prepareStackTrace', { get() { for (;;) {} }, configurable: true }); } catch {}
        throw new Error('x');`),
    },
    expect: 'RUNTIME_ERROR',
    withinMs: 1000,
  },
  {
    name: 'an accessor Error.prepareStackTrace, then a proxy in the output (the copy that formatted a stack)',
    job: {
      code: code(`try { Object.defineProperty(Error, 'prepareStackTrace', { get() { for (;;) {} }, configurable: true }); } catch {}
        return { tables: [new Proxy({ name: 't', columns: ['v'], rows: [] }, {})] };`),
    },
    expect: 'INVALID_OUTPUT',
    withinMs: 1000,
  },
  {
    name: 'an accessor Error.prepareStackTrace, then an unhandled rejection (isolated-vm formats its stack after the call)',
    job: {
      code: code(`try { Object.defineProperty(Error, 'prepareStackTrace', { get() { for (;;) {} }, configurable: true }); } catch {}
        Promise.reject(new Error('x')); return ${table('[[1]]')};`),
    },
    expect: 'RUNTIME_ERROR',
    withinMs: 1000,
  },
  ...(['Function.prototype', 'Object.prototype'] as const).map((where): Attempt => ({
    name: `an accessor prepareStackTrace on ${where} (Error's prototype chain), then an unhandled rejection`,
    job: {
      code: code(`Object.defineProperty(${where}, 'prepareStackTrace', { get() { for (;;) {} }, configurable: true });
          Promise.reject(new Error('x')); return ${table('[[1]]')};`),
    },
    expect: 'RUNTIME_ERROR',
    withinMs: 1000,
  })),
  {
    name: "Error's prototype replaced by a proxy whose get trap loops, then an unhandled rejection",
    job: {
      code: code(`Object.setPrototypeOf(Error, new Proxy(Function.prototype, { get() { for (;;) {} } }));
        Promise.reject(new Error('x')); return ${table('[[1]]')};`),
    },
    expect: 'RUNTIME_ERROR',
    withinMs: 1000,
  },
  ...(['data property', 'accessor'] as const).map((kind): Attempt => ({
    name: `a proxy in the output whose trap queues a microtask that reinstalls a looping prepareStackTrace (${kind})`,
    job: {
      code: code(`const reinstall = () => {
            try {
              if (input.params.kind === 'accessor') Object.defineProperty(Error, 'prepareStackTrace', { get() { for (;;) {} } });
              else { delete Error.prepareStackTrace; Error.prepareStackTrace = () => { for (;;) {} }; }
            } catch {}
          };
          const trap = (f) => function (...args) { Promise.resolve().then(reinstall); return f(...args); };
          const t = { name: 't', columns: ['v'], rows: [[1]] };
          return { tables: [new Proxy(t, { getOwnPropertyDescriptor: trap(Reflect.getOwnPropertyDescriptor), ownKeys: trap(Reflect.ownKeys), getPrototypeOf: trap(Reflect.getPrototypeOf) })] };`),
      params: { kind },
    },
    expect: 'INVALID_OUTPUT',
    withinMs: 1000,
  })),
  ...(['on an output row', 'on a table’s rows'] as const).map((where, which): Attempt => ({
    name: `a looping getter ${where}`,
    job: {
      code: code(`const rows = [[1], [2]]; Object.defineProperty(rows, 1, { get() { for (;;) {} }, enumerable: true });
          if (input.params.which === 1) return { tables: [{ name: 't', columns: ['v'], get rows() { for (;;) {} } }] };
          return ${table('rows')};`),
      params: { which },
    },
    expect: 'INVALID_OUTPUT',
    withinMs: 1000,
  })),
  {
    name: 'looping toJSON on every prototype a cell or container has: never called, the output is unchanged',
    job: {
      code: code(`for (const p of [Object.prototype, Array.prototype, Number.prototype, String.prototype, Boolean.prototype]) {
          Object.defineProperty(p, 'toJSON', { value() { for (;;) {} }, configurable: true });
        }
        Object.defineProperty(Object.prototype, Symbol.toPrimitive, { value() { for (;;) {} } });
        return ${table(`[[1.5], ['s'], [true], [null]]`)};`),
    },
    expect: 'ok',
    check: (r) => assert.deepEqual(okTables(r), [{ name: 't', columns: ['v'], rows: [[1.5], ['s'], [true], [null]] }]),
    withinMs: 1000,
  },
  {
    name: 'an own looping toJSON on a table and on the rows array',
    job: {
      code: code(`const rows = [[1]]; rows.toJSON = () => { for (;;) {} };
        return { tables: [{ name: 't', columns: ['v'], rows }, { name: 'u', columns: ['v'], rows: [], toJSON() { for (;;) {} } }] };`),
    },
    expect: 'INVALID_OUTPUT',
    withinMs: 1000,
  },
  ...(['the root', 'a table', 'the rows', 'a row', 'the columns', 'a revocable proxy as a table'] as const).map(
    (where, which): Attempt => ({
      name: `a Proxy whose ownKeys and getOwnPropertyDescriptor traps loop, as ${where}`,
      job: {
        code: code(`const h = { ownKeys() { for (;;) {} }, getOwnPropertyDescriptor() { for (;;) {} }, getPrototypeOf(t) { return Reflect.getPrototypeOf(t); } };
          const P = (t) => Reflect.construct(Function('return Proxy')(), [t, h]);
          switch (input.params.which) {
            case 0: return P(${table('[[1]]')});
            case 1: return { tables: [P({ name: 't', columns: ['v'], rows: [[1]] })] };
            case 2: return ${table('P([[1]])')};
            case 3: return ${table('[P([1])]')};
            case 4: return { tables: [{ name: 't', columns: P(['v']), rows: [[1]] }] };
            default: return { tables: [Proxy.revocable({ name: 't', columns: ['v'], rows: [[1]] }, h).proxy] };
          }`),
        params: { which },
      },
      expect: 'INVALID_OUTPUT',
      withinMs: 1000,
    }),
  ),
  {
    name: 'looping Symbol.toPrimitive, toString and valueOf on a cell object',
    job: {
      code: code(`const evil = { [Symbol.toPrimitive]() { for (;;) {} }, toString() { for (;;) {} }, valueOf() { for (;;) {} } };
        return ${table('[[evil]]')};`),
    },
    expect: 'INVALID_OUTPUT',
    withinMs: 1000,
  },
  {
    name: 'a thrown object with looping Symbol.toPrimitive, toString and a message of the same kind',
    job: {
      code: code(`const evil = { [Symbol.toPrimitive]() { for (;;) {} }, toString() { for (;;) {} } };
        throw Object.assign(Object.create(Error.prototype), { message: evil, name: evil, [Symbol.toPrimitive]: evil[Symbol.toPrimitive] });`),
    },
    expect: 'RUNTIME_ERROR',
    withinMs: 1000,
  },
  {
    name: 'Error frozen, globalThis.Error replaced by a looping proxy, then a throw and a proxy output',
    job: {
      code: code(`try { Error.prepareStackTrace = () => { for (;;) {} }; } catch {}
        Object.freeze(Error);
        globalThis.Error = new Proxy(function () {}, { get() { for (;;) {} }, construct() { for (;;) {} } });
        Promise.reject(new RangeError('x'));
        return { tables: [new Proxy({ name: 't', columns: ['v'], rows: [] }, {})] };`),
    },
    expect: 'RUNTIME_ERROR',
    withinMs: 1000,
  },
  {
    name: 'a microtask loop started before returning (drained inside the timed call)',
    job: {
      code: code(`Promise.resolve().then(function f() { Promise.resolve().then(f); }); return ${table('[[1]]')};`),
      limits: { cpuMs: 300 },
    },
    expect: 'TIMEOUT',
    check: (r) => byCpuLimit(r, 300),
    withinMs: 1500,
  },
  {
    name: 'an output nested 100,000 deep in a cell',
    job: {
      code: code(`let v = 1; for (let i = 0; i < 1e5; i++) v = [v];
        return ${table('[[v]]')};`),
    },
    expect: 'INVALID_OUTPUT',
    withinMs: 1000,
  },
  {
    name: 'an output nested 100,000 deep as the tables array',
    job: {
      code: code(`let v = []; for (let i = 0; i < 1e5; i++) v = [v]; return { tables: v };`),
    },
    expect: 'INVALID_OUTPUT',
    withinMs: 1000,
  },
  // unhandled rejections: isolated-vm copies the first one after the call, outside its time limit
  {
    name: 'an unhandled rejection whose reason has a looping message getter',
    job: {
      code: code(
        `Promise.reject({ get message() { for (;;) {} }, get stack() { for (;;) {} } }); return ${table('[[1]]')};`,
      ),
      limits: { cpuMs: 300 },
    },
    expect: 'TIMEOUT',
    check: (r) => byCpuLimit(r, 300),
    withinMs: 1500,
  },
  {
    name: 'an unhandled rejection whose message has a looping Symbol.toPrimitive (converted to a string after the call)',
    job: {
      code: code(`Promise.reject({ message: { [Symbol.toPrimitive]() { for (;;) {} } } }); return ${table('[[1]]')};`),
      limits: { cpuMs: 300 },
    },
    expect: 'TIMEOUT',
    check: (r) => byCpuLimit(r, 300),
    withinMs: 1500,
  },
  {
    name: "an unhandled rejection of an Error whose inherited name getter loops (read by V8's stack formatting)",
    job: {
      code: code(`Object.defineProperty(Error.prototype, 'name', { get() { for (;;) {} } });
        (async () => { throw new Error('x'); })(); return ${table('[[1]]')};`),
      limits: { cpuMs: 300 },
    },
    expect: 'TIMEOUT',
    check: (r) => byCpuLimit(r, 300),
    withinMs: 1500,
  },
  {
    name: 'an unhandled rejection whose reason is a proxy with a looping get trap (isolated-vm swallows the termination)',
    job: {
      code: code(`Promise.reject(new Proxy({}, { get() { for (;;) {} } })); return ${table('[[1]]')};`),
      limits: { cpuMs: 300 },
    },
    expect: 'TIMEOUT',
    check: (r) => byCpuLimit(r, 300),
    withinMs: 1500,
  },
  {
    name: 'an unhandled rejection carrying a value: its message is withheld on real data',
    job: {
      code: code(`Promise.reject(new Error('leak:' + input.columns.s.join('|'))); return ${table('[[1]]')};`),
    },
    expect: 'RUNTIME_ERROR',
    check: (r) => {
      const message = r.status === 'error' ? r.message : '';
      assert.doesNotMatch(message, /leak|a\|b/);
      assert.match(message, /rejected and never handled \(message withheld/);
    },
    withinMs: 1000,
  },
  {
    name: 'ordinary outputs still come out exactly (-0 as 0, extreme numbers, awkward strings, metadata)',
    job: {
      code: code(`return { tables: [
          { name: 'numbers', columns: ['v'], rows: [[-0], [5e-324], [1e21], [-1.7976931348623157e308], [0.1 + 0.2]] },
          { name: 'strings', columns: ['s', 'b'], rows: [['quote " back \\\\ slash', true], ['line\\nbreak\\u2028sep', false], ['\\ud800 lone, \\u{1F600} pair', null], ['', true]] },
          { name: 'meta', columns: ['k', 'n'], rows: [['a', 3]], contributors: { n: [[2, 1]] }, units: [['u1', 'u2', 'u3']] },
          { name: 'empty', columns: ['x'], rows: [] },
        ] };`),
    },
    expect: 'ok',
    check: (r) => {
      const [numbers, strings, meta, empty] = okTables(r);
      assert.deepEqual(numbers?.rows, [[0], [5e-324], [1e21], [-1.7976931348623157e308], [0.1 + 0.2]]);
      assert.ok(!Object.is(numbers?.rows[0]?.[0], -0), '-0 comes out as 0 (JSON)');
      assert.deepEqual(strings?.rows, [
        ['quote " back \\ slash', true],
        ['line\nbreak\u2028sep', false],
        ['\ud800 lone, \u{1F600} pair', null],
        ['', true],
      ]);
      assert.deepEqual(meta, {
        name: 'meta',
        columns: ['k', 'n'],
        rows: [['a', 3]],
        contributors: { n: [[2, 1]] },
        units: [['u1', 'u2', 'u3']],
      });
      assert.deepEqual(empty, { name: 'empty', columns: ['x'], rows: [] });
    },
  },
];

describe('sandbox escape and abuse suite', () => {
  let pool: SandboxPool;
  const outcomes: { name: string; expected: string; got: string; ms: number }[] = [];

  before(async () => {
    pool = await SandboxPool.start({ workers: 2, defaults: LIMITS, graceMs: 250 });
  });
  after(async () => {
    await pool.close();
    const table = outcomes.map((o) => `${o.got.padEnd(15)} ${String(Math.round(o.ms)).padStart(5)} ms  ${o.name}`);
    console.log(`\n${outcomes.length} escape and abuse attempts:\n${table.join('\n')}`);
  });

  async function canary(): Promise<void> {
    const r = await pool.run({ jobId: 'canary', code: CANARY, columns: { x: { type: 'f64', values: [20, 22] } } });
    const [row] = okTables(r)[0]!.rows;
    assert.deepEqual(row?.[0], '', 'an earlier job left globals behind');
    assert.equal(row?.[2], 42);
    return undefined;
  }

  /** Waits until every worker is ready and idle (a killed worker's replacement takes a moment to start). */
  async function settled(): Promise<void> {
    for (let i = 0; i < 200; i++) {
      const h = pool.health();
      if (h.idle === h.workers && h.workers === 2 && h.queued === 0) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.fail('the pool did not settle');
  }

  const hostProtoSizes = () =>
    [Object.prototype, Array.prototype, Function.prototype].map((p) => Object.getOwnPropertyNames(p).length);
  let hostBefore: number[];
  let canaryProtos: unknown;

  it('has at least 40 attempts', () => {
    assert.ok(ATTEMPTS.length >= 40, `${ATTEMPTS.length} attempts`);
  });

  it('starts from a clean canary', async () => {
    hostBefore = hostProtoSizes();
    const r = await pool.run({ jobId: 'canary', code: CANARY, columns: { x: { type: 'f64', values: [20, 22] } } });
    canaryProtos = okTables(r)[0]!.rows[0]?.[1];
  });

  for (const a of ATTEMPTS) {
    it(`${a.name} → ${a.expect}`, async () => {
      const started = performance.now();
      const r = await pool.run({ jobId: a.name, columns: COLUMNS, ...a.job });
      const ms = performance.now() - started;
      outcomes.push({ name: a.name, expected: a.expect, got: r.status === 'ok' ? 'ok' : r.code, ms });
      if (a.expect === 'ok') okTables(r);
      else expectError(r, a.expect);
      noHostLeak(r);
      a.check?.(r);
      const { cpuMs, wallMs } = { ...LIMITS, ...a.job.limits };
      assert.ok(ms < (a.withinMs ?? Math.min(cpuMs, wallMs) + 1500), `answered after ${Math.round(ms)} ms`);
      // the pool keeps serving, the next isolate is pristine, the host realm is untouched
      await canary();
      const again = await pool.run({
        jobId: 'canary',
        code: CANARY,
        columns: { x: { type: 'f64', values: [20, 22] } },
      });
      assert.equal(okTables(again)[0]!.rows[0]?.[1], canaryProtos);
      assert.deepEqual(hostProtoSizes(), hostBefore);
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });
  }

  it('a global set by one job is absent in the next job on the same worker', async () => {
    const single = await SandboxPool.start({ workers: 1, defaults: LIMITS });
    try {
      const set = await single.run({
        jobId: 'leak1',
        code: code(
          `globalThis.leak = input.columns.s[0]; Object.prototype.leak2 = 1; Array.prototype.map = null; return ${table('[[1]]')};`,
        ),
        columns: { s: { type: 'str', values: ['secret-of-job-1'] } },
      });
      okTables(set);
      const pid = single.pids()[0];
      const get = await single.run({
        jobId: 'leak2',
        code: probeCode([
          `typeof globalThis.leak`,
          `typeof ({}).leak2`,
          `typeof [].map`,
          `JSON.stringify(Object.keys(globalThis))`,
        ]),
        columns: {},
      });
      assert.deepEqual(single.pids()[0], pid, 'the same worker ran both jobs');
      assert.deepEqual(firstColumn(get), ['undefined', 'undefined', 'function', '["main"]']);
    } finally {
      await single.close();
    }
  });

  it('kills a runaway job within its wall limit plus the grace, and replaces the worker', async () => {
    const before = pool.pids();
    const started = performance.now();
    const r = await pool.run({
      jobId: 'runaway',
      code: code('for (;;) {}'),
      columns: {},
      limits: { cpuMs: 60_000, wallMs: 500 },
    });
    const ms = performance.now() - started;
    expectError(r, 'TIMEOUT');
    assert.ok(ms < 500 + 250 + 150, `answered after ${Math.round(ms)} ms`);
    await canary();
    // The replacement worker starts asynchronously: wait until the pool is back to two idle workers.
    await settled();
    assert.notDeepEqual(pool.pids().sort(), before.sort(), 'a killed worker is replaced');
  });

  it('answers health pings at once while every worker runs a runaway job', async () => {
    await settled();
    const runaways = [0, 1].map((k) =>
      pool.run({ jobId: `spin${k}`, code: code('for (;;) {}'), columns: {}, limits: { cpuMs: 60_000, wallMs: 1500 } }),
    );
    const queued = pool.run({ jobId: 'queued', code: CANARY, columns: { x: { type: 'f64', values: [20, 22] } } });
    await new Promise((r) => setTimeout(r, 200));
    const lags: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      const h = await new Promise<ReturnType<SandboxPool['health']>>((resolve) =>
        setImmediate(() => resolve(pool.health())),
      );
      lags.push(performance.now() - t);
      assert.equal(h.busy, 2);
      assert.equal(h.queued, 1);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(Math.max(...lags) < 50, `health answered after ${Math.max(...lags).toFixed(1)} ms`);
    for (const r of await Promise.all(runaways)) expectError(r, 'TIMEOUT');
    okTables(await queued);
  });

  it('reports a worker that dies mid-job as CRASHED and replaces it', async () => {
    await settled();
    const job = pool.run({
      jobId: 'victim',
      code: code('for (;;) {}'),
      columns: {},
      limits: { cpuMs: 10_000, wallMs: 10_000 },
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(pool.health().busy, 1);
    for (const pid of pool.pids()) process.kill(pid, 'SIGKILL');
    const message = expectError(await job, 'CRASHED');
    assert.match(message, /ended unexpectedly/);
    await settled();
    await canary();
    assert.equal(pool.health().workers, 2);
  });
});
