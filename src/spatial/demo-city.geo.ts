/** Small planar geometry helpers for the demo city (lon/lat degrees; metres via a local equirectangular scale). */
import type { BBox, Outline, Position, Ring } from './data/shanghai.js';
import type { Rng } from './demo-city.prng.js';

export const M_PER_DEG_LAT = 111_320;

export function mPerDegLon(lat: number): number {
  return M_PER_DEG_LAT * Math.cos((lat * Math.PI) / 180);
}

/** Rounds a coordinate to 7 decimals (about 1 cm), so outputs are short and stable. */
export function round7(v: number): number {
  return Math.round(v * 1e7) / 1e7;
}

export function pointInRing(x: number, y: number, ring: Ring): boolean {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i]!;
    const [xj, yj] = ring[j]!;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Even-odd test against the polygon(s) of an outline, holes included. */
export function pointInOutline(outline: Outline, x: number, y: number): boolean {
  const polygons = outline.type === 'Polygon' ? [outline.coordinates] : outline.coordinates;
  for (const rings of polygons) {
    if (!rings[0] || !pointInRing(x, y, rings[0])) continue;
    if (!rings.slice(1).some((hole) => pointInRing(x, y, hole))) return true;
  }
  return false;
}

/** True when the point and the four corners of a square of half-size `marginM` around it are inside. */
export function insideWithMargin(outline: Outline, x: number, y: number, marginM: number): boolean {
  if (!pointInOutline(outline, x, y)) return false;
  const dx = marginM / mPerDegLon(y);
  const dy = marginM / M_PER_DEG_LAT;
  return (
    pointInOutline(outline, x - dx, y - dy) &&
    pointInOutline(outline, x + dx, y - dy) &&
    pointInOutline(outline, x + dx, y + dy) &&
    pointInOutline(outline, x - dx, y + dy)
  );
}

/** Seeded rejection sampling of a point inside the outline (with a margin), within `bbox`; null after `tries`. */
export function samplePoint(rng: Rng, outline: Outline, bbox: BBox, marginM: number, tries = 200): Position | null {
  for (let i = 0; i < tries; i++) {
    const x = rng.range(bbox[0], bbox[2]);
    const y = rng.range(bbox[1], bbox[3]);
    if (insideWithMargin(outline, x, y, marginM)) return [x, y];
  }
  return null;
}

/** Offsets a point by metres east (dx) and north (dy). */
export function offset([x, y]: Position, dxM: number, dyM: number): Position {
  return [x + dxM / mPerDegLon(y), y + dyM / M_PER_DEG_LAT];
}

/** Axis-aligned rectangle ring (counter-clockwise, closed) from corner offsets in metres relative to `origin`. */
export function rectRing(origin: Position, x0: number, y0: number, x1: number, y1: number): Ring {
  const kx = mPerDegLon(origin[1]);
  const lon0 = round7(origin[0] + x0 / kx);
  const lon1 = round7(origin[0] + x1 / kx);
  const lat0 = round7(origin[1] + y0 / M_PER_DEG_LAT);
  const lat1 = round7(origin[1] + y1 / M_PER_DEG_LAT);
  return [
    [lon0, lat0],
    [lon1, lat0],
    [lon1, lat1],
    [lon0, lat1],
    [lon0, lat0],
  ];
}

export function bboxOfRing(ring: Ring): BBox {
  const box: BBox = [Infinity, Infinity, -Infinity, -Infinity];
  for (const [x, y] of ring) extendBBox(box, x, y);
  return box;
}

export function extendBBox(box: BBox, x: number, y: number): void {
  if (x < box[0]) box[0] = x;
  if (y < box[1]) box[1] = y;
  if (x > box[2]) box[2] = x;
  if (y > box[3]) box[3] = y;
}

export function bboxRing(box: BBox): Ring {
  return [
    [box[0], box[1]],
    [box[2], box[1]],
    [box[2], box[3]],
    [box[0], box[3]],
    [box[0], box[1]],
  ];
}

/** Area in m² of an outline's exterior rings (shoelace, local scale). */
export function outlineAreaM2(outline: Outline): number {
  const polygons = outline.type === 'Polygon' ? [outline.coordinates] : outline.coordinates;
  let total = 0;
  for (const rings of polygons) {
    const ring = rings[0] ?? [];
    let a = 0;
    for (let i = 0; i + 1 < ring.length; i++) a += ring[i]![0] * ring[i + 1]![1] - ring[i + 1]![0] * ring[i]![1];
    const lat = ring[0]?.[1] ?? 31;
    total += (Math.abs(a) / 2) * M_PER_DEG_LAT * mPerDegLon(lat);
  }
  return total;
}

/** Distance in metres between two nearby points. */
export function distanceM(a: Position, b: Position): number {
  const dx = (b[0] - a[0]) * mPerDegLon((a[1] + b[1]) / 2);
  const dy = (b[1] - a[1]) * M_PER_DEG_LAT;
  return Math.hypot(dx, dy);
}
