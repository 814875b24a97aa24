import { useEffect, useState } from 'preact/hooks';
import { gqlOrThrow } from '../api/graphql.js';
import type { Dataset } from '../api/types.js';
import { Download } from '../components/download.js';
import { Badge, Progress, Refusal } from '../components/ui.js';
import { href } from '../router.js';
import { useSession } from '../session.js';

export const DATASETS = `{ datasets { id title titleZh description ownerOrg ownerName grainKind grade personal openClass
  fields { name type unit description grade personal openClass }
  access { tier records aggregates minCell note fields { field records aggregates } } } }`;

/** The catalogue: every dataset with its classification and what the caller may ask of it. */
export function CataloguePage() {
  const { credential } = useSession();
  const [datasets, setDatasets] = useState<Dataset[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    gqlOrThrow<{ datasets: Dataset[] }>(credential, DATASETS).then(
      (r) => setDatasets(r.data.datasets),
      (e: unknown) => setError(e),
    );
  }, [credential]);
  if (error) return <Refusal error={error} />;
  if (!datasets) return <Progress label="Loading the catalogue…" />;
  return (
    <div>
      <h1>Catalogue</h1>
      <p class="muted">
        Every dataset is listed; closed ones as metadata only. The access line is what the policy lets you do without a
        purpose (a grant may allow more for its purpose).
      </p>
      <div class="datasets">
        {datasets.map((d) => (
          <article class="card dataset" key={d.id} data-dataset={d.id}>
            <h2>
              {d.title} <span class="muted">{d.titleZh}</span>
            </h2>
            <div class="badges">
              <Badge kind={d.openClass}>{d.openClass}</Badge>
              <Badge kind={`personal-${d.personal}`}>personal: {d.personal}</Badge>
              <Badge kind={`grade-${d.grade}`}>grade: {d.grade}</Badge>
              <Badge kind="grain">{d.grainKind}</Badge>
            </div>
            <p>{d.description}</p>
            <p class="muted">
              Owner: {d.ownerName} ({d.ownerOrg})
            </p>
            <div class="access" data-testid="access">
              <strong>Your access</strong> (tier <code>{d.access.tier}</code>): records{' '}
              {d.access.records ? 'yes' : 'no'}, aggregates{' '}
              {d.access.aggregates ? `yes (k ≥ ${d.access.minCell})` : 'no'}
              {d.access.note ? <div class="muted">{d.access.note}</div> : null}
            </div>
            <details>
              <summary>{d.fields.length} fields</summary>
              <table>
                <thead>
                  <tr>
                    <th>field</th>
                    <th>classification</th>
                    <th>records</th>
                    <th>aggregates</th>
                  </tr>
                </thead>
                <tbody>
                  {d.fields.map((f) => {
                    const a = d.access.fields.find((x) => x.field === f.name);
                    return (
                      <tr key={f.name}>
                        <td>
                          <code>{f.name}</code> <span class="muted">{f.description}</span>
                        </td>
                        <td>
                          {f.openClass}, {f.grade}
                          {f.personal !== 'none' ? `, ${f.personal}` : ''}
                        </td>
                        <td>
                          <Badge kind={`effect-${a?.records ?? 'deny'}`}>{a?.records ?? 'deny'}</Badge>
                        </td>
                        <td>
                          <Badge kind={`effect-${a?.aggregates ?? 'deny'}`}>{a?.aggregates ?? 'deny'}</Badge>
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </details>
            <div class="row">
              {d.access.records && (
                <a class="button" href={href('map', { dataset: d.id })}>
                  Show on the map
                </a>
              )}
              {d.access.aggregates && (
                <a class="button secondary" href={href('map', { aggregate: d.id })}>
                  Choropleth
                </a>
              )}
              {(d.access.records || d.access.aggregates) && (
                <a class="button secondary" href={href('records', { dataset: d.id })}>
                  Query
                </a>
              )}
            </div>
            {d.openClass !== 'unconditional' && (
              <p class="muted">Files are for unconditional datasets only; this one is {d.openClass}.</p>
            )}
            <Download dataset={d.id} />
          </article>
        ))}
      </div>
    </div>
  );
}
