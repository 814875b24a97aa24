import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SandboxJobError, SandboxPool } from './pool.js';
import { expectError, firstColumn, okTables } from './testing/support.js';

const SUM = `
export function run(input) {
  const v = input.columns.x;
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i];
  return { tables: [{ name: 'sum', columns: ['sum', 'rows'], rows: [[s, input.rowCount]] }] };
}`;

const GROUP_BY = `
export function run(input) {
  const { ward, income } = input.columns;
  const groups = new Map();
  for (let i = 0; i < ward.length; i++) {
    const g = groups.get(ward[i]) ?? { n: 0, sum: 0, top: [] };
    g.n++;
    g.sum += income[i];
    g.top.push(income[i]);
    groups.set(ward[i], g);
  }
  const keys = [...groups.keys()].sort();
  const top = keys.map((k) => groups.get(k).top.sort((a, b) => b - a).slice(0, 2));
  return {
    tables: [{
      name: 'by_ward',
      columns: ['ward', 'count', 'income'],
      rows: keys.map((k) => [k, groups.get(k).n, groups.get(k).sum]),
      contributors: { income: top },
      units: keys.map((k) => ['unit-' + k]),
    }],
  };
}`;

describe('SandboxPool: functional', () => {
  let pool: SandboxPool;
  before(async () => {
    pool = await SandboxPool.start({ workers: 2, defaults: { cpuMs: 2000, wallMs: 4000, memoryMb: 64 } });
  });
  after(async () => {
    await pool.close();
  });

  it('runs an ES module job over a Float64Array column', async () => {
    const x = Float64Array.from({ length: 1000 }, (_, i) => i);
    const r = await pool.run({ jobId: 'sum', code: SUM, columns: { x: { type: 'f64', values: x } } });
    assert.deepEqual(okTables(r), [{ name: 'sum', columns: ['sum', 'rows'], rows: [[499500, 1000]] }]);
    assert.ok(r.status === 'ok' && r.cpuMs > 0 && r.wallMs >= r.cpuMs * 0.5);
  });

  it('accepts numbers with nulls for f64, whole numbers for i32 and strings for str', async () => {
    const code = `globalThis.main = (i) => ({ tables: [{ name: 't', columns: ['a', 'b', 'c'],
      rows: [[Number.isNaN(i.columns.a[1]), i.columns.b instanceof Int32Array, i.columns.c[1]]] }] });`;
    const r = await pool.run({
      jobId: 'types',
      code,
      columns: {
        a: { type: 'f64', values: [1.5, null] },
        b: { type: 'i32', values: [1, 2] },
        c: { type: 'str', values: ['x', null] },
      },
    });
    assert.deepEqual(okTables(r)[0]!.rows, [[true, true, null]]);
  });

  it('runs a group-by and passes disclosure metadata (contributors, units) through', async () => {
    const r = await pool.run({
      jobId: 'gb',
      code: GROUP_BY,
      columns: {
        ward: { type: 'str', values: ['a', 'b', 'a', 'a'] },
        income: { type: 'f64', values: [10, 20, 30, 5] },
      },
    });
    const [t] = okTables(r);
    assert.deepEqual(t!.rows, [
      ['a', 3, 45],
      ['b', 1, 20],
    ]);
    assert.deepEqual(t!.contributors, { income: [[30, 10], [20]] });
    assert.deepEqual(t!.units, [['unit-a'], ['unit-b']]);
  });

  it('runs TypeScript, CommonJS-style exports and globalThis.main', async () => {
    const ts = await pool.run({
      jobId: 'ts',
      language: 'ts',
      code: `interface Row { n: number }
        export function run(input: { rowCount: number }): { tables: { name: string; columns: string[]; rows: number[][] }[] } {
          const r: Row = { n: input.rowCount };
          return { tables: [{ name: 't', columns: ['n'], rows: [[r.n]] }] };
        }`,
      columns: { x: { type: 'i32', values: [1, 2, 3] } },
    });
    assert.deepEqual(firstColumn(ts), [3]);
    const cjs = await pool.run({
      jobId: 'cjs',
      code: `module.exports = (i) => ({ tables: [{ name: 't', columns: ['n'], rows: [[i.rowCount]] }] });`,
      columns: {},
    });
    assert.deepEqual(firstColumn(cjs), [0]);
  });

  it('passes params as a JSON copy', async () => {
    const r = await pool.run({
      jobId: 'params',
      code: `globalThis.main = (i) => ({ tables: [{ name: 't', columns: ['k'], rows: [[i.params.k * 2]] }] });`,
      columns: {},
      params: { k: 21 },
    });
    assert.deepEqual(firstColumn(r), [42]);
  });

  it('follows an async run (promises settle inside the job; there are no timers)', async () => {
    const r = await pool.run({
      jobId: 'async',
      code: `export async function run() { const v = await Promise.resolve(7); return { tables: [{ name: 't', columns: ['v'], rows: [[v]] }] }; }`,
      columns: {},
    });
    assert.deepEqual(firstColumn(r), [7]);
  });

  it('reports syntax errors with their message (they cannot carry data)', async () => {
    const r = await pool.run({ jobId: 'syntax', code: 'export function run( {', columns: {} });
    assert.match(expectError(r, 'RUNTIME_ERROR'), /^SyntaxError/);
    const plain = await pool.run({ jobId: 'syntax2', code: 'globalThis.main = (', columns: {} });
    assert.match(expectError(plain, 'RUNTIME_ERROR'), /^SyntaxError/);
  });

  it('withholds thrown messages on real data and shows them on dummy data', async () => {
    const code = `export function run(i) { throw new TypeError('income of ' + i.columns.name[0] + ' is ' + i.columns.v[0]); }`;
    const columns = {
      name: { type: 'str' as const, values: ['Zhang San'] },
      v: { type: 'f64' as const, values: [123456] },
    };
    const real = expectError(await pool.run({ jobId: 'e1', code, columns }), 'RUNTIME_ERROR');
    assert.match(real, /TypeError in run \(message withheld/);
    assert.doesNotMatch(real, /Zhang|123456/);
    const dummy = expectError(await pool.run({ jobId: 'e2', code, columns, verboseErrors: true }), 'RUNTIME_ERROR');
    assert.match(dummy, /Zhang San is 123456/);
  });

  it('names no output position on real data (a position is a channel), but does on dummy data', async () => {
    const code = `export function run(i) { const rows = []; for (let k = 0; k < 50; k++) rows.push([k]);
      rows[i.columns.v[0]] = [NaN]; return { tables: [{ name: 't', columns: ['v'], rows }] }; }`;
    const columns = { v: { type: 'i32' as const, values: [37] } };
    const real = expectError(await pool.run({ jobId: 'p1', code, columns }), 'INVALID_OUTPUT');
    assert.doesNotMatch(real, /37/);
    const dummy = expectError(await pool.run({ jobId: 'p2', code, columns, verboseErrors: true }), 'INVALID_OUTPUT');
    assert.match(dummy, /rows\[37\]/);
  });

  it('refuses a job without run or main', async () => {
    const r = await pool.run({ jobId: 'none', code: 'const x = 1;', columns: {} });
    assert.match(expectError(r, 'RUNTIME_ERROR'), /neither exports a function run/);
  });

  it('rejects malformed jobs before they reach a worker', async () => {
    const bad = [
      { jobId: 'a', code: '', columns: {} },
      { jobId: 'a', code: 'x', columns: { 'bad name': { type: 'f64', values: [] } } },
      { jobId: 'a', code: 'x', columns: { __proto__x: { type: 'f64', values: ['a'] } } },
      { jobId: 'a', code: 'x', columns: { a: { type: 'i32', values: [1.5] } } },
      { jobId: 'a', code: 'x', columns: { a: { type: 'f64', values: [1] }, b: { type: 'f64', values: [1, 2] } } },
      { jobId: 'a', code: 'x', columns: {}, limits: { cpuMs: 0 } },
      { jobId: 'a', code: 'x', columns: {}, limits: { memoryMb: 1e9 } },
      { jobId: 'a', code: 'x', columns: {}, limits: { foo: 1 } },
      { jobId: 'a', code: 'x', columns: { a: { type: 'u8', values: [] } } },
      { jobId: 'a', code: 'x', columns: {}, params: { f: 1n } },
    ];
    for (const job of bad) {
      await assert.rejects(
        pool.run(job as never),
        (e: unknown) => e instanceof SandboxJobError,
        JSON.stringify(job, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)),
      );
    }
    assert.equal(pool.health().busy, 0);
  });

  it('runs jobs concurrently on both workers and queues the rest', async () => {
    const jobs = Array.from({ length: 8 }, (_, k) =>
      pool.run({
        jobId: `c${k}`,
        code: `globalThis.main = () => ({ tables: [{ name: 't', columns: ['k'], rows: [[${k}]] }] });`,
        columns: {},
      }),
    );
    const h = pool.health();
    assert.equal(h.busy + h.queued, 8);
    const results = await Promise.all(jobs);
    assert.deepEqual(
      results.map((r) => firstColumn(r)[0]),
      [0, 1, 2, 3, 4, 5, 6, 7],
    );
  });

  it('kills a worker whose resident memory outgrows the job budget (isolated-vm limits are soft)', async (t) => {
    if (process.platform !== 'linux') return t.skip('samples /proc');
    const tight = await SandboxPool.start({ workers: 1, rssFactor: 0.25 });
    try {
      const before = tight.pids();
      const r = await tight.run({
        jobId: 'rss',
        code: `globalThis.main = () => { const keep = []; for (let i = 0; i < 24; i++) keep.push(new Float64Array(1 << 20).fill(i)); for (;;) {} };`,
        columns: {},
        limits: { memoryMb: 256, cpuMs: 20_000, wallMs: 20_000 },
      });
      assert.match(expectError(r, 'MEMORY'), /memory limit/);
      assert.equal(tight.health().killed.memory, 1);
      assert.ok(r.status === 'error' && (r.wallMs ?? Infinity) < 5_000);
      const after = await tight.run({ jobId: 'next', code: `globalThis.main = () => ({ tables: [] });`, columns: {} });
      assert.deepEqual(okTables(after), []);
      assert.notDeepEqual(tight.pids(), before);
    } finally {
      await tight.close();
    }
  });

  it('reports the isolation layers it could apply', () => {
    const { isolation } = pool.health();
    assert.equal(isolation.permission, true);
    if (process.platform === 'linux') assert.equal(typeof isolation.rlimits, 'boolean');
  });
});
