/**
 * The DCAT export (GET /catalogue/dcat.jsonld) against the official DCAT-AP 3.0.1 SHACL shapes
 * (test/fixtures/dcat-ap/, see its README): the live export conforms, and a copy with a mandatory
 * property removed does not, so the check can fail.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import rdf from '@zazuko/env-node';
import jsonld from 'jsonld';
import SHACLValidator from 'rdf-validate-shacl';
import { startTestGateway, type TestGateway } from '../support/test-gateway.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/dcat-ap');
/** The official shapes and ranges, and CityGate's own typed-date shape (not official, see the README). */
const SHAPE_FILES = ['dcat-ap-SHACL.ttl', 'ranges.ttl', 'citygate-dates.ttl'];
const RDF_TYPE = 'http://www.w3.org/1999/02/22-rdf-syntax-ns#type';
const RDFS_RESOURCE = 'http://www.w3.org/2000/01/rdf-schema#Resource';

type Doc = Record<string, unknown> & { 'dcat:dataset': Record<string, unknown>[] };

/** JSON-LD to an RDF/JS dataset. The export's context is inline: any remote context is refused. */
async function toDataset(doc: object) {
  const nquads = (await jsonld.toRDF(doc, {
    format: 'application/n-quads',
    documentLoader: (url: string) => Promise.reject(new Error(`no remote contexts: ${url}`)),
  } as jsonld.Options.ToRdf)) as unknown as string;
  const quads = rdf.formats.parsers.import('application/n-quads', Readable.from([nquads]));
  assert.ok(quads, 'an N-Quads parser');
  const data = await rdf.dataset().import(quads);
  // ranges.ttl asks some values (dcat:endpointURL) to be of class rdfs:Resource, which every IRI is under
  // RDFS entailment (rule rdfs4); the validator does no inference, so that one rule is applied here.
  for (const q of [...data]) {
    for (const t of [q.subject, q.object]) {
      if (t.termType === 'NamedNode' || t.termType === 'BlankNode') {
        data.add(rdf.quad(t, rdf.namedNode(RDF_TYPE), rdf.namedNode(RDFS_RESOURCE)));
      }
    }
  }
  return data;
}

async function validate(doc: object) {
  const report = await new SHACLValidator(shapes, { factory: rdf }).validate(await toDataset(doc));
  const results = report.results.map((r) => ({
    focus: r.focusNode?.value,
    path: r.path?.value,
    value: r.value?.value,
    constraint: r.sourceConstraintComponent?.value,
    shape: r.sourceShape?.value,
    message: r.message.map((m) => m.value).join('; '),
  }));
  return { conforms: report.conforms, results };
}

let shapes: Awaited<ReturnType<typeof toDataset>>;

describe('DCAT-AP 3 conformance of the DCAT export', () => {
  let tg: TestGateway;
  let doc: Doc;

  before(async () => {
    shapes = rdf.dataset();
    for (const f of SHAPE_FILES) await shapes.import(rdf.fromFile(path.join(FIXTURES, f)));
    tg = await startTestGateway({ rooms: 200 });
    const res = await tg.app.getHttpAdapter().getInstance().inject({ method: 'GET', url: '/catalogue/dcat.jsonld' });
    assert.equal(res.statusCode, 200);
    doc = JSON.parse(res.body) as Doc;
  });
  after(async () => {
    await tg?.close();
  });

  it('loads the official shapes (catalogue, dataset and distribution shapes among them)', () => {
    const shapeIri = (name: string) => rdf.namedNode(`https://semiceu.github.io/DCAT-AP/releases/3.0.1#${name}`);
    for (const s of ['dcat:CatalogShape', 'dcat:DatasetShape', 'dcat:DistributionShape', 'foaf:AgentShape']) {
      assert.ok(shapes.match(shapeIri(s)).size > 0, s);
    }
  });

  it('the live export conforms to DCAT-AP 3', async () => {
    assert.ok(doc['dcat:dataset'].length > 0, 'the open catalogue is not empty');
    const { conforms, results } = await validate(doc);
    assert.equal(conforms, true, JSON.stringify(results, null, 2));
  });

  it('takes access rights, file types and media types from their authority tables', async () => {
    // The shapes check the classes only (the vocabularies are not loaded, see the fixture README).
    const data = await toDataset(doc);
    const objects = (p: string) => [...data.match(null, rdf.namedNode(p))].map((q) => q.object.value);
    const accessRights = objects('http://purl.org/dc/terms/accessRights');
    assert.ok(accessRights.length > 0);
    for (const v of accessRights) {
      assert.match(
        v,
        /^http:\/\/publications\.europa\.eu\/resource\/authority\/access-right\/(PUBLIC|RESTRICTED|NON_PUBLIC)$/,
      );
    }
    const formats = new Set(objects('http://purl.org/dc/terms/format'));
    assert.deepEqual(
      [...formats].sort(),
      ['CSV', 'GEOJSON', 'JSON'].map((c) => `http://publications.europa.eu/resource/authority/file-type/${c}`),
    );
    const mediaTypes = new Set(objects('http://www.w3.org/ns/dcat#mediaType'));
    assert.deepEqual(
      [...mediaTypes].sort(),
      ['application/geo+json', 'application/json', 'text/csv'].map(
        (t) => `https://www.iana.org/assignments/media-types/${t}`,
      ),
    );
  });

  it('a copy without the catalogue description or publisher, or a distribution without dcat:accessURL, does not', async () => {
    const noDescription = structuredClone(doc);
    delete noDescription['dct:description'];
    const a = await validate(noDescription);
    assert.equal(a.conforms, false);
    assert.ok(
      a.results.some((r) => r.path === 'http://purl.org/dc/terms/description'),
      JSON.stringify(a.results, null, 2),
    );

    const noPublisher = structuredClone(doc);
    delete noPublisher['dct:publisher'];
    const p = await validate(noPublisher);
    assert.equal(p.conforms, false);
    assert.ok(
      p.results.some((r) => r.path === 'http://purl.org/dc/terms/publisher'),
      JSON.stringify(p.results, null, 2),
    );

    const noAccessUrl = structuredClone(doc);
    const dist = noAccessUrl['dcat:dataset'][0]!['dcat:distribution'] as Record<string, unknown>[];
    delete dist[0]!['dcat:accessURL'];
    const b = await validate(noAccessUrl);
    assert.equal(b.conforms, false);
    assert.ok(
      b.results.some((r) => r.path === 'http://www.w3.org/ns/dcat#accessURL'),
      JSON.stringify(b.results, null, 2),
    );
  });

  it('an untyped dct:modified or a string access right does not conform', async () => {
    const loose = structuredClone(doc);
    const ds = loose['dcat:dataset'][0]!;
    ds['dct:modified'] = (ds['dct:modified'] as { '@value': string })['@value'];
    ds['dct:accessRights'] = 'PUBLIC';
    const { conforms, results } = await validate(loose);
    assert.equal(conforms, false);
    const paths = new Set(results.map((r) => r.path));
    assert.ok(paths.has('http://purl.org/dc/terms/modified'), JSON.stringify(results, null, 2));
    assert.ok(paths.has('http://purl.org/dc/terms/accessRights'), JSON.stringify(results, null, 2));
  });
});
