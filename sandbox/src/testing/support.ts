/**
 * Test-only helpers shared by the specs (not exported from the package).
 */
import assert from 'node:assert/strict';
import type { JobResult, OutputTable, SandboxErrorCode } from '../protocol.js';

export function okTables(r: JobResult): OutputTable[] {
  if (r.status !== 'ok') assert.fail(`expected ok, got ${r.code}: ${r.message}`);
  return r.tables;
}

export function expectError(r: JobResult, code: SandboxErrorCode): string {
  if (r.status !== 'error') assert.fail(`expected ${code}, got ok: ${JSON.stringify(r.tables).slice(0, 300)}`);
  assert.equal(r.code, code, `expected ${code}, got ${r.code}: ${r.message}`);
  return r.message;
}

/** The first column of the first table, as a list. */
export function firstColumn(r: JobResult): unknown[] {
  const t = okTables(r)[0];
  assert.ok(t !== undefined, 'no table');
  return t.rows.map((row) => row[0]);
}

/** A job whose `run` evaluates each probe expression and returns what it saw, one row per probe. */
export function probeCode(probes: readonly string[], prelude = ''): string {
  const lines = probes.map(
    (p) => `rows.push([(() => { try { return String(${p}); } catch (e) { return 'threw ' + (e && e.name); } })()]);`,
  );
  return `${prelude}
globalThis.main = function (input) {
  const rows = [];
  ${lines.join('\n  ')}
  return { tables: [{ name: 'probe', columns: ['seen'], rows }] };
};`;
}

/** Host paths and host-only names that must never appear in anything a job returns. */
export const HOST_MARKERS = [
  /\/work\//,
  /node_modules/,
  /node:internal/,
  /file:\/\//,
  /\/home\//,
  /\/usr\//,
  /\/tmp\//,
];
