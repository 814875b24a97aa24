import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { getResolution, isValidCell, latLngToCell } from 'h3-js';
import { DEMO_DATASETS } from '../catalogue/demo-catalogue.js';
import { shanghai } from './data/shanghai.js';
import { decodeRing } from './data/extract-shanghai.js';
import { pointInOutline } from './demo-city.geo.js';
import {
  GENERATED_DATASETS,
  H3_RESOLUTIONS,
  generateDemoCity,
  type DemoCityBatch,
  type GrainRow,
  type RecordRow,
  type UnitRow,
} from './demo-city.generator.js';

const SEED = 'spec-seed';
const ROOMS = 20_000;
const BATCH_ROWS = 4_000;

function hashBatches(batches: Iterable<DemoCityBatch>, limit = Infinity): string {
  const h = createHash('sha256');
  let n = 0;
  for (const b of batches) {
    if (n++ >= limit) break;
    h.update(JSON.stringify(b));
  }
  return h.digest('hex');
}

/** One generated city shared by the tests below (20,000 rooms: about 1 s). */
const city = (() => {
  const units = new Map<string, UnitRow>();
  const grains = new Map<string, GrainRow>();
  const records = new Map<string, RecordRow[]>();
  const batchSizes: number[] = [];
  for (const b of generateDemoCity({ rooms: ROOMS, seed: SEED, batchRows: BATCH_ROWS })) {
    let rows = b.units.length + b.grains.length;
    for (const u of b.units) units.set(u.id, u);
    for (const g of b.grains) grains.set(g.id, g);
    for (const [ds, rs] of Object.entries(b.records)) {
      rows += rs.length;
      const list = records.get(ds) ?? [];
      for (const r of rs) list.push(r);
      records.set(ds, list);
    }
    batchSizes.push(rows);
  }
  return { units, grains, records, batchSizes };
})();

const grainsOf = (kind: GrainRow['kind']) => [...city.grains.values()].filter((g) => g.kind === kind);

describe('real Shanghai divisions and outlines', () => {
  it('has the 16 districts, 234 subdistricts and 6,509 communities with statistics-bureau codes', () => {
    const sh = shanghai();
    assert.equal(sh.districts.length, 16);
    const subs = sh.districts.flatMap((d) => d.subdistricts);
    assert.equal(subs.length, 234);
    const communities = subs.flatMap((s) => s.communities);
    assert.equal(communities.length, 6509);
    for (const d of sh.districts) {
      assert.match(d.code, /^3101\d{2}$/);
      for (const s of d.subdistricts) {
        assert.ok(s.code.startsWith(d.code) && s.code.length === 9, s.code);
        for (const c of s.communities) assert.ok(c.code.startsWith(s.code) && c.code.length === 12, c.code);
      }
    }
    const huangpu = sh.districts.find((d) => d.code === '310101');
    assert.equal(huangpu?.name, '黄浦区');
    assert.ok(huangpu.subdistricts.some((s) => s.name === '外滩街道'));
    assert.equal(sh.districts.find((d) => d.code === '310151')?.name, '崇明区');
  });

  it('decodes each district outline to a ring around its own area', () => {
    for (const d of shanghai().districts) {
      const [minLon, minLat, maxLon, maxLat] = d.bbox;
      assert.ok(minLon > 120.8 && maxLon < 122.1 && minLat > 30.6 && maxLat < 31.9, `${d.name} ${d.bbox.join(',')}`);
    }
    // The People's Square lies in Huangpu, not in Pudong.
    const [huangpu, pudong] = ['310101', '310115'].map((c) => shanghai().districts.find((d) => d.code === c)!);
    assert.ok(pointInOutline(huangpu!.outline, 121.4737, 31.2304));
    assert.ok(!pointInOutline(pudong!.outline, 121.4737, 31.2304));
  });

  it('decodes the echarts UTF8Encoding (zigzag deltas from the offset)', () => {
    // '@' = 0, 'A' = -1, 'B' = +1 (zigzag of charCode - 64)
    assert.deepEqual(decodeRing('@@AB', [1024, 2048], 1024), [
      [1, 2],
      [1023 / 1024, 2049 / 1024],
    ]);
  });
});

describe('generateDemoCity', () => {
  it('is deterministic: same seed and size, same bytes; another seed, other bytes', () => {
    const run = (seed: string) => hashBatches(generateDemoCity({ rooms: 5_000, seed, batchRows: 1_000 }), 4);
    assert.equal(run('a'), run('a'));
    assert.notEqual(run('a'), run('b'));
  });

  it('generates exactly the requested number of rooms, at any size', () => {
    for (const rooms of [0, 1, 7, 2_000]) {
      let n = 0;
      for (const b of generateDemoCity({ rooms, seed: SEED })) n += b.grains.filter((g) => g.kind === 'room').length;
      assert.equal(n, rooms, `rooms=${rooms}`);
    }
    assert.equal(grainsOf('room').length, ROOMS);
  });

  it('keeps batches bounded', () => {
    for (const size of city.batchSizes) assert.ok(size < BATCH_ROWS + 3_000, `batch of ${size} rows`);
  });

  it('emits the whole real hierarchy with real names', () => {
    const levels = new Map<string, number>();
    for (const u of city.units.values()) levels.set(u.level, (levels.get(u.level) ?? 0) + 1);
    assert.equal(levels.get('city'), 1);
    assert.equal(levels.get('district'), 16);
    assert.equal(levels.get('subdistrict'), 234);
    assert.equal(levels.get('community'), 6509);
    const names = new Set([...city.units.values()].map((u) => u.name_zh));
    for (const n of ['上海市', '黄浦区', '浦东新区', '外滩街道', '南京东路街道', '云南中路居委会'])
      assert.ok(names.has(n), n);
    assert.equal(city.units.get('district:310101')?.name_zh, '黄浦区');
  });

  it('puts every unit under an existing parent of the level above, with consistent ancestor ids', () => {
    const above: Record<string, string> = {
      district: 'city',
      subdistrict: 'district',
      community: 'subdistrict',
      building: 'community',
      floor: 'building',
    };
    for (const u of city.units.values()) {
      if (u.level === 'city') continue;
      const parent = city.units.get(u.parent_id ?? '');
      assert.ok(parent, `parent of ${u.id}`);
      assert.equal(parent.level, above[u.level]);
      if (u.level !== 'district') assert.equal(u.district_id, parent.district_id);
      if (u.level !== 'district' && u.level !== 'subdistrict') assert.equal(u.subdistrict_id, parent.subdistrict_id);
      assert.ok(u.min_lon <= u.max_lon && u.min_lat <= u.max_lat);
    }
  });

  it('links every grain to a consistent community / subdistrict / district chain (and building / floor for rooms)', () => {
    for (const g of city.grains.values()) {
      const code = /^(room|box|segment):(\d{12})-/.exec(g.id)?.[2];
      assert.ok(code, g.id);
      assert.equal(g.community_id, `community:${code}`);
      assert.equal(g.subdistrict_id, `subdistrict:${code.slice(0, 9)}`);
      assert.equal(g.district_id, `district:${code.slice(0, 6)}`);
      const community = city.units.get(g.community_id);
      assert.equal(community?.parent_id, g.subdistrict_id);
      assert.equal(city.units.get(g.subdistrict_id)?.parent_id, g.district_id);
      if (g.kind === 'room') {
        const floor = city.units.get(g.floor_id ?? '');
        assert.equal(floor?.level, 'floor');
        assert.equal(floor.parent_id, g.building_id);
        assert.equal(city.units.get(g.building_id ?? '')?.parent_id, g.community_id);
        assert.ok(g.id.startsWith(`room:${g.floor_id?.slice('floor:'.length)}-`));
      } else {
        assert.equal(g.building_id, null);
        assert.equal(g.floor_id, null);
      }
    }
  });

  it("places every grain's point inside its district's outline and its own bbox", () => {
    const outlines = new Map(shanghai().districts.map((d) => [`district:${d.code}`, d.outline]));
    for (const g of city.grains.values()) {
      assert.ok(pointInOutline(outlines.get(g.district_id)!, g.lon, g.lat), `${g.id} at ${g.lon},${g.lat}`);
      assert.ok(g.min_lon <= g.lon && g.lon <= g.max_lon && g.min_lat <= g.lat && g.lat <= g.max_lat, g.id);
    }
  });

  it('gives each grain the H3 cells of its point at resolutions 7, 8 and 9', () => {
    for (const g of city.grains.values()) {
      const cells = [g.h3_r7, g.h3_r8, g.h3_r9];
      H3_RESOLUTIONS.forEach((res, i) => {
        const cell = cells[i]!;
        assert.ok(isValidCell(cell), cell);
        assert.equal(getResolution(cell), res);
        assert.equal(cell, latLngToCell(g.lat, g.lon, res), `${g.id} r${res}`);
      });
    }
  });

  it('gives plausible geometry and measures', () => {
    for (const g of city.grains.values()) {
      assert.ok(g.measure > 0, g.id);
      if (g.kind === 'room') {
        assert.equal(g.geom.type, 'Polygon');
        assert.equal(g.measure_unit, 'm2');
        assert.ok(g.measure > 10 && g.measure < 250, `${g.id} ${g.measure} m2`);
        const h = g.z_max - g.z_min;
        assert.ok(h >= 2.8 && h <= 4.5, `${g.id} floor height ${h}`);
      } else if (g.kind === 'box') {
        assert.equal(g.geom.type, 'Polygon');
        assert.equal(g.measure_unit, 'm3');
        assert.deepEqual([g.z_min, g.z_max], [0, 30]);
      } else {
        assert.equal(g.geom.type, 'LineString');
        assert.equal(g.measure_unit, 'm');
        assert.ok(['road', 'water-main', 'drain'].includes(g.subtype));
      }
    }
    const subtypes = new Set([...city.grains.values()].map((g) => g.subtype));
    for (const s of [
      'residential',
      'commercial',
      'office',
      'plaza',
      'street-canyon',
      'park-cell',
      'road',
      'water-main',
      'drain',
    ]) {
      assert.ok(subtypes.has(s), s);
    }
  });

  it('spreads rooms unevenly: central districts are denser per community', () => {
    const perDistrict = new Map<string, number>();
    for (const g of grainsOf('room')) perDistrict.set(g.district_id, (perDistrict.get(g.district_id) ?? 0) + 1);
    const communities = (code: string) =>
      shanghai()
        .districts.find((d) => d.code === code)!
        .subdistricts.reduce((n, s) => n + s.communities.length, 0);
    const density = (code: string) => (perDistrict.get(`district:${code}`) ?? 0) / communities(code);
    assert.ok(density('310101') > 2 * density('310151'), 'Huangpu denser than Chongming');
    assert.equal(perDistrict.size, 16);
  });
});

describe('generated records', () => {
  const isoDate = /^\d{4}-\d{2}-\d{2}$/;

  it('fills every dataset of the catalogue, with exactly its fields and types', () => {
    assert.deepEqual(new Set(GENERATED_DATASETS), new Set(DEMO_DATASETS.map((d) => d.id)));
    for (const ds of DEMO_DATASETS) {
      const rows = city.records.get(ds.id) ?? [];
      assert.ok(rows.length > 0, `${ds.id} has records`);
      const ids = new Set<string>();
      for (const r of rows) {
        assert.deepEqual(Object.keys(r), ['id', 'grain_id', ...ds.fields.map((f) => f.name)], ds.id);
        assert.ok(!ids.has(r.id), `unique id ${r.id}`);
        ids.add(r.id);
        assert.equal(city.grains.get(r.grain_id)?.kind, ds.grainKind, `${ds.id} ${r.grain_id}`);
        for (const f of ds.fields) {
          const v = r[f.name];
          if (f.type === 'int') assert.ok(Number.isInteger(v), `${ds.id}.${f.name}=${v}`);
          if (f.type === 'float') assert.ok(typeof v === 'number' && Number.isFinite(v), `${ds.id}.${f.name}=${v}`);
          if (f.type === 'string') assert.ok(typeof v === 'string' && v.length > 0, `${ds.id}.${f.name}=${v}`);
          if (f.type === 'date')
            assert.ok(
              typeof v === 'string' && isoDate.test(v) && !Number.isNaN(Date.parse(v)),
              `${ds.id}.${f.name}=${v}`,
            );
          if (f.type === 'bool') assert.equal(typeof v, 'boolean');
        }
      }
    }
  });

  it('covers the grains in the documented proportions', () => {
    const count = (ds: string) => city.records.get(ds)?.length ?? 0;
    const rooms = grainsOf('room');
    const residential = rooms.filter((g) => g.subtype === 'residential').length;
    const commercial = rooms.filter((g) => g.subtype === 'commercial').length;
    const boxes = grainsOf('box').length;
    const segments = grainsOf('segment');
    const near = (actual: number, expected: number, tol: number, what: string) =>
      assert.ok(Math.abs(actual - expected) <= tol * expected, `${what}: ${actual} vs ~${expected.toFixed(0)}`);
    near(count('residents-per-room'), 0.85 * residential, 0.05, 'residents');
    near(count('elderly-living-alone'), 0.04 * residential, 0.2, 'elderly');
    assert.equal(count('building-energy'), rooms.length);
    near(count('business-licences'), 0.92 * commercial, 0.05, 'business licences');
    near(count('hotline-complaints'), 0.5 * boxes, 0.25, 'complaints');
    near(count('public-facilities'), boxes / 3, 0.25, 'facilities');
    assert.equal(count('road-condition'), segments.filter((s) => s.subtype === 'road').length);
    assert.equal(count('drain-condition'), segments.filter((s) => s.subtype !== 'road').length);
    assert.equal(count('critical-water-network'), segments.filter((s) => s.subtype === 'water-main').length);
  });

  it('keeps values correlated and plausible', () => {
    const elderly = city.records.get('elderly-living-alone')!;
    const meanCare = (band: string) => {
      const xs = elderly.filter((r) => r.age_band === band).map((r) => Number(r.care_level));
      return xs.reduce((a, b) => a + b, 0) / xs.length;
    };
    assert.ok(meanCare('85+') > meanCare('65-74') + 1, 'care level rises with age');
    const residents = new Map(city.records.get('residents-per-room')!.map((r) => [r.grain_id, r]));
    for (const e of elderly)
      assert.equal(
        residents.get(e.grain_id)?.resident_count,
        e.elder_count,
        'an elder living alone is the only resident',
      );

    // Electricity rises with floor area among occupied residential rooms (Pearson r > 0.4).
    const pairs = city.records
      .get('building-energy')!
      .filter((r) => residents.has(r.grain_id))
      .map((r) => [city.grains.get(r.grain_id)!.measure, r.electricity_kwh as number] as const);
    assert.ok(pearson(pairs) > 0.4, `r = ${pearson(pairs)}`);

    for (const r of city.records.get('hotline-complaints')!)
      assert.match(String(r.caller_phone), /^1\d{2}-\d{4}-\d{4}$/);
    for (const r of city.records.get('business-licences')!)
      assert.match(String(r.licence_no), /^91310\d{3}[0-9A-HJ-NPQRTUWXY]{10}$/);
    for (const r of city.records.get('road-condition')!) assert.ok((r.pci as number) >= 0 && (r.pci as number) <= 100);
    for (const r of city.records.get('drain-condition')!)
      assert.ok((r.blockage_risk as number) >= 0 && (r.blockage_risk as number) <= 1);
    const heads = city.records.get('residents-per-room')!.map((r) => String(r.household_head));
    assert.ok(
      heads.every((n) => /^\p{Script=Han}{2,3}$/u.test(n)),
      'Chinese names',
    );
  });
});

function pearson(pairs: readonly (readonly [number, number])[]): number {
  const n = pairs.length;
  const mx = pairs.reduce((s, p) => s + p[0], 0) / n;
  const my = pairs.reduce((s, p) => s + p[1], 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (const [x, y] of pairs) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
    syy += (y - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}
