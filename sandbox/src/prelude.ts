/**
 * The trusted part of every job that runs *inside* its isolate. The worker evaluates `sandboxPrelude` (as source,
 * through `Function.prototype.toString`) in a fresh context before any user code, so it captures pristine built-ins;
 * it returns the driver, which the worker holds as a reference that user code cannot reach or replace.
 *
 * The function must stay self-contained (no imports, no outer variables: it is serialised) and, after user code has
 * run, must not use anything user code can redefine: no prototype methods, no iteration protocol, no spread, no
 * `in`, no string conversion of objects. It only calls built-ins captured before user code ran, through the captured
 * `Reflect.apply`.
 *
 * Driver protocol. Every answer is a primitive string: nothing the job made ever crosses to the host as an object, so
 * the host never reads a property, calls a trap or formats a stack of the job's (isolated-vm would do that outside any
 * time limit):
 * - `driver('run', source, input, verbose)`: compiles `source` as a function body (`exports`, `module`), runs it, finds
 *   `run` (or `globalThis.main`) and calls it with `input`. Answers `''` or `'!CODE message'`. A returned promise is
 *   followed; it settles in the microtask checkpoint at the end of the same call (there are no timers or I/O).
 * - `driver('check', maxBytes, maxRows, verbose)`: checks the settled output strictly (plain objects and arrays, own
 *   data properties, declared keys, JSON scalars, no holes, no proxies, within the size limits), reading each property
 *   once through its descriptor (so no getter, trap or `toJSON` of the job's runs), and writes what it read as JSON
 *   text in the same pass. Answers `''` or `'!CODE message'`.
 * - `driver('get')`: the JSON text of the checked output (a string; the host parses it with its own `JSON.parse`).
 *
 * Before any job code runs, the prelude also locks `Error.prepareStackTrace` (a non-writable, non-configurable data
 * property holding `undefined`: V8 reads it with an ordinary [[Get]] that would call an accessor, also one on Error's
 * prototype chain) and replaces `Proxy` with a wrapper that records every proxy the job makes, so that the check can
 * refuse a proxy without calling any of its traps.
 *
 * Error messages never include a value or a position chosen by the job unless `verbose` is set (dummy data runs): on
 * real data they would be a channel around disclosure control.
 */
export function sandboxPrelude(): (op: string, a?: unknown, b?: unknown, c?: unknown) => string {
  /* eslint-disable @typescript-eslint/unbound-method -- built-ins are captured unbound on purpose, called via apply */
  'use strict';
  const G = globalThis as unknown as Record<string, unknown>;
  const R = Reflect;
  const apply = R.apply;
  const FunctionCtor = Function;
  const ObjectCtor = Object;
  const getOwnPropertyDescriptor = ObjectCtor.getOwnPropertyDescriptor;
  const getPrototypeOf = ObjectCtor.getPrototypeOf;
  const objectCreate = ObjectCtor.create;
  const hasOwn = ObjectCtor.hasOwn;
  const ownKeys = R.ownKeys;
  const isArray = Array.isArray;
  const ObjectProto = ObjectCtor.prototype;
  const ArrayProto = Array.prototype;
  const jsonStringify = JSON.stringify;
  const isFinite = Number.isFinite;
  const stringSlice = String.prototype.slice;
  const stringStartsWith = String.prototype.startsWith;
  const promiseResolve = Promise.resolve;
  const promiseThen = Promise.prototype.then;
  const PromiseCtor = Promise;
  const ErrorCtor = Error as unknown as Record<string, unknown>;
  const defineProperty = ObjectCtor.defineProperty;
  const construct = R.construct;
  const ProxyCtor = Proxy;
  const proxyRevocable = Proxy.revocable;
  const TypeErrorCtor = TypeError;
  const WeakSetCtor = WeakSet;
  const weakSetAdd = WeakSet.prototype.add;
  const weakSetHas = WeakSet.prototype.has;
  const errorProtos: [object, string][] = [
    [RangeError.prototype, 'RangeError'],
    [TypeError.prototype, 'TypeError'],
    [SyntaxError.prototype, 'SyntaxError'],
    [ReferenceError.prototype, 'ReferenceError'],
    [EvalError.prototype, 'EvalError'],
    [URIError.prototype, 'URIError'],
    [AggregateError.prototype, 'AggregateError'],
    [Error.prototype, 'Error'],
  ];
  const errorProtoCount = errorProtos.length;
  /** Engine messages with no job-chosen content, safe to report on real data. */
  const engineMessages = [
    'Maximum call stack size exceeded',
    'Array buffer allocation failed',
    'Invalid string length',
    'Invalid array length',
    'Invalid typed array length',
    'Out of memory',
  ];
  const memoryMessages = 5; // the entries after the first are resource exhaustion
  /** Key sets are null-prototype objects: writing to them never reaches a setter the job defined on a prototype. */
  type KeySet = Record<string, true>;
  const keySet = (): KeySet => objectCreate(null) as KeySet;
  const TABLE_KEYS = keySet();
  TABLE_KEYS['k:name'] = TABLE_KEYS['k:columns'] = TABLE_KEYS['k:rows'] = true;
  TABLE_KEYS['k:contributors'] = TABLE_KEYS['k:units'] = true;
  const ROOT_KEYS = keySet();
  ROOT_KEYS['k:tables'] = true;
  const MAX_TABLES = 64;
  const MAX_COLUMNS = 512;
  const MAX_CONTRIBUTIONS = 16;

  // Ambient capabilities a job has no use for. SharedArrayBuffer/Atomics and Temporal.Now are fine-grained clocks,
  // WebAssembly brings memory outside the heap limit, FinalizationRegistry/WeakRef expose GC timing, `console` is a
  // V8 stub. Date stays (1 ms resolution; date arithmetic needs it).
  const removed = ['SharedArrayBuffer', 'Atomics', 'WebAssembly', 'FinalizationRegistry', 'WeakRef', 'console'];
  for (let i = 0; i < removed.length; i++) delete G[removed[i] as string];
  const temporal = G.Temporal as Record<string, unknown> | undefined;
  if (temporal !== undefined) delete temporal.Now;

  // V8 calls `Error.prepareStackTrace` whenever it formats a stack, including where isolated-vm turns an exception
  // into a host error outside any time limit. It reads the property with an ordinary [[Get]], so an accessor (own, or
  // on Function.prototype or Object.prototype, which Error inherits from) runs too. An own data property that can be
  // neither written nor redefined shadows all of them, and no job code, microtask or not, can install a hook later.
  // (V8 reads it from the context's original Error function, so replacing globalThis.Error installs nothing either.)
  defineProperty(ErrorCtor, 'prepareStackTrace', {
    __proto__: null,
    value: undefined,
    writable: false,
    enumerable: false,
    configurable: false,
  } as PropertyDescriptor);

  // Every proxy is made through `Proxy` or `Proxy.revocable` (no other built-in makes one), so recording them here
  // lets the check refuse a proxy in the output without running any of its traps.
  const proxies: WeakSet<object> = new WeakSetCtor();
  const ProxyWrapper = function Proxy(this: unknown, target: object, handler: ProxyHandler<object>): object {
    if (new.target === undefined) throw new TypeErrorCtor("Constructor Proxy requires 'new'");
    const p: object = construct(ProxyCtor, [target, handler]);
    apply(weakSetAdd, proxies, [p]);
    return p;
  };
  const revocable = function revocable(target: object, handler: ProxyHandler<object>) {
    const r: { proxy: object; revoke: () => void } = apply(proxyRevocable, ProxyCtor, [target, handler]);
    apply(weakSetAdd, proxies, [r.proxy]);
    return r;
  };
  defineProperty(ProxyWrapper, 'revocable', {
    __proto__: null,
    value: revocable,
    writable: true,
    enumerable: false,
    configurable: true,
  } as PropertyDescriptor);
  defineProperty(G, 'Proxy', {
    __proto__: null,
    value: ProxyWrapper,
    writable: true,
    enumerable: false,
    configurable: true,
  } as PropertyDescriptor);
  const isProxy = (v: object): boolean => apply<WeakSet<object>, [object], boolean>(weakSetHas, proxies, [v]);

  let settled = false;
  let outcome: unknown = undefined;
  let failure = '';
  /** The checked output as JSON text, once `check` accepted it. */
  let checkedJson: string | undefined = undefined;

  function str(s: string, from: number, to: number): string {
    return apply(stringSlice, s, [from, to]);
  }

  function errorName(e: unknown): string {
    if (typeof e !== 'object' || e === null) return 'a thrown ' + typeof e;
    try {
      let p: unknown = getPrototypeOf(e);
      for (let depth = 0; depth < 16 && p !== null; depth++) {
        for (let i = 0; i < errorProtoCount; i++) {
          const entry = errorProtos[i] as [object, string];
          if (p === entry[0]) return entry[1];
        }
        p = getPrototypeOf(p);
      }
    } catch {
      // a proxy's trap threw: fall through
    }
    return 'a thrown object';
  }

  function ownString(o: unknown, key: string): string {
    if (typeof o !== 'object' || o === null) return typeof o === 'string' ? o : '';
    try {
      const d = getOwnPropertyDescriptor(o, key);
      if (d !== undefined && hasOwn(d, 'value') && typeof d.value === 'string') return d.value;
    } catch {
      // ignore
    }
    return '';
  }

  /** `'!CODE message'` for an exception thrown by job code. */
  function describe(e: unknown, verbose: boolean, phase: string): string {
    const name = errorName(e);
    const message = ownString(e, 'message');
    for (let i = 0; i < engineMessages.length; i++) {
      const known = engineMessages[i] as string;
      if (name === 'RangeError' && apply(stringStartsWith, message, [known])) {
        return (i > 0 && i <= memoryMessages ? '!MEMORY ' : '!RUNTIME_ERROR ') + name + ': ' + known;
      }
    }
    if (name === 'SyntaxError' && phase === 'compile') {
      // Compiling happens before the job has seen any data: the message is about its own source.
      return '!RUNTIME_ERROR SyntaxError: ' + str(message, 0, 300);
    }
    if (verbose) return '!RUNTIME_ERROR ' + name + ' in ' + phase + ': ' + str(message, 0, 500);
    return '!RUNTIME_ERROR ' + name + ' in ' + phase + ' (message withheld: enable verbose errors on dummy data)';
  }

  function dataField(o: object, key: string | number): { found: boolean; accessor: boolean; value: unknown } {
    const d = getOwnPropertyDescriptor(o, key);
    if (d === undefined) return { found: false, accessor: false, value: undefined };
    if (hasOwn(d, 'get') || hasOwn(d, 'set')) return { found: true, accessor: true, value: undefined };
    return { found: true, accessor: false, value: d.value };
  }

  function run(source: string, input: unknown, verbose: boolean): string {
    let factory: unknown;
    try {
      factory = FunctionCtor('exports', 'module', source);
    } catch (e) {
      return describe(e, verbose, 'compile');
    }
    const exportsObject: Record<string, unknown> = {};
    const moduleObject: Record<string, unknown> = { exports: exportsObject };
    try {
      apply(factory as (...args: unknown[]) => unknown, undefined, [exportsObject, moduleObject]);
    } catch (e) {
      return describe(e, verbose, 'module top level');
    }
    let entry: unknown = undefined;
    try {
      const exported = dataField(moduleObject, 'exports').value;
      if (typeof exported === 'function') entry = exported;
      else if (typeof exported === 'object' && exported !== null) {
        const r = dataField(exported, 'run');
        if (!r.accessor && typeof r.value === 'function') entry = r.value;
      }
      if (entry === undefined) {
        const m = dataField(G, 'main');
        if (!m.accessor && typeof m.value === 'function') entry = m.value;
      }
    } catch (e) {
      return describe(e, verbose, 'module exports');
    }
    if (entry === undefined) {
      return '!RUNTIME_ERROR the code neither exports a function run(input) nor sets globalThis.main';
    }
    let result: unknown;
    try {
      result = apply(entry as (...args: unknown[]) => unknown, undefined, [input]);
    } catch (e) {
      return describe(e, verbose, 'run');
    }
    let thenable = false;
    try {
      // A proxy is never followed as a promise (its traps would run); the check refuses it without calling them.
      if (((typeof result === 'object' && result !== null) || typeof result === 'function') && !isProxy(result)) {
        const t = getPrototypeOf(result) === PromiseCtor.prototype ? promiseThen : dataField(result, 'then').value;
        thenable = typeof t === 'function';
      }
    } catch (e) {
      return describe(e, verbose, 'run');
    }
    if (!thenable) {
      settled = true;
      outcome = result;
      return '';
    }
    try {
      const p: Promise<unknown> = apply(promiseResolve, PromiseCtor, [result]);
      void apply(promiseThen, p, [
        (v: unknown) => {
          settled = true;
          outcome = v;
        },
        (e: unknown) => {
          settled = true;
          failure = describe(e, verbose, 'run (async)');
        },
      ]);
    } catch (e) {
      return describe(e, verbose, 'run');
    }
    return '';
  }

  // ---- output check and serialisation ------------------------------------------------------------------------
  // One pass: every property is read once, through its descriptor, and what was read is written as JSON text at once.
  // The text is a primitive string, so nothing the job does afterwards (a pending microtask, say) can change what was
  // checked, and the host copies only that string. No getter, proxy trap, toJSON or toString of the job's is called:
  // a proxy is refused before any of its internal methods is used.
  const BAD = {};
  let badMessage = '';
  let verboseCheck = false;
  let rows = 0;
  let maxBytes = 0;
  let maxRows = 0;
  /** The JSON text written so far (string concatenation only: no array method the job could have replaced). */
  let out = '';

  function bad(message: string, path: string): never {
    badMessage = verboseCheck ? message + ' (at ' + path + ')' : message;
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- an identity sentinel no job code can forge
    throw BAD;
  }

  /** Appends JSON text; its UTF-16 length is a lower bound of its UTF-8 size (the host measures the bytes again). */
  function emit(piece: string): void {
    out += piece;
    if (out.length > maxBytes) bad('the output is larger than maxOutputBytes', 'output');
  }

  function field(o: object, key: string | number, path: string): { found: boolean; value: unknown } {
    const f = dataField(o, key);
    if (f.accessor) bad('getters and setters are not allowed in the output', path);
    return f;
  }

  /** An object that is not a proxy: only then may its internal methods be used (a proxy's would run job code). */
  function ordinaryObject(v: unknown, path: string, expected: string): object {
    if (typeof v === 'function') bad('functions are not allowed in the output', path);
    if (typeof v !== 'object' || v === null) bad(expected, path);
    if (isProxy(v)) bad('proxies are not allowed in the output', path);
    return v;
  }

  function plainObject(v: unknown, path: string, allowed: KeySet): object {
    const o = ordinaryObject(v, path, 'expected a plain object');
    if (isArray(o)) bad('expected a plain object', path);
    const proto: unknown = getPrototypeOf(o);
    if (proto !== ObjectProto && proto !== null) bad('expected a plain object (no class instances)', path);
    const keys = ownKeys(o);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      if (typeof k !== 'string') bad('symbol keys are not allowed in the output', path);
      if (allowed['k:' + k] !== true) bad('unexpected key in the output', path);
    }
    return o;
  }

  function plainArray(v: unknown, path: string, maxLength: number, tooLong = 'too many elements'): unknown[] {
    const a = ordinaryObject(v, path, 'expected a plain array');
    if (!isArray(a) || getPrototypeOf(a) !== ArrayProto) bad('expected a plain array', path);
    const n = dataField(a, 'length').value as number;
    if (n > maxLength) bad(tooLong, path);
    const keys = ownKeys(a);
    if (keys.length !== n + 1) bad('arrays must be dense, without extra properties', path);
    return a as unknown[];
  }

  function element(a: unknown[], i: number, path: string): unknown {
    const f = field(a, i, path);
    if (!f.found) bad('arrays must be dense', path);
    return f.value;
  }

  /** Checks one cell and writes it. `jsonStringify` is only ever given a primitive (no toJSON is looked up). */
  function scalar(v: unknown, path: string): void {
    if (v === null) return emit('null');
    if (v === true) return emit('true');
    if (v === false) return emit('false');
    if (typeof v === 'number') {
      if (!isFinite(v)) bad('numbers must be finite (use null for missing values)', path);
      return emit(jsonStringify(v));
    }
    if (typeof v === 'string') {
      if (v.length > 10_000) bad('strings in the output are limited to 10000 characters', path);
      return emit(jsonStringify(v));
    }
    if (typeof v === 'function') bad('functions are not allowed in the output', path);
    bad('cells must be strings, finite numbers, booleans or null', path);
  }

  function checkTable(t: unknown, path: string, names: KeySet): void {
    const table = plainObject(t, path, TABLE_KEYS);
    const name = field(table, 'name', path + '.name');
    if (typeof name.value !== 'string' || name.value.length === 0 || name.value.length > 128) {
      bad('a table needs a name of 1 to 128 characters', path + '.name');
    }
    if (names['k:' + name.value] === true) bad('table names must be unique', path);
    names['k:' + name.value] = true;
    emit('{"name":' + jsonStringify(name.value) + ',"columns":[');
    const columnsField = field(table, 'columns', path + '.columns');
    if (!columnsField.found) bad('a table needs columns', path);
    const columns = plainArray(columnsField.value, path + '.columns', MAX_COLUMNS);
    const width = columns.length;
    if (width === 0) bad('a table needs at least one column', path + '.columns');
    const columnNames = keySet();
    for (let i = 0; i < width; i++) {
      const c = element(columns, i, path + '.columns[' + i + ']');
      if (typeof c !== 'string' || c.length === 0 || c.length > 128 || c === '__proto__') {
        bad('column names must be strings of 1 to 128 characters', path + '.columns[' + i + ']');
      }
      if (columnNames['k:' + c] === true) bad('column names must be unique', path + '.columns');
      columnNames['k:' + c] = true;
      emit((i > 0 ? ',' : '') + jsonStringify(c));
    }
    emit('],"rows":[');
    const rowsField = field(table, 'rows', path + '.rows');
    if (!rowsField.found) bad('a table needs rows', path);
    const rowList = plainArray(
      rowsField.value,
      path + '.rows',
      maxRows - rows,
      'the output has more rows than maxOutputRows',
    );
    const height = rowList.length;
    rows += height;
    for (let r = 0; r < height; r++) {
      const rowPath = path + '.rows[' + r + ']';
      const row = plainArray(element(rowList, r, rowPath), rowPath, width);
      if (row.length !== width) bad('every row needs one cell per column', rowPath);
      emit(r > 0 ? ',[' : '[');
      for (let c = 0; c < width; c++) {
        if (c > 0) emit(',');
        scalar(element(row, c, rowPath), rowPath + '[' + c + ']');
      }
      emit(']');
    }
    emit(']');
    const contributors = field(table, 'contributors', path + '.contributors');
    if (contributors.found) {
      const cp = path + '.contributors';
      const byColumn = plainObject(contributors.value, cp, columnNames);
      const keys = ownKeys(byColumn);
      emit(',"contributors":{');
      for (let k = 0; k < keys.length; k++) {
        const key = keys[k] as string;
        const perRow = plainArray(field(byColumn, key, cp).value, cp, height);
        if (perRow.length !== height) bad('contributors need one list per row', cp);
        emit((k > 0 ? ',' : '') + jsonStringify(key) + ':[');
        for (let r = 0; r < height; r++) {
          const list = plainArray(element(perRow, r, cp), cp, MAX_CONTRIBUTIONS);
          emit(r > 0 ? ',[' : '[');
          for (let i = 0; i < list.length; i++) {
            const v = element(list, i, cp);
            if (typeof v !== 'number') bad('contributions must be numbers', cp);
            if (i > 0) emit(',');
            scalar(v, cp);
          }
          emit(']');
        }
        emit(']');
      }
      emit('}');
    }
    const units = field(table, 'units', path + '.units');
    if (units.found) {
      const up = path + '.units';
      const perRow = plainArray(units.value, up, height);
      if (perRow.length !== height) bad('units need one list per row', up);
      emit(',"units":[');
      for (let r = 0; r < height; r++) {
        const list = plainArray(element(perRow, r, up), up, 1_000_000);
        emit(r > 0 ? ',[' : '[');
        for (let i = 0; i < list.length; i++) {
          const v = element(list, i, up);
          if (typeof v !== 'string' || v.length > 256) bad('unit ids must be strings of at most 256 characters', up);
          if (i > 0) emit(',');
          scalar(v, up);
        }
        emit(']');
      }
      emit(']');
    }
    emit('}');
  }

  function check(limitBytes: number, limitRows: number, verbose: boolean): string {
    if (failure !== '') return failure;
    if (!settled) return '!RUNTIME_ERROR run() returned a promise that never settled (there are no timers or I/O)';
    verboseCheck = verbose;
    maxBytes = limitBytes;
    maxRows = limitRows;
    rows = 0;
    out = '';
    try {
      const root = plainObject(outcome, 'output', ROOT_KEYS);
      const tablesField = field(root, 'tables', 'output.tables');
      if (!tablesField.found) bad('the output needs a tables array', 'output');
      const tables = plainArray(tablesField.value, 'output.tables', MAX_TABLES);
      const names = keySet();
      emit('{"tables":[');
      for (let i = 0; i < tables.length; i++) {
        if (i > 0) emit(',');
        checkTable(element(tables, i, 'output.tables'), 'output.tables[' + i + ']', names);
      }
      emit(']}');
    } catch (e) {
      out = '';
      if (e === BAD) return '!INVALID_OUTPUT ' + badMessage;
      return '!INVALID_OUTPUT the output could not be read (' + errorName(e) + ')';
    }
    if (rows > maxRows) return '!INVALID_OUTPUT the output has more rows than maxOutputRows';
    checkedJson = out;
    out = '';
    return '';
  }

  return function driver(op: string, a?: unknown, b?: unknown, c?: unknown): string {
    if (op === 'run') return run(a as string, b, c === true);
    if (op === 'check') return check(a as number, b as number, c === true);
    if (op === 'get' && checkedJson !== undefined) return checkedJson;
    return '!RUNTIME_ERROR driver misuse';
  };
}
