import type { Job, JobOutputTable } from '../api/types.js';
import { href } from '../router.js';
import { Badge, Progress } from './ui.js';

/** Rules of disclosure control as a person reads them (docs/sandbox-jobs.md). */
export const RULE_LABEL: Record<string, string> = {
  threshold: 'fewer records than the minimum cell size',
  dominance: 'a few contributors dominate the cell',
  'p-percent': 'one contributor could estimate another too closely',
  secondary: 'hidden so that a margin does not reveal a hidden cell',
  differencing: 'together with an earlier release it would single out records',
  'record-level': 'the output holds records, not aggregates',
  'invalid-table': 'the table is not a valid aggregate',
  unprotectable: 'no suppression could protect it',
  access: 'the policy does not allow this job on this data',
  'owner-review': 'the dataset’s owner did not approve the release',
  'not-released': 'on real data an unsuccessful run shows no detail: try the code on dummy data',
};

/** One output table; a suppressed cell reads *suppressed* with its rule, never a number. */
export function OutputTable({ table, dummy }: { table: JobOutputTable; dummy: boolean }) {
  const hidden = new Map(table.suppressed.map((s) => [`${s.row}:${s.column}`, s.rule]));
  return (
    <div class="output-table" data-table={table.name} data-dummy={String(dummy)}>
      <h3>
        {table.name}{' '}
        {dummy ? (
          <Badge kind="dummy">DUMMY DATA: synthetic values, not the dataset</Badge>
        ) : (
          <Badge kind="released">released after disclosure control</Badge>
        )}
      </h3>
      <table class="records">
        <thead>
          <tr>
            {table.columns.map((c) => (
              <th key={c}>{c}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {table.rows.map((r, i) => (
            <tr key={i}>
              {r.cells.map((v, j) => {
                // Suppressed cells are listed by their row index (as the gateway numbers rows, from 0).
                const rule = hidden.get(`${i}:${table.columns[j]}`);
                if (rule !== undefined) {
                  return (
                    <td key={j} class="suppressed" data-suppressed={rule} title={RULE_LABEL[rule] ?? ''}>
                      <Badge kind="suppressed">suppressed: {rule}</Badge>
                    </td>
                  );
                }
                return <td key={j}>{v === null ? <span class="muted">null</span> : String(v)}</td>;
              })}
            </tr>
          ))}
        </tbody>
      </table>
      {table.suppressed.length > 0 && (
        <p class="muted" data-testid="suppression-note">
          {table.suppressed.length} cell{table.suppressed.length === 1 ? '' : 's'} suppressed:{' '}
          {[...new Set(table.suppressed.map((s) => s.rule))].map((r) => `${r} (${RULE_LABEL[r] ?? r})`).join('; ')}.
        </p>
      )}
    </div>
  );
}

const RUNNING: Record<string, string> = {
  QUEUED: 'Queued: waiting for a sandbox worker…',
  RUNNING: 'Running in the sandbox…',
};

/** A job's status, progress, sanitised log, outputs and refusal. */
export function JobView({ job }: { job: Job }) {
  return (
    <div class="job" data-job={job.id} data-status={job.status} data-run-on={job.runOn}>
      <p>
        <Badge kind={`job-${job.status.toLowerCase()}`}>{job.status}</Badge> on{' '}
        <Badge kind={job.runOn === 'DUMMY' ? 'dummy' : 'real'}>
          {job.runOn === 'DUMMY' ? 'dummy data' : 'real data'}
        </Badge>{' '}
        <code>{job.datasetId}</code> ({job.fields.join(', ')}){job.purpose ? ` for ${job.purpose}` : ''}, submitted by{' '}
        {job.submittedBy}
        {job.attempts > 1 ? `, attempt ${job.attempts}` : ''}.
        {job.receiptIndex !== null && (
          <>
            {' '}
            Receipt <a href={href('verify', { index: String(job.receiptIndex) })}>#{job.receiptIndex}</a>.
          </>
        )}
      </p>
      {RUNNING[job.status] && <Progress label={RUNNING[job.status]!} />}
      {job.status === 'AWAITING_REVIEW' && (
        <p class="muted" data-testid="awaiting-review">
          The checks passed; an owner of the dataset’s organisation must approve the release before you see it.
        </p>
      )}
      {job.error && (
        <div class="refusal" role="alert" data-code="JOB_FAILED">
          <strong class="refusal-code">FAILED</strong> <span class="refusal-message">{job.error}</span>
        </div>
      )}
      {job.refusal && (
        <div
          class="refusal"
          role="alert"
          data-code="JOB_REFUSED"
          data-rule={job.refusal.rule}
          data-testid="job-refusal"
        >
          <strong class="refusal-code">REFUSED · {job.refusal.rule}</strong>{' '}
          <span class="refusal-message">{job.refusal.reason}</span>
          <div class="refusal-hint">{RULE_LABEL[job.refusal.rule] ?? ''}</div>
          {job.refusal.cells.length > 0 && (
            <div>
              Cells: {job.refusal.table ? `${job.refusal.table}: ` : ''}
              {job.refusal.cells.join('; ')}
            </div>
          )}
          {job.reviewReason && <div>Reviewer’s reason: {job.reviewReason}</div>}
          {job.receiptIndex !== null && <div class="muted">The refusal itself was logged.</div>}
        </div>
      )}
      {job.outputs?.map((t) => (
        <OutputTable key={t.name} table={t} dummy={job.dummy} />
      ))}
      {job.reviewedBy && !job.refusal && (
        <p class="muted">
          Released after review by {job.reviewedBy}
          {job.reviewReason ? `: ${job.reviewReason}` : ''}.
        </p>
      )}
      {job.log.length > 0 && (
        <details class="job-log">
          <summary>Log ({job.log.length} lines, sanitised: no data values of a real run)</summary>
          <pre data-testid="job-log">{job.log.map((l) => `${l.at}  ${l.message}`).join('\n')}</pre>
        </details>
      )}
    </div>
  );
}
