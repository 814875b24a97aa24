import type * as maplibregl from 'maplibre-gl';
import type { FeatureCollection } from 'geojson';
import { useEffect, useRef, useState } from 'preact/hooks';
import { gqlOrThrow } from '../api/graphql.js';
import type { AggregateResult, Dataset, RecordPage, Unit } from '../api/types.js';
import { Choice, Progress, Refusal, Section } from '../components/ui.js';
import {
  boundsOf,
  classBreaks,
  CLASS_COLORS,
  colorFor,
  createCityMap,
  emptyCollection,
  feature,
  setSource,
  SUPPRESSED_COLOR,
} from '../map/city-map.js';
import { href } from '../router.js';
import { useSession } from '../session.js';
import { DATASETS } from './catalogue.page.js';

type Level = 'district' | 'community';

const UNITS = `query($level: AdminLevel!, $first: Int!, $offset: Int!) {
  units(level: $level, first: $first, offset: $offset) { id level name nameZh parentId geometry } }`;
const RECORDS = `query($dataset: ID!, $fields: [String!]!) {
  records(dataset: $dataset, fields: $fields, first: 500) { geometry receiptIndex items { id cell geometry values { field value masked } } } }`;
const AGGREGATE = `query($dataset: ID!, $level: HierarchyLevel!) {
  aggregate(dataset: $dataset, groupBy: { level: $level }, measures: [{ fn: count }]) {
    groupBy minCell primarySuppressed secondarySuppressed receiptIndex
    cells { key label count suppressed } total { count suppressed } } }`;

/** Every unit of a level, page by page (communities run to thousands), reporting progress. */
async function loadUnits(
  credential: ReturnType<typeof useSession>['credential'],
  level: Level,
  onProgress: (n: number) => void,
): Promise<Unit[]> {
  const out: Unit[] = [];
  for (;;) {
    const r = await gqlOrThrow<{ units: Unit[] }>(credential, UNITS, { level, first: 1000, offset: out.length });
    out.push(...r.data.units);
    onProgress(out.length);
    if (r.data.units.length < 1000) return out;
  }
}

interface Choropleth {
  result: AggregateResult;
  breaks: number[];
  units: Map<string, Unit>;
}

/**
 * The city's own GeoJSON on a map: district outlines, the records of a dataset the caller may read (as the
 * tier gives them: exact, or generalised to H3 cells), and an aggregate by district or community as a
 * choropleth whose suppressed cells are shown as suppressed, never as zero.
 */
export function MapPage({ params }: { params: URLSearchParams }) {
  const { credential } = useSession();
  const container = useRef<HTMLDivElement>(null);
  const mapRef = useRef<maplibregl.Map | null>(null);
  const [mapReady, setMapReady] = useState(false);
  const [mapError, setMapError] = useState<string | null>(null);
  const [datasets, setDatasets] = useState<Dataset[]>([]);
  const [districts, setDistricts] = useState<Unit[] | null>(null);
  const [recordsId, setRecordsId] = useState(params.get('dataset') ?? 'public-facilities');
  const [aggregateId, setAggregateId] = useState(params.get('aggregate') ?? 'building-energy');
  const [level, setLevel] = useState<Level>((params.get('level') as Level | null) ?? 'district');
  const [records, setRecords] = useState<RecordPage | null>(null);
  const [recordsError, setRecordsError] = useState<unknown>(null);
  const [choropleth, setChoropleth] = useState<Choropleth | null>(null);
  const [aggError, setAggError] = useState<unknown>(null);
  const [busy, setBusy] = useState<{ label: string; done?: number; total?: number } | null>(null);
  const [drawn, setDrawn] = useState(false);

  useEffect(() => {
    if (!container.current) return;
    let map: maplibregl.Map;
    try {
      map = createCityMap(container.current);
    } catch (e) {
      setMapError(`The map cannot start in this browser: ${(e as Error).message}`);
      return;
    }
    mapRef.current = map;
    map.on('load', () => setMapReady(true));
    map.on('error', (e) => setMapError(e.error?.message ?? 'map error'));
    return () => {
      map.remove();
      mapRef.current = null;
    };
  }, []);

  useEffect(() => {
    void gqlOrThrow<{ datasets: Dataset[] }>(credential, DATASETS).then((r) => setDatasets(r.data.datasets));
    void loadUnits(credential, 'district', () => undefined).then(setDistricts, (e: unknown) => setAggError(e));
  }, [credential]);

  // Records of the chosen dataset, with every field the tier lets through.
  useEffect(() => {
    const d = datasets.find((x) => x.id === recordsId);
    if (!d) return;
    setRecords(null);
    setRecordsError(null);
    const fields = d.access.fields.filter((f) => f.records !== 'deny' && f.records !== 'aggregate_only');
    if (!d.access.records || fields.length === 0) {
      setRecordsError(new Error(d.access.note ?? 'Your tier may not read records of this dataset.'));
      return;
    }
    gqlOrThrow<{ records: RecordPage }>(credential, RECORDS, {
      dataset: d.id,
      fields: fields.map((f) => f.field),
    }).then(
      (r) => setRecords(r.data.records),
      (e: unknown) => setRecordsError(e),
    );
  }, [datasets, recordsId, credential]);

  // The aggregate and the units it is keyed to.
  useEffect(() => {
    setChoropleth(null);
    setAggError(null);
    let cancelled = false;
    void (async () => {
      try {
        setBusy({ label: `Loading ${level} outlines…` });
        const units =
          level === 'district' && districts
            ? districts
            : await loadUnits(credential, level, (n) => setBusy({ label: `Loading ${level} outlines… ${n}` }));
        setBusy({ label: `Computing the aggregate by ${level}…` });
        const r = await gqlOrThrow<{ aggregate: AggregateResult }>(credential, AGGREGATE, {
          dataset: aggregateId,
          level,
        });
        if (cancelled) return;
        const values = r.data.aggregate.cells.filter((c) => !c.suppressed).map((c) => c.count ?? 0);
        setChoropleth({
          result: r.data.aggregate,
          breaks: classBreaks(values),
          units: new Map(units.map((u) => [u.id, u])),
        });
      } catch (e) {
        if (!cancelled) setAggError(e);
      } finally {
        if (!cancelled) setBusy(null);
      }
    })();
    return () => {
      cancelled = true;
    };
  }, [aggregateId, level, credential, districts === null]);

  // Draw whatever is known.
  useEffect(() => {
    const map = mapRef.current;
    if (!map || !mapReady) return;
    setDrawn(false);
    const outlines: FeatureCollection = {
      type: 'FeatureCollection',
      features: (districts ?? []).filter((u) => u.geometry).map((u) => feature(u.geometry!, { id: u.id })),
    };
    setSource(map, 'units', outlines);
    const recs: FeatureCollection = {
      type: 'FeatureCollection',
      features: (records?.items ?? []).filter((i) => i.geometry).map((i) => feature(i.geometry!, { id: i.id })),
    };
    setSource(map, 'records', recs);
    const choro = emptyCollection();
    if (choropleth) {
      for (const c of choropleth.result.cells) {
        const u = choropleth.units.get(c.key);
        if (!u?.geometry) continue;
        const color = c.suppressed ? SUPPRESSED_COLOR : colorFor(c.count ?? 0, choropleth.breaks);
        choro.features.push(feature(u.geometry, { key: c.key, color, suppressed: c.suppressed }));
      }
    }
    setSource(map, 'choropleth', choro);
    const b = boundsOf(outlines);
    if (b) map.fitBounds(b, { padding: 20, duration: 0 });
    map.once('idle', () => {
      setDrawn(['units', 'records', 'choropleth'].every((s) => map.isSourceLoaded(s)));
    });
  }, [mapReady, districts, records, choropleth]);

  const readable = datasets.filter((d) => d.access.records);
  const aggregable = datasets.filter((d) => d.access.aggregates);
  const cells = choropleth?.result.cells ?? [];
  return (
    <div>
      <h1>Map</h1>
      <div class="row controls">
        <label>
          Records of{' '}
          <Choice
            name="records-dataset"
            value={recordsId}
            onChange={setRecordsId}
            items={readable}
            label={(d) => <>{d.title}</>}
          />
        </label>
        <label>
          Choropleth of{' '}
          <Choice
            name="aggregate-dataset"
            value={aggregateId}
            onChange={setAggregateId}
            items={aggregable}
            label={(d) => <>{d.title}</>}
          />
        </label>
        <label>
          by{' '}
          <select name="level" value={level} onChange={(e) => setLevel((e.target as HTMLSelectElement).value as Level)}>
            <option value="district">district</option>
            <option value="community">community</option>
          </select>
        </label>
      </div>
      {busy && <Progress label={busy.label} />}
      {mapError && <div class="refusal">{mapError}</div>}
      <div class="map-wrap">
        <div
          ref={container}
          class="map"
          data-testid="map"
          data-map-state={drawn ? 'drawn' : mapReady ? 'loading' : 'starting'}
          data-records={records?.items.length ?? 0}
          data-cells={cells.length}
        />
        <Legend choropleth={choropleth} />
      </div>
      <p class="muted" data-testid="map-status">
        {districts ? `${districts.length} district outlines` : 'loading outlines'}
        {records
          ? ` · ${records.items.length} records of ${recordsId}, geometry ${records.geometry === 'generalise' ? 'generalised to H3 cells' : records.geometry}`
          : ''}
        {records ? ` · receipt #${records.receiptIndex}` : ''}
      </p>
      {recordsError !== null && <Refusal error={recordsError} />}
      {aggError !== null && <Refusal error={aggError} />}
      {choropleth && (
        <Section title={`Counts of ${aggregateId} by ${level}`}>
          <p class="muted">
            Cells under {choropleth.result.minCell} records (zeros included) are suppressed, and enough further cells
            that the total cannot reveal them: {choropleth.result.primarySuppressed} primary,{' '}
            {choropleth.result.secondarySuppressed} secondary. Receipt #{choropleth.result.receiptIndex}.{' '}
            <a href={href('verify', { index: String(choropleth.result.receiptIndex) })}>Verify it</a>
          </p>
          <table class="cells" data-testid="cells">
            <thead>
              <tr>
                <th>{level}</th>
                <th>records</th>
              </tr>
            </thead>
            <tbody>
              {cells.slice(0, 200).map((c) => (
                <tr key={c.key} data-suppressed={c.suppressed ? 'true' : 'false'}>
                  <td>
                    {choropleth.units.get(c.key)?.name ?? c.label ?? c.key}{' '}
                    <span class="muted">{choropleth.units.get(c.key)?.nameZh ?? ''}</span>
                  </td>
                  <td>{c.suppressed ? <span class="suppressed">suppressed</span> : c.count}</td>
                </tr>
              ))}
            </tbody>
            <tfoot>
              <tr>
                <td>total</td>
                <td>
                  {choropleth.result.total.suppressed ? (
                    <span class="suppressed">suppressed</span>
                  ) : (
                    choropleth.result.total.count
                  )}
                </td>
              </tr>
            </tfoot>
          </table>
          {cells.length > 200 && <p class="muted">and {cells.length - 200} more cells on the map.</p>}
        </Section>
      )}
    </div>
  );
}

function Legend({ choropleth }: { choropleth: Choropleth | null }) {
  if (!choropleth) return null;
  const { breaks } = choropleth;
  return (
    <div class="legend" data-testid="legend">
      <div class="legend-title">Records per unit</div>
      {breaks.map((b, i) => (
        <div class="legend-row" key={b}>
          <span
            class="swatch"
            data-color={CLASS_COLORS[i]}
            ref={(el) => el?.style.setProperty('background', CLASS_COLORS[i]!)}
          />
          {i + 1 < breaks.length ? `${b} – ${breaks[i + 1]! - 1}` : `${b} or more`}
        </div>
      ))}
      <div class="legend-row">
        <span class="swatch" ref={(el) => el?.style.setProperty('background', SUPPRESSED_COLOR)} />
        suppressed (fewer than {choropleth.result.minCell})
      </div>
    </div>
  );
}
