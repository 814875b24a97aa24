import { useState } from 'preact/hooks';
import { credentialHeaders, GqlRefusal } from '../api/graphql.js';
import { useSession } from '../session.js';
import { Progress, Refusal } from './ui.js';

type Format = 'csv' | 'geojson';

interface Downloaded {
  format: Format;
  citation: string;
  records: string | null;
  receipt: string | null;
}

/**
 * The citation of a download: the `Link` header's `title*` (RFC 8187), which CSV and GeoJSON both carry; GeoJSON
 * also holds it as its top-level `citation`.
 */
function citationOf(format: Format, text: string, link: string | null): string {
  const m = /title\*=UTF-8''([^;,\s]+)/.exec(link ?? '');
  if (m) return decodeURIComponent(m[1]!);
  if (format === 'geojson') {
    const c = (JSON.parse(text) as { citation?: { text?: string } }).citation;
    return c?.text ?? '';
  }
  return '';
}

/**
 * Download a dataset as CSV or GeoJSON from the gateway's `/download/<id>.<format>`, with the caller's own
 * credential (the same headers as GraphQL), and show the citation it came with.
 */
export function Download({ dataset }: { dataset: string }) {
  const { credential } = useSession();
  const [busy, setBusy] = useState<Format | null>(null);
  const [done, setDone] = useState<Downloaded | null>(null);
  const [error, setError] = useState<unknown>(null);
  const get = async (format: Format) => {
    setBusy(format);
    setError(null);
    setDone(null);
    try {
      const res = await fetch(`/download/${encodeURIComponent(dataset)}.${format}`, {
        headers: credentialHeaders(credential),
      });
      if (!res.ok) {
        let body: { error?: { code?: string; message?: string } } = {};
        try {
          body = (await res.json()) as typeof body;
        } catch {
          // not JSON: the status alone explains it
        }
        throw new GqlRefusal(
          body.error?.code ?? 'INTERNAL',
          body.error?.message ?? `The gateway answered ${res.status}.`,
        );
      }
      const blob = await res.blob();
      const text = await blob.text();
      setDone({
        format,
        citation: citationOf(format, text, res.headers.get('link')),
        records: res.headers.get('x-citygate-records'),
        receipt: res.headers.get('x-citygate-receipt'),
      });
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = `${dataset}.${format}`;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      setError(e instanceof GqlRefusal ? e : new GqlRefusal('UNAVAILABLE', 'The gateway cannot be reached.'));
    } finally {
      setBusy(null);
    }
  };
  return (
    <div class="download" data-testid="download">
      <span>Download: </span>
      <button
        type="button"
        class="secondary"
        name="download-csv"
        disabled={busy !== null}
        onClick={() => void get('csv')}
      >
        CSV
      </button>{' '}
      <button
        type="button"
        class="secondary"
        name="download-geojson"
        disabled={busy !== null}
        onClick={() => void get('geojson')}
      >
        GeoJSON
      </button>
      {busy && <Progress label={`Downloading ${busy.toUpperCase()}…`} />}
      {done && (
        <div data-testid="citation">
          <p>
            Cite it as the file does: <q class="citation">{done.citation}</q>
          </p>
          <p class="muted">
            {done.records ?? '?'} records; release logged before the first byte (receipt{' '}
            {done.receipt ? `#${done.receipt.split(':')[0]}` : 'unknown'}).
          </p>
        </div>
      )}
      {error !== null && (
        <>
          <Refusal error={error} />
          {error instanceof GqlRefusal && error.code === 'NOT_FOUND' && (
            <p class="muted" data-testid="download-refusal-hint">
              Only unconditional (无条件开放) datasets can be downloaded; the gateway answers a conditional or closed
              dataset exactly as an unknown one. Query it instead, as your tier allows, or apply for a grant.
            </p>
          )}
        </>
      )}
    </div>
  );
}
