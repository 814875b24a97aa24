import type { ComponentChildren } from 'preact';
import type { Grant } from '../api/types.js';
import { Badge } from './ui.js';

export const day = (iso: string) => iso.slice(0, 10);
export const extentText = (extent: string[]) => (extent.length === 0 ? 'the whole city' : extent.join(', '));

/** Grants as a table: the department's own (with a query link) or the ones an owner gave (with revoke). */
export function GrantsTable({
  grants,
  testId,
  showDepartment = false,
  revokedBy = false,
  action,
}: {
  grants: Grant[];
  testId: string;
  /** The grantee department column (owners see whom they granted). */
  showDepartment?: boolean;
  /** Say who revoked a grant beside the reason (the grantee does not otherwise know). */
  revokedBy?: boolean;
  /** The last cell of a row. */
  action: (grant: Grant) => ComponentChildren;
}) {
  return (
    <table class="records" data-testid={testId}>
      <thead>
        <tr>
          <th>grant</th>
          {showDepartment && <th>department</th>}
          <th>dataset</th>
          <th>fields</th>
          <th>purpose</th>
          <th>extent</th>
          <th>period</th>
          <th>state</th>
          <th />
        </tr>
      </thead>
      <tbody>
        {grants.map((g) => (
          <tr key={g.id} data-grant={g.id} data-state={g.state}>
            <td>
              <code>{g.id}</code>
            </td>
            {showDepartment && <td>{g.org}</td>}
            <td>
              <code>{g.dataset}</code>
            </td>
            <td>{g.fields.join(', ')}</td>
            <td>{g.purpose}</td>
            <td>{extentText(g.extent)}</td>
            <td>
              {day(g.validFrom)} – {day(g.validUntil)}
            </td>
            <td>
              <Badge kind={`grant-${g.state}`}>{g.state}</Badge>
              {g.revokeReason && (
                <div class="muted">
                  {revokedBy ? `revoked by ${g.revokedBy}: ` : ''}
                  {g.revokeReason}
                </div>
              )}
            </td>
            <td>{action(g)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
