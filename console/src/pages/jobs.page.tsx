import { useEffect, useState } from 'preact/hooks';
import { GqlRefusal, gqlOrThrow } from '../api/graphql.js';
import { JOB_SETTLED, PURPOSES, type Dataset, type Job } from '../api/types.js';
import { JobView } from '../components/job-view.js';
import { Badge, Choice, Progress, Refusal, Section } from '../components/ui.js';
import { useSession } from '../session.js';
import { DATASETS } from './catalogue.page.js';

export const JOB_FIELDS = `id datasetId fields purpose runOn status dummy attempts submittedBy createdAt startedAt finishedAt
  error receiptIndex outputHash reviewedBy reviewReason log { at message }
  outputs { name columns rows { cells } suppressed { row column rule } }
  refusal { rule reason table cells }`;
const SUBMIT = `mutation($input: SubmitJobInput!) { submitJob(input: $input) { ${JOB_FIELDS} } }`;
const JOB = `query($id: ID!) { job(id: $id) { ${JOB_FIELDS} } }`;
const JOBS = `{ jobs(first: 50) { id datasetId runOn status dummy createdAt submittedBy } }`;
const CANCEL = `mutation($id: ID!) { cancelJob(id: $id) { ${JOB_FIELDS} } }`;

/** The example: elderly people living alone per subdistrict (docs/sandbox-jobs.md, "Declared outputs"). */
export const EXAMPLE_CODE = `// Elderly people living alone per subdistrict. The table is declared below; the code only places each
// record in its row (one row of keys per record, or nulls to leave it out). The gateway counts them.
// input.columns: record_id, district_id, subdistrict_id, community_id, building_id and the fields you declare.
export function run(input) {
  const { subdistrict_id } = input.columns;
  const rows = [];
  for (let i = 0; i < input.rowCount; i++) rows.push([subdistrict_id[i]]);
  return { tables: [{ name: 'elderly_by_subdistrict', columns: ['subdistrict_id'], rows }] };
}
`;

/** The example's declared table: every subdistrict, with the gateway's Total. */
export const EXAMPLE_OUTPUTS = JSON.stringify(
  [{ name: 'elderly_by_subdistrict', keys: [{ column: 'subdistrict_id', level: 'subdistrict' }], sums: [] }],
  null,
  2,
);

type JobSummary = Pick<Job, 'id' | 'datasetId' | 'runOn' | 'status' | 'dummy' | 'createdAt' | 'submittedBy'>;

/** Polls one job until it settles: long work shows progress. */
export function useJob(
  id: string,
  onSettled?: (j: Job) => void,
): { job: Job | null; error: unknown; set: (j: Job) => void } {
  const { credential } = useSession();
  const [job, setJob] = useState<Job | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const r = await gqlOrThrow<{ job: Job }>(credential, JOB, { id });
        if (stop) return;
        setJob(r.data.job);
        if (JOB_SETTLED.includes(r.data.job.status)) onSettled?.(r.data.job);
        else timer = setTimeout(() => void poll(), 500);
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
  return { job, error, set: setJob };
}

/** Submit code to run next to the data: on dummy data first, then on the real dataset. */
export function JobsPage() {
  const { credential } = useSession();
  const [datasets, setDatasets] = useState<Dataset[]>([]);
  const [datasetId, setDatasetId] = useState('elderly-living-alone');
  const [fields, setFields] = useState<string[]>(['care_level']);
  const [purpose, setPurpose] = useState('emergency_response');
  const [language, setLanguage] = useState<'JS' | 'TS'>('JS');
  const [code, setCode] = useState(EXAMPLE_CODE);
  const [outputs, setOutputs] = useState(EXAMPLE_OUTPUTS);
  const [jobs, setJobs] = useState<JobSummary[] | null>(null);
  const [selected, setSelected] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  /** The code, dataset and fields whose dummy run succeeded: real runs are offered after it. */
  const [triedOnDummy, setTriedOnDummy] = useState('');
  const draft = JSON.stringify([datasetId, fields, language, code, outputs]);

  const reload = () =>
    gqlOrThrow<{ jobs: JobSummary[] }>(credential, JOBS).then(
      (r) => setJobs(r.data.jobs),
      (e: unknown) => setError(e),
    );
  useEffect(() => {
    void gqlOrThrow<{ datasets: Dataset[] }>(credential, DATASETS).then((r) => setDatasets(r.data.datasets));
    void reload();
  }, [credential]);
  const dataset = datasets.find((d) => d.id === datasetId);

  const submit = async (runOn: 'DUMMY' | 'REAL') => {
    setBusy(true);
    setError(null);
    try {
      let declared: unknown;
      try {
        declared = JSON.parse(outputs);
      } catch {
        throw new GqlRefusal(
          'BAD_USER_INPUT',
          'The declared outputs are not valid JSON: a list of { name, keys, sums } tables.',
        );
      }
      const r = await gqlOrThrow<{ submitJob: Job }>(credential, SUBMIT, {
        input: { datasetId, fields, purpose: purpose || null, language, code, runOn, outputs: declared },
      });
      setSelected(r.data.submitJob.id);
      void reload();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div>
      <h1>Sandbox jobs</h1>
      <form
        class="card"
        data-testid="job-form"
        onSubmit={(e) => {
          e.preventDefault();
          void submit('DUMMY');
        }}
      >
        <p class="muted">
          Your code runs next to the data in the gateway’s sandbox (no network, no timers, CPU and memory limits). Try
          it on <strong>dummy data</strong> first: synthetic records with the dataset’s schema, no checks. Then run it
          on the <strong>real data</strong>: only aggregate tables that pass disclosure control are released, and the
          release is logged before you see it.
        </p>
        <div class="row">
          <label>
            Dataset{' '}
            <Choice
              name="job-dataset"
              value={datasetId}
              onChange={(id) => {
                setDatasetId(id);
                setFields([]);
              }}
              items={datasets}
              label={(d) => (
                <>
                  {d.title} ({d.id})
                </>
              )}
            />
          </label>
          <label>
            Purpose{' '}
            <select
              name="job-purpose"
              value={purpose}
              onChange={(e) => setPurpose((e.target as HTMLSelectElement).value)}
            >
              <option value="">none</option>
              {PURPOSES.map((p) => (
                <option key={p} value={p}>
                  {p.replace('_', ' ')}
                </option>
              ))}
            </select>
          </label>
          <label>
            Language{' '}
            <select
              name="job-language"
              value={language}
              onChange={(e) => setLanguage((e.target as HTMLSelectElement).value as 'JS' | 'TS')}
            >
              <option value="JS">JavaScript</option>
              <option value="TS">TypeScript</option>
            </select>
          </label>
        </div>
        {dataset && (
          <fieldset>
            <legend>Fields the code reads (record_id and the hierarchy ids come too)</legend>
            {dataset.fields.map((f) => (
              <label class="field-choice" key={f.name}>
                <input
                  type="checkbox"
                  name={`job-field-${f.name}`}
                  checked={fields.includes(f.name)}
                  onChange={(e) =>
                    setFields((cur) =>
                      (e.target as HTMLInputElement).checked ? [...cur, f.name] : cur.filter((x) => x !== f.name),
                    )
                  }
                />{' '}
                <code>{f.name}</code> <span class="muted">{f.type}</span>
              </label>
            ))}
          </fieldset>
        )}
        <label for="job-outputs">
          Declared output tables (JSON): names, keys with a domain each (level, field or values), sums
        </label>
        <textarea
          id="job-outputs"
          name="job-outputs"
          rows={6}
          spellcheck={false}
          class="code"
          value={outputs}
          onInput={(e) => setOutputs((e.target as HTMLTextAreaElement).value)}
        />
        <label for="job-code">Code: export function run(input) → {'{ tables }'}: one row of keys per record</label>
        <textarea
          id="job-code"
          name="job-code"
          rows={14}
          spellcheck={false}
          class="code"
          value={code}
          onInput={(e) => setCode((e.target as HTMLTextAreaElement).value)}
        />
        <div class="row">
          <button type="submit" name="run-dummy" disabled={busy || fields.length === 0 || !code.trim()}>
            Run on dummy data
          </button>
          <button
            type="button"
            name="run-real"
            disabled={busy || triedOnDummy !== draft}
            onClick={() => void submit('REAL')}
          >
            Run on real data
          </button>
          {triedOnDummy !== draft && (
            <span class="muted">Real runs open once this code has run on dummy data without failing.</span>
          )}
        </div>
        {busy && <Progress label="Submitting…" />}
        {error !== null && <Refusal error={error} />}
      </form>
      {selected && (
        <SelectedJob
          id={selected}
          key={selected}
          onSettled={(j) => {
            if (j.dummy && j.status === 'SUCCEEDED') setTriedOnDummy(draft);
            void reload();
          }}
        />
      )}
      <Section title="Your jobs" id="jobs">
        {jobs === null ? (
          <Progress label="Loading jobs…" />
        ) : jobs.length === 0 ? (
          <p class="muted">No jobs yet.</p>
        ) : (
          <table class="records" data-testid="jobs">
            <thead>
              <tr>
                <th>submitted</th>
                <th>job</th>
                <th>dataset</th>
                <th>on</th>
                <th>status</th>
              </tr>
            </thead>
            <tbody>
              {jobs.map((j) => (
                <tr key={j.id} data-job={j.id} data-status={j.status}>
                  <td>{j.createdAt.slice(0, 19).replace('T', ' ')}</td>
                  <td>
                    <button type="button" class="link" onClick={() => setSelected(j.id)}>
                      {j.id}
                    </button>
                  </td>
                  <td>
                    <code>{j.datasetId}</code>
                  </td>
                  <td>{j.runOn.toLowerCase()}</td>
                  <td>
                    <Badge kind={`job-${j.status.toLowerCase()}`}>{j.status}</Badge>
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

function SelectedJob({ id, onSettled }: { id: string; onSettled: (j: Job) => void }) {
  const { credential } = useSession();
  const { job, error, set } = useJob(id, onSettled);
  const [cancelError, setCancelError] = useState<unknown>(null);
  const cancel = async () => {
    setCancelError(null);
    try {
      set((await gqlOrThrow<{ cancelJob: Job }>(credential, CANCEL, { id })).data.cancelJob);
    } catch (e) {
      setCancelError(e);
    }
  };
  return (
    <Section title={`Job ${id}`} id="job">
      {error !== null && <Refusal error={error} />}
      {!job && error === null && <Progress label="Reading the job…" />}
      {job && <JobView job={job} />}
      {job && (job.status === 'QUEUED' || job.status === 'RUNNING') && (
        <button type="button" class="secondary" onClick={() => void cancel()}>
          Cancel the job
        </button>
      )}
      {cancelError !== null && <Refusal error={cancelError} />}
    </Section>
  );
}
