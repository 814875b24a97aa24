/**
 * Declared outputs of a sandbox job (docs/sandbox-jobs.md, "Declared outputs"): the gateway owns every label and
 * every number that leaves.
 *
 * A job declares its tables when it is submitted, before its code sees any data: table names, key columns and each
 * key's domain, and the sums it wants. A domain is one of
 * - the official unit ids of a hierarchy level, optionally inside one unit (the public hierarchy, never the records;
 *   on real data within the decision's extent),
 * - the code list (`categories`) of a catalogue field,
 * - a fixed list given in the submission.
 * The code's only output is an assignment: for each declared table, one row per input record holding that record's
 * keys (or nulls: the record is left out of the table). Every key must belong to its domain; anything else refuses
 * the run. The gateway then builds each table itself: every combination of the domains (empty ones included, so
 * which rows exist never depends on the data), margins (`Total`) when declared, and per row the count, the declared
 * sums and the largest contributions (for dominance), computed from the records the code assigned to it, and the
 * record ids behind it (for the differencing audit). The code cannot hand back a number, a label or a row order of
 * its own making; what it controls is which declared cell each record falls in, which is the statistic itself, and
 * disclosure control decides on that.
 */
import type { Dataset } from '../catalogue/catalogue.service.js';
import { badInput } from '../errors/domain.error.js';
import type { ColumnarInput } from '../query/query-engine.js';
import type { Cell } from './disclosure/disclosure.types.js';
import type { DpDatasetSettings } from './dp/dp-settings.js';
import type { SandboxTable } from './output-check.js';

export const UNIT_LEVELS = ['district', 'subdistrict', 'community', 'building'] as const;
export type UnitLevel = (typeof UNIT_LEVELS)[number];

export type KeyDomain =
  | { kind: 'unit'; level: UnitLevel; within: string | null }
  | { kind: 'field'; field: string }
  | { kind: 'list'; values: string[] };

export interface DeclaredKey {
  column: string;
  domain: KeyDomain;
}

export interface DeclaredSum {
  column: string;
  field: string;
}

export interface DeclaredTable {
  name: string;
  keys: DeclaredKey[];
  sums: DeclaredSum[];
  /** Margin rows (`Total` in one or more keys), computed by the gateway. */
  margins: boolean;
}

/** A declaration as submitted (the GraphQL input, mapped). */
export interface DeclaredTableInput {
  name: string;
  keys: {
    column: string;
    level?: UnitLevel | null;
    /** With level: only the units inside this unit (an id of a level above). */
    within?: string | null;
    field?: string | null;
    values?: readonly string[] | null;
  }[];
  sums?: readonly { column: string; field: string }[] | null;
  margins?: boolean | null;
}

export const MAX_DECLARED_TABLES = 8;
export const MAX_KEYS = 3;
export const MAX_SUMS = 8;
export const MAX_LIST_VALUES = 1_000;
export const MAX_VALUE_LENGTH = 64;
/** Most rows of one declared table: the product of its domains (each one larger with margins). */
export const MAX_TABLE_CELLS = 10_000;
export const MARGIN = 'Total';
export const COUNT = 'count';
/** Largest contributions kept per cell for dominance and p-percent (as many as the sandbox protocol allows). */
const TOP_CONTRIBUTIONS = 16;
const NAME = /^[a-z][a-z0-9_]{0,62}$/;

const hasControl = (s: string) => [...s].some((ch) => (ch.codePointAt(0) ?? 0) < 0x20 || ch === '\u007f');

/** Counts the official units of a level (inside a unit, when given) for the cell bound at submission. */
export type UnitCounts = (level: UnitLevel, within: string | null) => Promise<number>;

const WITHIN = /^(district|subdistrict|community):[0-9A-Za-z-]{1,40}$/;

/**
 * Checks a declaration at submission: names, domains, sums, and the size of every table. On a dataset released with
 * differential privacy (`dp`), the gateway places each record by its own values, so keys are unit levels or code
 * lists of fields the job reads, and sums need bounded fields.
 */
export async function validateDeclaration(
  dataset: Dataset,
  fields: readonly string[],
  tables: readonly DeclaredTableInput[] | null | undefined,
  units: UnitCounts,
  dp: DpDatasetSettings | null,
): Promise<DeclaredTable[]> {
  if (!tables || tables.length === 0) {
    throw badInput(
      'Declare the output tables (outputs: names, key columns and their domains, sums) before the code runs: ' +
        'the gateway computes every count and sum itself (docs/sandbox-jobs.md).',
    );
  }
  if (tables.length > MAX_DECLARED_TABLES) throw badInput(`A job may declare at most ${MAX_DECLARED_TABLES} tables.`);
  const names = new Set<string>();
  const out: DeclaredTable[] = [];
  for (const t of tables) {
    if (!NAME.test(t.name)) throw badInput('A table name is 1 to 63 lower-case letters, digits or _, from a letter.');
    if (names.has(t.name)) throw badInput(`Table "${t.name}" is declared twice.`);
    names.add(t.name);
    if (t.keys.length === 0 || t.keys.length > MAX_KEYS) {
      throw badInput(`Table "${t.name}" needs 1 to ${MAX_KEYS} key columns.`);
    }
    const columns = new Set<string>([COUNT]);
    const column = (c: string, what: string) => {
      if (!NAME.test(c)) throw badInput(`A ${what} column name is 1 to 63 lower-case letters, digits or _.`);
      if (columns.has(c)) throw badInput(`Table "${t.name}": column "${c}" is taken (count is the gateway's).`);
      columns.add(c);
    };
    const keys = t.keys.map((k): DeclaredKey => {
      column(k.column, 'key');
      const given = [k.level, k.field, k.values].filter((v) => v !== null && v !== undefined).length;
      if (given !== 1) {
        throw badInput(`Key "${k.column}" needs exactly one domain: a unit level, a field's code list, or values.`);
      }
      if (k.within && !k.level) throw badInput(`Key "${k.column}": within goes with level.`);
      if (k.level) {
        if (!UNIT_LEVELS.includes(k.level)) throw badInput(`Key "${k.column}": unknown unit level.`);
        const within = k.within ?? null;
        if (within !== null) {
          const above = within.split(':')[0] as UnitLevel;
          if (!WITHIN.test(within) || UNIT_LEVELS.indexOf(above) >= UNIT_LEVELS.indexOf(k.level)) {
            throw badInput(`Key "${k.column}": within must be the id of a unit above ${k.level}.`);
          }
        }
        return { column: k.column, domain: { kind: 'unit', level: k.level, within } };
      }
      if (k.field) {
        const def = dataset.fields.find((f) => f.name === k.field);
        if (!def || !fields.includes(k.field)) {
          throw badInput(`Key "${k.column}": the field "${k.field}" must be one of the job's fields.`);
        }
        if (!def.categories || def.categories.length === 0) {
          throw badInput(
            `Key "${k.column}": the field "${k.field}" has no code list in the catalogue; key by a unit level or ` +
              'give the values.',
          );
        }
        return { column: k.column, domain: { kind: 'field', field: k.field } };
      }
      if (dp) {
        throw badInput(
          `Key "${k.column}": ${dataset.id} is released with differential privacy, where the gateway places each ` +
            'record by its own values; key by a unit level or a field’s code list.',
        );
      }
      const values = [...(k.values ?? [])];
      if (values.length === 0 || values.length > MAX_LIST_VALUES) {
        throw badInput(`Key "${k.column}": give 1 to ${MAX_LIST_VALUES} values.`);
      }
      for (const v of values) {
        if (v.length === 0 || v.length > MAX_VALUE_LENGTH || hasControl(v)) {
          throw badInput(`Key "${k.column}": each value is 1 to ${MAX_VALUE_LENGTH} printable characters.`);
        }
        if (v === MARGIN) throw badInput(`Key "${k.column}": "${MARGIN}" is reserved for margin rows.`);
      }
      if (new Set(values).size !== values.length) throw badInput(`Key "${k.column}": the values must be distinct.`);
      return { column: k.column, domain: { kind: 'list', values } };
    });
    const sums = (t.sums ?? []).map((s): DeclaredSum => {
      column(s.column, 'sum');
      const def = dataset.fields.find((f) => f.name === s.field);
      if (!def || !fields.includes(s.field)) {
        throw badInput(`Sum "${s.column}": the field "${s.field}" must be one of the job's fields.`);
      }
      if (def.type !== 'int' && def.type !== 'float') {
        throw badInput(`Sum "${s.column}": the field "${s.field}" is not numeric.`);
      }
      if (dp && !dp.sumBounds[s.field]) {
        const allowed = Object.keys(dp.sumBounds).join(', ') || 'none';
        throw badInput(
          `Sum "${s.column}": a sum needs a field with declared bounds; ${dataset.id} allows: ${allowed}.`,
        );
      }
      return { column: s.column, field: s.field };
    });
    if (sums.length > MAX_SUMS) throw badInput(`Table "${t.name}" may declare at most ${MAX_SUMS} sums.`);
    const margins = t.margins ?? true;
    let cells = 1;
    for (const k of keys) {
      const size = await domainSize(k.domain, dataset, units);
      if (size === 0) throw badInput(`Key "${k.column}": its domain is empty.`);
      cells *= size + (margins ? 1 : 0);
    }
    if (cells > MAX_TABLE_CELLS) {
      throw badInput(
        `Table "${t.name}" would have ${cells} rows (every combination of its domains); at most ` +
          `${MAX_TABLE_CELLS}. Key by a coarser level or fewer keys.`,
      );
    }
    out.push({ name: t.name, keys, sums, margins });
  }
  return out;
}

async function domainSize(d: KeyDomain, dataset: Dataset, units: UnitCounts): Promise<number> {
  switch (d.kind) {
    case 'unit':
      return units(d.level, d.within);
    case 'field':
      return dataset.fields.find((f) => f.name === d.field)?.categories?.length ?? 0;
    case 'list':
      return d.values.length;
  }
}

/** Each key's values, in a fixed order (unit ids sorted; a code list or a list as declared). */
export type Domains = string[][][];

/** The domains of a declaration: unit ids come from `unitsOf` (the store's hierarchy, never the records). */
export async function resolveDomains(
  declared: readonly DeclaredTable[],
  dataset: Dataset,
  unitsOf: (level: UnitLevel, within: string | null) => Promise<string[]>,
): Promise<Domains> {
  const cache = new Map<string, Promise<string[]>>();
  return Promise.all(
    declared.map((t) =>
      Promise.all(
        t.keys.map(async (k) => {
          switch (k.domain.kind) {
            case 'unit': {
              const { level, within } = k.domain;
              const key = `${level}\n${within ?? ''}`;
              if (!cache.has(key)) cache.set(key, unitsOf(level, within));
              return [...(await cache.get(key)!)].sort();
            }
            case 'field': {
              const field = k.domain.field;
              return [...(dataset.fields.find((f) => f.name === field)?.categories ?? [])];
            }
            case 'list':
              return [...k.domain.values];
          }
        }),
      ),
    ),
  );
}

/** A table as the gateway built it: rows over every combination, each with the input records behind it. */
export interface BuiltTable {
  declared: DeclaredTable;
  /** The key columns, then count, then the sums. */
  columns: string[];
  rows: Cell[][];
  /** Per row, the indexes of the input records it covers (a margin row: the union of its interior rows). */
  records: number[][];
  /** Per row, true when some key is `Total`. */
  margin: boolean[];
}

export type AssignmentCheck =
  | { ok: true; tables: BuiltTable[] }
  | { ok: false; rule: 'invalid-table' | 'key-domain' | 'dp-keys'; reason: string; table: string | null };

/**
 * Checks the code's assignment against the declaration and builds the tables. `ownKeys` (a DP dataset): the gateway
 * places each record by its own values, and the code's assignment must equal that placement.
 */
export function buildDeclaredTables(
  declared: readonly DeclaredTable[],
  domains: Domains,
  returned: readonly SandboxTable[],
  input: ColumnarInput,
  ownKeys = false,
): AssignmentCheck {
  const fail = (rule: 'invalid-table' | 'key-domain' | 'dp-keys', reason: string, table: string | null) =>
    ({ ok: false, rule, reason, table }) as const;
  const byName = new Map(returned.map((t) => [t.name, t]));
  if (byName.size !== returned.length || returned.length !== declared.length) {
    return fail('invalid-table', 'the job must return exactly its declared tables, each once', null);
  }
  const out: BuiltTable[] = [];
  for (const [ti, d] of declared.entries()) {
    const t = byName.get(d.name);
    if (!t) return fail('invalid-table', 'the job must return exactly its declared tables, each once', null);
    const label = `table "${d.name}"`;
    const keyColumns = d.keys.map((k) => k.column);
    if (t.columns.length !== keyColumns.length || t.columns.some((c, i) => c !== keyColumns[i])) {
      return fail('invalid-table', `${label} must have exactly its declared key columns, in order`, d.name);
    }
    if (t.units !== undefined || t.contributors !== undefined) {
      return fail('invalid-table', `${label}: the gateway computes units and contributions; report none`, d.name);
    }
    if (t.rows.length !== input.rowCount) {
      return fail('invalid-table', `${label} needs one row per input record (input.rowCount)`, d.name);
    }
    const dom = domains[ti]!;
    const index = dom.map((values) => new Map(values.map((v, i) => [v, i])));
    const own = ownKeys ? d.keys.map((k) => ownColumn(k.domain, input)) : null;
    // Interior cell of each record (mixed radix over the domains), or -1 when left out.
    const cellOf = new Int32Array(input.rowCount);
    const radix = dom.map((values) => values.length);
    let outside = 0;
    let mismatched = 0;
    for (let i = 0; i < input.rowCount; i++) {
      const row = t.rows[i]!;
      let allNull = true;
      let anyNull = false;
      for (const v of row) {
        if (v === null) anyNull = true;
        else allNull = false;
      }
      if (own) {
        // The record's own place: its unit id or field value, when in the domain.
        const place = own.map((col, k) => {
          const v = col[i];
          return typeof v === 'string' && index[k]!.has(v) ? v : null;
        });
        const ownNull = place.some((v) => v === null);
        if (ownNull ? !allNull : row.some((v, k) => v !== place[k])) mismatched++;
      }
      if (allNull) {
        cellOf[i] = -1;
        continue;
      }
      if (anyNull) {
        outside++;
        continue;
      }
      let cell = 0;
      for (let k = 0; k < row.length; k++) {
        const v = row[k];
        const at = typeof v === 'string' ? index[k]!.get(v) : undefined;
        if (at === undefined) {
          outside++;
          cell = -1;
          break;
        }
        cell = cell * radix[k]! + at;
      }
      cellOf[i] = cell;
    }
    if (outside > 0) {
      return fail(
        'key-domain',
        `${label}: ${outside} record(s) have keys outside the declared domains (each key a declared value, or ` +
          'every key null to leave the record out)',
        d.name,
      );
    }
    if (mismatched > 0) {
      return fail(
        'dp-keys',
        `${label}: on a dataset released with differential privacy each record is placed by its own unit id and ` +
          `field values; ${mismatched} record(s) were placed elsewhere or left out`,
        d.name,
      );
    }
    out.push(build(d, dom, cellOf, input));
  }
  return { ok: true, tables: out };
}

/** The input column a domain places records by (DP datasets): the unit column of its level, or the field. */
function ownColumn(d: KeyDomain, input: ColumnarInput): readonly (Cell | undefined)[] {
  if (d.kind === 'unit') return input.hierarchy[`${d.level}_id`];
  if (d.kind === 'field') return input.fields[d.field] ?? [];
  return [];
}

/** Every combination of the domains (with `Total` when margins are declared), and its records and measures. */
function build(d: DeclaredTable, dom: string[][], cellOf: Int32Array, input: ColumnarInput): BuiltTable {
  const k = d.keys.length;
  // Row space: each key ranges over its values, plus one more position for Total with margins.
  const width = dom.map((values) => values.length + (d.margins ? 1 : 0));
  const rowCount = width.reduce((a, b) => a * b, 1);
  const records: number[][] = Array.from({ length: rowCount }, () => []);
  const radix = dom.map((values) => values.length);
  const digits = new Array<number>(k);
  for (let i = 0; i < cellOf.length; i++) {
    let cell = cellOf[i]!;
    if (cell < 0) continue;
    for (let j = k - 1; j >= 0; j--) {
      digits[j] = cell % radix[j]!;
      cell = Math.floor(cell / radix[j]!);
    }
    // The record counts in its interior row and, with margins, in every row that puts Total in some of its keys.
    const patterns = d.margins ? 1 << k : 1;
    for (let mask = 0; mask < patterns; mask++) {
      let row = 0;
      for (let j = 0; j < k; j++) row = row * width[j]! + (mask & (1 << j) ? radix[j]! : digits[j]!);
      records[row]!.push(i);
    }
  }
  const columns = [...d.keys.map((key) => key.column), COUNT, ...d.sums.map((s) => s.column)];
  const rows: Cell[][] = [];
  const margin: boolean[] = [];
  for (let row = 0; row < rowCount; row++) {
    let rest = row;
    const keys = new Array<Cell>(k);
    let isMargin = false;
    for (let j = k - 1; j >= 0; j--) {
      const at = rest % width[j]!;
      rest = Math.floor(rest / width[j]!);
      if (at === radix[j]) {
        keys[j] = MARGIN;
        isMargin = true;
      } else keys[j] = dom[j]![at]!;
    }
    const recs = records[row]!;
    rows.push([...keys, recs.length, ...d.sums.map((s) => sumOf(input.fields[s.field], recs))]);
    margin.push(isMargin);
  }
  return { declared: d, columns, rows, records, margin };
}

function sumOf(values: readonly (Cell | undefined)[] | undefined, recs: readonly number[]): number {
  let sum = 0;
  for (const i of recs) {
    const v = values?.[i];
    if (typeof v === 'number' && Number.isFinite(v)) sum += v;
  }
  return sum;
}

/**
 * A built table as disclosure control takes it (output-check.ts): counts and sums from the gateway, the record ids
 * behind each row as its units, and per sum column each row's largest contributions.
 */
export function asCheckedTable(b: BuiltTable, input: ColumnarInput): SandboxTable {
  const contributors: Record<string, number[][]> = {};
  for (const s of b.declared.sums) {
    const values = input.fields[s.field];
    contributors[s.column] = b.records.map((recs) => {
      const top: number[] = [];
      for (const i of recs) {
        const v = values?.[i];
        if (typeof v === 'number' && Number.isFinite(v) && v !== 0) top.push(v);
      }
      return top.sort((x, y) => Math.abs(y) - Math.abs(x)).slice(0, TOP_CONTRIBUTIONS);
    });
  }
  return {
    name: b.declared.name,
    columns: b.columns,
    rows: b.rows.map((r) => [...r]),
    units: b.records.map((recs) => recs.map((i) => input.recordIds[i]!)),
    ...(b.declared.sums.length > 0 ? { contributors } : {}),
  };
}

/** The sandbox's output bounds for a declared job: one row per input record and table. */
export function assignmentLimits(declared: readonly DeclaredTable[], rowCount: number) {
  const rows = Math.max(1, declared.length * rowCount);
  const keys = declared.reduce((n, t) => Math.max(n, t.keys.length), 1);
  return {
    maxOutputRows: Math.min(1_000_000, rows),
    // A row is at most its keys' values (≤ MAX_VALUE_LENGTH characters, UTF-8) plus JSON punctuation.
    maxOutputBytes: Math.min(64 * 1024 * 1024, Math.max(1024 * 1024, rows * keys * (3 * MAX_VALUE_LENGTH + 4))),
  };
}
