import { useState } from 'preact/hooks';
import { gqlOrThrow } from '../api/graphql.js';
import type { AuditFlag, TrailEntry } from '../api/types.js';
import { Badge, downloadText, Progress, Refusal, Section } from '../components/ui.js';
import { href } from '../router.js';
import { useSession } from '../session.js';

const TRAIL = `query($f: TrailFilterInput, $first: Int!, $offset: Int!) {
  auditTrail(filter: $f, first: $first, offset: $offset) {
    index at sub org roles dataset mode fields purpose tier released rows refusal reasons grantId within } }`;
const FLAGS = `query($burst: Int!, $refusals: Int!) {
  auditFlags(burstPerMinute: $burst, refusals: $refusals) { kind sub org dataset at count detail index } }`;
const CSV = 'query($f: TrailFilterInput) { auditTrailCsv(filter: $f) }';
const GRAIN = `query($grain: ID!) { grainAccess(grain: $grain, first: 50) { index at sub org dataset mode purpose released } }`;
const REPORT = `query($dataset: ID!) { accessReport(dataset: $dataset) { org purpose released requests rows } }`;

interface ReportLine {
  org: string | null;
  purpose: string | null;
  released: boolean;
  requests: number;
  rows: number;
}
type GrainEntry = Pick<TrailEntry, 'index' | 'at' | 'sub' | 'org' | 'dataset' | 'mode' | 'purpose' | 'released'>;
const PAGE = 20;

type Filter = Partial<Record<'sub' | 'org' | 'dataset' | 'purpose' | 'tier' | 'released' | 'from' | 'to', string>>;

function toInput(f: Filter): Record<string, unknown> | null {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(f)) {
    if (!v) continue;
    if (k === 'released') out.released = v === 'true';
    else if (k === 'from' || k === 'to') out[k] = new Date(v).toISOString();
    else out[k] = v;
  }
  return Object.keys(out).length ? out : null;
}

/** The auditors' trail: search with filters and paging, anomaly flags, CSV export. Metadata only, never values. */
export function AuditPage() {
  const { credential } = useSession();
  const [filter, setFilter] = useState<Filter>({});
  const [offset, setOffset] = useState(0);
  const [entries, setEntries] = useState<TrailEntry[] | null>(null);
  const [flags, setFlags] = useState<AuditFlag[] | null>(null);
  const [thresholds, setThresholds] = useState({ burst: 60, refusals: 5 });
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [grain, setGrain] = useState('');
  const [grainEntries, setGrainEntries] = useState<GrainEntry[] | null>(null);
  const [reportDataset, setReportDataset] = useState('');
  const [report, setReport] = useState<ReportLine[] | null>(null);

  /** Runs one auditor query with a progress line and the refusal shown when it fails. */
  const guarded = async (label: string, body: () => Promise<void>) => {
    setBusy(label);
    setError(null);
    try {
      await body();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  };
  const touched = () =>
    guarded('Looking up the grain…', async () => {
      const r = await gqlOrThrow<{ grainAccess: GrainEntry[] }>(credential, GRAIN, { grain: grain.trim() });
      setGrainEntries(r.data.grainAccess);
    });
  const loadReport = () =>
    guarded('Building the report…', async () => {
      const r = await gqlOrThrow<{ accessReport: ReportLine[] }>(credential, REPORT, {
        dataset: reportDataset.trim(),
      });
      setReport(r.data.accessReport);
    });

  const search = async (at: number) => {
    setBusy('Searching the trail…');
    setError(null);
    try {
      const r = await gqlOrThrow<{ auditTrail: TrailEntry[] }>(credential, TRAIL, {
        f: toInput(filter),
        first: PAGE,
        offset: at,
      });
      setEntries(r.data.auditTrail);
      setOffset(at);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  };
  const loadFlags = async () => {
    setBusy('Looking for anomalies…');
    setError(null);
    try {
      const r = await gqlOrThrow<{ auditFlags: AuditFlag[] }>(credential, FLAGS, thresholds);
      setFlags(r.data.auditFlags);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  };
  const exportCsv = async () => {
    setBusy('Exporting…');
    setError(null);
    try {
      const r = await gqlOrThrow<{ auditTrailCsv: string }>(credential, CSV, { f: toInput(filter) });
      downloadText(
        `audit-trail-${new Date().toISOString().slice(0, 19).replaceAll(':', '')}.csv`,
        r.data.auditTrailCsv,
        'text/csv',
      );
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  };
  const onInput = (name: keyof Filter) => (e: Event) =>
    setFilter({ ...filter, [name]: (e.target as HTMLInputElement).value });
  const input = (name: keyof Filter, label: string, time = false) => (
    <label>
      {label}{' '}
      {time ? (
        <input type="datetime-local" name={name} value={filter[name] ?? ''} onInput={onInput(name)} />
      ) : (
        <input type="text" name={name} value={filter[name] ?? ''} onInput={onInput(name)} />
      )}
    </label>
  );

  return (
    <div>
      <h1>Audit trail</h1>
      {error !== null && <Refusal error={error} />}
      {busy && <Progress label={busy} />}
      <Section title="Search">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void search(0);
          }}
        >
          <div class="row wrap">
            {input('sub', 'Requester')}
            {input('org', 'Organisation')}
            {input('dataset', 'Dataset')}
            {input('purpose', 'Purpose')}
            <label>
              Tier{' '}
              <select
                name="tier"
                value={filter.tier ?? ''}
                onChange={(e) => setFilter({ ...filter, tier: (e.target as HTMLSelectElement).value })}
              >
                <option value="">any</option>
                {['public', 'department', 'granted', 'owner', 'auditor'].map((t) => (
                  <option key={t} value={t}>
                    {t}
                  </option>
                ))}
              </select>
            </label>
            <label>
              Outcome{' '}
              <select
                name="released"
                value={filter.released ?? ''}
                onChange={(e) => setFilter({ ...filter, released: (e.target as HTMLSelectElement).value })}
              >
                <option value="">any</option>
                <option value="true">released</option>
                <option value="false">refused</option>
              </select>
            </label>
            {input('from', 'From', true)}
            {input('to', 'To', true)}
          </div>
          <div class="row">
            <button type="submit">Search</button>
            <button type="button" class="secondary" onClick={() => void exportCsv()}>
              Export CSV
            </button>
          </div>
        </form>
        {entries && (
          <>
            <table data-testid="trail">
              <thead>
                <tr>
                  <th>#</th>
                  <th>when</th>
                  <th>who</th>
                  <th>dataset</th>
                  <th>why</th>
                  <th>outcome</th>
                  <th>reasons</th>
                </tr>
              </thead>
              <tbody>
                {entries.length === 0 && (
                  <tr>
                    <td colSpan={7}>No entry matches.</td>
                  </tr>
                )}
                {entries.map((e) => (
                  <tr key={e.index} data-index={e.index}>
                    <td>
                      <a href={href('verify', { index: String(e.index) })} title="verify this receipt">
                        {e.index}
                      </a>
                    </td>
                    <td>{new Date(e.at).toLocaleString()}</td>
                    <td>
                      {e.sub}
                      <div class="muted">
                        {e.org ?? 'public'} · {e.tier}
                      </div>
                    </td>
                    <td>
                      {e.dataset} <span class="muted">({e.mode})</span>
                      <div class="muted">{e.fields.join(', ')}</div>
                    </td>
                    <td>
                      {e.purpose ?? <span class="muted">none</span>}
                      {e.grantId && <div class="muted">grant {e.grantId}</div>}
                    </td>
                    <td>
                      {e.released ? (
                        <Badge kind="released">released · {e.rows} rows</Badge>
                      ) : (
                        <Badge kind="refused">refused · {e.refusal}</Badge>
                      )}
                    </td>
                    <td class="muted">{e.reasons.join('; ')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <div class="row">
              <button
                type="button"
                class="secondary"
                disabled={offset === 0}
                onClick={() => void search(Math.max(0, offset - PAGE))}
              >
                Newer
              </button>
              <span class="muted">
                entries {offset + 1}–{offset + entries.length}
              </span>
              <button
                type="button"
                class="secondary"
                disabled={entries.length < PAGE}
                onClick={() => void search(offset + PAGE)}
              >
                Older
              </button>
            </div>
          </>
        )}
      </Section>
      <Section title="Anomaly flags">
        <div class="row">
          <label>
            Burst per minute{' '}
            <input
              type="number"
              name="burst"
              min={1}
              value={thresholds.burst}
              onInput={(e) =>
                setThresholds({ ...thresholds, burst: Number((e.target as HTMLInputElement).value) || 1 })
              }
            />
          </label>
          <label>
            Refusals{' '}
            <input
              type="number"
              name="refusals"
              min={1}
              value={thresholds.refusals}
              onInput={(e) =>
                setThresholds({ ...thresholds, refusals: Number((e.target as HTMLInputElement).value) || 1 })
              }
            />
          </label>
          <button type="button" onClick={() => void loadFlags()}>
            Show flags
          </button>
        </div>
        {flags && (
          <table data-testid="flags">
            <thead>
              <tr>
                <th>kind</th>
                <th>who</th>
                <th>dataset</th>
                <th>when</th>
                <th>count</th>
                <th>detail</th>
              </tr>
            </thead>
            <tbody>
              {flags.length === 0 && (
                <tr>
                  <td colSpan={6}>No flags with these thresholds.</td>
                </tr>
              )}
              {flags.map((f, i) => (
                <tr key={i} data-kind={f.kind}>
                  <td>
                    <Badge kind={`flag-${f.kind}`}>{f.kind}</Badge>
                  </td>
                  <td>
                    {f.sub} <span class="muted">{f.org ?? ''}</span>
                  </td>
                  <td>{f.dataset ?? '—'}</td>
                  <td>{new Date(f.at).toLocaleString()}</td>
                  <td>{f.count}</td>
                  <td>
                    {f.detail}
                    {f.index !== null && (
                      <>
                        {' '}
                        <a href={href('verify', { index: String(f.index) })}>receipt #{f.index}</a>
                      </>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      <Section title="Access report of a dataset">
        <form
          class="row"
          onSubmit={(e) => {
            e.preventDefault();
            void loadReport();
          }}
        >
          <label>
            Dataset{' '}
            <input
              type="text"
              name="report-dataset"
              value={reportDataset}
              onInput={(e) => setReportDataset((e.target as HTMLInputElement).value)}
            />
          </label>
          <button type="submit" disabled={!reportDataset.trim()}>
            Report
          </button>
        </form>
        {report && (
          <table data-testid="report">
            <thead>
              <tr>
                <th>organisation</th>
                <th>purpose</th>
                <th>outcome</th>
                <th>requests</th>
                <th>rows</th>
              </tr>
            </thead>
            <tbody>
              {report.length === 0 && (
                <tr>
                  <td colSpan={5}>No request to this dataset.</td>
                </tr>
              )}
              {report.map((l, i) => (
                <tr key={i}>
                  <td>{l.org ?? 'public'}</td>
                  <td>{l.purpose ?? <span class="muted">none</span>}</td>
                  <td>{l.released ? 'released' : 'refused'}</td>
                  <td>{l.requests}</td>
                  <td>{l.rows}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      <Section title="Who touched a space grain">
        <form
          class="row"
          onSubmit={(e) => {
            e.preventDefault();
            void touched();
          }}
        >
          <label>
            Grain id{' '}
            <input
              type="text"
              name="grain"
              placeholder="room:310101002001-0001-01-01"
              value={grain}
              onInput={(e) => setGrain((e.target as HTMLInputElement).value)}
            />
          </label>
          <button type="submit" disabled={!grain.trim()}>
            Look up
          </button>
        </form>
        {grainEntries && (
          <table data-testid="grain">
            <tbody>
              {grainEntries.length === 0 && (
                <tr>
                  <td>No release touched this grain.</td>
                </tr>
              )}
              {grainEntries.map((e) => (
                <tr key={e.index}>
                  <td>
                    <a href={href('verify', { index: String(e.index) })}>{e.index}</a>
                  </td>
                  <td>{new Date(e.at).toLocaleString()}</td>
                  <td>
                    {e.sub} <span class="muted">{e.org ?? 'public'}</span>
                  </td>
                  <td>
                    {e.dataset} <span class="muted">({e.mode})</span>
                  </td>
                  <td>{e.purpose ?? <span class="muted">no purpose</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </div>
  );
}
