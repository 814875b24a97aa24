import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SandboxJobError, normaliseJob, resolveLimits } from './input.js';
import { parseOutput, validateOutput } from './output.js';
import { sanitiseMessage } from './sanitize.js';

const LIMITS = { maxOutputBytes: 10_000, maxOutputRows: 10 };
const ok = (v: unknown) => validateOutput(v, LIMITS);

describe('validateOutput', () => {
  it('accepts plain tables and returns a fresh copy', () => {
    const input = {
      tables: [
        {
          name: 't',
          columns: ['a', 'b'],
          rows: [
            [1, 'x'],
            [null, true],
          ],
        },
      ],
    };
    const r = ok(input);
    assert.ok(r.ok);
    assert.deepEqual(r.tables, input.tables);
    assert.notEqual(r.tables[0], input.tables[0]);
  });

  it('accepts disclosure metadata aligned with the rows', () => {
    const r = ok({
      tables: [
        { name: 't', columns: ['k', 'v'], rows: [['a', 3]], contributors: { v: [[2, 1]] }, units: [['u1', 'u2']] },
      ],
    });
    assert.ok(r.ok);
    assert.deepEqual(r.tables[0]?.contributors, { v: [[2, 1]] });
  });

  const refused: [string, unknown][] = [
    ['not an object', [1]],
    ['unknown root key', { tables: [], extra: 1 }],
    ['unknown table key', { tables: [{ name: 't', columns: ['a'], rows: [], x: 1 }] }],
    ['row width', { tables: [{ name: 't', columns: ['a'], rows: [[1, 2]] }] }],
    ['object cell', { tables: [{ name: 't', columns: ['a'], rows: [[{}]] }] }],
    ['array cell', { tables: [{ name: 't', columns: ['a'], rows: [[[1]]] }] }],
    ['duplicate columns', { tables: [{ name: 't', columns: ['a', 'a'], rows: [] }] }],
    ['no columns', { tables: [{ name: 't', columns: [], rows: [] }] }],
    [
      'duplicate names',
      {
        tables: [
          { name: 't', columns: ['a'], rows: [] },
          { name: 't', columns: ['a'], rows: [] },
        ],
      },
    ],
    ['too many rows', { tables: [{ name: 't', columns: ['a'], rows: Array.from({ length: 11 }, () => [1]) }] }],
    [
      'contributors of an unknown column',
      { tables: [{ name: 't', columns: ['a'], rows: [[1]], contributors: { b: [[1]] } }] },
    ],
    ['contributors misaligned', { tables: [{ name: 't', columns: ['a'], rows: [[1]], contributors: { a: [] } }] }],
    [
      'too many contributions',
      { tables: [{ name: 't', columns: ['a'], rows: [[1]], contributors: { a: [Array(17).fill(1)] } }] },
    ],
    ['units misaligned', { tables: [{ name: 't', columns: ['a'], rows: [[1]], units: [] }] }],
    ['a proto key', JSON.parse('{"tables":[{"name":"t","columns":["a"],"rows":[],"__proto__":{"x":1}}]}')],
    ['a class instance', { tables: [new (class T {})()] }],
  ];
  for (const [why, value] of refused) {
    it(`refuses ${why}`, () => assert.equal(ok(value).ok, false));
  }

  it('names positions only when verbose', () => {
    const bad = { tables: [{ name: 't', columns: ['a'], rows: [[1], [{}]] }] };
    const quiet = validateOutput(bad, LIMITS);
    const loud = validateOutput(bad, LIMITS, true);
    assert.ok(!quiet.ok && !loud.ok);
    assert.doesNotMatch(quiet.message, /rows\[1\]/);
    assert.match(loud.message, /rows\[1\]\[0\]/);
  });
});

describe('parseOutput', () => {
  it('measures bytes as UTF-8 and refuses past the limit', () => {
    const json = JSON.stringify({ tables: [{ name: 't', columns: ['a'], rows: [['区'.repeat(3400)]] }] });
    assert.ok(json.length < 10_000);
    const r = parseOutput(json, LIMITS);
    assert.equal(r.ok, false);
  });
  it('refuses text that is not JSON', () => assert.equal(parseOutput('{', LIMITS).ok, false));
});

describe('normaliseJob', () => {
  it('types columns and resolves limits against defaults and ceilings', () => {
    const job = normaliseJob({
      jobId: 'j',
      code: 'x',
      columns: {
        a: { type: 'f64', values: [1, null] },
        b: { type: 'i32', values: [1, 2] },
        c: { type: 'str', values: ['x', null] },
      },
      limits: { cpuMs: 100 },
    });
    assert.ok(job.columns.a instanceof Float64Array && Number.isNaN(job.columns.a[1]));
    assert.ok(job.columns.b instanceof Int32Array);
    assert.deepEqual(job.columns.c, ['x', null]);
    assert.equal(job.rowCount, 2);
    assert.equal(job.limits.cpuMs, 100);
    assert.equal(job.limits.memoryMb, 128);
  });

  it('refuses limits above the ceilings and inputs above the memory limit', () => {
    assert.throws(() => resolveLimits({ memoryMb: 4096 }), SandboxJobError);
    assert.throws(
      () =>
        normaliseJob({
          jobId: 'j',
          code: 'x',
          columns: { a: { type: 'f64', values: new Float64Array(2e6) } },
          limits: { memoryMb: 16 },
        }),
      /does not fit/,
    );
  });
});

describe('sanitiseMessage', () => {
  it('removes host paths, URLs, stack frames and control characters', () => {
    const m = sanitiseMessage(
      'Cannot find /work/main/node_modules/isolated-vm/out/isolated_vm.node at file:///work/main/x.js:1\u0007\n    at Object.<anonymous> (/work/main/y.js:2:3)',
    );
    assert.doesNotMatch(m, /work|node_modules|file:|anonymous/);
    assert.ok(!m.includes(String.fromCharCode(7)));
    assert.match(m, /^Cannot find <path>/);
  });
  it('caps the length', () => assert.equal(sanitiseMessage('x'.repeat(1000), 50).length, 50));
});
