import { useEffect, useState } from 'preact/hooks';
import { gqlOrThrow } from '../api/graphql.js';
import { PURPOSES, type Dataset, type Grant, type GrantApplication, type Unit } from '../api/types.js';
import { day, extentText, GrantsTable } from '../components/grants-table.js';
import { Badge, Choice, Progress, Refusal, Section } from '../components/ui.js';
import { href } from '../router.js';
import { useSession } from '../session.js';
import { DATASETS } from './catalogue.page.js';

export const APPLICATION_FIELDS = `id dataset applicantOrg applicantSub ownerOrg fields purpose extent validFrom validUntil
  legalBasis contact status reason decidedBy decidedAt grantId createdAt`;
export const GRANT_FIELDS = `id applicationId dataset org fields purpose extent validFrom validUntil state approvedBy
  revokedBy revokeReason`;
const LISTS = `{ grantApplications(first: 100) { ${APPLICATION_FIELDS} } grants(first: 100) { ${GRANT_FIELDS} } }`;
const APPLY = `mutation($input: GrantApplicationInput!) { applyForGrant(input: $input) { ${APPLICATION_FIELDS} } }`;
const ONE = `query($id: ID!) { grantApplication(id: $id) { ${APPLICATION_FIELDS} } }`;
export const UNITS = `query($level: AdminLevel!, $parent: ID) { units(level: $level, parent: $parent, first: 500) { id name nameZh } }`;

/** A field needs a grant when the catalogue does not open it unconditionally. */
const needsGrant = (f: Dataset['fields'][number]) => f.openClass !== 'unconditional';

/** Apply for conditional data, then follow the application until the owner decides, and use the grant. */
export function GrantsPage({ params }: { params: URLSearchParams }) {
  const { credential, me } = useSession();
  const [datasets, setDatasets] = useState<Dataset[]>([]);
  const [apps, setApps] = useState<GrantApplication[] | null>(null);
  const [grants, setGrants] = useState<Grant[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [followed, setFollowed] = useState(params.get('application') ?? '');

  const reload = async () => {
    try {
      const r = await gqlOrThrow<{ grantApplications: GrantApplication[]; grants: Grant[] }>(credential, LISTS);
      setApps(r.data.grantApplications);
      setGrants(r.data.grants);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    void gqlOrThrow<{ datasets: Dataset[] }>(credential, DATASETS).then(
      (r) => setDatasets(r.data.datasets),
      (e: unknown) => setError(e),
    );
    void reload();
  }, [credential]);

  // Applications this department made (it also sees those it received as an owner: the review page has them).
  const mine = (apps ?? []).filter((a) => a.applicantOrg === me.org);
  const held = grants.filter((g) => g.org === me.org);
  return (
    <div>
      <h1>Apply for a grant</h1>
      <ApplyForm
        datasets={datasets.filter((d) => d.ownerOrg !== me.org && d.fields.some(needsGrant))}
        onApplied={(a) => {
          setFollowed(a.id);
          void reload();
        }}
      />
      {error !== null && <Refusal error={error} />}
      <Section title="Your department’s applications" id="applications">
        {apps === null ? (
          <Progress label="Loading applications…" />
        ) : mine.length === 0 ? (
          <p class="muted">No applications yet.</p>
        ) : (
          <table class="records" data-testid="applications">
            <thead>
              <tr>
                <th>applied</th>
                <th>dataset</th>
                <th>fields</th>
                <th>purpose</th>
                <th>extent</th>
                <th>period</th>
                <th>status</th>
                <th>owner’s reason</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {mine.map((a) => (
                <tr key={a.id} data-application={a.id} data-status={a.status}>
                  <td>{day(a.createdAt)}</td>
                  <td>
                    <code>{a.dataset}</code>
                  </td>
                  <td>{a.fields.join(', ')}</td>
                  <td>{a.purpose}</td>
                  <td>{extentText(a.extent)}</td>
                  <td>
                    {day(a.validFrom)} – {day(a.validUntil)}
                  </td>
                  <td>
                    <Badge kind={`app-${a.status}`}>{a.status}</Badge>
                  </td>
                  <td>{a.reason ?? <span class="muted">—</span>}</td>
                  <td>
                    <button type="button" class="link" onClick={() => setFollowed(a.id)}>
                      Follow
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      {followed && (
        <Follow
          id={followed}
          grant={(id) => grants.find((g) => g.id === id)}
          onChange={() => void reload()}
          key={followed}
        />
      )}
      <Section title="Grants your department holds" id="grants">
        {held.length === 0 ? (
          <p class="muted">No grants yet.</p>
        ) : (
          <GrantsTable
            grants={held}
            testId="grants"
            revokedBy
            action={(grant) => grant.state === 'active' && <QueryLink grant={grant} />}
          />
        )}
      </Section>
    </div>
  );
}

function QueryLink({ grant }: { grant: Grant }) {
  return (
    <a
      data-testid="query-grant"
      href={href('records', {
        dataset: grant.dataset,
        purpose: grant.purpose,
        fields: grant.fields.join(','),
        ...(grant.extent.length === 1 ? { within: grant.extent[0]! } : {}),
      })}
    >
      Query the granted fields
    </a>
  );
}

/** One application followed: re-read from the gateway until it is decided (every few seconds while pending). */
function Follow({
  id,
  grant,
  onChange,
}: {
  id: string;
  grant: (id: string) => Grant | undefined;
  onChange: () => void;
}) {
  const { credential } = useSession();
  const [app, setApp] = useState<GrantApplication | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let seen: string | null = null;
    const poll = async () => {
      try {
        const r = await gqlOrThrow<{ grantApplication: GrantApplication }>(credential, ONE, { id });
        if (stop) return;
        // Decided while followed: the lists (and the grant it created) are read again.
        if (seen !== null && seen !== r.data.grantApplication.status) onChange();
        seen = r.data.grantApplication.status;
        setApp(r.data.grantApplication);
        if (r.data.grantApplication.status === 'pending') timer = setTimeout(() => void poll(), 3000);
      } catch (e) {
        if (!stop) setError(e);
      }
    };
    void poll();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [id, credential]);
  const g = app?.grantId ? grant(app.grantId) : undefined;
  return (
    <Section title="Following an application" id="follow">
      {error !== null && <Refusal error={error} />}
      {!app && error === null && <Progress label="Reading the application…" />}
      {app && (
        <div data-testid="followed" data-status={app.status}>
          <p>
            <code>{app.id}</code>: <Badge kind={`app-${app.status}`}>{app.status}</Badge>{' '}
            {app.status === 'pending' && (
              <span class="muted">waiting for {app.ownerOrg} to decide (checked every 3 s)</span>
            )}
          </p>
          <dl class="facts">
            <dt>dataset</dt>
            <dd>
              <code>{app.dataset}</code> (owner: {app.ownerOrg})
            </dd>
            <dt>fields applied for</dt>
            <dd>{app.fields.join(', ')}</dd>
            <dt>purpose</dt>
            <dd>{app.purpose}</dd>
            <dt>extent</dt>
            <dd>{extentText(app.extent)}</dd>
            <dt>period</dt>
            <dd>
              {day(app.validFrom)} – {day(app.validUntil)}
            </dd>
            <dt>legal basis</dt>
            <dd>{app.legalBasis}</dd>
            <dt>contact</dt>
            <dd>{app.contact}</dd>
            {app.decidedBy && (
              <>
                <dt>decided</dt>
                <dd>
                  by {app.decidedBy} on {day(app.decidedAt ?? '')}
                  {app.reason ? `: “${app.reason}”` : ''}
                </dd>
              </>
            )}
          </dl>
          {g && (
            <div data-testid="granted" class="card">
              <p>
                Granted <Badge kind={`grant-${g.state}`}>{g.state}</Badge>: <strong>{g.fields.join(', ')}</strong> for{' '}
                {g.purpose}, in {extentText(g.extent)}, {day(g.validFrom)} – {day(g.validUntil)}
                {g.fields.length < app.fields.length ||
                g.extent.join() !== app.extent.join() ||
                g.validUntil < app.validUntil
                  ? ' (narrower than applied for)'
                  : ''}
                .
              </p>
              {g.state === 'active' && <QueryLink grant={g} />}
            </div>
          )}
        </div>
      )}
    </Section>
  );
}

function ApplyForm({ datasets, onApplied }: { datasets: Dataset[]; onApplied: (a: GrantApplication) => void }) {
  const { credential } = useSession();
  const [datasetId, setDatasetId] = useState('');
  const [fields, setFields] = useState<string[]>([]);
  const [purpose, setPurpose] = useState<string>(PURPOSES[0]);
  const [districts, setDistricts] = useState<Unit[]>([]);
  const [subdistricts, setSubdistricts] = useState<Unit[]>([]);
  const [district, setDistrict] = useState('');
  const [subdistrict, setSubdistrict] = useState('');
  const [days, setDays] = useState(30);
  const [legalBasis, setLegalBasis] = useState('');
  const [contact, setContact] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<GrantApplication | null>(null);

  useEffect(() => {
    void gqlOrThrow<{ units: Unit[] }>(credential, UNITS, { level: 'district' }).then((r) =>
      setDistricts(r.data.units),
    );
  }, [credential]);
  useEffect(() => {
    setSubdistrict('');
    setSubdistricts([]);
    if (district)
      void gqlOrThrow<{ units: Unit[] }>(credential, UNITS, { level: 'subdistrict', parent: district }).then((r) =>
        setSubdistricts(r.data.units),
      );
  }, [district]);
  useEffect(() => {
    if (!datasetId && datasets[0]) setDatasetId(datasets[0].id);
  }, [datasets.length]);
  const dataset = datasets.find((d) => d.id === datasetId);
  useEffect(() => setFields([]), [datasetId]);

  const apply = async () => {
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      const extent = subdistrict ? [subdistrict] : district ? [district] : [];
      const r = await gqlOrThrow<{ applyForGrant: GrantApplication }>(credential, APPLY, {
        input: { dataset: datasetId, fields, purpose, extent, durationDays: days, legalBasis, contact },
      });
      setDone(r.data.applyForGrant);
      onApplied(r.data.applyForGrant);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      class="card"
      data-testid="apply"
      onSubmit={(e) => {
        e.preventDefault();
        void apply();
      }}
    >
      <h2>New application</h2>
      <p class="muted">
        For fields of another department’s dataset that the catalogue does not open to you. The owning department
        decides; it may grant less than you ask for (fewer fields, a smaller area, a shorter period).
      </p>
      <div class="row">
        <label>
          Dataset{' '}
          <Choice
            name="apply-dataset"
            value={datasetId}
            onChange={setDatasetId}
            items={datasets}
            label={(d) => (
              <>
                {d.title} ({d.ownerOrg})
              </>
            )}
          />
        </label>
        <label>
          Purpose{' '}
          <select
            name="apply-purpose"
            value={purpose}
            onChange={(e) => setPurpose((e.target as HTMLSelectElement).value)}
          >
            {PURPOSES.map((p) => (
              <option key={p} value={p}>
                {p.replace('_', ' ')}
              </option>
            ))}
          </select>
        </label>
        <label>
          District{' '}
          <Choice
            name="apply-district"
            value={district}
            onChange={setDistrict}
            items={districts}
            label={(d) => (
              <>
                {d.name} {d.nameZh}
              </>
            )}
            empty="the whole city"
          />
        </label>
        {subdistricts.length > 0 && (
          <label>
            Subdistrict{' '}
            <Choice
              name="apply-subdistrict"
              value={subdistrict}
              onChange={setSubdistrict}
              items={subdistricts}
              label={(d) => (
                <>
                  {d.name} {d.nameZh}
                </>
              )}
              empty="the whole district"
            />
          </label>
        )}
        <label>
          Valid for{' '}
          <input
            type="number"
            name="apply-days"
            min={1}
            max={366}
            value={days}
            onInput={(e) => setDays(Number((e.target as HTMLInputElement).value))}
          />{' '}
          days from today
        </label>
      </div>
      {dataset && (
        <fieldset>
          <legend>Fields that need a grant</legend>
          {dataset.fields.filter(needsGrant).map((f) => (
            <label class="field-choice" key={f.name}>
              <input
                type="checkbox"
                name={`apply-field-${f.name}`}
                checked={fields.includes(f.name)}
                onChange={(e) =>
                  setFields((cur) =>
                    (e.target as HTMLInputElement).checked ? [...cur, f.name] : cur.filter((x) => x !== f.name),
                  )
                }
              />{' '}
              <code>{f.name}</code> <Badge kind={f.openClass}>{f.openClass}</Badge>{' '}
              <span class="muted">{f.description}</span>
            </label>
          ))}
        </fieldset>
      )}
      <div class="row">
        <label class="grow">
          Legal basis{' '}
          <input
            type="text"
            name="apply-legal-basis"
            value={legalBasis}
            maxLength={1000}
            onInput={(e) => setLegalBasis((e.target as HTMLInputElement).value)}
          />
        </label>
        <label class="grow">
          Contact{' '}
          <input
            type="text"
            name="apply-contact"
            value={contact}
            maxLength={200}
            onInput={(e) => setContact((e.target as HTMLInputElement).value)}
          />
        </label>
      </div>
      <button type="submit" disabled={busy || fields.length === 0 || !datasetId}>
        Apply
      </button>
      {busy && <Progress label="Sending the application…" />}
      {error !== null && <Refusal error={error} />}
      {done && (
        <p data-testid="applied">
          Application <code>{done.id}</code> sent to {done.ownerOrg}: <Badge kind="app-pending">{done.status}</Badge>.
        </p>
      )}
    </form>
  );
}
