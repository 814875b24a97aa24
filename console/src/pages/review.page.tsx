import { Section } from '../components/ui.js';

/**
 * MARKED PLACE: "Approve or reject applications; review releases" (issue #8, owner persona). Neither the grant
 * applications API nor the sandbox jobs API is in this gateway yet. Wire it here once they land:
 *   - the applications for the department's datasets, pending first: requester org, fields, purpose, extent,
 *     period and justification, with approve and reject (a reason is required to reject);
 *   - sandbox outputs held for human review: the job, its declared datasets and fields, the output tables
 *     after disclosure control, with release and withhold.
 * Nothing here calls the gateway until then: the page must not pretend a workflow exists.
 */
export function ReviewPage() {
  return (
    <Section title="Applications and releases" id="review-placeholder">
      <p data-testid="placeholder">
        Reviewing grant applications and sandbox releases is not available on this gateway yet. When it is, this page
        will list the applications for your datasets to approve or reject, and the sandbox outputs that wait for your
        review before release.
      </p>
      <p class="muted">Today, see who used your data on the “Use of my data” page.</p>
    </Section>
  );
}
