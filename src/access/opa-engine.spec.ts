import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { GRADES, MASK_KINDS, OPEN_CLASSES, PERSONAL_LEVELS } from '../catalogue/classification.js';
import { MODES, PURPOSES, ROLES } from './decision.js';
import type { Mode, PolicyInput, PolicyInputField, PolicyInputGrant, PolicyOutput } from './decision.js';
import { OpaPolicyEngine, POLICY_ERROR, POLICY_UNDEFINED, denial, validatePolicyOutput } from './opa-engine.js';
import type { PolicyFailure } from './opa-engine.js';

// The committed bundle, from dist/src/access/ back to the repository root.
const WASM = new URL('../../../policies/build/policy.wasm', import.meta.url);
const MANIFEST = new URL('../../../policies/build/MANIFEST.json', import.meta.url);

const field = (name: string, over: Partial<PolicyInputField> = {}): PolicyInputField => ({
  name,
  grade: 'general',
  personal: 'none',
  openClass: 'unconditional',
  maskKind: 'redact',
  ...over,
});

const ward = field('ward');
const street = field('street', { personal: 'personal', maskKind: 'truncate' });
const visits = field('visits', { grade: 'important', openClass: 'conditional' });
const patient = field('patient', {
  grade: 'important',
  personal: 'personal',
  openClass: 'conditional',
  maskKind: 'hash',
});
const diagnosis = field('diagnosis', { grade: 'important', personal: 'sensitive', openClass: 'closed' });
const beds = field('beds', { grade: 'core' });

const anonymous: PolicyInput['requester'] = { authenticated: false, org: null, roles: [] };
const planningAnalyst: PolicyInput['requester'] = { authenticated: true, org: 'planning', roles: ['analyst'] };
const healthOwner: PolicyInput['requester'] = { authenticated: true, org: 'health', roles: ['owner'] };
const auditor: PolicyInput['requester'] = { authenticated: true, org: 'audit-office', roles: ['auditor'] };

const grants: PolicyInputGrant[] = [
  { id: 'g1', purpose: 'research', fields: ['patient'], extent: [] },
  { id: 'g2', purpose: 'research', fields: ['patient', 'visits', 'diagnosis'], extent: ['district-3'] },
  { id: 'g0', purpose: 'statistics', fields: ['patient', 'visits', 'diagnosis', 'ward'], extent: [] },
];

function request(
  requester: PolicyInput['requester'],
  mode: Mode,
  fields: PolicyInputField[],
  over: Partial<PolicyInput> = {},
): PolicyInput {
  const order = ['general', 'important', 'core'] as const;
  const personal = ['none', 'personal', 'sensitive'] as const;
  const open = ['unconditional', 'conditional', 'closed'] as const;
  const highest = <T extends string>(levels: readonly T[], values: T[]): T =>
    levels[Math.max(0, ...values.map((v) => levels.indexOf(v)))]!;
  return {
    requester,
    purpose: null,
    mode,
    dataset: {
      id: 'clinic-visits',
      ownerOrg: 'health',
      grade: highest(
        order,
        fields.map((f) => f.grade),
      ),
      personal: highest(
        personal,
        fields.map((f) => f.personal),
      ),
      openClass: highest(
        open,
        fields.map((f) => f.openClass),
      ),
    },
    fields,
    grants,
    ...over,
  };
}

const PUBLIC_OBLIGATIONS = {
  geometry: { effect: 'generalise', h3Resolution: 8 },
  minCell: 10,
  extent: null,
  grantId: null,
} as const;

describe('OpaPolicyEngine with the committed bundle', () => {
  let engine: OpaPolicyEngine;
  const failures: [PolicyFailure, string][] = [];

  before(async () => {
    engine = await OpaPolicyEngine.load(WASM, { onFailure: (f, problem) => failures.push([f, problem]) });
  });

  it('names its revision after the wasm bytes, as MANIFEST.json does', async () => {
    const bytes = await readFile(WASM);
    const expected = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
    assert.equal(engine.revision, expected);
    assert.match(engine.revision, /^[0-9a-f]{16}$/);
    const manifest = JSON.parse(await readFile(MANIFEST, 'utf8')) as {
      entrypoint: string;
      policyWasm: { revision: string; sha256: string };
    };
    assert.equal(manifest.entrypoint, 'citygate/decision');
    assert.equal(manifest.policyWasm.revision, engine.revision);
    assert.equal(manifest.policyWasm.sha256, createHash('sha256').update(bytes).digest('hex'));
  });

  it('public: raw unconditional data, generalised geometry, personal fields aggregate-only', () => {
    assert.deepEqual(engine.evaluate(request(anonymous, 'raw', [ward])), {
      ...PUBLIC_OBLIGATIONS,
      minCell: 1, // nothing personal or conditional asked of a dataset that holds none (docs/policy.md §4)
      allow: true,
      tier: 'public',
      fields: { ward: { effect: 'allow', reason: 'unconditional' } },
      reasons: ['tier:public'],
    });
    assert.deepEqual(engine.evaluate(request(anonymous, 'raw', [ward, street])), {
      ...PUBLIC_OBLIGATIONS,
      allow: false,
      tier: 'public',
      fields: {
        ward: { effect: 'allow', reason: 'unconditional' },
        street: { effect: 'aggregate-only', reason: 'personal-public' },
      },
      reasons: ['tier:public', 'field:street:aggregate-only-not-for-raw'],
    });
  });

  it('public: conditional data in aggregates only, never in a sandbox', () => {
    const agg = engine.evaluate(request(anonymous, 'aggregate', [ward, patient]));
    assert.equal(agg.allow, true);
    assert.deepEqual(agg.fields.patient, { effect: 'aggregate-only', reason: 'conditional-public-aggregates' });
    assert.equal(engine.evaluate(request(anonymous, 'raw', [ward, patient])).allow, false);
    const sandbox = engine.evaluate(request(anonymous, 'sandbox', [ward]));
    assert.equal(sandbox.allow, false);
    assert.deepEqual(sandbox.fields.ward, { effect: 'deny', reason: 'mode-not-for-public' });
  });

  it('department: unconditional data with masked personal fields, no conditional data', () => {
    const out = engine.evaluate(request(planningAnalyst, 'raw', [ward, street], { purpose: 'urban-planning' }));
    assert.deepEqual(out, {
      allow: true,
      tier: 'department',
      fields: {
        ward: { effect: 'allow', reason: 'unconditional' },
        street: { effect: 'mask', mask: 'truncate', reason: 'personal-masked' },
      },
      geometry: { effect: 'allow' },
      minCell: 10,
      extent: null,
      grantId: null,
      reasons: ['tier:department'],
    });
    const conditional = engine.evaluate(request(planningAnalyst, 'raw', [ward, visits], { purpose: 'urban-planning' }));
    assert.equal(conditional.tier, 'department');
    assert.equal(conditional.allow, false);
    assert.deepEqual(conditional.fields.visits, { effect: 'deny', reason: 'needs-grant' });
    assert.deepEqual(conditional.reasons, ['tier:department', 'dataset:needs-grant', 'field:visits:needs-grant']);
  });

  it('department without a grant: an aggregate the public may ask is decided as the public’s, never more', () => {
    const asked = request(planningAnalyst, 'aggregate', [ward, visits], { purpose: 'urban-planning', grants: [] });
    const publicOut = engine.evaluate(request(anonymous, 'aggregate', [ward, visits], { purpose: 'urban-planning' }));
    const out = engine.evaluate(asked);
    assert.equal(publicOut.allow, true);
    assert.deepEqual(out, { ...publicOut, reasons: [...publicOut.reasons, 'outside-grant:department'] });
    assert.deepEqual(out.geometry, { effect: 'generalise', h3Resolution: 8 });
    assert.equal(out.minCell, 10);
    // Records stay refused: the public gets none of a conditional dataset.
    assert.equal(engine.evaluate({ ...asked, mode: 'raw' }).allow, false);
  });

  it('granted: the granted fields within the grant extent; closed fields only in sandbox/encrypted', () => {
    const raw = engine.evaluate(request(planningAnalyst, 'raw', [ward, visits, patient], { purpose: 'research' }));
    assert.deepEqual(raw, {
      allow: true,
      tier: 'granted',
      fields: {
        ward: { effect: 'allow', reason: 'unconditional' },
        visits: { effect: 'allow', reason: 'granted' },
        patient: { effect: 'mask', mask: 'hash', reason: 'personal-masked' },
      },
      geometry: { effect: 'allow' },
      minCell: 10,
      extent: ['district-3'],
      grantId: 'g2',
      reasons: ['tier:granted'],
    });
    const closedRaw = engine.evaluate(request(planningAnalyst, 'raw', [ward, diagnosis], { purpose: 'research' }));
    assert.equal(closedRaw.allow, false);
    assert.deepEqual(closedRaw.fields.diagnosis, { effect: 'deny', reason: 'closed-sandbox-or-encrypted-only' });
    const closedSandbox = engine.evaluate(
      request(planningAnalyst, 'sandbox', [ward, diagnosis], { purpose: 'research' }),
    );
    assert.equal(closedSandbox.allow, true);
    assert.deepEqual(closedSandbox.fields.diagnosis, { effect: 'allow', reason: 'granted' });
  });

  it('granted: g* covers the most restricted requested fields, ties to the smallest id', () => {
    // patient only: g1 and g2 tie on one field; g1 wins and covers the whole city (extent null)
    const tie = engine.evaluate(request(planningAnalyst, 'raw', [ward, patient], { purpose: 'research' }));
    assert.equal(tie.grantId, 'g1');
    assert.equal(tie.extent, null);
    // a grant for another purpose never counts, however much it covers
    const other = engine.evaluate(request(planningAnalyst, 'raw', [ward, visits], { purpose: 'statistics' }));
    assert.equal(other.grantId, 'g0');
    const none = engine.evaluate(request(planningAnalyst, 'raw', [ward, visits], { purpose: 'emergency-response' }));
    assert.equal(none.tier, 'department');
    assert.equal(none.grantId, null);
  });

  it('owner: every field of its own dataset, core ones included, in every mode', () => {
    const raw = engine.evaluate(request(healthOwner, 'raw', [beds, diagnosis]));
    assert.equal(raw.tier, 'owner');
    assert.equal(raw.allow, true);
    assert.deepEqual(raw.fields.beds, { effect: 'allow', reason: 'owner' });
    assert.deepEqual(raw.fields.diagnosis, { effect: 'allow', reason: 'owner' });
    assert.equal(raw.minCell, 1);
    const encrypted = engine.evaluate(request(healthOwner, 'encrypted', [beds, diagnosis]));
    assert.equal(encrypted.allow, true);
    assert.deepEqual(encrypted.fields.beds, { effect: 'allow', reason: 'owner' });
  });

  it('auditor: metadata only, even when also an owner', () => {
    for (const requester of [auditor, { ...healthOwner, roles: ['owner' as const, 'auditor' as const] }]) {
      assert.deepEqual(engine.evaluate(request(requester, 'aggregate', [ward])), {
        allow: false,
        tier: 'auditor',
        fields: { ward: { effect: 'deny', reason: 'auditor-metadata-only' } },
        geometry: { effect: 'deny' },
        minCell: 10,
        extent: null,
        grantId: null,
        reasons: ['tier:auditor', 'dataset:auditor-metadata-only', 'field:ward:auditor-metadata-only'],
      });
    }
  });

  it('turns an evaluation error into a denial and keeps working', () => {
    failures.length = 0;
    // the same name with two classifications makes the fields object conflict inside the policy
    const input = request(planningAnalyst, 'raw', [ward, { ...ward, personal: 'sensitive' }, street]);
    const out = engine.evaluate(input);
    assert.deepEqual(out, denial(input, POLICY_ERROR));
    assert.deepEqual(out.fields, {
      ward: { effect: 'deny', reason: POLICY_ERROR },
      street: { effect: 'deny', reason: POLICY_ERROR },
    });
    assert.equal(failures.length, 1);
    assert.equal(failures[0]![0], POLICY_ERROR);
    assert.match(failures[0]![1], /conflict/);
    assert.equal(engine.evaluate(request(planningAnalyst, 'raw', [ward])).allow, true);
  });

  it('turns a field the policy leaves undefined into a denial of the whole request', () => {
    failures.length = 0;
    const odd = { ...street, personal: 'maybe' } as unknown as PolicyInputField;
    const input = request(healthOwner, 'raw', [ward, odd]);
    assert.deepEqual(engine.evaluate(input), denial(input, POLICY_UNDEFINED));
    assert.deepEqual(failures, [[POLICY_UNDEFINED, 'no decision for requested field "street"']]);
  });

  it('never throws, whatever it is given', () => {
    const garbage = [null, undefined, {}, { fields: 'x' }, { fields: [null, 7] }, { requester: 5, fields: [] }];
    for (const g of garbage) {
      const out = engine.evaluate(g as unknown as PolicyInput);
      assert.equal(out.allow, false);
      assert.notEqual(out.geometry.effect, 'allow');
    }
  });

  it('keeps its security properties on arbitrary requests (property test)', () => {
    const grantArb: fc.Arbitrary<PolicyInputGrant> = fc.record({
      id: fc.constantFrom('g1', 'g2', 'g10'),
      purpose: fc.constantFrom(...PURPOSES),
      fields: fc.subarray(['f0', 'f1', 'f2', 'f3']),
      extent: fc.subarray(['d1', 'd2']),
    });
    const fieldArb = (name: string): fc.Arbitrary<PolicyInputField> =>
      fc.record({
        name: fc.constant(name),
        grade: fc.constantFrom(...GRADES),
        personal: fc.constantFrom(...PERSONAL_LEVELS),
        openClass: fc.constantFrom(...OPEN_CLASSES),
        maskKind: fc.constantFrom(...MASK_KINDS),
      });
    const inputArb: fc.Arbitrary<PolicyInput> = fc
      .record({
        authenticated: fc.boolean(),
        org: fc.constantFrom(null, 'health', 'planning'),
        roles: fc.subarray([...ROLES]),
        purpose: fc.constantFrom(null, ...PURPOSES),
        mode: fc.constantFrom(...MODES),
        fields: fc.tuple(fieldArb('f0'), fieldArb('f1'), fieldArb('f2'), fieldArb('f3')).chain((fs) => fc.subarray(fs)),
        grants: fc.array(grantArb, { maxLength: 3 }),
      })
      .map(({ authenticated, org, roles, purpose, mode, fields, grants: gs }) =>
        request({ authenticated, org, roles }, mode, fields, { purpose, grants: gs }),
      );

    const fits: Record<Mode, readonly string[]> = {
      raw: ['allow', 'mask', 'generalise'],
      aggregate: ['allow', 'mask', 'generalise', 'aggregate-only'],
      sandbox: ['allow'],
      encrypted: ['allow'],
    };
    fc.assert(
      fc.property(inputArb, (input) => {
        const out: PolicyOutput = engine.evaluate(input);
        assert.ok(validatePolicyOutput(input, out).ok, 'the output is a well-formed PolicyOutput');
        assert.deepEqual(Object.keys(out.fields).sort(), input.fields.map((f) => f.name).sort());
        assert.ok(!out.reasons.includes(POLICY_ERROR) && !out.reasons.includes(POLICY_UNDEFINED), 'the policy decides');
        if (out.allow) {
          for (const d of Object.values(out.fields))
            assert.ok(fits[input.mode].includes(d.effect), 'allowed effects fit the mode');
        }
        for (const f of input.fields) {
          const d = out.fields[f.name]!;
          if (out.tier === 'auditor') assert.equal(d.effect, 'deny', 'auditors never see values');
          if (f.grade === 'core' && out.tier !== 'owner' && (input.mode === 'raw' || input.mode === 'aggregate')) {
            assert.equal(d.effect, 'deny', 'core never leaves its owner raw');
          }
          if (f.personal !== 'none' && out.tier !== 'owner' && input.mode !== 'sandbox' && input.mode !== 'encrypted') {
            assert.notEqual(d.effect, 'allow', 'personal fields are never raw outside the owner');
          }
          if (out.tier === 'public' && (input.mode === 'sandbox' || input.mode === 'encrypted'))
            assert.equal(d.effect, 'deny');
          if (d.effect === 'mask') assert.equal(d.mask, f.maskKind);
        }
        if (out.tier === 'granted') {
          assert.ok(input.grants.some((g) => g.id === out.grantId && g.purpose === input.purpose));
        } else {
          assert.equal(out.grantId, null);
          assert.equal(out.extent, null);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('OpaPolicyEngine.load', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'citygate-opa-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('rejects a missing file, naming it', async () => {
    const path = join(dir, 'missing.wasm');
    await assert.rejects(
      OpaPolicyEngine.load(path),
      (err: Error) => err.message.includes('Cannot read the policy bundle') && err.message.includes(path),
    );
  });

  it('rejects bytes that are not wasm', async () => {
    const path = join(dir, 'garbage.wasm');
    await writeFile(path, 'this is not a wasm module');
    await assert.rejects(OpaPolicyEngine.load(path), /is not a loadable OPA wasm module/);
  });

  it('rejects a truncated bundle', async () => {
    const bytes = await readFile(WASM);
    const path = join(dir, 'truncated.wasm');
    await writeFile(path, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await assert.rejects(OpaPolicyEngine.load(path), /is not a loadable OPA wasm module/);
  });

  it('rejects a bundle with a corrupted byte', async () => {
    const bytes = Buffer.from(await readFile(WASM));
    // flip the section id of the first section after the 8-byte header
    bytes[8] = 0xff;
    const path = join(dir, 'corrupt.wasm');
    await writeFile(path, bytes);
    await assert.rejects(OpaPolicyEngine.load(path), /is not a loadable OPA wasm module/);
  });

  it('rejects a valid wasm module that is not an OPA policy', async () => {
    const path = join(dir, 'empty.wasm');
    await writeFile(path, Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]));
    await assert.rejects(OpaPolicyEngine.load(path), /is not a loadable OPA wasm module/);
  });
});

describe('validatePolicyOutput', () => {
  const input = request(planningAnalyst, 'raw', [ward, street]);
  const good = (): Record<string, unknown> => ({
    allow: true,
    tier: 'department',
    fields: {
      ward: { effect: 'allow', reason: 'unconditional' },
      street: { effect: 'mask', mask: 'truncate', reason: 'personal-masked' },
    },
    geometry: { effect: 'allow' },
    minCell: 10,
    extent: null,
    grantId: null,
    reasons: ['tier:department'],
  });
  const withChange = (change: (o: Record<string, unknown>) => void): Record<string, unknown> => {
    const o = good();
    change(o);
    return o;
  };
  const fieldsOf = (o: Record<string, unknown>) => o.fields as Record<string, Record<string, unknown>>;

  it('accepts a well-formed output and returns a copy', () => {
    const raw = good();
    const checked = validatePolicyOutput(input, raw);
    assert.ok(checked.ok);
    assert.deepEqual(checked.output, raw);
    assert.notEqual(checked.output, raw);
    assert.notEqual(checked.output.fields, raw.fields);
    const generalised = validatePolicyOutput(
      input,
      withChange((o) => (o.geometry = { effect: 'generalise', h3Resolution: 8 })),
    );
    assert.ok(generalised.ok);
    assert.deepEqual(generalised.output.geometry, { effect: 'generalise', h3Resolution: 8 });
  });

  const cases: [string, unknown, PolicyFailure][] = [
    ['undefined result', undefined, POLICY_UNDEFINED],
    ['null result', null, POLICY_ERROR],
    ['array result', [good()], POLICY_ERROR],
    ['missing key', withChange((o) => delete o.minCell), POLICY_UNDEFINED],
    ['missing field decision', withChange((o) => delete fieldsOf(o).street), POLICY_UNDEFINED],
    ['unexpected key', withChange((o) => (o.debug = true)), POLICY_ERROR],
    [
      'decision for an unrequested field',
      withChange((o) => (fieldsOf(o).secret = { effect: 'allow', reason: 'x' })),
      POLICY_ERROR,
    ],
    ['unknown effect', withChange((o) => (fieldsOf(o).ward!.effect = 'permit')), POLICY_ERROR],
    ['effect of the wrong type', withChange((o) => (fieldsOf(o).ward!.effect = 1)), POLICY_ERROR],
    ['missing reason', withChange((o) => delete fieldsOf(o).ward!.reason), POLICY_ERROR],
    ['mask effect without a mask', withChange((o) => delete fieldsOf(o).street!.mask), POLICY_ERROR],
    ['unknown mask kind', withChange((o) => (fieldsOf(o).street!.mask = 'blur')), POLICY_ERROR],
    ['mask on an allow', withChange((o) => (fieldsOf(o).ward!.mask = 'hash')), POLICY_ERROR],
    ['unexpected key in a field decision', withChange((o) => (fieldsOf(o).ward!.why = 'x')), POLICY_ERROR],
    ['allow as a string', withChange((o) => (o.allow = 'true')), POLICY_ERROR],
    ['unknown tier', withChange((o) => (o.tier = 'admin')), POLICY_ERROR],
    ['fields as an array', withChange((o) => (o.fields = [])), POLICY_ERROR],
    ['unknown geometry effect', withChange((o) => (o.geometry = { effect: 'aggregate-only' })), POLICY_ERROR],
    ['generalise without a resolution', withChange((o) => (o.geometry = { effect: 'generalise' })), POLICY_ERROR],
    [
      'resolution out of range',
      withChange((o) => (o.geometry = { effect: 'generalise', h3Resolution: 16 })),
      POLICY_ERROR,
    ],
    [
      'resolution without generalise',
      withChange((o) => (o.geometry = { effect: 'allow', h3Resolution: 8 })),
      POLICY_ERROR,
    ],
    ['minCell zero', withChange((o) => (o.minCell = 0)), POLICY_ERROR],
    ['minCell as a string', withChange((o) => (o.minCell = '10')), POLICY_ERROR],
    ['minCell fractional', withChange((o) => (o.minCell = 2.5)), POLICY_ERROR],
    ['extent of numbers', withChange((o) => (o.extent = [1, 2])), POLICY_ERROR],
    ['extent as a string', withChange((o) => (o.extent = 'district-1')), POLICY_ERROR],
    ['grantId as a number', withChange((o) => (o.grantId = 7)), POLICY_ERROR],
    ['reasons as a string', withChange((o) => (o.reasons = 'tier:department')), POLICY_ERROR],
    [
      'allowed with a denied field',
      withChange((o) => (fieldsOf(o).ward = { effect: 'deny', reason: 'x' })),
      POLICY_ERROR,
    ],
  ];
  for (const [name, raw, failure] of cases) {
    it(`refuses ${name} as ${failure}`, () => {
      const checked = validatePolicyOutput(input, raw);
      assert.equal(checked.ok, false);
      if (!checked.ok) assert.equal(checked.failure, failure);
    });
  }
});

describe('denial', () => {
  it('denies every requested field, the geometry and the request', () => {
    const input = request(planningAnalyst, 'raw', [ward, street]);
    assert.deepEqual(denial(input, 'policy-undefined'), {
      allow: false,
      tier: 'public',
      fields: {
        ward: { effect: 'deny', reason: 'policy-undefined' },
        street: { effect: 'deny', reason: 'policy-undefined' },
      },
      geometry: { effect: 'deny' },
      minCell: 10,
      extent: null,
      grantId: null,
      reasons: ['policy-undefined'],
    });
  });

  it('keeps a field named __proto__ as an own property', () => {
    const out = denial(request(anonymous, 'raw', [field('__proto__')]), POLICY_ERROR);
    assert.deepEqual(Object.keys(out.fields), ['__proto__']);
    assert.equal(Object.getPrototypeOf(out.fields), Object.prototype);
  });
});
