/**
 * Dummy data for trial runs: synthetic records with the dataset's schema, generated from catalogue metadata only
 * (field types, units, and value lists or ranges stated in field descriptions) and seeded per job. Never read from
 * the dataset's records: not their values, not their number (the row count is fixed by configuration), not where
 * they lie (records are placed on space grains of the dataset's kind drawn at random from the city's public layout).
 *
 * Plausible correlations: every record has one latent score; ordered fields (ordinal lists, ranges, numbers) follow
 * it with noise, so that e.g. an older age band tends to come with a higher care level, as in real registers.
 */
import type { FieldDef } from '../catalogue/catalogue.types.js';
import type { Dataset } from '../catalogue/catalogue.service.js';
import type { Scalar } from '../query/masking.js';
import type { ColumnarInput } from '../query/query-engine.js';
import { Rng } from '../spatial/demo-city.prng.js';
import type { Db } from '../store/db.port.js';

/** How one field's dummy values are drawn. */
export type FieldProfile =
  | { kind: 'ordinal'; values: string[] }
  | { kind: 'int'; min: number; max: number }
  | { kind: 'float'; scale: number }
  | { kind: 'date'; days: number }
  | { kind: 'bool' }
  | { kind: 'label'; prefix: string };

/** Correlation of each ordered field with the record's latent score. */
const RHO = 0.6;

/**
 * The profile of a field from its metadata: its code list (`categories`) when it has one; a parenthesised list in the description ("(65-74, 75-84, 85+)") is
 * an ordinal list; a single range ("(0-6)") a range of whole numbers; otherwise the type decides.
 */
export function profileOf(f: FieldDef): FieldProfile {
  // A code list is what the field takes: dummy values come from it, so a job keyed by it runs on dummy data too.
  if (f.categories && f.categories.length > 0 && f.type === 'string') return { kind: 'ordinal', values: f.categories };
  const paren = /\(([^()]*)\)/.exec(f.description)?.[1]?.trim();
  if (paren !== undefined) {
    const range = /^(-?\d+)\s*-\s*(-?\d+)$/.exec(paren);
    if (range) {
      const lo = Number(range[1]);
      const hi = Number(range[2]);
      if (lo <= hi && hi - lo <= 1000) {
        if (f.type === 'string') return { kind: 'ordinal', values: spread(lo, hi).map(String) };
        if (f.type === 'int' || f.type === 'float') return { kind: 'int', min: lo, max: hi };
      }
    }
    const items = paren
      .split(/,\s*/)
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    if (items.length >= 2 && f.type === 'string') return { kind: 'ordinal', values: items };
  }
  switch (f.type) {
    case 'int':
      // Counts of people per room or household are small.
      return f.unit === 'persons' ? { kind: 'int', min: 1, max: 3 } : { kind: 'int', min: 0, max: 100 };
    case 'float':
      return { kind: 'float', scale: 100 };
    case 'date':
      return { kind: 'date', days: 365 };
    case 'bool':
      return { kind: 'bool' };
    case 'string':
      return { kind: 'label', prefix: f.name };
  }
}

function spread(lo: number, hi: number): number[] {
  return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
}

/** Standard normal CDF (Abramowitz–Stegun 7.1.26 on erf), enough for drawing quantiles. */
function phi(x: number): number {
  const t = 1 / (1 + 0.3275911 * (Math.abs(x) / Math.SQRT2));
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-(x * x) / 2);
  return x >= 0 ? (1 + y) / 2 : (1 - y) / 2;
}

/** One value of a field for a record with latent score `z`. */
export function drawValue(p: FieldProfile, z: number, rng: Rng, today: Date): Scalar {
  const u = phi(RHO * z + Math.sqrt(1 - RHO * RHO) * rng.normal()); // in (0, 1), correlated with z
  switch (p.kind) {
    case 'ordinal':
      return p.values[Math.min(p.values.length - 1, Math.floor(u * p.values.length))]!;
    case 'int':
      return p.min + Math.min(p.max - p.min, Math.floor(u * (p.max - p.min + 1)));
    case 'float':
      return Math.round(p.scale * Math.exp(1.2 * (u - 0.5) * 2) * 100) / 100;
    case 'date': {
      const d = new Date(today.getTime() - Math.floor(u * p.days) * 86_400_000);
      return d.toISOString().slice(0, 10);
    }
    case 'bool':
      return u > 0.7;
    case 'label':
      return `${p.prefix}-${1 + Math.floor(rng.next() * 20)}`;
  }
}

interface Place {
  district_id: string;
  subdistrict_id: string;
  community_id: string;
  building_id: string | null;
}
const places = new WeakMap<Db, Map<string, Promise<Place[]>>>();

/**
 * Where records of a grain kind can lie: the distinct hierarchy positions of the city's grains (its public layout,
 * not the dataset), read once per store and kind.
 */
function placesOf(db: Db, kind: string): Promise<Place[]> {
  const byKind = places.get(db) ?? new Map<string, Promise<Place[]>>();
  places.set(db, byKind);
  let p = byKind.get(kind);
  if (p === undefined) {
    p = db.query<Place>(
      `select distinct district_id, subdistrict_id, community_id, building_id from grains where kind = $1
       order by district_id, subdistrict_id, community_id, building_id`,
      [kind],
    );
    byKind.set(kind, p);
    p.catch(() => byKind.delete(kind));
  }
  return p;
}

/**
 * A dummy input for a job: `rows` synthetic records of `fields`, at places of the dataset's grain kind drawn with
 * the job's seed. Record ids are `dummy:<n>`.
 */
export async function dummyColumns(
  db: Db,
  dataset: Dataset,
  fields: readonly string[],
  rows: number,
  seed: string,
  today = new Date(),
): Promise<ColumnarInput> {
  const rng = new Rng(seed, 'dummy', dataset.id);
  const grains = await placesOf(db, dataset.grainKind);
  const defs = fields.map((f) => dataset.fields.find((d) => d.name === f) as FieldDef);
  const profiles = defs.map(profileOf);
  const out: ColumnarInput = {
    rowCount: rows,
    recordIds: [],
    hierarchy: { district_id: [], subdistrict_id: [], community_id: [], building_id: [] },
    fields: Object.fromEntries(defs.map((d) => [d.name, [] as Scalar[]])),
  };
  for (let i = 0; i < rows; i++) {
    out.recordIds.push(`dummy:${i}`);
    const g = grains.length > 0 ? grains[Math.floor(rng.next() * grains.length)]! : null;
    out.hierarchy.district_id.push(g?.district_id ?? null);
    out.hierarchy.subdistrict_id.push(g?.subdistrict_id ?? null);
    out.hierarchy.community_id.push(g?.community_id ?? null);
    out.hierarchy.building_id.push(g?.building_id ?? null);
    const z = rng.normal();
    defs.forEach((d, j) => out.fields[d.name]!.push(drawValue(profiles[j]!, z, rng, today)));
  }
  return out;
}
