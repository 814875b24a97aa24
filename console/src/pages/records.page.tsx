import { useEffect, useState } from 'preact/hooks';
import { gqlOrThrow, type Receipt } from '../api/graphql.js';
import { PURPOSES, type Dataset, type FieldValue, type RecordPage, type Unit } from '../api/types.js';
import { Badge, Choice, Progress, Refusal } from '../components/ui.js';
import { href } from '../router.js';
import { useSession } from '../session.js';
import { DATASETS } from './catalogue.page.js';

const RECORDS = `query($dataset: ID!, $fields: [String!]!, $purpose: Purpose, $within: ID, $first: Int!) {
  records(dataset: $dataset, fields: $fields, purpose: $purpose, within: $within, first: $first) {
    geometry receiptIndex nextCursor items { id grainId cell values { field value masked } } } }`;
const DISTRICTS = `{ units(level: district, first: 100) { id name nameZh } }`;

/** How a mask reads to a person: the value shown is not the value stored. */
export const MASK_LABEL: Record<NonNullable<FieldValue['masked']>, string> = {
  hash: 'pseudonym',
  truncate: 'truncated',
  redact: 'redacted',
};

function Value({ v }: { v: FieldValue }) {
  if (v.masked) {
    return (
      <span class="masked" data-masked={v.masked}>
        {v.value === null ? <span class="muted">—</span> : String(v.value)}{' '}
        <Badge kind={`mask-${v.masked}`}>masked: {MASK_LABEL[v.masked]}</Badge>
      </span>
    );
  }
  return <span>{v.value === null ? <span class="muted">null</span> : String(v.value)}</span>;
}

/**
 * Query a dataset's records as the caller's tier allows: the fields it may see, masked values marked as
 * masks, generalised geometry marked as such, refusals with their code and reason.
 */
export function RecordsPage({ params }: { params: URLSearchParams }) {
  const { credential } = useSession();
  const [datasets, setDatasets] = useState<Dataset[]>([]);
  const [districts, setDistricts] = useState<Unit[]>([]);
  const [datasetId, setDatasetId] = useState(params.get('dataset') ?? '');
  const [fields, setFields] = useState<string[]>([]);
  // A grant's link preselects its purpose, fields and extent (grants page).
  const [purpose, setPurpose] = useState(params.get('purpose') ?? '');
  const [within, setWithin] = useState(params.get('within') ?? '');
  const preset = params.get('fields')?.split(',').filter(Boolean) ?? null;
  const [page, setPage] = useState<RecordPage | null>(null);
  const [receipts, setReceipts] = useState<Receipt[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    void gqlOrThrow<{ datasets: Dataset[] }>(credential, DATASETS).then((r) => {
      setDatasets(r.data.datasets);
      if (!datasetId) setDatasetId(r.data.datasets[0]?.id ?? '');
    });
    void gqlOrThrow<{ units: Unit[] }>(credential, DISTRICTS).then((r) => setDistricts(r.data.units));
  }, [credential]);

  const dataset = datasets.find((d) => d.id === datasetId);
  useEffect(() => {
    // Start with the fields the policy lets through without a purpose; the caller may tick others (a grant may
    // allow them for its purpose) and will get a refusal that says why when it does not.
    if (dataset && preset && dataset.id === params.get('dataset')) setFields(preset);
    else if (dataset)
      setFields(dataset.access.fields.filter((f) => f.records === 'allow' || f.records === 'mask').map((f) => f.field));
    setPage(null);
    setError(null);
  }, [datasetId, datasets.length]);

  const run = async () => {
    setBusy(true);
    setError(null);
    setPage(null);
    try {
      const r = await gqlOrThrow<{ records: RecordPage }>(credential, RECORDS, {
        dataset: datasetId,
        fields,
        purpose: purpose || null,
        within: within || null,
        first: 50,
      });
      setPage(r.data.records);
      setReceipts(r.receipts);
    } catch (e) {
      setError(e);
      setReceipts([]);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div>
      <h1>Query data</h1>
      <form
        class="card"
        onSubmit={(e) => {
          e.preventDefault();
          void run();
        }}
      >
        <div class="row">
          <label>
            Dataset{' '}
            <Choice
              name="dataset"
              value={datasetId}
              onChange={setDatasetId}
              items={datasets}
              label={(d) => (
                <>
                  {d.title} ({d.openClass})
                </>
              )}
            />
          </label>
          <label>
            Purpose{' '}
            <select name="purpose" value={purpose} onChange={(e) => setPurpose((e.target as HTMLSelectElement).value)}>
              <option value="">none</option>
              {PURPOSES.map((p) => (
                <option key={p} value={p}>
                  {p.replace('_', ' ')}
                </option>
              ))}
            </select>
          </label>
          <label>
            Within{' '}
            <select name="within" value={within} onChange={(e) => setWithin((e.target as HTMLSelectElement).value)}>
              <option value="">the whole city</option>
              {within && !districts.some((d) => d.id === within) && <option value={within}>{within}</option>}
              {districts.map((d) => (
                <option key={d.id} value={d.id}>
                  {d.name} {d.nameZh}
                </option>
              ))}
            </select>
          </label>
        </div>
        {dataset && (
          <fieldset>
            <legend>Fields (their effect without a purpose; a grant may allow more)</legend>
            {dataset.fields.map((f) => {
              const effect = dataset.access.fields.find((a) => a.field === f.name)?.records ?? 'deny';
              return (
                <label class="field-choice" key={f.name}>
                  <input
                    type="checkbox"
                    name={`field-${f.name}`}
                    checked={fields.includes(f.name)}
                    onChange={(e) =>
                      setFields((cur) =>
                        (e.target as HTMLInputElement).checked ? [...cur, f.name] : cur.filter((x) => x !== f.name),
                      )
                    }
                  />{' '}
                  <code>{f.name}</code> <Badge kind={`effect-${effect}`}>{effect}</Badge>
                </label>
              );
            })}
          </fieldset>
        )}
        <button type="submit" disabled={busy || fields.length === 0}>
          Run the query
        </button>
      </form>
      {busy && <Progress label="Asking the gateway…" />}
      {error !== null && <Refusal error={error} />}
      {page && (
        <section class="card" data-testid="records-result">
          <p>
            {page.items.length} records{page.nextCursor ? ' (more available)' : ''}. Geometry:{' '}
            {page.geometry === 'generalise' ? (
              <Badge kind="generalised">generalised to H3 cells; ids are pseudonyms</Badge>
            ) : (
              <Badge kind={`geometry-${page.geometry}`}>{page.geometry}</Badge>
            )}{' '}
            Receipt <a href={href('verify', { index: String(page.receiptIndex) })}>#{page.receiptIndex}</a>
            {receipts.length > 0 && <span class="muted"> (leaf {receipts[0]!.leafHash.slice(0, 12)}…)</span>}
          </p>
          <table class="records">
            <thead>
              <tr>
                <th>id</th>
                <th>{page.geometry === 'generalise' ? 'H3 cell' : 'grain'}</th>
                {fields.map((f) => (
                  <th key={f}>{f}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {page.items.map((r) => (
                <tr key={r.id}>
                  <td>
                    <code>{r.id}</code>
                  </td>
                  <td>
                    <code>{r.grainId ?? r.cell ?? '—'}</code>
                  </td>
                  {r.values.map((v) => (
                    <td key={v.field}>
                      <Value v={v} />
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
    </div>
  );
}
