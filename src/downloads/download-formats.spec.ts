import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OutRecord } from '../query/query.types.js';
import { citation, renderDownload } from './download-formats.js';

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

  it('CSV: citation first, then the header, RFC 4180 quoting and formula escaping', async () => {
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
    assert.ok(lines[0]!.startsWith('"# Source: Transport Commission'));
    assert.equal(lines[1], 'id,h3_cell,surface,note');
    assert.equal(lines[2], 'a,8831aa,asphalt,"has, comma"');
    assert.equal(lines[3], `b,8831aa,"'=HYPERLINK(""x"")",`);
    assert.equal(lines[4], '');
  });

  it('CSV with exact geometry names the grain instead of a cell', async () => {
    const csv = await text(renderDownload('csv', cite, ['pci'], 'allow', batches([rec('a', { pci: 7 }, null)])));
    assert.equal(csv.split('\r\n')[1], 'id,grain_id,pci');
    assert.equal(csv.split('\r\n')[2], 'a,seg:a,7');
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
