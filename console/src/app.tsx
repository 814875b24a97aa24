import { useEffect, useState } from 'preact/hooks';
import { gql } from './api/graphql.js';
import { credentialFrom, loadCredential, saveCredential, type Credential } from './api/session.js';
import type { Me } from './api/types.js';
import { Refusal } from './components/ui.js';
import { GqlRefusal } from './api/graphql.js';
import { AuditPage } from './pages/audit.page.js';
import { CataloguePage } from './pages/catalogue.page.js';
import { EncryptedPage } from './pages/encrypted.page.js';
import { GrantsPage } from './pages/grants.page.js';
import { JobsPage } from './pages/jobs.page.js';
import { MapPage } from './pages/map.page.js';
import { RecordsPage } from './pages/records.page.js';
import { ReviewPage } from './pages/review.page.js';
import { UsagePage } from './pages/usage.page.js';
import { VerifyPage } from './pages/verify.page.js';
import { href, useRoute } from './router.js';
import { can, SessionContext, type Session } from './session.js';

const ME = '{ me { sub org roles via } }';

interface NavItem {
  page: string;
  label: string;
  show: (me: Me) => boolean;
}

const NAV: NavItem[] = [
  { page: 'catalogue', label: 'Catalogue', show: () => true },
  { page: 'map', label: 'Map', show: () => true },
  { page: 'records', label: 'Query data', show: () => true },
  { page: 'grants', label: 'Apply for a grant', show: can.department },
  { page: 'jobs', label: 'Sandbox jobs', show: can.department },
  { page: 'usage', label: 'Use of my data', show: can.owner },
  { page: 'review', label: 'Applications and releases', show: can.owner },
  { page: 'encrypted', label: 'Encrypted computations', show: can.owner },
  { page: 'audit', label: 'Audit trail', show: can.auditor },
  { page: 'verify', label: 'Verify a receipt', show: () => true },
];

function SignIn({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const [text, setText] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const signIn = async (credential: Credential) => {
    setBusy(true);
    setError(null);
    const r = await gql<{ me: Me }>(credential, ME);
    setBusy(false);
    const first = r.errors[0];
    if (first || !r.data) {
      setError(new GqlRefusal(first?.extensions?.code ?? 'INTERNAL', first?.message ?? 'No answer.'));
      return;
    }
    saveCredential(credential);
    onSignedIn({ credential, me: r.data.me });
  };
  return (
    <main class="signin card">
      <h1>CityGate console</h1>
      <p>
        Sign in with your own credential: a bearer token from your identity provider (or, on a demo gateway,{' '}
        <code>npm run citygate -- token --org &lt;org&gt; --role &lt;role&gt;</code>) or an API key. It stays in this
        tab only (session storage) and is sent to this gateway alone.
      </p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void signIn(credentialFrom(text));
        }}
      >
        <label for="credential">Token or API key</label>
        <textarea
          id="credential"
          name="credential"
          rows={4}
          autocomplete="off"
          spellcheck={false}
          value={text}
          onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
        />
        <div class="row">
          <button type="submit" disabled={busy || !text.trim()}>
            Sign in
          </button>
          <button type="button" class="secondary" disabled={busy} onClick={() => void signIn(null)}>
            Continue as the public
          </button>
        </div>
      </form>
      {error !== null && <Refusal error={error} />}
    </main>
  );
}

function Page({ page, params }: { page: string; params: URLSearchParams }) {
  switch (page) {
    case 'map':
      return <MapPage params={params} />;
    case 'records':
      return <RecordsPage params={params} />;
    case 'grants':
      return <GrantsPage params={params} />;
    case 'jobs':
      return <JobsPage />;
    case 'usage':
      return <UsagePage />;
    case 'review':
      return <ReviewPage />;
    case 'encrypted':
      return <EncryptedPage />;
    case 'audit':
      return <AuditPage />;
    case 'verify':
      return <VerifyPage params={params} />;
    default:
      return <CataloguePage />;
  }
}

export function App() {
  const route = useRoute();
  const [session, setSession] = useState<Session | null>(null);
  const [restoring, setRestoring] = useState(true);

  useEffect(() => {
    const saved = loadCredential();
    if (!saved) {
      setRestoring(false);
      return;
    }
    void gql<{ me: Me }>(saved, ME).then((r) => {
      if (r.data && r.errors.length === 0) setSession({ credential: saved, me: r.data.me });
      else saveCredential(null);
      setRestoring(false);
    });
  }, []);

  if (restoring) return <main class="card">Restoring your session…</main>;
  if (!session) return <SignIn onSignedIn={setSession} />;
  const { me } = session;
  return (
    <SessionContext.Provider value={session}>
      <header class="top">
        <a class="brand" href={href('catalogue')}>
          CityGate
        </a>
        <nav>
          {NAV.filter((n) => n.show(me)).map((n) => (
            <a key={n.page} href={href(n.page)} class={route.page === n.page ? 'active' : ''} data-nav={n.page}>
              {n.label}
            </a>
          ))}
        </nav>
        <div class="whoami" data-testid="whoami">
          <span>
            {me.via === 'anonymous' ? 'the public' : me.sub}
            {me.org ? ` · ${me.org}` : ''}
          </span>
          <span class="muted"> {me.roles.join(', ')} </span>
          <button
            type="button"
            class="link"
            onClick={() => {
              saveCredential(null);
              setSession(null);
              location.hash = '';
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      <main>
        <Page page={route.page} params={route.params} />
      </main>
    </SessionContext.Provider>
  );
}
