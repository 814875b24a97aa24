import { useEffect, useState } from 'preact/hooks';
import { gqlOrThrow } from '../api/graphql.js';
import type { Dataset } from '../api/types.js';
import { Badge, Progress, Refusal, Section } from '../components/ui.js';
import { useSession } from '../session.js';

export interface EncryptedComputation {
  computationId: string;
  dataset: string;
  column: string;
  kind: string;
  requesterSub: string;
  requesterOrg: string | null;
  purpose: string | null;
  cells: number;
  minUnitsCovered: number;
  receiptIndex: number;
  status: 'pending' | 'approved' | 'refused';
  ruleId: string | null;
  decisionIndex: number | null;
  decidedBy: string | null;
  reason: string | null;
  createdAt: string;
}

export interface ApprovalRule {
  ruleId: string;
  dataset: string;
  column: string;
  orgs: string[];
  purposes: string[] | null;
  kinds: string[] | null;
  minUnits: number;
  setIndex: number;
  revoked: boolean;
}

const COMPUTATION = `computationId dataset column kind requesterSub requesterOrg purpose cells minUnitsCovered
  receiptIndex status ruleId decisionIndex decidedBy reason createdAt`;
const RULE = 'ruleId dataset column orgs purposes kinds minUnits setIndex revoked';
const LISTS = `{ encryptedComputations { ${COMPUTATION} } encryptedApprovalRules { ${RULE} } }`;
const APPROVE = `mutation($id: String!, $r: String) { approveEncryptedComputation(id: $id, reason: $r) { status } }`;
const REFUSE = `mutation($id: String!, $r: String!) { refuseEncryptedComputation(id: $id, reason: $r) { status } }`;
const SET_RULE = `mutation($d: String!, $c: String!, $o: [String!]!, $p: [String!], $k: [String!], $m: Int!) {
  setEncryptedApprovalRule(dataset: $d, column: $c, orgs: $o, purposes: $p, kinds: $k, minUnits: $m) { ruleId } }`;
const REVOKE_RULE = `mutation($id: String!, $r: String!) { revokeEncryptedApprovalRule(id: $id, reason: $r) { revoked } }`;
const OWNED = '{ datasets { id ownerOrg fields { name type } } }';

const list = (s: string): string[] | null => {
  const items = s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');
  return items.length > 0 ? items : null;
};

/** Owners: approve or refuse encrypted computations one by one, and keep standing rules per column. */
export function EncryptedPage() {
  const { credential, me } = useSession();
  const [computations, setComputations] = useState<EncryptedComputation[] | null>(null);
  const [rules, setRules] = useState<ApprovalRule[]>([]);
  const [error, setError] = useState<unknown>(null);
  const reload = async () => {
    try {
      const r = await gqlOrThrow<{
        encryptedComputations: EncryptedComputation[];
        encryptedApprovalRules: ApprovalRule[];
      }>(credential, LISTS);
      setComputations(r.data.encryptedComputations);
      setRules(r.data.encryptedApprovalRules);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => void reload(), [credential]);
  const pending = (computations ?? []).filter((c) => c.status === 'pending');
  const decided = (computations ?? []).filter((c) => c.status !== 'pending');
  return (
    <div>
      <h1>Encrypted computations</h1>
      <p class="muted">
        Your key holder decrypts a computation on your encrypted columns only once you approve it here (or with{' '}
        <code>citygate he approve</code>), or a standing rule below covers it. Each decision is logged before it takes
        effect.
      </p>
      {error !== null && <Refusal error={error} />}
      <Section title="Waiting for your approval" id="encrypted-pending">
        {computations === null ? (
          <Progress label="Loading computations…" />
        ) : pending.length === 0 ? (
          <p class="muted">Nothing is waiting.</p>
        ) : (
          pending.map((c) => <DecideComputation key={c.computationId} c={c} onDone={() => void reload()} />)
        )}
      </Section>
      <Section title="Standing rules" id="encrypted-rules">
        {rules.length === 0 ? (
          <p class="muted">No rules: every computation waits for you.</p>
        ) : (
          <table class="records" data-testid="encrypted-rules">
            <thead>
              <tr>
                <th>column</th>
                <th>organisations</th>
                <th>purposes</th>
                <th>kinds</th>
                <th>fewest units per cell</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {rules.map((r) => (
                <tr key={r.ruleId} data-rule={r.ruleId}>
                  <td>
                    <code>
                      {r.dataset}.{r.column}
                    </code>
                  </td>
                  <td>{r.orgs.join(', ')}</td>
                  <td>{r.purposes?.join(', ') ?? 'any'}</td>
                  <td>{r.kinds?.join(', ') ?? 'any'}</td>
                  <td>{r.minUnits}</td>
                  <td>
                    <RevokeRule rule={r} onDone={() => void reload()} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <NewRule ownerOrg={me.org} onDone={() => void reload()} />
      </Section>
      <Section title="Decided" id="encrypted-decided">
        {decided.length === 0 ? (
          <p class="muted">None yet.</p>
        ) : (
          <table class="records" data-testid="encrypted-decided">
            <thead>
              <tr>
                <th>computation</th>
                <th>requester</th>
                <th>column</th>
                <th>status</th>
                <th>by</th>
                <th>reason</th>
              </tr>
            </thead>
            <tbody>
              {decided.map((c) => (
                <tr key={c.computationId} data-computation={c.computationId} data-status={c.status}>
                  <td>
                    <code>{c.computationId}</code>
                  </td>
                  <td>{c.requesterOrg ?? 'public'}</td>
                  <td>
                    <code>
                      {c.dataset}.{c.column}
                    </code>{' '}
                    {c.kind}
                  </td>
                  <td>
                    <Badge kind={`he-${c.status}`}>{c.status}</Badge>
                  </td>
                  <td>{c.ruleId ? `rule ${c.ruleId.slice(0, 8)}` : (c.decidedBy ?? '')}</td>
                  <td>{c.reason ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </div>
  );
}

function DecideComputation({ c, onDone }: { c: EncryptedComputation; onDone: () => void }) {
  const { credential } = useSession();
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const decide = async (approve: boolean) => {
    setBusy(true);
    setError(null);
    try {
      await gqlOrThrow(credential, approve ? APPROVE : REFUSE, { id: c.computationId, r: reason.trim() || null });
      onDone();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="card decide" data-computation={c.computationId}>
      <p>
        <strong>{c.requesterOrg ?? 'the public'}</strong> ({c.requesterSub}) asked on {c.createdAt.slice(0, 10)} for the{' '}
        <strong>{c.kind}</strong> of{' '}
        <code>
          {c.dataset}.{c.column}
        </code>
        {c.purpose ? (
          <>
            , for <strong>{c.purpose}</strong>
          </>
        ) : null}
        : {c.cells} cell{c.cells === 1 ? '' : 's'}, each covering at least {c.minUnitsCovered} units (log #
        {c.receiptIndex}).
      </p>
      <div class="row">
        <label class="grow">
          Reason (required to refuse){' '}
          <input
            type="text"
            name="encrypted-reason"
            value={reason}
            maxLength={500}
            onInput={(e) => setReason((e.target as HTMLInputElement).value)}
          />
        </label>
        <button type="button" name="approve-computation" disabled={busy} onClick={() => void decide(true)}>
          Approve
        </button>
        <button
          type="button"
          name="refuse-computation"
          class="secondary"
          disabled={busy || !reason.trim()}
          onClick={() => void decide(false)}
        >
          Refuse
        </button>
      </div>
      {error !== null && <Refusal error={error} />}
    </div>
  );
}

function RevokeRule({ rule, onDone }: { rule: ApprovalRule; onDone: () => void }) {
  const { credential } = useSession();
  const [reason, setReason] = useState('');
  const [error, setError] = useState<unknown>(null);
  const revoke = async () => {
    setError(null);
    try {
      await gqlOrThrow(credential, REVOKE_RULE, { id: rule.ruleId, r: reason });
      onDone();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <div class="revoke">
      <input
        type="text"
        name="rule-revoke-reason"
        placeholder="reason"
        value={reason}
        onInput={(e) => setReason((e.target as HTMLInputElement).value)}
      />{' '}
      <button
        type="button"
        name="revoke-rule"
        class="secondary"
        disabled={!reason.trim()}
        onClick={() => void revoke()}
      >
        Revoke
      </button>
      {error !== null && <Refusal error={error} />}
    </div>
  );
}

function NewRule({ ownerOrg, onDone }: { ownerOrg: string | null; onDone: () => void }) {
  const { credential } = useSession();
  const [columns, setColumns] = useState<string[]>([]);
  const [column, setColumn] = useState('');
  const [orgs, setOrgs] = useState('');
  const [purposes, setPurposes] = useState('');
  const [kinds, setKinds] = useState('');
  const [minUnits, setMinUnits] = useState('10');
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    void gqlOrThrow<{ datasets: (Dataset & { fields: { name: string; type: string }[] })[] }>(credential, OWNED).then(
      (r) => {
        const mine = r.data.datasets.filter((d) => d.ownerOrg === ownerOrg);
        const numeric = mine.flatMap((d) =>
          d.fields.filter((f) => f.type === 'int' || f.type === 'float').map((f) => `${d.id}.${f.name}`),
        );
        setColumns(numeric);
        setColumn((c) => c || numeric[0] || '');
      },
    );
  }, [credential]);
  const save = async () => {
    setError(null);
    const [d, c] = column.split('.');
    try {
      await gqlOrThrow(credential, SET_RULE, {
        d,
        c,
        o: list(orgs) ?? [],
        p: list(purposes),
        k: list(kinds),
        m: Number(minUnits),
      });
      onDone();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <form
      class="row new-rule"
      onSubmit={(e) => {
        e.preventDefault();
        void save();
      }}
    >
      <label>
        Column{' '}
        <select name="rule-column" value={column} onChange={(e) => setColumn((e.target as HTMLSelectElement).value)}>
          {columns.map((c) => (
            <option key={c} value={c}>
              {c}
            </option>
          ))}
        </select>
      </label>
      <label>
        Organisations{' '}
        <input
          type="text"
          name="rule-orgs"
          placeholder="planning-bureau, …"
          value={orgs}
          onInput={(e) => setOrgs((e.target as HTMLInputElement).value)}
        />
      </label>
      <label>
        Purposes{' '}
        <input
          type="text"
          name="rule-purposes"
          placeholder="any"
          value={purposes}
          onInput={(e) => setPurposes((e.target as HTMLInputElement).value)}
        />
      </label>
      <label>
        Kinds{' '}
        <input
          type="text"
          name="rule-kinds"
          placeholder="any (sum, count, mean, weightedSum)"
          value={kinds}
          onInput={(e) => setKinds((e.target as HTMLInputElement).value)}
        />
      </label>
      <label>
        Fewest units per cell{' '}
        <input
          type="number"
          name="rule-min-units"
          min={1}
          value={minUnits}
          onInput={(e) => setMinUnits((e.target as HTMLInputElement).value)}
        />
      </label>
      <button type="submit" name="set-rule" disabled={!column || !orgs.trim()}>
        Set rule
      </button>
      {error !== null && <Refusal error={error} />}
    </form>
  );
}
