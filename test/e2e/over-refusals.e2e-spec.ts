/**
 * Over-refusals (issue 13, point 8): what the rules allow must not be refused. An owner reads every field of
 * its own dataset, core ones included; anonymous and API-key callers fetch the receipt bundles of their own
 * requests, which the README promises every requester; and a receipt's token opens that one bundle only.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NO_RATE_LIMITS, errorCode, startTestGateway, type TestGateway } from '../support/test-gateway.js';

const BUNDLE = 'query($i: Int!, $t: String) { receiptBundle(index: $i, token: $t) }';
const LICENCES = '{ records(dataset: "business-licences", fields: ["industry"], first: 2) { items { id } } }';

describe('over-refusals: owners and requesters get what the rules allow', () => {
  let tg: TestGateway;

  before(async () => {
    tg = await startTestGateway({ rooms: 400, env: { CITYGATE_RATE_LIMITS: NO_RATE_LIMITS } });
  });
  after(async () => {
    await tg?.close();
  });

  it('an owner reads the core fields of its own dataset raw; no one else does', async () => {
    const q = `{ records(dataset: "critical-water-network", fields: ["pressure_mpa", "valve_control_code"], first: 2) {
      items { id values { field value masked } } } }`;
    const owner = await tg.token('water-authority', ['owner']);
    const r = await tg.gql(q, {}, { token: owner });
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    type Item = { values: { field: string; value: unknown; masked: string | null }[] };
    const items = (r.body.data?.records as { items: Item[] }).items;
    assert.ok(items.length > 0);
    for (const it of items) {
      const v = Object.fromEntries(it.values.map((x) => [x.field, x]));
      assert.equal(typeof v.pressure_mpa?.value, 'number', 'the value itself, unmasked');
      assert.equal(typeof v.valve_control_code?.value, 'string');
      assert.equal(v.valve_control_code?.masked, null);
    }
    // Another department's owner, an analyst of another department and the public stay refused.
    for (const token of [
      await tg.token('housing-construction', ['owner']),
      await tg.token('planning-bureau', ['analyst']),
      undefined,
    ]) {
      const refused = await tg.gql(q, {}, token ? { token } : {});
      assert.equal(errorCode(refused), 'FORBIDDEN');
    }
  });

  it('an anonymous caller opens its own receipt bundle with the receipt token, and nothing else with it', async () => {
    const first = await tg.gql(LICENCES);
    assert.equal(first.body.errors, undefined, JSON.stringify(first.body.errors));
    const receipt = first.body.extensions?.receipts?.[0];
    assert.ok(receipt?.token, 'every receipt carries its token');
    // Without the token: the bundle is not the anonymous caller's to read (anyone is "anonymous").
    assert.equal(errorCode(await tg.gql(BUNDLE, { i: receipt.index })), 'FORBIDDEN');
    const bundle = await tg.gql(BUNDLE, { i: receipt.index, t: receipt.token });
    assert.equal(bundle.body.errors, undefined, JSON.stringify(bundle.body.errors));
    const parsed = JSON.parse(bundle.body.data?.receiptBundle as string) as {
      receipt: { index: number; leafHash: string };
      record: { requester: { sub: string } };
    };
    assert.deepEqual(parsed.receipt, { index: receipt.index, leafHash: receipt.leafHash });
    assert.equal(parsed.record.requester.sub, 'anonymous');

    // Someone else's record: neither this token nor a made-up one opens it, and the answer is the same as for
    // an index that does not exist.
    const other = await tg.gql(LICENCES, {}, { token: await tg.token('planning-bureau', ['analyst']) });
    const theirs = other.body.extensions!.receipts![0]!;
    const answers = new Set<string>();
    for (const [i, t] of [
      [theirs.index, receipt.token],
      [theirs.index, theirs.token!.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'))],
      [theirs.index, theirs.leafHash],
      [10_000_000, receipt.token],
    ] as const) {
      const res = await tg.gql(BUNDLE, { i, t });
      assert.equal(errorCode(res), 'FORBIDDEN', `${i} ${t}`);
      answers.add(res.body.errors![0]!.message);
    }
    assert.equal(answers.size, 1, 'one answer for absent and not yours');
    // Their own token works for them, anonymously too (the token is the capability).
    const ok = await tg.gql(BUNDLE, { i: theirs.index, t: theirs.token });
    assert.equal(ok.body.errors, undefined);
  });

  it('an API-key consumer fetches its own receipt bundles by its key, not another consumer’s', async () => {
    const register = async (name: string) => {
      const r = await tg.gql(
        `mutation($n: String!) { registerConsumer(name: $n, email: "dev@example.org", intendedUse: "a bike map") { apiKey } }`,
        { n: name },
      );
      assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
      return (r.body.data?.registerConsumer as { apiKey: string }).apiKey;
    };
    const mine = await register('Bike map');
    const stranger = await register('Another map');
    const used = await tg.gql(LICENCES, {}, { apiKey: mine });
    const receipt = used.body.extensions!.receipts![0]!;
    const own = await tg.gql(BUNDLE, { i: receipt.index }, { apiKey: mine });
    assert.equal(own.body.errors, undefined, JSON.stringify(own.body.errors));
    assert.match(own.body.data?.receiptBundle as string, /"via":"api-key"/);
    assert.equal(errorCode(await tg.gql(BUNDLE, { i: receipt.index }, { apiKey: stranger })), 'FORBIDDEN');
  });
});
