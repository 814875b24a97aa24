import type { Dataset } from './catalogue.service.js';

/**
 * DCAT (JSON-LD) description of the open catalogue: datasets whose open class is unconditional or
 * conditional (closed datasets are not part of the open catalogue).
 */
export function dcatCatalogue(
  datasets: Dataset[],
  baseUrl: string,
  orgName: (id: string) => string,
): Record<string, unknown> {
  return {
    '@context': {
      dcat: 'http://www.w3.org/ns/dcat#',
      dct: 'http://purl.org/dc/terms/',
      foaf: 'http://xmlns.com/foaf/0.1/',
      citygate: `${baseUrl}/ns#`,
    },
    '@type': 'dcat:Catalog',
    'dct:title': 'CityGate open data catalogue',
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
        'dct:description': d.description,
        'dct:publisher': {
          '@type': 'foaf:Organization',
          'foaf:name': orgName(d.ownerOrg),
          'dct:identifier': d.ownerOrg,
        },
        'dct:modified': d.updatedAt.toISOString(),
        'dct:accessRights': d.openClass === 'unconditional' ? 'PUBLIC' : 'RESTRICTED',
        'citygate:openClass': d.openClass,
        'citygate:grade': d.grade,
        'citygate:personal': d.personal,
        'citygate:grainKind': d.grainKind,
        'dcat:distribution': [
          { '@type': 'dcat:Distribution', 'dcat:accessURL': `${baseUrl}/graphql`, 'dct:format': 'GraphQL' },
          // Whole-dataset downloads exist for unconditional datasets only (src/downloads/).
          ...(d.openClass === 'unconditional'
            ? [
                { ext: 'csv', mediaType: 'text/csv', format: 'CSV' },
                { ext: 'geojson', mediaType: 'application/geo+json', format: 'GeoJSON' },
              ].map((f) => ({
                '@type': 'dcat:Distribution',
                'dcat:downloadURL': `${baseUrl}/download/${d.id}.${f.ext}`,
                'dcat:mediaType': f.mediaType,
                'dct:format': f.format,
              }))
            : []),
        ],
      })),
  };
}
