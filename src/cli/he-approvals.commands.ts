/**
 * The owner's approval of encrypted computations from the command line (docs/encrypted-columns.md), over the
 * gateway's GraphQL API with an owner token of the owning organisation:
 *   citygate he pending                 computations waiting for the owner;
 *   citygate he approve <id>            approve one (logged before it takes effect);
 *   citygate he refuse <id> --reason    refuse one;
 *   citygate he rules                   the standing rules;
 *   citygate he rule-set ...            set a standing rule for a dataset's column;
 *   citygate he rule-revoke <id>        revoke one.
 * A refusal by the gateway prints its code and message and exits 1.
 */
import type { Command } from 'commander';

interface GatewayOpts {
  gateway: string;
  token?: string;
}

/** One GraphQL call; a GraphQL error becomes `CODE: message`, so the owner sees why (e.g. FORBIDDEN). */
async function call(opts: GatewayOpts, query: string, variables: Record<string, unknown>) {
  const token = opts.token ?? process.env.CITYGATE_TOKEN;
  if (!token) throw new Error('give --token or set CITYGATE_TOKEN');
  const res = await fetch(new URL('/graphql', opts.gateway), {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as {
    data?: Record<string, unknown> | null;
    errors?: { message: string; extensions?: { code?: string } }[];
  };
  const err = body.errors?.[0];
  if (err || !body.data) throw new Error(`${err?.extensions?.code ?? res.status}: ${err?.message ?? 'no data'}`);
  return body.data;
}

const COMPUTATION = `computationId dataset column kind requesterOrg purpose cells minUnitsCovered receiptIndex status
  ruleId decisionIndex decidedBy reason createdAt`;
const RULE = `ruleId dataset column orgs purposes kinds minUnits setIndex revoked revokeIndex revokeReason`;

const list = (v: string | undefined): string[] | null =>
  v === undefined
    ? null
    : v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');

const withGateway = (c: Command): Command =>
  c
    .requiredOption('--gateway <url>')
    .option('--token <jwt>', 'an owner token of the owning organisation (or CITYGATE_TOKEN)');

export function registerHeApprovalCommands(he: Command): void {
  withGateway(he.command('pending'))
    .description('list encrypted computations waiting for your approval')
    .option('--dataset <id>')
    .option('--status <status>', 'pending, approved or refused', 'pending')
    .option('--json', 'print JSON')
    .action(async (opts: GatewayOpts & { dataset?: string; status: string; json?: boolean }) => {
      const data = await call(
        opts,
        `query($d: String, $s: String) { encryptedComputations(dataset: $d, status: $s) { ${COMPUTATION} } }`,
        { d: opts.dataset ?? null, s: opts.status },
      );
      const rows = data.encryptedComputations as Record<string, string | number | null>[];
      if (opts.json) return console.log(JSON.stringify(rows, null, 2));
      if (rows.length === 0) return console.log(`no ${opts.status} computations`);
      for (const r of rows) {
        console.log(
          `${String(r.computationId)}  ${String(r.status)}  ${String(r.dataset)}.${String(r.column)} ${String(r.kind)}` +
            `  by ${String(r.requesterOrg ?? 'public')} for ${String(r.purpose ?? '-')}` +
            `  ${String(r.cells)} cells, ≥ ${String(r.minUnitsCovered)} units each  (log #${String(r.receiptIndex)})`,
        );
      }
    });

  withGateway(he.command('approve <id>'))
    .description('approve one computation for decryption by your key holder')
    .option('--reason <text>')
    .action(async (id: string, opts: GatewayOpts & { reason?: string }) => {
      const data = await call(
        opts,
        `mutation($id: String!, $r: String) { approveEncryptedComputation(id: $id, reason: $r) { ${COMPUTATION} } }`,
        { id, r: opts.reason ?? null },
      );
      const c = data.approveEncryptedComputation as Record<string, unknown>;
      console.log(`approved ${id} (decision logged at #${String(c.decisionIndex)})`);
    });

  withGateway(he.command('refuse <id>'))
    .description('refuse one computation: your key holder will not decrypt it')
    .requiredOption('--reason <text>', 'why (logged, shown to the requester’s auditors)')
    .action(async (id: string, opts: GatewayOpts & { reason: string }) => {
      const data = await call(
        opts,
        `mutation($id: String!, $r: String!) { refuseEncryptedComputation(id: $id, reason: $r) { ${COMPUTATION} } }`,
        { id, r: opts.reason },
      );
      const c = data.refuseEncryptedComputation as Record<string, unknown>;
      console.log(`refused ${id} (decision logged at #${String(c.decisionIndex)})`);
    });

  withGateway(he.command('rules'))
    .description('list your standing approval rules')
    .option('--dataset <id>')
    .option('--all', 'include revoked rules')
    .action(async (opts: GatewayOpts & { dataset?: string; all?: boolean }) => {
      const data = await call(
        opts,
        `query($d: String, $a: Boolean) { encryptedApprovalRules(dataset: $d, includeRevoked: $a) { ${RULE} } }`,
        { d: opts.dataset ?? null, a: opts.all ?? false },
      );
      console.log(JSON.stringify(data.encryptedApprovalRules, null, 2));
    });

  withGateway(he.command('rule-set'))
    .description('approve, as they are logged, computations that match a rule for one column')
    .requiredOption('--dataset <id>')
    .requiredOption('--column <name>')
    .requiredOption('--orgs <list>', 'comma-separated organisations')
    .option('--purposes <list>', 'comma-separated purposes (default: any)')
    .option('--kinds <list>', 'comma-separated kinds: sum, count, mean, weightedSum (default: any)')
    .requiredOption('--min-units <n>', 'every result cell covers at least this many units', Number)
    .option('--reason <text>')
    .action(
      async (
        opts: GatewayOpts & {
          dataset: string;
          column: string;
          orgs: string;
          purposes?: string;
          kinds?: string;
          minUnits: number;
          reason?: string;
        },
      ) => {
        const data = await call(
          opts,
          `mutation($d: String!, $c: String!, $o: [String!]!, $p: [String!], $k: [String!], $m: Int!, $r: String) {
            setEncryptedApprovalRule(dataset: $d, column: $c, orgs: $o, purposes: $p, kinds: $k, minUnits: $m, reason: $r) { ${RULE} }
          }`,
          {
            d: opts.dataset,
            c: opts.column,
            o: list(opts.orgs) ?? [],
            p: list(opts.purposes),
            k: list(opts.kinds),
            m: opts.minUnits,
            r: opts.reason ?? null,
          },
        );
        const rule = data.setEncryptedApprovalRule as Record<string, unknown>;
        console.log(`rule ${String(rule.ruleId)} set (logged at #${String(rule.setIndex)})`);
      },
    );

  withGateway(he.command('rule-revoke <id>'))
    .description('revoke a standing approval rule')
    .requiredOption('--reason <text>')
    .action(async (id: string, opts: GatewayOpts & { reason: string }) => {
      const data = await call(
        opts,
        `mutation($id: String!, $r: String!) { revokeEncryptedApprovalRule(id: $id, reason: $r) { ${RULE} } }`,
        { id, r: opts.reason },
      );
      const rule = data.revokeEncryptedApprovalRule as Record<string, unknown>;
      console.log(`rule ${id} revoked (logged at #${String(rule.revokeIndex)})`);
    });
}
