import { useEffect, useState } from 'preact/hooks';
import { gqlOrThrow } from '../api/graphql.js';
import type { Dataset, Grant, GrantApplication, Job, Unit } from '../api/types.js';
import { day, extentText, GrantsTable } from '../components/grants-table.js';
import { JobView } from '../components/job-view.js';
import { Badge, Progress, Refusal, Section } from '../components/ui.js';
import { useSession } from '../session.js';
import { APPLICATION_FIELDS, GRANT_FIELDS, UNITS } from './grants.page.js';
import { JOB_FIELDS } from './jobs.page.js';

const LISTS = `{ grantApplications(first: 100) { ${APPLICATION_FIELDS} } grants(first: 100) { ${GRANT_FIELDS} }
  jobs(first: 50) { ${JOB_FIELDS} } }`;
const DECIDE = `mutation($id: ID!, $decision: GrantDecision!, $narrower: GrantScopeInput, $reason: String) {
  decideGrantApplication(id: $id, decision: $decision, narrower: $narrower, reason: $reason) { ${APPLICATION_FIELDS} } }`;
const REVOKE = `mutation($id: ID!, $reason: String!) { revokeGrant(id: $id, reason: $reason) { ${GRANT_FIELDS} } }`;
const REVIEW = `mutation($id: ID!, $approve: Boolean!, $reason: String!) {
  reviewJob(id: $id, approve: $approve, reason: $reason) { ${JOB_FIELDS} } }`;
const OWNED = '{ datasets { id title ownerOrg jobReviewRequired } }';
const REQUIRE = `mutation($d: String!, $r: Boolean!) { setJobReviewRequired(datasetId: $d, required: $r) }`;

/** Owners: decide applications for the department's datasets, revoke grants, review sandbox releases. */
export function ReviewPage() {
  const { credential, me } = useSession();
  const [apps, setApps] = useState<GrantApplication[] | null>(null);
  const [grants, setGrants] = useState<Grant[]>([]);
  const [jobs, setJobs] = useState<Job[]>([]);
  const [owned, setOwned] = useState<Dataset[]>([]);
  const [error, setError] = useState<unknown>(null);
  const reload = async () => {
    try {
      const r = await gqlOrThrow<{ grantApplications: GrantApplication[]; grants: Grant[]; jobs: Job[] }>(
        credential,
        LISTS,
      );
      setApps(r.data.grantApplications);
      setGrants(r.data.grants);
      setJobs(r.data.jobs);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    void reload();
    void gqlOrThrow<{ datasets: Dataset[] }>(credential, OWNED).then((r) =>
      setOwned(r.data.datasets.filter((d) => d.ownerOrg === me.org)),
    );
  }, [credential]);

  // The lists hold what the department made and received: keep what it received, on its own datasets.
  const incoming = (apps ?? []).filter((a) => a.ownerOrg === me.org);
  const pending = incoming.filter((a) => a.status === 'pending');
  const decided = incoming.filter((a) => a.status !== 'pending');
  const given = grants.filter((g) => g.org !== me.org);
  const waiting = jobs.filter((j) => j.status === 'AWAITING_REVIEW');
  return (
    <div>
      <h1>Applications and releases</h1>
      {error !== null && <Refusal error={error} />}
      <Section title="Applications waiting for your decision" id="pending">
        {apps === null ? (
          <Progress label="Loading applications…" />
        ) : pending.length === 0 ? (
          <p class="muted">Nothing is waiting.</p>
        ) : (
          pending.map((a) => <Decide key={a.id} app={a} onDone={() => void reload()} />)
        )}
      </Section>
      <Section title="Sandbox releases waiting for your review" id="releases">
        {waiting.length === 0 ? (
          <p class="muted">No job on your datasets is waiting for review.</p>
        ) : (
          waiting.map((j) => <ReviewJob key={j.id} job={j} onDone={() => void reload()} />)
        )}
      </Section>
      <Section title="Grants on your datasets" id="given">
        {given.length === 0 ? (
          <p class="muted">No grants given.</p>
        ) : (
          <GrantsTable
            grants={given}
            testId="given"
            showDepartment
            action={(grant) =>
              (grant.state === 'active' || grant.state === 'scheduled') && (
                <Revoke grant={grant} onDone={() => void reload()} />
              )
            }
          />
        )}
      </Section>
      <Section title="Decided applications" id="decided">
        {decided.length === 0 ? (
          <p class="muted">None yet.</p>
        ) : (
          <table class="records" data-testid="decided">
            <thead>
              <tr>
                <th>application</th>
                <th>department</th>
                <th>dataset</th>
                <th>fields applied for</th>
                <th>status</th>
                <th>by</th>
                <th>reason</th>
              </tr>
            </thead>
            <tbody>
              {decided.map((a) => (
                <tr key={a.id} data-application={a.id} data-status={a.status}>
                  <td>
                    <code>{a.id}</code>
                  </td>
                  <td>{a.applicantOrg}</td>
                  <td>
                    <code>{a.dataset}</code>
                  </td>
                  <td>{a.fields.join(', ')}</td>
                  <td>
                    <Badge kind={`app-${a.status}`}>{a.status}</Badge>
                  </td>
                  <td>{a.decidedBy}</td>
                  <td>{a.reason ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      <Section title="Review of sandbox releases" id="review-rule">
        <p class="muted">
          When a dataset requires review, a job’s real outputs that pass disclosure control wait for an owner of your
          department (not the one who submitted the job) before the submitter sees them. Each dataset shows its current
          setting.
        </p>
        {owned.map((d) => (
          <ReviewRule key={d.id} dataset={d} />
        ))}
      </Section>
    </div>
  );
}

/** Approve as applied for, approve narrower (fewer fields, a smaller area, an earlier end), or reject with a reason. */
function Decide({ app, onDone }: { app: GrantApplication; onDone: () => void }) {
  const { credential } = useSession();
  const [fields, setFields] = useState<string[]>(app.fields);
  const [units, setUnits] = useState<Unit[]>([]);
  const [extent, setExtent] = useState('');
  const [until, setUntil] = useState(day(app.validUntil));
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    // A smaller area: the subdistricts of a district applied for, or the districts of a city-wide application.
    const parent = app.extent.length === 1 && app.extent[0]!.startsWith('district:') ? app.extent[0]! : null;
    if (app.extent.length > 0 && !parent) return;
    void gqlOrThrow<{ units: Unit[] }>(credential, UNITS, {
      level: parent ? 'subdistrict' : 'district',
      parent,
    }).then((r) => setUnits(r.data.units));
  }, [app.id]);

  const decide = async (decision: 'approve' | 'reject') => {
    setBusy(true);
    setError(null);
    const narrower: Record<string, unknown> = {};
    if (fields.length !== app.fields.length) narrower.fields = fields;
    if (extent) narrower.extent = [extent];
    if (until !== day(app.validUntil)) narrower.validUntil = new Date(`${until}T23:59:59Z`).toISOString();
    try {
      await gqlOrThrow(credential, DECIDE, {
        id: app.id,
        decision,
        narrower: decision === 'approve' && Object.keys(narrower).length > 0 ? narrower : null,
        reason: reason.trim() || null,
      });
      onDone();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="card decide" data-application={app.id}>
      <p>
        <strong>{app.applicantOrg}</strong> ({app.applicantSub}) applied on {day(app.createdAt)} for{' '}
        <code>{app.dataset}</code>, for <strong>{app.purpose}</strong>, in {extentText(app.extent)},{' '}
        {day(app.validFrom)} – {day(app.validUntil)}.
      </p>
      <p class="muted">
        Legal basis: {app.legalBasis}. Contact: {app.contact}.
      </p>
      <fieldset>
        <legend>Fields to grant (untick to grant fewer)</legend>
        {app.fields.map((f) => (
          <label class="field-choice" key={f}>
            <input
              type="checkbox"
              name={`grant-field-${f}`}
              checked={fields.includes(f)}
              onChange={(e) =>
                setFields((cur) => ((e.target as HTMLInputElement).checked ? [...cur, f] : cur.filter((x) => x !== f)))
              }
            />{' '}
            <code>{f}</code>
          </label>
        ))}
      </fieldset>
      <div class="row">
        {units.length > 0 && (
          <label>
            Area{' '}
            <select
              name="grant-extent"
              value={extent}
              onChange={(e) => setExtent((e.target as HTMLSelectElement).value)}
            >
              <option value="">as applied for ({extentText(app.extent)})</option>
              {units.map((u) => (
                <option key={u.id} value={u.id}>
                  {u.name} {u.nameZh} ({u.id})
                </option>
              ))}
            </select>
          </label>
        )}
        <label>
          Ends on{' '}
          <input
            type="date"
            name="grant-until"
            value={until}
            max={day(app.validUntil)}
            onInput={(e) => setUntil((e.target as HTMLInputElement).value)}
          />
        </label>
        <label class="grow">
          Reason (required to reject){' '}
          <input
            type="text"
            name="decision-reason"
            value={reason}
            maxLength={1000}
            onInput={(e) => setReason((e.target as HTMLInputElement).value)}
          />
        </label>
      </div>
      <div class="row">
        <button
          type="button"
          name="approve"
          disabled={busy || fields.length === 0}
          onClick={() => void decide('approve')}
        >
          Approve
        </button>
        <button type="button" name="reject" class="secondary" disabled={busy} onClick={() => void decide('reject')}>
          Reject
        </button>
      </div>
      {error !== null && <Refusal error={error} />}
    </div>
  );
}

function Revoke({ grant, onDone }: { grant: Grant; onDone: () => void }) {
  const { credential } = useSession();
  const [reason, setReason] = useState('');
  const [error, setError] = useState<unknown>(null);
  const revoke = async () => {
    setError(null);
    try {
      await gqlOrThrow(credential, REVOKE, { id: grant.id, reason });
      onDone();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <div class="revoke">
      <input
        type="text"
        name="revoke-reason"
        placeholder="reason"
        value={reason}
        onInput={(e) => setReason((e.target as HTMLInputElement).value)}
      />{' '}
      <button type="button" name="revoke" class="secondary" onClick={() => void revoke()}>
        Revoke
      </button>
      {error !== null && <Refusal error={error} />}
    </div>
  );
}

/** A job waiting for review: its outputs as they would be released, approve or reject with a reason. */
function ReviewJob({ job, onDone }: { job: Job; onDone: () => void }) {
  const { credential } = useSession();
  const [reason, setReason] = useState('');
  const [error, setError] = useState<unknown>(null);
  const review = async (approve: boolean) => {
    setError(null);
    try {
      await gqlOrThrow(credential, REVIEW, { id: job.id, approve, reason });
      onDone();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <div class="card review-job" data-job={job.id}>
      <JobView job={job} />
      <div class="row">
        <label class="grow">
          Reason{' '}
          <input
            type="text"
            name="review-reason"
            value={reason}
            maxLength={1000}
            onInput={(e) => setReason((e.target as HTMLInputElement).value)}
          />
        </label>
        <button type="button" name="release" disabled={!reason.trim()} onClick={() => void review(true)}>
          Release
        </button>
        <button
          type="button"
          name="withhold"
          class="secondary"
          disabled={!reason.trim()}
          onClick={() => void review(false)}
        >
          Withhold
        </button>
      </div>
      {error !== null && <Refusal error={error} />}
    </div>
  );
}

function ReviewRule({ dataset }: { dataset: Dataset }) {
  const { credential } = useSession();
  const [state, setState] = useState<boolean | null>(dataset.jobReviewRequired ?? null);
  const [error, setError] = useState<unknown>(null);
  const set = async (required: boolean) => {
    setError(null);
    try {
      const r = await gqlOrThrow<{ setJobReviewRequired: boolean }>(credential, REQUIRE, {
        d: dataset.id,
        r: required,
      });
      setState(r.data.setJobReviewRequired);
    } catch (e) {
      setError(e);
    }
  };
  return (
    <div class="row review-rule" data-dataset={dataset.id} data-required={state === null ? 'unknown' : String(state)}>
      <code>{dataset.id}</code>
      <span>{state === null ? '' : state ? 'releases require review' : 'releases do not require review'}</span>
      <button type="button" name="require-review" onClick={() => void set(true)}>
        Require review
      </button>
      <button type="button" name="stop-review" class="secondary" onClick={() => void set(false)}>
        Stop requiring review
      </button>
      {error !== null && <Refusal error={error} />}
    </div>
  );
}
