/**
 * Host-side check of a job's output, applied in the worker and again in the pool (which does not trust its workers).
 * The input is JSON text; the result is a fresh, strictly shaped copy. Messages name a position only when `verbose`
 * (dummy-data runs), because on real data a position the job chose is a channel around disclosure control.
 */
import { type Cell, type JobLimits, MAX_CONTRIBUTIONS, type OutputTable } from './protocol.js';

export type OutputCheck = { ok: true; tables: OutputTable[]; bytes: number } | { ok: false; message: string };

const MAX_TABLES = 64;
const MAX_COLUMNS = 512;
const MAX_STRING = 10_000;
const MAX_UNIT_ID = 256;

class Invalid extends Error {}

type Plain = Record<string, unknown>;

function isPlainObject(v: unknown): v is Plain {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const p: unknown = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

export function parseOutput(
  json: string,
  limits: Pick<JobLimits, 'maxOutputBytes' | 'maxOutputRows'>,
  verbose = false,
): OutputCheck {
  if (typeof json !== 'string') return { ok: false, message: 'the output is not JSON text' };
  // UTF-8 is at most 3 bytes per UTF-16 unit: a cheap bound before measuring.
  const bytes = json.length * 3 <= limits.maxOutputBytes ? json.length : Buffer.byteLength(json, 'utf8');
  if (bytes > limits.maxOutputBytes) return { ok: false, message: 'the output is larger than maxOutputBytes' };
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return { ok: false, message: 'the output is not valid JSON' };
  }
  const check = validateOutput(value, limits, verbose);
  return check.ok ? { ...check, bytes: Buffer.byteLength(json, 'utf8') } : check;
}

export function validateOutput(
  value: unknown,
  limits: Pick<JobLimits, 'maxOutputRows'>,
  verbose = false,
): { ok: true; tables: OutputTable[] } | { ok: false; message: string } {
  const fail = (message: string, path: string): never => {
    throw new Invalid(verbose ? `${message} (at ${path})` : message);
  };
  const keys = (o: Plain, allowed: readonly string[], path: string) => {
    for (const k of Reflect.ownKeys(o)) {
      if (typeof k !== 'string' || !allowed.includes(k)) fail('unexpected key in the output', path);
    }
  };
  const array = (v: unknown, path: string, max: number, tooLong = 'too many elements'): unknown[] => {
    if (!Array.isArray(v) || Object.getPrototypeOf(v) !== Array.prototype) return fail('expected an array', path);
    if (v.length > max) fail(tooLong, path);
    return v as unknown[];
  };
  try {
    if (!isPlainObject(value)) fail('the output must be an object { tables: [...] }', 'output');
    const root = value as Plain;
    keys(root, ['tables'], 'output');
    const tables = array(root.tables, 'output.tables', MAX_TABLES);
    let rows = 0;
    const names = new Set<string>();
    const out: OutputTable[] = [];
    tables.forEach((t, ti) => {
      const path = `output.tables[${ti}]`;
      if (!isPlainObject(t)) return fail('expected a table object', path);
      keys(t, ['name', 'columns', 'rows', 'contributors', 'units'], path);
      if (typeof t.name !== 'string' || t.name.length === 0 || t.name.length > 128) {
        fail('a table needs a name of 1 to 128 characters', path);
      }
      const name = t.name as string;
      if (names.has(name)) fail('table names must be unique', path);
      names.add(name);
      const columns = array(t.columns, `${path}.columns`, MAX_COLUMNS).map((c, i) => {
        if (typeof c !== 'string' || c.length === 0 || c.length > 128 || c === '__proto__') {
          return fail('column names must be strings of 1 to 128 characters', `${path}.columns[${i}]`);
        }
        return c;
      });
      if (columns.length === 0) fail('a table needs at least one column', `${path}.columns`);
      if (new Set(columns).size !== columns.length) fail('column names must be unique', `${path}.columns`);
      const rowList = array(
        t.rows,
        `${path}.rows`,
        limits.maxOutputRows - rows,
        'the output has more rows than maxOutputRows',
      );
      rows += rowList.length;
      const tableRows: Cell[][] = rowList.map((r, ri) => {
        const row = array(r, `${path}.rows[${ri}]`, columns.length);
        if (row.length !== columns.length) fail('every row needs one cell per column', `${path}.rows[${ri}]`);
        return row.map((cell, ci): Cell => {
          if (cell === null || typeof cell === 'boolean') return cell;
          if (typeof cell === 'number' && Number.isFinite(cell)) return cell;
          if (typeof cell === 'string' && cell.length <= MAX_STRING) return cell;
          return fail('cells must be strings, finite numbers, booleans or null', `${path}.rows[${ri}][${ci}]`);
        });
      });
      const table: OutputTable = { name, columns, rows: tableRows };
      if (t.contributors !== undefined) {
        if (!isPlainObject(t.contributors)) return fail('contributors must be an object', `${path}.contributors`);
        const byColumn = t.contributors;
        keys(byColumn, columns, `${path}.contributors`);
        const contributors: Record<string, number[][]> = {};
        for (const column of Object.keys(byColumn)) {
          const cp = `${path}.contributors.${column}`;
          const perRow = array(byColumn[column], cp, tableRows.length);
          if (perRow.length !== tableRows.length) fail('contributors need one list per row', cp);
          contributors[column] = perRow.map((list) =>
            array(list, cp, MAX_CONTRIBUTIONS).map((v) =>
              typeof v === 'number' && Number.isFinite(v) ? v : fail('contributions must be finite numbers', cp),
            ),
          );
        }
        table.contributors = contributors;
      }
      if (t.units !== undefined) {
        const up = `${path}.units`;
        const perRow = array(t.units, up, tableRows.length);
        if (perRow.length !== tableRows.length) fail('units need one list per row', up);
        table.units = perRow.map((list) =>
          array(list, up, Number.MAX_SAFE_INTEGER).map((v) =>
            typeof v === 'string' && v.length <= MAX_UNIT_ID ? v : fail('unit ids must be short strings', up),
          ),
        );
      }
      out.push(table);
    });
    return { ok: true, tables: out };
  } catch (e) {
    if (e instanceof Invalid) return { ok: false, message: e.message };
    return { ok: false, message: 'the output could not be checked' };
  }
}
