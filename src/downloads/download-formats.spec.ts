import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OutRecord } from '../query/query.types.js';
import { citation, citationLink, renderDownload } from './download-formats.js';

const cite = citation(
  { name: 'Transport Commission', nameZh: '市交通委' },
  { id: 'road-condition', title: 'Road segment condition', titleZh: '道路路段状况' },
  new Date('2026-11-24T23:59:00Z'),
);

const rec = (
  id: string,
  values: Record<string, string | number | null>,
  cell: string | null = '8831aa',
): OutRecord => ({
  id,
  grainId: cell ? null : `seg:${id}`,
  geometry: cell ? { type: 'Polygon', coordinates: [] } : { type: 'LineString', coordinates: [] },
  cell,
  values: Object.entries(values).map(([field, value]) => ({ field, value, masked: null })),
});

async function* batches(...bs: OutRecord[][]) {
  for (const b of bs) yield b;
}

async function text(gen: AsyncGenerator<string>): Promise<string> {
  let out = '';
  for await (const chunk of gen) out += chunk;
  return out;
}

describe('download formats', () => {
  it('cites the source organisation and the download date (UTC)', () => {
    assert.equal(cite.downloadedOn, '2026-11-24');
    assert.match(cite.text, /Transport Commission \(市交通委\)/);
  });

  it('CSV: the header on line 1, RFC 4180 quoting and formula escaping', async () => {
    const csv = await text(
      renderDownload(
        'csv',
        cite,
        ['surface', 'note'],
        'generalise',
        batches(
          [rec('a', { surface: 'asphalt', note: 'has, comma' })],
          [rec('b', { surface: '=HYPERLINK("x")', note: null })],
        ),
      ),
    );
    const lines = csv.split('\r\n');
    assert.equal(lines[0], 'id,h3_cell,surface,note');
    assert.equal(lines[1], 'a,8831aa,asphalt,"has, comma"');
    assert.equal(lines[2], `b,8831aa,"'=HYPERLINK(""x"")",`);
    assert.equal(lines[3], '');
  });

  it('the citation travels in a Link header (rel cite-as, RFC 8187 title*) that decodes to its text', () => {
    const link = citationLink(cite, 'http://127.0.0.1:4000');
    assert.ok(/^[\x20-\x7e]+$/.test(link), 'header octets are ASCII');
    const m = /^<([^>]+)>; rel="cite-as"; title\*=UTF-8''(.+)$/.exec(link);
    assert.ok(m, link);
    assert.equal(m[1], 'http://127.0.0.1:4000/datasets/road-condition');
    assert.equal(decodeURIComponent(m[2]!), cite.text);
    assert.ok(!/['()*]/.test(m[2]!), 'attr-chars only');
  });

  it('CSV with exact geometry names the grain instead of a cell', async () => {
    const csv = await text(renderDownload('csv', cite, ['pci'], 'allow', batches([rec('a', { pci: 7 }, null)])));
    assert.equal(csv.split('\r\n')[0], 'id,grain_id,pci');
    assert.equal(csv.split('\r\n')[1], 'a,seg:a,7');
  });

  it('GeoJSON: valid with a top-level citation, also when empty', async () => {
    const empty = JSON.parse(await text(renderDownload('geojson', cite, ['pci'], 'generalise', batches()))) as {
      citation: { dataset: string };
      features: unknown[];
    };
    assert.equal(empty.citation.dataset, 'road-condition');
    assert.deepEqual(empty.features, []);
    const fc = JSON.parse(
      await text(
        renderDownload(
          'geojson',
          cite,
          ['pci'],
          'generalise',
          batches([rec('a', { pci: 1 })], [], [rec('b', { pci: 2 })]),
        ),
      ),
    ) as { features: { id: string; properties: Record<string, unknown> }[] };
    assert.deepEqual(
      fc.features.map((f) => [f.id, f.properties]),
      [
        ['a', { h3_cell: '8831aa', pci: 1 }],
        ['b', { h3_cell: '8831aa', pci: 2 }],
      ],
    );
  });
});
