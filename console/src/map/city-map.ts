import * as maplibregl from 'maplibre-gl';
import type { GeoJSONSource, LngLatBoundsLike, StyleSpecification } from 'maplibre-gl';
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url';
import type { Feature, FeatureCollection, Geometry, Position } from 'geojson';

// The worker script is bundled and served by the gateway like every other file (no blob from a CDN).
maplibregl.setWorkerUrl(workerUrl);

/**
 * A map style with a background layer only: no tiles, no sprite and no glyphs, so nothing is fetched from
 * anywhere. Everything drawn comes from GeoJSON sources the console fills from the gateway's own answers;
 * labels and legends are HTML.
 */
export const EMPTY_STYLE: StyleSpecification = {
  version: 8,
  sources: {},
  layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#eef1f4' } }],
};

export const SUPPRESSED_COLOR = '#b9b9b9';
export const CLASS_COLORS = ['#fde0c5', '#facba6', '#f8b58b', '#f59e72', '#f2855d', '#ef6a4c'];

export const emptyCollection = (): FeatureCollection => ({ type: 'FeatureCollection', features: [] });

export function feature(geometry: Geometry, properties: Record<string, unknown>): Feature {
  return { type: 'Feature', geometry, properties };
}

/** Creates the map with the sources and layers the pages fill: units, choropleth and records. */
export function createCityMap(container: HTMLElement): maplibregl.Map {
  const map = new maplibregl.Map({
    container,
    style: EMPTY_STYLE,
    center: [121.47, 31.23],
    zoom: 8.5,
    attributionControl: false,
    // Keep the drawing buffer so that screenshots show the map.
    canvasContextAttributes: { preserveDrawingBuffer: true },
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  map.on('load', () => {
    for (const id of ['units', 'choropleth', 'records']) {
      map.addSource(id, { type: 'geojson', data: emptyCollection() });
    }
    map.addLayer({
      id: 'choropleth-fill',
      type: 'fill',
      source: 'choropleth',
      paint: { 'fill-color': ['get', 'color'], 'fill-opacity': 0.75 },
    });
    map.addLayer({
      id: 'units-line',
      type: 'line',
      source: 'units',
      paint: { 'line-color': '#4a5866', 'line-width': 1 },
    });
    map.addLayer({
      id: 'records-fill',
      type: 'fill',
      source: 'records',
      filter: ['==', ['geometry-type'], 'Polygon'],
      paint: { 'fill-color': '#1f6feb', 'fill-opacity': 0.35, 'fill-outline-color': '#0b3d91' },
    });
    map.addLayer({
      id: 'records-line',
      type: 'line',
      source: 'records',
      filter: ['==', ['geometry-type'], 'LineString'],
      paint: { 'line-color': '#1f6feb', 'line-width': 2 },
    });
    map.addLayer({
      id: 'records-point',
      type: 'circle',
      source: 'records',
      filter: ['==', ['geometry-type'], 'Point'],
      paint: { 'circle-color': '#1f6feb', 'circle-radius': 4, 'circle-stroke-color': '#fff', 'circle-stroke-width': 1 },
    });
  });
  return map;
}

export function setSource(map: maplibregl.Map, id: string, data: FeatureCollection): void {
  void map.getSource<GeoJSONSource>(id)?.setData(data);
}

function eachPosition(g: Geometry, fn: (p: Position) => void): void {
  switch (g.type) {
    case 'Point':
      fn(g.coordinates);
      break;
    case 'MultiPoint':
    case 'LineString':
      g.coordinates.forEach(fn);
      break;
    case 'MultiLineString':
    case 'Polygon':
      g.coordinates.forEach((r) => r.forEach(fn));
      break;
    case 'MultiPolygon':
      g.coordinates.forEach((p) => p.forEach((r) => r.forEach(fn)));
      break;
    case 'GeometryCollection':
      g.geometries.forEach((x) => eachPosition(x, fn));
      break;
  }
}

/** Bounds of every geometry of a collection, or null when it is empty. */
export function boundsOf(fc: FeatureCollection): LngLatBoundsLike | null {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (const f of fc.features) {
    if (!f.geometry) continue;
    eachPosition(f.geometry, ([x = NaN, y = NaN]) => {
      minX = Math.min(minX, x);
      minY = Math.min(minY, y);
      maxX = Math.max(maxX, x);
      maxY = Math.max(maxY, y);
    });
  }
  return Number.isFinite(minX) ? [minX, minY, maxX, maxY] : null;
}

/** Class breaks (equal intervals) over the values shown; suppressed cells are not values and stay out. */
export function classBreaks(values: number[], classes = CLASS_COLORS.length): number[] {
  if (values.length === 0) return [];
  const min = Math.min(...values);
  const max = Math.max(...values);
  if (min === max) return [min];
  const step = (max - min) / classes;
  return Array.from({ length: classes }, (_, i) => Math.round(min + step * i));
}

export function colorFor(value: number, breaks: number[]): string {
  let c = 0;
  for (let i = 0; i < breaks.length; i++) if (value >= breaks[i]!) c = i;
  return CLASS_COLORS[c]!;
}
