/**
 * Writers of the two download formats, with the citation Shanghai's public-data opening rules ask for (the
 * source organisation and the download date). CSV is plain RFC 4180 with the header on line 1 (a citation line
 * above it made every CSV reader see one column): its citation travels in the HTTP `Link` header
 * (`citationLink`). GeoJSON carries it as a top-level `citation` member written before the features, and in
 * the same header.
 */
import type { OutRecord } from '../query/query.types.js';

export const DOWNLOAD_FORMATS = ['csv', 'geojson'] as const;
export type DownloadFormat = (typeof DOWNLOAD_FORMATS)[number];

export interface Citation {
  source: string;
  sourceZh: string;
  dataset: string;
  title: string;
  /** YYYY-MM-DD (UTC). */
  downloadedOn: string;
  text: string;
}

export function citation(
  org: { name: string; nameZh: string },
  dataset: { id: string; title: string; titleZh: string },
  at: Date,
): Citation {
  const downloadedOn = at.toISOString().slice(0, 10);
  return {
    source: org.name,
    sourceZh: org.nameZh,
    dataset: dataset.id,
    title: dataset.title,
    downloadedOn,
    text: `Source: ${org.name} (${org.nameZh}), "${dataset.title}" (${dataset.titleZh}), via CityGate open data; downloaded ${downloadedOn}.`,
  };
}

/**
 * The citation as an RFC 8288 `Link` header: `rel="cite-as"` to the dataset's IRI in the DCAT catalogue, the
 * text in `title*` (RFC 8187 UTF-8 percent-encoding, so the Chinese names survive a header's octets).
 */
export function citationLink(cite: Citation, baseUrl: string): string {
  const target = `${baseUrl}/datasets/${encodeURIComponent(cite.dataset)}`;
  const title = encodeURIComponent(cite.text).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `<${target}>; rel="cite-as"; title*=UTF-8''${title}`;
}

export const CONTENT_TYPES: Record<DownloadFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  geojson: 'application/geo+json; charset=utf-8',
};

/** The download as text chunks, one per batch, pulled only as fast as the client reads. */
export async function* renderDownload(
  format: DownloadFormat,
  cite: Citation,
  fields: string[],
  geometry: 'allow' | 'generalise' | 'deny',
  batches: AsyncIterable<OutRecord[]>,
): AsyncGenerator<string> {
  if (format === 'csv') {
    const cols = [
      'id',
      ...(geometry === 'allow' ? ['grain_id'] : []),
      ...(geometry === 'generalise' ? ['h3_cell'] : []),
    ];
    yield `${[...cols, ...fields].map(csvCell).join(',')}\r\n`;
    for await (const batch of batches) {
      let out = '';
      for (const r of batch) {
        const lead = [
          r.id,
          ...(geometry === 'allow' ? [r.grainId] : []),
          ...(geometry === 'generalise' ? [r.cell] : []),
        ];
        out += [...lead, ...r.values.map((v) => v.value)].map(csvCell).join(',') + '\r\n';
      }
      yield out;
    }
    return;
  }
  yield `{"type":"FeatureCollection","citation":${JSON.stringify(cite)},"features":[`;
  let first = true;
  for await (const batch of batches) {
    let out = '';
    for (const r of batch) {
      const properties: Record<string, unknown> = {};
      if (r.cell !== null) properties.h3_cell = r.cell;
      if (r.grainId !== null) properties.grain_id = r.grainId;
      for (const v of r.values) properties[v.field] = v.value;
      out += `${first ? '' : ','}\n${JSON.stringify({ type: 'Feature', id: r.id, geometry: r.geometry, properties })}`;
      first = false;
    }
    yield out;
  }
  yield '\n]}\n';
}

/** RFC 4180 quoting; text that a spreadsheet would run as a formula is prefixed with a quote mark. */
function csvCell(v: string | number | boolean | null): string {
  if (v === null) return '';
  if (typeof v !== 'string') return String(v);
  const s = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
