import { Section } from '../components/ui.js';

/**
 * MARKED PLACE: "Submit a sandbox job, see it run on dummy data then real data, read outputs and refusals with
 * their reasons" (issue #8, department persona). The sandbox jobs API is not in this gateway yet. Wire it here:
 *   - a code editor (the job's source and the datasets and fields it declares) → the submit mutation;
 *   - the job's runs with progress: dummy data first, then real data once the dummy run passed;
 *   - output tables as released after disclosure control, and refused outputs with the checks that failed
 *     (minimum cell, dominance, p-percent, differencing) and the DP budget spent.
 */
export function JobsPage() {
  return (
    <Section title="Sandbox jobs" id="jobs-placeholder">
      <p data-testid="placeholder">
        Sandbox jobs are not available on this gateway yet. When they are, this page will let your department submit
        code that runs next to the data, first on dummy data with the same schema and then on the real data, and read
        the outputs that pass disclosure control, or the reasons they were withheld.
      </p>
    </Section>
  );
}
