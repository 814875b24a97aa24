/**
 * Property test: what the gateway serves (through GraphQL, with the real OPA bundle, casbin and store)
 * agrees with an independent reference model of the tier table (docs/policy.md), written here from the
 * document and sharing no code with the gateway's policy.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { createApiKey } from '../../src/identity/api-keys.js';
import { startTestGateway, type TestGateway } from '../support/test-gateway.js';

const GRADES = ['general', 'important', 'core'] as const;
const PERSONAL = ['none', 'personal', 'sensitive'] as const;
const OPEN = ['unconditional', 'conditional', 'closed'] as const;
const MASKS = ['redact', 'hash', 'truncate'] as const;
const ROLES = ['public', 'analyst', 'owner', 'auditor', 'admin'] as const;
const PURPOSES = ['urban-planning', 'emergency-response', 'public-service', 'research', 'statistics'] as const;
const ORGS = ['prop-a', 'prop-b', 'prop-c'] as const;
const CASES = Number(process.env.TIER_MODEL_CASES ?? 10_000);

type Role = (typeof ROLES)[number];
interface F {
  name: string;
  grade: (typeof GRADES)[number];
  personal: (typeof PERSONAL)[number];
  openClass: (typeof OPEN)[number];
  maskKind: (typeof MASKS)[number];
}
interface D {
  id: string;
  owner: string;
  fields: F[];
  personal: F['personal'];
  openClass: F['openClass'];
}
interface G {
  id: string;
  org: string;
  dataset: string;
  fields: string[];
  purpose: string;
  extent: string[];
  active: boolean;
}

// ---- the reference model (docs/policy.md) ----
type Effect = 'allow' | 'mask' | 'generalise' | 'aggregate-only' | 'deny';
interface Expected {
  allow: boolean;
  tier: string;
  effects: Record<string, { effect: Effect; mask?: string }>;
  geometry: string;
  minCell: number;
  grant: G | null;
}

function reference(
  req: { via: string; org: string | null; roles: Role[] },
  d: D,
  mode: 'raw' | 'aggregate',
  purpose: string | null,
  fields: F[],
  grants: G[],
): Expected {
  const authed = req.via === 'jwt';
  const org = authed ? req.org : null;
  const dept = req.roles.some((r) => r === 'analyst' || r === 'owner' || r === 'admin');
  const usable = grants.filter(
    (g) => g.active && g.org === org && g.dataset === d.id && purpose !== null && g.purpose === purpose,
  );
  let tier: string;
  let grant: G | null = null;
  if (req.roles.includes('auditor')) tier = 'auditor';
  else if (authed && org === d.owner && req.roles.some((r) => r === 'owner' || r === 'analyst')) tier = 'owner';
  else if (authed && org && dept && usable.length > 0) {
    tier = 'granted';
    const score = (g: G) => fields.filter((f) => f.openClass !== 'unconditional' && g.fields.includes(f.name)).length;
    grant = [...usable].sort((a, b) => score(b) - score(a) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))[0]!;
  } else if (authed && org && dept) tier = 'department';
  else tier = 'public';

  const personalRule = (f: F): { effect: Effect; mask?: string } => {
    if (f.personal === 'none') return { effect: 'allow' };
    if (f.personal === 'sensitive') return { effect: 'aggregate-only' };
    return tier === 'public' ? { effect: 'aggregate-only' } : { effect: 'mask', mask: f.maskKind };
  };
  const effect = (f: F): { effect: Effect; mask?: string } => {
    if (tier === 'auditor') return { effect: 'deny' };
    if (tier === 'owner') return { effect: 'allow' }; // its own data, core fields included
    if (f.grade === 'core') return { effect: 'deny' }; // raw and aggregate modes only in this test
    if (f.openClass === 'closed') return { effect: 'deny' };
    if (f.openClass === 'conditional') {
      if (tier === 'public') return { effect: 'aggregate-only' };
      if (tier === 'department') return { effect: 'deny' };
      return grant!.fields.includes(f.name) ? personalRule(f) : { effect: 'deny' };
    }
    return personalRule(f);
  };
  const effects = Object.fromEntries(fields.map((f) => [f.name, effect(f)]));
  let open: boolean;
  if (tier === 'auditor') open = false;
  else if (tier === 'owner') open = true;
  else if (d.openClass === 'closed') open = false;
  else if (d.openClass === 'conditional') open = tier === 'granted' || (tier === 'public' && mode === 'aggregate');
  else open = true;
  const fits = (e: Effect) => (mode === 'raw' ? e === 'allow' || e === 'mask' || e === 'generalise' : e !== 'deny');
  const allow = open && Object.values(effects).every((e) => fits(e.effect));
  // The public's cells are 1 only on a dataset open without conditions and with nothing personal, every requested
  // field included; 10 everywhere else.
  const fullyOpen =
    d.openClass === 'unconditional' &&
    d.personal === 'none' &&
    fields.every((f) => f.openClass === 'unconditional' && f.personal === 'none' && f.grade !== 'core');
  const minCell =
    tier === 'owner'
      ? 1
      : tier === 'public'
        ? fullyOpen
          ? 1
          : 10
        : tier === 'auditor'
          ? 10
          : d.personal !== 'none'
            ? 10
            : 1;
  const geometry = tier === 'public' ? 'generalise' : tier === 'auditor' ? 'deny' : 'allow';
  // The public floor (§5): an aggregate a department or granted tier refuses but an anonymous caller gets is
  // answered exactly as the anonymous caller's.
  if (!allow && mode === 'aggregate' && (tier === 'department' || tier === 'granted')) {
    const asPublic = reference({ via: 'anonymous', org: null, roles: ['public'] }, d, mode, purpose, fields, []);
    if (asPublic.allow) return asPublic;
  }
  return { allow, tier, effects, geometry, minCell, grant };
}

// ---- a synthetic universe in the real store ----
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rank = <T>(xs: readonly T[], v: T) => xs.indexOf(v);

async function buildUniverse(t: TestGateway): Promise<{ datasets: D[]; grants: G[] }> {
  const r = rng(20261123);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  const kinds: Omit<F, 'name' | 'maskKind'>[] = [];
  for (const grade of GRADES)
    for (const personal of PERSONAL) for (const openClass of OPEN) kinds.push({ grade, personal, openClass });
  const db = t.gw.db;
  for (const o of ORGS)
    await db.query(`insert into orgs (id, name, name_zh, kind) values ($1, $1, $1, 'department')`, [o]);
  const rooms = (await db.query<{ id: string }>(`select id from grains where kind = 'room' order by id limit 60`)).map(
    (x) => x.id,
  );
  const datasets: D[] = [];
  // Hand-made datasets first, so that every rule is exercised; then random ones.
  const made = (...ks: [F['grade'], F['personal'], F['openClass']][]) =>
    ks.map(([grade, personal, openClass], j) => ({
      name: `f${j}`,
      grade,
      personal,
      openClass,
      maskKind: MASKS[j % 3]!,
    }));
  const handMade: F[][] = [
    made(
      ['general', 'none', 'unconditional'],
      ['general', 'personal', 'unconditional'],
      ['important', 'sensitive', 'unconditional'],
    ),
    made(
      ['general', 'none', 'conditional'],
      ['important', 'personal', 'conditional'],
      ['general', 'none', 'unconditional'],
      ['general', 'sensitive', 'conditional'],
    ),
    made(['general', 'none', 'closed'], ['general', 'none', 'unconditional']),
    made(
      ['core', 'none', 'unconditional'],
      ['general', 'none', 'unconditional'],
      ['important', 'none', 'unconditional'],
    ),
  ];
  for (let i = 0; i < 16; i++) {
    const n = 1 + Math.floor(r() * 5);
    let fields: F[] = [];
    for (let j = 0; j < n; j++) {
      // Bias towards fields that can be seen, so that allowed cases are common.
      const k =
        r() < 0.5
          ? kinds.filter((x) => x.grade !== 'core' && x.openClass !== 'closed')[Math.floor(r() * 12)]!
          : pick(kinds);
      fields.push({ name: `f${j}`, maskKind: pick(MASKS), ...k });
    }
    if (i < handMade.length) fields = handMade[i]!;
    const d: D = {
      id: `prop-${i}`,
      owner: pick(ORGS),
      fields,
      personal: fields.reduce(
        (m, f) => (rank(PERSONAL, f.personal) > rank(PERSONAL, m) ? f.personal : m),
        'none' as F['personal'],
      ),
      openClass: fields.reduce(
        (m, f) => (rank(OPEN, f.openClass) > rank(OPEN, m) ? f.openClass : m),
        'unconditional' as F['openClass'],
      ),
    };
    const grade = fields.reduce(
      (m, f) => (rank(GRADES, f.grade) > rank(GRADES, m) ? f.grade : m),
      'general' as F['grade'],
    );
    const table = `ds_prop_${i}`;
    await db.query(
      `insert into catalogue_datasets (id, title, title_zh, description, owner_org, grain_kind, table_name, grade, personal, open_class)
       values ($1, $1, $1, 'property test', $2, 'room', $3, $4, $5, $6)`,
      [d.id, d.owner, table, grade, d.personal, d.openClass],
    );
    for (const [ordinal, f] of fields.entries()) {
      await db.query(
        `insert into catalogue_fields (dataset_id, name, ordinal, type, grade, personal, open_class, mask_kind, description)
         values ($1, $2, $3, 'int', $4, $5, $6, $7, 'x')`,
        [d.id, f.name, ordinal, f.grade, f.personal, f.openClass, f.maskKind],
      );
    }
    await db.exec(
      `create table ${table} (id text primary key, grain_id text not null references grains(id), ${fields.map((f) => `${f.name} bigint`).join(', ')})`,
    );
    for (const [k, room] of rooms.entries()) {
      await db.query(`insert into ${table} values ($1, $2, ${fields.map((_, j) => `$${j + 3}`).join(', ')})`, [
        `${d.id}-${k}`,
        room,
        ...fields.map(() => Math.floor(r() * 100)),
      ]);
    }
    datasets.push(d);
  }
  const now = Date.now();
  const grants: G[] = [];
  for (let i = 0; i < 40; i++) {
    const d = pick(datasets);
    const org = pick(ORGS);
    const fields = d.fields.filter(() => r() < 0.6).map((f) => f.name);
    const state = pick(['active', 'active', 'active', 'expired', 'future', 'revoked'] as const);
    const g: G = {
      id: `pg-${String(i).padStart(2, '0')}`,
      org,
      dataset: d.id,
      fields,
      purpose: pick(PURPOSES),
      extent: [],
      active: state === 'active',
    };
    await t.gw.grants.create({
      id: g.id,
      org,
      datasetId: d.id,
      fields,
      purpose: g.purpose as 'research',
      extent: [],
      validFrom: new Date(state === 'future' ? now + 86_400_000 : now - 86_400_000),
      validTo: new Date(state === 'expired' ? now - 3_600_000 : now + 86_400_000 * 2),
      approvedBy: d.owner,
    });
    if (state === 'revoked') await t.gw.grants.revoke(g.id);
    grants.push(g);
  }
  await t.gw.catalogue.reload();
  return { datasets, grants };
}

describe(`tier table: the gateway agrees with a reference model (${CASES} cases)`, () => {
  let t: TestGateway;
  let universe: { datasets: D[]; grants: G[] };
  let apiKey: string;
  const tokens = new Map<string, string>();
  before(async () => {
    t = await startTestGateway({ rooms: 300 });
    universe = await buildUniverse(t);
    apiKey = (await createApiKey(t.gw.db, 'property test')).key;
  });
  after(async () => {
    await t?.close();
  });

  it('0 disagreements', async () => {
    const requester = fc.oneof(
      fc.constant({ via: 'anonymous', org: null as string | null, roles: ['public'] as Role[] }),
      fc.constant({ via: 'api-key', org: null as string | null, roles: ['public'] as Role[] }),
      fc.record({
        via: fc.constant('jwt'),
        org: fc.constantFrom<string | null>(...ORGS),
        roles: fc.uniqueArray(fc.constantFrom<Role>(...ROLES), { minLength: 1, maxLength: 3 }),
      }),
    );
    const kase = fc.record({
      requester,
      dataset: fc.nat({ max: universe.datasets.length - 1 }),
      mode: fc.constantFrom<'raw' | 'aggregate'>('raw', 'aggregate'),
      purpose: fc.option(fc.constantFrom(...PURPOSES), { nil: null }),
      fieldMask: fc.nat({ max: 31 }),
    });
    let disagreements = 0;
    let allowed = 0;
    await fc.assert(
      fc.asyncProperty(kase, async (c) => {
        const d = universe.datasets[c.dataset]!;
        let fields = d.fields.filter((_, i) => (c.fieldMask >> i) & 1);
        if (c.mode === 'raw' && fields.length === 0) fields = [d.fields[0]!];
        const expected = reference(c.requester, d, c.mode, c.purpose, fields, universe.grants);
        const auth: { token?: string; apiKey?: string } = {};
        if (c.requester.via === 'api-key') auth.apiKey = apiKey;
        if (c.requester.via === 'jwt') {
          const key = `${c.requester.org}|${[...c.requester.roles].sort().join(',')}`;
          if (!tokens.has(key))
            tokens.set(key, await t.token(c.requester.org!, c.requester.roles, { ttlSeconds: 3600 }));
          auth.token = tokens.get(key)!;
        }
        const purposeArg = c.purpose ? `, purpose: ${c.purpose.replace('-', '_')}` : '';
        const q =
          c.mode === 'raw'
            ? `{ records(dataset: "${d.id}", fields: ${JSON.stringify(fields.map((f) => f.name))}${purposeArg}, first: 20) { geometry items { values { field masked } } } }`
            : `{ aggregate(dataset: "${d.id}", groupBy: { level: district }${purposeArg}, measures: [{ fn: count }${fields.map((f) => `, { fn: sum, field: "${f.name}" }`).join('')}]) { minCell } }`;
        const res = await t.gql(q, {}, auth);
        const code = res.body.errors?.[0]?.extensions?.code;
        const served = code === undefined;
        let ok = served === expected.allow && (served || code === 'FORBIDDEN');
        if (ok && served) {
          allowed += 1;
          if (c.mode === 'raw') {
            const page = res.body.data!.records as {
              geometry: string;
              items: { values: { field: string; masked: string | null }[] }[];
            };
            ok = page.geometry === expected.geometry;
            for (const item of page.items) {
              for (const v of item.values) {
                const e = expected.effects[v.field]!;
                ok &&= e.effect === 'mask' ? v.masked === e.mask : v.masked === null && e.effect === 'allow';
              }
            }
          } else {
            ok = (res.body.data!.aggregate as { minCell: number }).minCell === expected.minCell;
          }
        }
        if (!ok) {
          disagreements += 1;
          assert.fail(`disagreement: ${JSON.stringify({ case: c, expected, got: res.body }).slice(0, 1500)}`);
        }
      }),
      { numRuns: CASES, seed: 4242, endOnFailure: true },
    );
    assert.equal(disagreements, 0);
    assert.ok(allowed > CASES / 10, `the universe exercises allowed cases too (${allowed})`);
  });
});
