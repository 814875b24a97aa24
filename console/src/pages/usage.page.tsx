import { useEffect, useState } from 'preact/hooks';
import { gql, gqlOrThrow } from '../api/graphql.js';
import type { ProvenanceRecordView, ReceiptBundleView } from '../api/provenance.js';
import type { Dataset } from '../api/types.js';
import { Badge, downloadText, Progress, Refusal, Section } from '../components/ui.js';
import { href } from '../router.js';
import { useSession } from '../session.js';

const TREE_HEAD = '{ logTreeHead { treeSize } }';
const BUNDLE = 'query($index: Int!) { receiptBundle(index: $index) }';
const OWN_DATASETS = '{ datasets { id title ownerOrg } }';
const PARALLEL = 4;

interface Use {
  index: number;
  record: ProvenanceRecordView;
}

/**
 * Who used the owner's data, when and why. The gateway has no owner-facing usage query yet; what exists is that
 * an owning department may read the receipt bundle of any log entry about its own datasets. So this page walks
 * the latest entries of the log, keeps those it may read about its datasets, and shows their metadata
 * (requester, purpose, fields, outcome; never data values). Its cost grows with the entries scanned.
 */
export function UsagePage() {
  const { credential, me } = useSession();
  const [mine, setMine] = useState<Dataset[] | null>(null);
  const [scan, setScan] = useState(200);
  const [uses, setUses] = useState<Use[] | null>(null);
  const [progress, setProgress] = useState<{ done: number; total: number } | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    gqlOrThrow<{ datasets: Dataset[] }>(credential, OWN_DATASETS).then(
      (r) => setMine(r.data.datasets.filter((d) => d.ownerOrg === me.org)),
      (e: unknown) => setError(e),
    );
  }, [credential, me.org]);

  const run = async () => {
    setError(null);
    setUses(null);
    try {
      const head = await gqlOrThrow<{ logTreeHead: { treeSize: number } }>(credential, TREE_HEAD);
      const size = head.data.logTreeHead.treeSize;
      const indices = Array.from({ length: Math.min(scan, size) }, (_, i) => size - 1 - i);
      const own = new Set((mine ?? []).map((d) => d.id));
      const found: Use[] = [];
      let done = 0;
      setProgress({ done, total: indices.length });
      const queue = [...indices];
      const worker = async () => {
        for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
          const r = await gql<{ receiptBundle: string }>(credential, BUNDLE, { index: i });
          // FORBIDDEN: an entry about another department's data; skipped without a trace of what it was.
          if (r.data?.receiptBundle) {
            const b = JSON.parse(r.data.receiptBundle) as ReceiptBundleView;
            if (own.has(b.record.dataset)) found.push({ index: i, record: b.record });
          }
          setProgress({ done: ++done, total: indices.length });
        }
      };
      await Promise.all(Array.from({ length: PARALLEL }, worker));
      setUses(found.sort((a, b) => b.index - a.index));
    } catch (e) {
      setError(e);
    } finally {
      setProgress(null);
    }
  };

  const csv = () =>
    [
      'index,at,sub,org,purpose,dataset,mode,fields,tier,grant,released,rows,refusal',
      ...(uses ?? []).map((u) =>
        [
          u.index,
          u.record.at,
          u.record.requester.sub,
          u.record.requester.org ?? '',
          u.record.purpose ?? '',
          u.record.dataset,
          u.record.mode,
          u.record.fields.join(' '),
          u.record.decision.tier,
          u.record.decision.grantId ?? '',
          u.record.outcome.released,
          u.record.outcome.rows,
          u.record.outcome.refusal ?? '',
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
          Read from the provenance log: every request about your datasets, released or refused, with the requester, the
          purpose they gave and the fields they asked for. Each line links to its receipt, which you can verify.
        </p>
        <div class="row">
          <label>
            Latest log entries to scan{' '}
            <input
              type="number"
              name="scan"
              min={1}
              max={5000}
              value={scan}
              onInput={(e) => setScan(Number((e.target as HTMLInputElement).value) || 1)}
            />
          </label>
          <button type="button" disabled={progress !== null || mine === null} onClick={() => void run()}>
            Scan the log
          </button>
          {uses && uses.length > 0 && (
            <button type="button" class="secondary" onClick={() => downloadText('usage.csv', csv(), 'text/csv')}>
              Export CSV
            </button>
          )}
        </div>
        {progress && <Progress label="Reading receipts…" done={progress.done} total={progress.total} />}
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
                  <td colSpan={7}>No use of your datasets in the entries scanned.</td>
                </tr>
              )}
              {uses.map((u) => (
                <tr key={u.index} data-sub={u.record.requester.sub}>
                  <td>
                    <a href={href('verify', { index: String(u.index) })}>{u.index}</a>
                  </td>
                  <td>{new Date(u.record.at).toLocaleString()}</td>
                  <td>
                    {u.record.requester.sub}
                    <div class="muted">
                      {u.record.requester.org ?? 'public'} · {u.record.decision.tier}
                    </div>
                  </td>
                  <td>
                    {u.record.purpose ?? <span class="muted">no purpose</span>}
                    {u.record.decision.grantId && <div class="muted">grant {u.record.decision.grantId}</div>}
                  </td>
                  <td>
                    {u.record.dataset} <span class="muted">({u.record.mode})</span>
                  </td>
                  <td>{u.record.fields.join(', ')}</td>
                  <td>
                    {u.record.outcome.released ? (
                      <Badge kind="released">released · {u.record.outcome.rows} rows</Badge>
                    ) : (
                      <Badge kind="refused">refused · {u.record.outcome.refusal ?? ''}</Badge>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </div>
  );
}
