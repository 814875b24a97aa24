import { useEffect, useState } from 'preact/hooks';
import { gqlOrThrow } from '../api/graphql.js';
import { Progress, Refusal, Section } from '../components/ui.js';
import { useSession } from '../session.js';
import { verifyReceiptBundle, type Verification } from '../verify/receipt-verifier.js';

const BUNDLE = 'query($index: Int!, $token: String) { receiptBundle(index: $index, token: $token) }';
const KEY = '{ logPublicKey { logId pem } }';

const STATUS_LABEL = { pass: 'passed', fail: 'FAILED', 'not-reached': 'not reached' } as const;

/**
 * Verify a receipt in the browser, with the log's public key only: the page fetches (or the auditor pastes) a
 * receipt bundle and recomputes the leaf hash, the inclusion proof and the tree head's Ed25519 signature with
 * WebCrypto, showing each step's verdict. The gateway is not asked whether the bundle is good.
 */
export function VerifyPage({ params }: { params: URLSearchParams }) {
  const { credential } = useSession();
  const [index, setIndex] = useState(params.get('index') ?? '');
  const [token, setToken] = useState(params.get('token') ?? '');
  const [bundle, setBundle] = useState('');
  const [pem, setPem] = useState('');
  const [result, setResult] = useState<Verification | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState<string | null>(null);

  const fetchKey = async () => {
    const r = await gqlOrThrow<{ logPublicKey: { pem: string } }>(credential, KEY);
    setPem(r.data.logPublicKey.pem.trim());
  };
  const fetchBundle = async (i: string) => {
    setBusy('Fetching the receipt bundle…');
    setError(null);
    setResult(null);
    try {
      const r = await gqlOrThrow<{ receiptBundle: string }>(credential, BUNDLE, {
        index: Number(i),
        token: token.trim() === '' ? null : token.trim(),
      });
      setBundle(JSON.stringify(JSON.parse(r.data.receiptBundle), null, 2));
      if (!pem) await fetchKey();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  };
  useEffect(() => {
    const i = params.get('index');
    if (i !== null && /^\d+$/.test(i)) {
      setIndex(i);
      void fetchBundle(i);
    }
  }, [params.get('index')]);

  const verify = async () => {
    setBusy('Verifying…');
    setResult(await verifyReceiptBundle(bundle, pem));
    setBusy(null);
  };

  return (
    <div>
      <h1>Verify a receipt</h1>
      <p class="muted">
        A receipt proves that a decision was written to the provenance log before anything was released. This page
        checks it here in your browser: the leaf hash of the record (SHA-256 over RFC 8785 canonical JSON), the RFC 9162
        inclusion proof up to the signed root, and the Ed25519 signature of the tree head. Paste a bundle you were
        given, or fetch one you may read (your own requests; your datasets as an owner; any as an auditor). Without an
        account, give the receipt's token (the <code>token</code> beside its index in the response).
      </p>
      {error !== null && <Refusal error={error} />}
      <Section title="Bundle">
        <form
          class="row"
          onSubmit={(e) => {
            e.preventDefault();
            void fetchBundle(index);
          }}
        >
          <label>
            Log index{' '}
            <input
              name="index"
              inputMode="numeric"
              value={index}
              onInput={(e) => setIndex((e.target as HTMLInputElement).value)}
            />
          </label>
          <label>
            Receipt token (optional){' '}
            <input name="token" value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} />
          </label>
          <button type="submit" disabled={!/^\d+$/.test(index)}>
            Fetch the bundle
          </button>
        </form>
        <label for="bundle">Receipt bundle (JSON)</label>
        <textarea
          id="bundle"
          name="bundle"
          rows={14}
          spellcheck={false}
          value={bundle}
          onInput={(e) => {
            setBundle((e.target as HTMLTextAreaElement).value);
            setResult(null);
          }}
        />
        <label for="pem">Log public key (PEM)</label>
        <textarea
          id="pem"
          name="pem"
          rows={4}
          spellcheck={false}
          value={pem}
          onInput={(e) => {
            setPem((e.target as HTMLTextAreaElement).value);
            setResult(null);
          }}
        />
        <div class="row">
          <button type="button" class="secondary" onClick={() => void fetchKey().catch(setError)}>
            Use this gateway's key
          </button>
          <button type="button" disabled={!bundle || !pem} onClick={() => void verify()}>
            Verify in the browser
          </button>
        </div>
      </Section>
      {busy && <Progress label={busy} />}
      {result && (
        <Section title={result.ok ? 'Verified' : 'Verification failed'}>
          <div
            class={result.ok ? 'verdict ok' : 'verdict fail'}
            data-testid="verdict"
            data-ok={String(result.ok)}
            data-failed-at={result.failedAt ?? ''}
          >
            {result.ok
              ? 'The record is in the log at this index, under a tree head signed by this key.'
              : `Failed at: ${result.steps.find((s) => s.status === 'fail')?.title ?? ''}`}
          </div>
          <ol class="steps">
            {result.steps.map((s) => (
              <li key={s.id} class={`step ${s.status}`} data-step={s.id} data-status={s.status}>
                <strong>{s.title}</strong>: {STATUS_LABEL[s.status]}
                {s.detail && <div class="muted">{s.detail}</div>}
              </li>
            ))}
          </ol>
        </Section>
      )}
    </div>
  );
}
