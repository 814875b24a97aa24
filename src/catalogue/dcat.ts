import type { Dataset } from './catalogue.service.js';

/** EU Vocabularies (Publications Office) authority tables that DCAT-AP 3 asks for. */
const ACCESS_RIGHT = 'http://publications.europa.eu/resource/authority/access-right/';
const FILE_TYPE = 'http://publications.europa.eu/resource/authority/file-type/';
/** IANA media type IRIs, the form DCAT-AP 3 recommends for dcat:mediaType. */
const MEDIA_TYPE = 'https://www.iana.org/assignments/media-types/';

/** A publishing organisation: its id (part of its IRI) and its display name. */
export interface Publisher {
  id: string;
  name: string;
}

/**
 * DCAT-AP 3 (JSON-LD) description of the open catalogue: datasets whose open class is unconditional or
 * conditional (closed datasets are not part of the open catalogue). Checked against the official DCAT-AP
 * 3 SHACL shapes in test/e2e/dcat-shacl.e2e-spec.ts.
 *
 * Controlled-vocabulary values (access rights, formats, media types) are IRIs, each typed with the class
 * the DCAT-AP range asks for, so a validator that has not loaded the vocabularies can still check them.
 * URLs are plain strings in the JSON (the context makes them IRIs), so JSON readers need no JSON-LD.
 */
export function dcatCatalogue(
  datasets: Dataset[],
  baseUrl: string,
  orgName: (id: string) => string,
  publisher: Publisher,
): Record<string, unknown> {
  const agent = (p: Publisher) => ({
    '@id': `${baseUrl}/orgs/${encodeURIComponent(p.id)}`,
    '@type': ['foaf:Agent', 'foaf:Organization'],
    'foaf:name': p.name,
    'dct:identifier': p.id,
  });
  const fileType = (code: string) => ({ '@id': `${FILE_TYPE}${code}`, '@type': 'dct:MediaTypeOrExtent' });
  const mediaType = (type: string) => ({ '@id': `${MEDIA_TYPE}${type}`, '@type': 'dct:MediaType' });
  const graphqlService = {
    '@id': `${baseUrl}/graphql`,
    '@type': 'dcat:DataService',
    'dct:title': { '@value': 'CityGate GraphQL API', '@language': 'en' },
    'dcat:endpointURL': `${baseUrl}/graphql`,
    'dct:conformsTo': { '@id': 'https://spec.graphql.org/', '@type': 'dct:Standard' },
  };
  return {
    '@context': {
      dcat: 'http://www.w3.org/ns/dcat#',
      dct: 'http://purl.org/dc/terms/',
      foaf: 'http://xmlns.com/foaf/0.1/',
      xsd: 'http://www.w3.org/2001/XMLSchema#',
      citygate: `${baseUrl}/ns#`,
      'dcat:accessURL': { '@type': '@id' },
      'dcat:downloadURL': { '@type': '@id' },
      'dcat:endpointURL': { '@type': '@id' },
    },
    '@id': `${baseUrl}/catalogue`,
    '@type': 'dcat:Catalog',
    'dct:title': { '@value': 'CityGate open data catalogue', '@language': 'en' },
    'dct:description': {
      '@value':
        "The city's open spatial datasets: metadata of every dataset that is open without conditions or on " +
        'conditions, with its GraphQL access and, for unconditional datasets, whole-dataset downloads.',
      '@language': 'en',
    },
    'dct:publisher': agent(publisher),
    'dcat:service': graphqlService,
    'dcat:dataset': datasets
      .filter((d) => d.openClass !== 'closed')
      .map((d) => ({
        '@id': `${baseUrl}/datasets/${d.id}`,
        '@type': 'dcat:Dataset',
        'dct:identifier': d.id,
        'dct:title': [
          { '@value': d.title, '@language': 'en' },
          { '@value': d.titleZh, '@language': 'zh' },
        ],
        'dct:description': { '@value': d.description, '@language': 'en' },
        'dct:publisher': agent({ id: d.ownerOrg, name: orgName(d.ownerOrg) }),
        'dct:modified': { '@value': d.updatedAt.toISOString(), '@type': 'xsd:dateTime' },
        'dct:accessRights': {
          '@id': `${ACCESS_RIGHT}${d.openClass === 'unconditional' ? 'PUBLIC' : 'RESTRICTED'}`,
          '@type': 'dct:RightsStatement',
        },
        'citygate:openClass': d.openClass,
        'citygate:grade': d.grade,
        'citygate:personal': d.personal,
        'citygate:grainKind': d.grainKind,
        'dcat:distribution': [
          {
            '@id': `${baseUrl}/datasets/${d.id}#graphql`,
            '@type': 'dcat:Distribution',
            'dct:title': { '@value': 'GraphQL API', '@language': 'en' },
            'dcat:accessURL': `${baseUrl}/graphql`,
            'dcat:accessService': { '@id': graphqlService['@id'] },
            // GraphQL over HTTP answers in JSON.
            'dct:format': fileType('JSON'),
            'dcat:mediaType': mediaType('application/json'),
          },
          // Whole-dataset downloads exist for unconditional datasets only (src/downloads/).
          ...(d.openClass === 'unconditional'
            ? [
                { ext: 'csv', mediaType: 'text/csv', format: 'CSV' },
                { ext: 'geojson', mediaType: 'application/geo+json', format: 'GEOJSON' },
              ].map((f) => ({
                '@id': `${baseUrl}/datasets/${d.id}#${f.ext}`,
                '@type': 'dcat:Distribution',
                'dcat:accessURL': `${baseUrl}/download/${d.id}.${f.ext}`,
                'dcat:downloadURL': `${baseUrl}/download/${d.id}.${f.ext}`,
                'dct:format': fileType(f.format),
                'dcat:mediaType': mediaType(f.mediaType),
              }))
            : []),
        ],
      })),
  };
}
