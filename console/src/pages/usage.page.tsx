import { useEffect, useState } from 'preact/hooks';
import { gqlOrThrow } from '../api/graphql.js';
import type { Dataset, TrailEntry } from '../api/types.js';
import { Badge, Choice, downloadText, Progress, Refusal, Section } from '../components/ui.js';
import { href } from '../router.js';
import { useSession } from '../session.js';

const USAGE = `query($dataset: ID, $f: TrailFilterInput, $first: Int!, $offset: Int!) {
  datasetUsage(dataset: $dataset, filter: $f, first: $first, offset: $offset) {
    index at sub org dataset mode fields purpose tier released rows refusal grantId } }`;
const OWN_DATASETS = '{ datasets { id title ownerOrg } }';
const PAGE = 50;

type Use = Pick<
  TrailEntry,
  | 'index'
  | 'at'
  | 'sub'
  | 'org'
  | 'dataset'
  | 'mode'
  | 'fields'
  | 'purpose'
  | 'tier'
  | 'released'
  | 'rows'
  | 'refusal'
  | 'grantId'
>;

/**
 * Who used the owner's data, when and why: `datasetUsage`, answered from the gateway's index of the provenance log
 * and restricted there to the department's own datasets. Metadata only (requester, purpose, fields, outcome), never
 * data values; each line links to its receipt, which can be verified against the log.
 */
export function UsagePage() {
  const { credential, me } = useSession();
  const [mine, setMine] = useState<Dataset[] | null>(null);
  const [dataset, setDataset] = useState('');
  const [released, setReleased] = useState('');
  const [offset, setOffset] = useState(0);
  const [uses, setUses] = useState<Use[] | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const load = async (at: number) => {
    setError(null);
    setBusy(true);
    try {
      const r = await gqlOrThrow<{ datasetUsage: Use[] }>(credential, USAGE, {
        dataset: dataset || null,
        f: released ? { released: released === 'true' } : null,
        first: PAGE,
        offset: at,
      });
      setUses(r.data.datasetUsage);
      setOffset(at);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  useEffect(() => {
    gqlOrThrow<{ datasets: Dataset[] }>(credential, OWN_DATASETS).then(
      (r) => setMine(r.data.datasets.filter((d) => d.ownerOrg === me.org)),
      (e: unknown) => setError(e),
    );
    void load(0);
  }, [credential, me.org]);

  const csv = () =>
    [
      'index,at,sub,org,purpose,dataset,mode,fields,tier,grant,released,rows,refusal',
      ...(uses ?? []).map((u) =>
        [
          u.index,
          u.at,
          u.sub,
          u.org ?? '',
          u.purpose ?? '',
          u.dataset,
          u.mode,
          u.fields.join(' '),
          u.tier,
          u.grantId ?? '',
          u.released,
          u.rows,
          u.refusal ?? '',
        ]
          .map((v) => `"${String(v).replaceAll('"', '""')}"`)
          .join(','),
      ),
    ].join('\n');

  return (
    <div>
      <h1>Use of my data</h1>
      {error !== null && <Refusal error={error} />}
      <Section title="Your datasets">
        {mine === null ? (
          <Progress label="Loading…" />
        ) : mine.length === 0 ? (
          <p>Your department ({me.org ?? 'none'}) owns no dataset in the catalogue.</p>
        ) : (
          <ul>
            {mine.map((d) => (
              <li key={d.id}>
                {d.title} <code>{d.id}</code>
              </li>
            ))}
          </ul>
        )}
      </Section>
      <Section title="Who used them, when and why">
        <p class="muted">
          Read from the provenance log (through the gateway's index of it): every request about your datasets, released
          or refused, newest first, with the requester, the purpose they gave and the fields they asked for. Each line
          links to its receipt, which you can verify.
        </p>
        <div class="row">
          <label>
            Dataset{' '}
            <Choice
              name="dataset"
              value={dataset}
              onChange={setDataset}
              items={mine ?? []}
              label={(d) => <>{d.id}</>}
              empty="all your datasets"
            />
          </label>
          <label>
            Outcome{' '}
            <select
              name="released"
              value={released}
              onChange={(e) => setReleased((e.target as HTMLSelectElement).value)}
            >
              <option value="">released or refused</option>
              <option value="true">released</option>
              <option value="false">refused</option>
            </select>
          </label>
          <button type="button" name="show-usage" disabled={busy} onClick={() => void load(0)}>
            Show
          </button>
          {uses && uses.length > 0 && (
            <button type="button" class="secondary" onClick={() => downloadText('usage.csv', csv(), 'text/csv')}>
              Export CSV (this page)
            </button>
          )}
        </div>
        {busy && <Progress label="Reading the usage of your datasets…" />}
        {uses && (
          <table data-testid="usage">
            <thead>
              <tr>
                <th>#</th>
                <th>when</th>
                <th>who</th>
                <th>why</th>
                <th>dataset</th>
                <th>fields</th>
                <th>outcome</th>
              </tr>
            </thead>
            <tbody>
              {uses.length === 0 && (
                <tr>
                  <td colSpan={7}>{offset === 0 ? 'No use of your datasets is logged.' : 'No more entries.'}</td>
                </tr>
              )}
              {uses.map((u) => (
                <tr key={u.index} data-sub={u.sub}>
                  <td>
                    <a href={href('verify', { index: String(u.index) })}>{u.index}</a>
                  </td>
                  <td>{new Date(u.at).toLocaleString()}</td>
                  <td>
                    {u.sub}
                    <div class="muted">
                      {u.org ?? 'public'} · {u.tier}
                    </div>
                  </td>
                  <td>
                    {u.purpose ?? <span class="muted">no purpose</span>}
                    {u.grantId && <div class="muted">grant {u.grantId}</div>}
                  </td>
                  <td>
                    {u.dataset} <span class="muted">({u.mode})</span>
                  </td>
                  <td>{u.fields.join(', ')}</td>
                  <td>
                    {u.released ? (
                      <Badge kind="released">released · {u.rows} rows</Badge>
                    ) : (
                      <Badge kind="refused">refused · {u.refusal ?? ''}</Badge>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {uses && (offset > 0 || uses.length === PAGE) && (
          <div class="row pager">
            <button
              type="button"
              name="newer"
              class="secondary"
              disabled={busy || offset === 0}
              onClick={() => void load(Math.max(0, offset - PAGE))}
            >
              Newer
            </button>
            <span class="muted">
              entries {offset + 1}–{offset + uses.length}
            </span>
            <button
              type="button"
              name="older"
              class="secondary"
              disabled={busy || uses.length < PAGE}
              onClick={() => void load(offset + PAGE)}
            >
              Older
            </button>
          </div>
        )}
      </Section>
    </div>
  );
}
