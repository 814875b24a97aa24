/**
 * Where the demo city's rooms go: how many rooms each real community gets, where its anchor lies inside the
 * district outline, and which buildings (and open-space slots) it has. Pure functions of (seed, inputs).
 */
import type { BBox, Community, District, Position, Shanghai, Subdistrict } from './data/shanghai.js';
import { extendBBox, insideWithMargin, outlineAreaM2, offset, samplePoint } from './demo-city.geo.js';
import { Rng } from './demo-city.prng.js';

export type Density = 'core' | 'urban' | 'suburban' | 'rural';

/** Relative rooms per community, and the building mix, by district (central districts are denser). */
const DISTRICTS: Record<string, { weight: number; density: Density; en: string }> = {
  '310101': { weight: 3.4, density: 'core', en: 'Huangpu' },
  '310104': { weight: 2.6, density: 'core', en: 'Xuhui' },
  '310105': { weight: 2.3, density: 'urban', en: 'Changning' },
  '310106': { weight: 3.0, density: 'core', en: "Jing'an" },
  '310107': { weight: 2.2, density: 'urban', en: 'Putuo' },
  '310109': { weight: 2.6, density: 'urban', en: 'Hongkou' },
  '310110': { weight: 2.3, density: 'urban', en: 'Yangpu' },
  '310112': { weight: 1.6, density: 'suburban', en: 'Minhang' },
  '310113': { weight: 1.4, density: 'suburban', en: 'Baoshan' },
  '310114': { weight: 1.1, density: 'suburban', en: 'Jiading' },
  '310115': { weight: 1.8, density: 'urban', en: 'Pudong New Area' },
  '310116': { weight: 0.7, density: 'suburban', en: 'Jinshan' },
  '310117': { weight: 1.1, density: 'suburban', en: 'Songjiang' },
  '310118': { weight: 0.8, density: 'suburban', en: 'Qingpu' },
  '310120': { weight: 0.7, density: 'suburban', en: 'Fengxian' },
  '310151': { weight: 0.4, density: 'rural', en: 'Chongming' },
};

export function districtEnglishName(code: string): string {
  return DISTRICTS[code]?.en ?? code;
}

export type BuildingUse = 'residential' | 'mixed' | 'office' | 'commercial';
type Span = readonly [number, number];
interface BuildingType {
  use: BuildingUse;
  floors: Span;
  perFloor: Span;
  roomW: Span;
  roomD: Span;
  floorHeight: number;
}

const TYPES = {
  lilong: { use: 'residential', floors: [2, 3], perFloor: [4, 8], roomW: [4, 5], roomD: [9, 12], floorHeight: 3.2 },
  midrise: { use: 'residential', floors: [5, 7], perFloor: [4, 8], roomW: [6, 8], roomD: [8, 11], floorHeight: 2.9 },
  highrise: { use: 'residential', floors: [12, 33], perFloor: [4, 8], roomW: [7, 9], roomD: [9, 12], floorHeight: 3.0 },
  village: { use: 'residential', floors: [2, 4], perFloor: [2, 4], roomW: [5, 8], roomD: [7, 10], floorHeight: 3.0 },
  mixed: { use: 'mixed', floors: [4, 12], perFloor: [4, 8], roomW: [6, 9], roomD: [9, 12], floorHeight: 3.0 },
  office: { use: 'office', floors: [8, 40], perFloor: [6, 12], roomW: [10, 14], roomD: [10, 14], floorHeight: 3.6 },
  shops: { use: 'commercial', floors: [1, 4], perFloor: [4, 10], roomW: [6, 10], roomD: [10, 15], floorHeight: 4.2 },
} as const satisfies Record<string, BuildingType>;
type TypeName = keyof typeof TYPES;

const MIX: Record<Density, readonly (readonly [TypeName, number])[]> = {
  core: [
    ['lilong', 22],
    ['midrise', 20],
    ['highrise', 20],
    ['mixed', 12],
    ['office', 14],
    ['shops', 12],
  ],
  urban: [
    ['lilong', 6],
    ['midrise', 32],
    ['highrise', 30],
    ['mixed', 12],
    ['office', 9],
    ['shops', 11],
  ],
  suburban: [
    ['midrise', 34],
    ['highrise', 34],
    ['mixed', 10],
    ['office', 5],
    ['shops', 11],
    ['village', 6],
  ],
  rural: [
    ['village', 70],
    ['midrise', 14],
    ['shops', 10],
    ['mixed', 6],
  ],
};

export interface CommunityRef {
  district: District;
  subdistrict: Subdistrict;
  community: Community;
}

export interface BuildingPlan {
  /** 1-based number in the community. */
  n: number;
  use: BuildingUse;
  floors: number;
  perFloor: number;
  rooms: number;
  cols: number;
  rows: number;
  roomW: number;
  roomD: number;
  floorHeight: number;
  /** Footprint centre. */
  center: Position;
}

export interface CommunityPlan extends CommunityRef {
  density: Density;
  rooms: number;
  anchor: Position;
  /** Grid spacing in metres: slots are `spacing` apart, one building or box per slot. */
  spacing: number;
  buildings: BuildingPlan[];
  /** Centres of the open-space slots (one box each). */
  boxSlots: Position[];
  segments: number;
  bbox: BBox;
}

export function isVillage(c: Community): boolean {
  return c.name.endsWith('村委会');
}

export function communityDensity(ref: CommunityRef): Density {
  return isVillage(ref.community) ? 'rural' : (DISTRICTS[ref.district.code]?.density ?? 'suburban');
}

/** Every community of the city in code order. */
export function listCommunities(city: Shanghai): CommunityRef[] {
  const out: CommunityRef[] = [];
  for (const district of city.districts) {
    for (const subdistrict of district.subdistricts) {
      for (const community of subdistrict.communities) out.push({ district, subdistrict, community });
    }
  }
  return out;
}

/**
 * Splits `rooms` over the communities (largest remainder), by weight = district weight × (villages less) ×
 * a seeded log-normal factor. With fewer rooms than communities the heaviest ones get one room each.
 */
export function allocateRooms(seed: string, rooms: number, refs: readonly CommunityRef[]): Uint32Array {
  const weights = refs.map((r) => {
    const rng = new Rng(seed, 'weight', r.community.code);
    const base = (DISTRICTS[r.district.code]?.weight ?? 1) * (isVillage(r.community) ? 0.3 : 1);
    return base * Math.exp(0.55 * rng.normal());
  });
  const total = weights.reduce((a, b) => a + b, 0);
  const out = new Uint32Array(refs.length);
  const remainders: { i: number; frac: number }[] = [];
  let assigned = 0;
  weights.forEach((w, i) => {
    const quota = (rooms * w) / total;
    const whole = Math.floor(quota);
    out[i] = whole;
    assigned += whole;
    remainders.push({ i, frac: quota - whole });
  });
  remainders.sort((a, b) => b.frac - a.frac || a.i - b.i);
  for (let k = 0; k < rooms - assigned; k++) out[remainders[k]!.i]! += 1;
  return out;
}

/** Subdistrict anchor: a seeded point well inside the district. */
export function subdistrictAnchor(seed: string, district: District, subdistrict: Subdistrict): Position {
  const rng = new Rng(seed, 'anchor', subdistrict.code);
  const p =
    samplePoint(rng, district.outline, district.bbox, 400) ??
    samplePoint(rng, district.outline, district.bbox, 0, 10_000);
  if (!p) throw new Error(`cannot place subdistrict ${subdistrict.code} inside its district outline`);
  return p;
}

/** Half-side in metres of the square around a subdistrict anchor where its communities go. */
export function subdistrictRadiusM(district: District): number {
  return Math.sqrt(outlineAreaM2(district.outline) / Math.max(1, district.subdistricts.length)) / 2;
}

function communityAnchor(rng: Rng, ref: CommunityRef, center: Position, radiusM: number): Position {
  for (let i = 0; i < 60; i++) {
    const p = offset(center, rng.range(-radiusM, radiusM), rng.range(-radiusM, radiusM));
    if (insideWithMargin(ref.district.outline, p[0], p[1], 120)) return p;
  }
  return samplePoint(rng, ref.district.outline, ref.district.bbox, 0, 10_000) ?? center;
}

function planBuildings(rng: Rng, density: Density, rooms: number): Omit<BuildingPlan, 'center'>[] {
  const out: Omit<BuildingPlan, 'center'>[] = [];
  let remaining = rooms;
  for (let n = 1; remaining > 0; n++) {
    const t: BuildingType = TYPES[rng.weighted(MIX[density])];
    const perFloor = rng.int(t.perFloor[0], t.perFloor[1]);
    const count = Math.min(remaining, perFloor * rng.int(t.floors[0], t.floors[1]));
    const rows = perFloor > 3 ? 2 : 1;
    out.push({
      n,
      use: t.use,
      floors: Math.ceil(count / perFloor),
      perFloor,
      rooms: count,
      cols: Math.ceil(perFloor / rows),
      rows,
      roomW: Math.round(rng.range(t.roomW[0], t.roomW[1]) * 10) / 10,
      roomD: Math.round(rng.range(t.roomD[0], t.roomD[1]) * 10) / 10,
      floorHeight: t.floorHeight,
    });
    remaining -= count;
  }
  return out;
}

/** Footprint size in metres: rooms in `cols` x `rows`, with a 2 m corridor between two rows. */
export function footprintM(b: Pick<BuildingPlan, 'cols' | 'rows' | 'roomW' | 'roomD'>): { w: number; d: number } {
  return { w: b.cols * b.roomW, d: b.rows * b.roomD + (b.rows === 2 ? 2 : 0) };
}

/** floor(x), plus one with probability frac(x): the expected value is x at any scale. */
function stochasticRound(rng: Rng, x: number): number {
  const n = Math.floor(x);
  return n + (rng.chance(x - n) ? 1 : 0);
}

/** Grid cells in a square spiral around (0, 0): ring 0, then ring 1, ... */
function* spiral(): Generator<[number, number]> {
  yield [0, 0];
  for (let r = 1; ; r++) {
    for (let i = -r; i < r; i++) yield [i, -r];
    for (let j = -r; j < r; j++) yield [r, j];
    for (let i = r; i > -r; i--) yield [i, r];
    for (let j = r; j > -r; j--) yield [-r, j];
  }
}

/** The first `count` grid slots around the anchor whose cell lies inside the district (any slot after many misses). */
function pickSlots(ref: CommunityRef, anchor: Position, spacing: number, count: number): Position[] {
  const out: Position[] = [];
  let tried = 0;
  for (const [i, j] of spiral()) {
    if (out.length >= count) break;
    const p = offset(anchor, i * spacing, j * spacing);
    if (++tried > count * 6 + 100 || insideWithMargin(ref.district.outline, p[0], p[1], spacing / 2)) out.push(p);
  }
  return out;
}

/** A community's buildings, open-space slots and extent (the geometry is synthetic; names and codes are real). */
export function planCommunity(
  seed: string,
  ref: CommunityRef,
  rooms: number,
  center: Position,
  radiusM: number,
): CommunityPlan {
  const rng = new Rng(seed, 'plan', ref.community.code);
  const density = communityDensity(ref);
  const anchor = communityAnchor(rng, ref, center, radiusM);
  const specs = planBuildings(rng, density, rooms);
  const biggest = specs.reduce((m, b) => Math.max(m, footprintM(b).w, footprintM(b).d), 20);
  const spacing = Math.round(biggest + 15);
  const boxes = stochasticRound(rng, rooms / rng.range(30, 50));
  const segments = stochasticRound(rng, rooms / rng.range(22, 36));
  const slots = pickSlots(ref, anchor, spacing, specs.length + boxes);
  const buildings = specs.map((b, k) => ({ ...b, center: slots[k]! }));
  const boxSlots = slots.slice(specs.length);
  const bbox: BBox = [Infinity, Infinity, -Infinity, -Infinity];
  const half = rooms > 0 ? spacing / 2 : 150;
  for (const p of slots.length ? slots : [anchor]) {
    const lo = offset(p, -half, -half);
    const hi = offset(p, half, half);
    extendBBox(bbox, lo[0], lo[1]);
    extendBBox(bbox, hi[0], hi[1]);
  }
  return { ...ref, density, rooms, anchor, spacing, buildings, boxSlots, segments, bbox };
}
