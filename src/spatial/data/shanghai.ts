/**
 * Shanghai's real administrative divisions (statistics-bureau codes and names) and simplified district outlines,
 * from the committed files that extract-shanghai.ts writes (sources: SOURCES.md).
 */
import divisionsFile from './shanghai-divisions.json' with { type: 'json' };
import outlinesFile from './shanghai-districts.geo.json' with { type: 'json' };

export type Position = [number, number];
export type Ring = Position[];
export type Outline = { type: 'Polygon'; coordinates: Ring[] } | { type: 'MultiPolygon'; coordinates: Ring[][] };
/** [minLon, minLat, maxLon, maxLat] */
export type BBox = [number, number, number, number];

export interface Community {
  /** 12-digit code, e.g. 310101002001. */
  code: string;
  /** e.g. 云南中路居委会 (residents' committee) or …村委会 (village committee). */
  name: string;
}

export interface Subdistrict {
  /** 9-digit code, e.g. 310101002. */
  code: string;
  /** e.g. 南京东路街道 (subdistrict) or …镇 (town). */
  name: string;
  communities: Community[];
}

export interface District {
  /** 6-digit code, e.g. 310101. */
  code: string;
  name: string;
  subdistricts: Subdistrict[];
  outline: Outline;
  bbox: BBox;
}

export interface Shanghai {
  code: '310000';
  name: string;
  districts: District[];
}

/** Bounding box of an outline. */
export function outlineBBox(outline: Outline): BBox {
  const polygons = outline.type === 'Polygon' ? [outline.coordinates] : outline.coordinates;
  const box: BBox = [Infinity, Infinity, -Infinity, -Infinity];
  for (const poly of polygons) {
    for (const [x, y] of poly[0] ?? []) {
      box[0] = Math.min(box[0], x);
      box[1] = Math.min(box[1], y);
      box[2] = Math.max(box[2], x);
      box[3] = Math.max(box[3], y);
    }
  }
  return box;
}

function build(): Shanghai {
  const outlines = new Map(outlinesFile.features.map((f) => [f.id, f.geometry as Outline]));
  const districts: District[] = divisionsFile.districts.map((d) => {
    const outline = outlines.get(d.code);
    if (!outline) throw new Error(`no outline for district ${d.code}`);
    return { code: d.code, name: d.name, subdistricts: [], outline, bbox: outlineBBox(outline) };
  });
  const byCode = new Map(districts.map((d) => [d.code, d]));
  for (const s of divisionsFile.subdistricts) {
    const communities = s.communities.map((c) => ({ code: s.code + c.slice(0, 3), name: c.slice(3) }));
    byCode.get(s.code.slice(0, 6))?.subdistricts.push({ code: s.code, name: s.name, communities });
  }
  return { code: '310000', name: divisionsFile.city.name, districts };
}

let cached: Shanghai | undefined;

/** The divisions tree with outlines (built once, then shared: treat as read-only). */
export function shanghai(): Shanghai {
  cached ??= build();
  return cached;
}
