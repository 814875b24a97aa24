import { Section } from '../components/ui.js';

/**
 * MARKED PLACE: "Apply for a grant and follow it" (issue #8, department persona).
 * The grant applications API is not in this gateway yet. Wire it here once it lands:
 *   - the list of the caller's applications with their status (submitted, approved, rejected, revoked, expired);
 *   - a form: dataset, fields, purpose, extent (district ids), validity, justification → the apply mutation;
 *   - on approval, a link to the records page with the grant's purpose preselected.
 * Nothing here calls the gateway until then: the page must not pretend a workflow exists.
 */
export function GrantsPage() {
  return (
    <Section title="Apply for a grant" id="grants-placeholder">
      <p data-testid="placeholder">
        Grant applications are not available on this gateway yet. When they are, this page will let your department
        apply for conditional data (dataset, fields, purpose, extent and period) and follow each application until the
        owning department approves or rejects it.
      </p>
      <p class="muted">
        Today, grants are set up by the data authority; the catalogue shows what you may read without one, and the query
        page tells you when a request needs a grant.
      </p>
    </Section>
  );
}
