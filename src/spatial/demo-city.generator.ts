/**
 * The demo city generator: Shanghai's real districts, subdistricts and communities (codes and names), filled with
 * synthetic buildings, rooms, boxes of open space, infrastructure segments and dataset records.
 *
 * - Deterministic: the same seed and room count give byte-identical batches (seeded sfc32 streams, one per community).
 * - Streaming: `generateDemoCity` yields batches of about `batchRows` rows; memory stays bounded at any size
 *   (only one subdistrict's community plans are held at a time).
 * - Order: parents before children (units), grains before their records, so batches can be inserted as they come.
 */
import { latLngToCell } from 'h3-js';
import type { BBox, Community, District, Position, Ring, Shanghai, Subdistrict } from './data/shanghai.js';
import { shanghai } from './data/shanghai.js';
import { bboxOfRing, bboxRing, distanceM, extendBBox, offset, rectRing, round7 } from './demo-city.geo.js';
import {
  allocateRooms,
  districtEnglishName,
  footprintM,
  listCommunities,
  planCommunity,
  subdistrictAnchor,
  subdistrictRadiusM,
  type BuildingPlan,
  type CommunityPlan,
} from './demo-city.layout.js';
import { Rng } from './demo-city.prng.js';
import * as rec from './demo-city.records.js';

export type { RecordRow, RecordValue } from './demo-city.records.js';

export type Geometry =
  | { type: 'Polygon'; coordinates: Ring[] }
  | { type: 'MultiPolygon'; coordinates: Ring[][] }
  | { type: 'LineString'; coordinates: Position[] };

export type UnitLevel = 'city' | 'district' | 'subdistrict' | 'community' | 'building' | 'floor';

/** A row of `units`. district_id / subdistrict_id / community_id: the unit's own ancestors (or itself). */
export interface UnitRow {
  id: string;
  level: UnitLevel;
  parent_id: string | null;
  code: string;
  name: string;
  name_zh: string;
  district_id: string | null;
  subdistrict_id: string | null;
  community_id: string | null;
  geom: Geometry;
  min_lon: number;
  min_lat: number;
  max_lon: number;
  max_lat: number;
}

/** A row of `grains`. */
export interface GrainRow {
  id: string;
  kind: 'room' | 'box' | 'segment';
  subtype: string;
  district_id: string;
  subdistrict_id: string;
  community_id: string;
  building_id: string | null;
  floor_id: string | null;
  geom: Geometry;
  z_min: number;
  z_max: number;
  measure: number;
  measure_unit: 'm2' | 'm3' | 'm';
  lon: number;
  lat: number;
  min_lon: number;
  min_lat: number;
  max_lon: number;
  max_lat: number;
  h3_r7: string;
  h3_r8: string;
  h3_r9: string;
}

export const UNIT_COLUMNS = [
  'id',
  'level',
  'parent_id',
  'code',
  'name',
  'name_zh',
  'district_id',
  'subdistrict_id',
  'community_id',
  'geom',
  'min_lon',
  'min_lat',
  'max_lon',
  'max_lat',
] as const satisfies readonly (keyof UnitRow)[];

export const GRAIN_COLUMNS = [
  'id',
  'kind',
  'subtype',
  'district_id',
  'subdistrict_id',
  'community_id',
  'building_id',
  'floor_id',
  'geom',
  'z_min',
  'z_max',
  'measure',
  'measure_unit',
  'lon',
  'lat',
  'min_lon',
  'min_lat',
  'max_lon',
  'max_lat',
  'h3_r7',
  'h3_r8',
  'h3_r9',
] as const satisfies readonly (keyof GrainRow)[];

/** One batch of rows, in insertion order: units, then grains, then records (by dataset id). */
export interface DemoCityBatch {
  units: UnitRow[];
  grains: GrainRow[];
  records: Record<string, rec.RecordRow[]>;
  /** Rooms generated so far, this batch included. */
  roomsDone: number;
}

export interface DemoCityOptions {
  rooms: number;
  seed: string;
  /** Rows (units + grains + records) per batch, roughly; default 10,000. */
  batchRows?: number;
}

/** The dataset ids the generator fills (all of DEMO_DATASETS). */
export const GENERATED_DATASETS = [
  'residents-per-room',
  'elderly-living-alone',
  'building-energy',
  'business-licences',
  'hotline-complaints',
  'road-condition',
  'drain-condition',
  'critical-water-network',
  'public-facilities',
] as const;
type DatasetId = (typeof GENERATED_DATASETS)[number];

export const H3_RESOLUTIONS = [7, 8, 9] as const;

const BOX_HEIGHT_M = 30;
const WALL_M = 0.25;

// --- batching ----------------------------------------------------------------------------------------------------

class BatchBuilder {
  private batch = BatchBuilder.empty(0);
  private rows = 0;
  roomsDone = 0;

  constructor(private readonly limit: number) {}

  private static empty(roomsDone: number): DemoCityBatch {
    const records = {} as Record<string, rec.RecordRow[]>;
    for (const id of GENERATED_DATASETS) records[id] = [];
    return { units: [], grains: [], records, roomsDone };
  }

  unit(u: UnitRow): void {
    this.batch.units.push(u);
    this.rows++;
  }

  grain(g: GrainRow): void {
    this.batch.grains.push(g);
    this.rows++;
    if (g.kind === 'room') this.roomsDone++;
  }

  record(dataset: DatasetId, r: rec.RecordRow): void {
    this.batch.records[dataset]!.push(r);
    this.rows++;
  }

  get full(): boolean {
    return this.rows >= this.limit;
  }

  get empty(): boolean {
    return this.rows === 0;
  }

  take(): DemoCityBatch {
    const out = this.batch;
    out.roomsDone = this.roomsDone;
    this.batch = BatchBuilder.empty(this.roomsDone);
    this.rows = 0;
    return out;
  }
}

// --- helpers -----------------------------------------------------------------------------------------------------

const pad = (n: number, width: number) => String(n).padStart(width, '0');
const round2 = (v: number) => Math.round(v * 100) / 100;

function h3Cells(lon: number, lat: number): Pick<GrainRow, 'h3_r7' | 'h3_r8' | 'h3_r9'> {
  return { h3_r7: latLngToCell(lat, lon, 7), h3_r8: latLngToCell(lat, lon, 8), h3_r9: latLngToCell(lat, lon, 9) };
}

function bboxColumns(b: BBox): Pick<UnitRow, 'min_lon' | 'min_lat' | 'max_lon' | 'max_lat'> {
  return { min_lon: round7(b[0]), min_lat: round7(b[1]), max_lon: round7(b[2]), max_lat: round7(b[3]) };
}

/** The place part of a community name: 云南中路居委会 → 云南中路. */
export function placeName(c: Community): string {
  return c.name.replace(/(社区)?(居民委员会|居委会|村民委员会|村委会)$/, '') || c.name;
}

// --- units -------------------------------------------------------------------------------------------------------

const CITY_ID = 'city:310000';
const districtId = (d: District) => `district:${d.code}`;
const subdistrictId = (s: Subdistrict) => `subdistrict:${s.code}`;
const communityId = (c: Community) => `community:${c.code}`;

function cityUnit(city: Shanghai): UnitRow {
  const polygons = city.districts.flatMap((d) =>
    d.outline.type === 'Polygon' ? [d.outline.coordinates] : d.outline.coordinates,
  );
  const box: BBox = [Infinity, Infinity, -Infinity, -Infinity];
  for (const d of city.districts) {
    extendBBox(box, d.bbox[0], d.bbox[1]);
    extendBBox(box, d.bbox[2], d.bbox[3]);
  }
  return {
    id: CITY_ID,
    level: 'city',
    parent_id: null,
    code: city.code,
    name: 'Shanghai',
    name_zh: city.name,
    district_id: null,
    subdistrict_id: null,
    community_id: null,
    geom: { type: 'MultiPolygon', coordinates: polygons },
    ...bboxColumns(box),
  };
}

function districtUnit(d: District): UnitRow {
  return {
    id: districtId(d),
    level: 'district',
    parent_id: CITY_ID,
    code: d.code,
    name: districtEnglishName(d.code),
    name_zh: d.name,
    district_id: districtId(d),
    subdistrict_id: null,
    community_id: null,
    geom: d.outline,
    ...bboxColumns(d.bbox),
  };
}

function subdistrictUnit(d: District, s: Subdistrict, plans: readonly CommunityPlan[]): UnitRow {
  const box: BBox = [Infinity, Infinity, -Infinity, -Infinity];
  for (const p of plans) {
    extendBBox(box, p.bbox[0], p.bbox[1]);
    extendBBox(box, p.bbox[2], p.bbox[3]);
  }
  const b = bboxColumns(box);
  return {
    id: subdistrictId(s),
    level: 'subdistrict',
    parent_id: districtId(d),
    code: s.code,
    name: `Subdistrict ${s.code}`,
    name_zh: s.name,
    district_id: districtId(d),
    subdistrict_id: subdistrictId(s),
    community_id: null,
    geom: { type: 'Polygon', coordinates: [bboxRing([b.min_lon, b.min_lat, b.max_lon, b.max_lat])] },
    ...b,
  };
}

function communityUnit(p: CommunityPlan): UnitRow {
  const b = bboxColumns(p.bbox);
  return {
    id: communityId(p.community),
    level: 'community',
    parent_id: subdistrictId(p.subdistrict),
    code: p.community.code,
    name: `Community ${p.community.code}`,
    name_zh: p.community.name,
    district_id: districtId(p.district),
    subdistrict_id: subdistrictId(p.subdistrict),
    community_id: communityId(p.community),
    geom: { type: 'Polygon', coordinates: [bboxRing([b.min_lon, b.min_lat, b.max_lon, b.max_lat])] },
    ...b,
  };
}

// --- community contents ------------------------------------------------------------------------------------------

/** Everything a community's rows share. */
interface CommunityCtx {
  plan: CommunityPlan;
  rng: Rng;
  out: BatchBuilder;
  ids: Pick<GrainRow, 'district_id' | 'subdistrict_id' | 'community_id'>;
  place: string;
}

/** A room position on every floor of a building: footprint, representative point, bbox and H3 cells. */
interface RoomSlot {
  geom: Geometry;
  area: number;
  lon: number;
  lat: number;
  bbox: Pick<GrainRow, 'min_lon' | 'min_lat' | 'max_lon' | 'max_lat'>;
  h3: Pick<GrainRow, 'h3_r7' | 'h3_r8' | 'h3_r9'>;
}

function roomSlot(b: BuildingPlan, k: number): RoomSlot {
  const { w, d } = footprintM(b);
  const row = k < b.cols ? 0 : 1;
  const x0 = -w / 2 + (k % b.cols) * b.roomW;
  const y0 = -d / 2 + row * (b.roomD + 2);
  const ring = rectRing(b.center, x0 + WALL_M, y0 + WALL_M, x0 + b.roomW - WALL_M, y0 + b.roomD - WALL_M);
  const lon = round7((ring[0]![0] + ring[2]![0]) / 2);
  const lat = round7((ring[0]![1] + ring[2]![1]) / 2);
  return {
    geom: { type: 'Polygon', coordinates: [ring] },
    area: Math.round((b.roomW - 2 * WALL_M) * (b.roomD - 2 * WALL_M) * 10) / 10,
    lon,
    lat,
    bbox: bboxColumns(bboxOfRing(ring)),
    h3: h3Cells(lon, lat),
  };
}

function roomSubtype(b: BuildingPlan, floor: number): rec.RoomContext['subtype'] {
  if (b.use === 'residential') return 'residential';
  if (b.use === 'commercial') return 'commercial';
  if (floor === 1) return 'commercial';
  return b.use === 'office' ? 'office' : 'residential';
}

function emitRoomRecords(c: CommunityCtx, room: rec.RoomContext): void {
  const { rng, out } = c;
  let residents = 0;
  let industry: rec.Industry | null = null;
  if (room.subtype === 'residential' && rng.chance(0.85)) {
    const elderly = rng.chance(0.047);
    const r = rec.residentsRecord(rng, room, elderly ? 1 : 0);
    residents = r.resident_count as number;
    out.record('residents-per-room', r);
    if (elderly) out.record('elderly-living-alone', rec.elderlyRecord(rng, room, 1));
  } else if (room.subtype === 'commercial' && rng.chance(0.92)) {
    industry = rec.pickIndustry(rng);
    out.record('business-licences', rec.businessRecord(rng, room, industry));
  }
  out.record('building-energy', rec.energyRecord(rng, room, residents, industry));
}

function buildingUnits(c: CommunityCtx, b: BuildingPlan, suffix: string): { building: UnitRow; geom: Geometry } {
  const { w, d } = footprintM(b);
  const ring = rectRing(b.center, -w / 2, -d / 2, w / 2, d / 2);
  const geom: Geometry = { type: 'Polygon', coordinates: [ring] };
  const building: UnitRow = {
    id: `building:${suffix}`,
    level: 'building',
    parent_id: communityId(c.plan.community),
    code: suffix,
    name: `Building ${suffix}`,
    name_zh: `${c.place}${b.n}号楼`,
    ...c.ids,
    geom,
    ...bboxColumns(bboxOfRing(ring)),
  };
  return { building, geom };
}

function emitBuilding(c: CommunityCtx, b: BuildingPlan): void {
  const suffix = `${c.plan.community.code}-${pad(b.n, 4)}`;
  const { building, geom } = buildingUnits(c, b, suffix);
  c.out.unit(building);
  const slots: RoomSlot[] = [];
  for (let floor = 1; floor <= b.floors; floor++) {
    const floorSuffix = `${suffix}-${pad(floor, 2)}`;
    const floorId = `floor:${floorSuffix}`;
    c.out.unit({
      ...building,
      id: floorId,
      level: 'floor',
      parent_id: building.id,
      code: floorSuffix,
      name: `Floor ${floorSuffix}`,
      name_zh: `${building.name_zh}${floor}层`,
      geom,
    });
    const onFloor = Math.min(b.perFloor, b.rooms - (floor - 1) * b.perFloor);
    for (let k = 0; k < onFloor; k++) {
      const slot = (slots[k] ??= roomSlot(b, k));
      const id = `room:${floorSuffix}-${pad(k + 1, 2)}`;
      const subtype = roomSubtype(b, floor);
      c.out.grain({
        id,
        kind: 'room',
        subtype,
        ...c.ids,
        building_id: building.id,
        floor_id: floorId,
        geom: slot.geom,
        z_min: round2((floor - 1) * b.floorHeight),
        z_max: round2(floor * b.floorHeight),
        measure: slot.area,
        measure_unit: 'm2',
        lon: slot.lon,
        lat: slot.lat,
        ...slot.bbox,
        ...slot.h3,
      });
      emitRoomRecords(c, {
        grainId: id,
        subtype,
        area: slot.area,
        density: c.plan.density,
        districtCode: c.plan.district.code,
      });
    }
  }
}

const BOX_MIX = {
  core: [
    ['plaza', 35],
    ['street-canyon', 45],
    ['park-cell', 20],
  ],
  urban: [
    ['plaza', 30],
    ['street-canyon', 40],
    ['park-cell', 30],
  ],
  suburban: [
    ['plaza', 25],
    ['street-canyon', 35],
    ['park-cell', 40],
  ],
  rural: [
    ['plaza', 20],
    ['street-canyon', 25],
    ['park-cell', 55],
  ],
} as const;

function emitBox(c: CommunityCtx, center: Position, n: number): void {
  const { rng, plan } = c;
  const subtype = rng.weighted(BOX_MIX[plan.density]);
  const s = plan.spacing;
  let w = s * rng.range(0.5, 0.85);
  let d = w * rng.range(0.7, 1);
  if (subtype === 'street-canyon')
    [w, d] = rng.chance(0.5) ? [s * 0.9, rng.range(12, 20)] : [rng.range(12, 20), s * 0.9];
  const ring = rectRing(center, -w / 2, -d / 2, w / 2, d / 2);
  const id = `box:${plan.community.code}-${pad(n, 4)}`;
  const area = w * d;
  c.out.grain({
    id,
    kind: 'box',
    subtype,
    ...c.ids,
    building_id: null,
    floor_id: null,
    geom: { type: 'Polygon', coordinates: [ring] },
    z_min: 0,
    z_max: BOX_HEIGHT_M,
    measure: Math.round(area * BOX_HEIGHT_M),
    measure_unit: 'm3',
    lon: round7(center[0]),
    lat: round7(center[1]),
    ...bboxColumns(bboxOfRing(ring)),
    ...h3Cells(round7(center[0]), round7(center[1])),
  });
  const box: rec.BoxContext = { grainId: id, subtype, place: c.place };
  const complaints = rng.weighted([
    [0, 60],
    [1, 30],
    [2, 10],
  ] as const);
  for (let k = 1; k <= complaints; k++) c.out.record('hotline-complaints', rec.complaintRecord(rng, box, k));
  if (rng.chance(1 / 3)) c.out.record('public-facilities', rec.facilityRecord(rng, box));
}

const SEGMENT_MIX = [
  ['road', 50],
  ['drain', 30],
  ['water-main', 20],
] as const;
const SEGMENT_Z = { road: [0, 0], drain: [-3.5, -2], 'water-main': [-1.8, -1.2] } as const;
const SEGMENT_OFFSET_M = { road: 0, drain: -3, 'water-main': 3 } as const;

/** A segment runs along the south or west edge of a used grid cell (the streets between buildings). */
function emitSegment(c: CommunityCtx, slots: readonly Position[], n: number): void {
  const { rng, plan } = c;
  const subtype = rng.weighted(SEGMENT_MIX);
  const center = rng.pick(slots);
  const h = plan.spacing / 2;
  const o = SEGMENT_OFFSET_M[subtype];
  const [a, b] = rng.chance(0.5)
    ? [offset(center, -h, -h + o), offset(center, h, -h + o)]
    : [offset(center, -h + o, -h), offset(center, -h + o, h)];
  const coords: Position[] = [
    [round7(a[0]), round7(a[1])],
    [round7(b[0]), round7(b[1])],
  ];
  const lon = round7((coords[0]![0] + coords[1]![0]) / 2);
  const lat = round7((coords[0]![1] + coords[1]![1]) / 2);
  const id = `segment:${plan.community.code}-${pad(n, 4)}`;
  c.out.grain({
    id,
    kind: 'segment',
    subtype,
    ...c.ids,
    building_id: null,
    floor_id: null,
    geom: { type: 'LineString', coordinates: coords },
    z_min: SEGMENT_Z[subtype][0],
    z_max: SEGMENT_Z[subtype][1],
    measure: Math.round(distanceM(coords[0]!, coords[1]!) * 10) / 10,
    measure_unit: 'm',
    lon,
    lat,
    ...bboxColumns(bboxOfRing(coords)),
    ...h3Cells(lon, lat),
  });
  const seg: rec.SegmentContext = { grainId: id, subtype, districtCode: plan.district.code };
  if (subtype === 'road') {
    c.out.record('road-condition', rec.roadRecord(rng, seg, plan.density));
    return;
  }
  const { row, pipe } = rec.pipeRecord(rng, { ...seg, subtype });
  c.out.record('drain-condition', row);
  if (subtype === 'water-main') c.out.record('critical-water-network', rec.criticalWaterRecord(rng, seg, pipe));
}

function* emitCommunity(seed: string, out: BatchBuilder, plan: CommunityPlan): Generator<DemoCityBatch> {
  out.unit(communityUnit(plan));
  if (plan.rooms === 0) return;
  const c: CommunityCtx = {
    plan,
    rng: new Rng(seed, 'rows', plan.community.code),
    out,
    ids: {
      district_id: districtId(plan.district),
      subdistrict_id: subdistrictId(plan.subdistrict),
      community_id: communityId(plan.community),
    },
    place: placeName(plan.community),
  };
  for (const b of plan.buildings) {
    emitBuilding(c, b);
    if (out.full) yield out.take();
  }
  plan.boxSlots.forEach((p, i) => emitBox(c, p, i + 1));
  const slots = [...plan.buildings.map((b) => b.center), ...plan.boxSlots];
  for (let n = 1; n <= plan.segments; n++) emitSegment(c, slots, n);
  if (out.full) yield out.take();
}

// --- the city ----------------------------------------------------------------------------------------------------

/**
 * Streams the demo city as batches. `rooms` rooms are spread over all of Shanghai's communities (central districts
 * denser); boxes, segments and records follow from the rooms.
 */
export function* generateDemoCity(opts: DemoCityOptions): Generator<DemoCityBatch> {
  if (!Number.isInteger(opts.rooms) || opts.rooms < 0)
    throw new Error(`rooms must be a whole number, got ${opts.rooms}`);
  const { seed } = opts;
  const city = shanghai();
  const refs = listCommunities(city);
  const rooms = allocateRooms(seed, opts.rooms, refs);
  const out = new BatchBuilder(opts.batchRows ?? 10_000);
  out.unit(cityUnit(city));
  let i = 0;
  for (const district of city.districts) {
    out.unit(districtUnit(district));
    const radius = subdistrictRadiusM(district);
    for (const subdistrict of district.subdistricts) {
      const center = subdistrictAnchor(seed, district, subdistrict);
      const plans = subdistrict.communities.map((community) =>
        planCommunity(seed, { district, subdistrict, community }, rooms[i++]!, center, radius),
      );
      out.unit(subdistrictUnit(district, subdistrict, plans));
      for (const plan of plans) yield* emitCommunity(seed, out, plan);
    }
  }
  if (!out.empty) yield out.take();
}
