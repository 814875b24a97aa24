import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildSchema, getNamedType, isObjectType, type GraphQLNamedType, type GraphQLSchema } from 'graphql';
import { REPO_ROOT } from '../../src/config/config.js';
import { DATA_BEARING_TYPES, GOVERNED_FIELDS, METADATA_FIELDS, RELEASED_FIELDS } from '../../src/graphql/governed.js';
import { generateSchemaSdl } from '../../src/graphql/schema.js';
import { startTestGateway, type TestGateway } from '../support/test-gateway.js';

/** Named types reachable from a type through object fields. */
function reachable(schema: GraphQLSchema, from: GraphQLNamedType): Set<string> {
  const seen = new Set<string>();
  const stack = [from];
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (seen.has(t.name)) continue;
    seen.add(t.name);
    if (isObjectType(t)) for (const f of Object.values(t.getFields())) stack.push(getNamedType(f.type));
  }
  return seen;
}

describe('one enforcement point', () => {
  let sdl: string;
  let schema: GraphQLSchema;
  before(async () => {
    sdl = await generateSchemaSdl();
    schema = buildSchema(sdl);
  });

  it('the committed schema.gql matches the resolvers', () => {
    const committed = fs.readFileSync(path.join(REPO_ROOT, 'schema.gql'), 'utf8');
    assert.equal(committed, sdl, 'run npm run schema and commit schema.gql');
  });

  it('every root field that reaches a data-bearing type is governed; the rest are declared metadata', () => {
    const roots = [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].filter(
      (t) => t !== null && t !== undefined,
    );
    assert.ok(roots.length >= 1);
    const dataTypes = new Set(DATA_BEARING_TYPES);
    for (const root of roots) {
      for (const [name, field] of Object.entries(root.getFields())) {
        const reach = reachable(schema, getNamedType(field.type));
        const touchesData = [...reach].some((t) => dataTypes.has(t));
        if (GOVERNED_FIELDS.has(name) || RELEASED_FIELDS.has(name)) {
          assert.ok(touchesData, `${name} is marked governed but returns no data-bearing type`);
          assert.ok(!(GOVERNED_FIELDS.has(name) && RELEASED_FIELDS.has(name)), `${name} is marked twice`);
        } else {
          assert.ok(name in METADATA_FIELDS, `${root.name}.${name} is neither governed nor declared metadata`);
          assert.ok(!touchesData, `${root.name}.${name} reaches a data-bearing type without a decision`);
        }
      }
    }
  });

  it('the walk itself catches an ungoverned data field (a schema with a leak fails)', () => {
    const leaky = buildSchema(sdl.replace('type Query {', 'type Query {\n  leak: RecordPage!'));
    const field = leaky.getQueryType()!.getFields().leak!;
    assert.ok(!GOVERNED_FIELDS.has('leak') && !RELEASED_FIELDS.has('leak'));
    assert.ok([...reachable(leaky, getNamedType(field.type))].some((t) => DATA_BEARING_TYPES.includes(t)));
  });

  describe('at run time', () => {
    let t: TestGateway;
    before(async () => {
      t = await startTestGateway({ rooms: 500 });
    });
    after(async () => {
      await t?.close();
    });

    it('every governed field, allowed or refused, appends exactly one provenance record', async () => {
      const calls: Record<string, string> = {
        records: '{ records(dataset: "public-facilities", fields: ["name"], first: 1) { items { id } } }',
        aggregate:
          '{ aggregate(dataset: "business-licences", groupBy: { level: district }, measures: [{ fn: count }]) { total { count } } }',
      };
      const refused: Record<string, string> = {
        records: '{ records(dataset: "residents-per-room", fields: ["tenure"]) { items { id } } }',
        aggregate:
          '{ aggregate(dataset: "elderly-living-alone", groupBy: { level: district }, measures: [{ fn: count }]) { total { count } } }',
      };
      // Encrypted aggregates are never open to the public: the allowed call is the owner's (no upload: logged, unreleased).
      const encrypted =
        '{ encryptedAggregate(dataset: "building-energy", column: "electricity_kwh", kind: "sum") { computationId } }';
      calls.encryptedAggregate = encrypted;
      refused.encryptedAggregate = encrypted;
      // DP aggregates: the public may count by district (from the DP release), not by building.
      calls.privateAggregate =
        '{ privateAggregate(datasetId: "residents-per-room", measure: COUNT, groupBy: district) { cells { value } } }';
      refused.privateAggregate =
        '{ privateAggregate(datasetId: "residents-per-room", measure: COUNT, groupBy: building) { cells { value } } }';
      const asOwner = { token: await t.token('housing-construction', ['owner']) };
      assert.deepEqual(Object.keys(calls).sort(), [...GOVERNED_FIELDS].sort());
      // The first public aggregate of a dataset with small-cell protection publishes its statistical release: one
      // record of its own, logged before the answer's, and never again for the same data.
      // So does the first public privateAggregate of a DP dataset (its DP release).
      for (const warm of [calls.aggregate!, calls.privateAggregate]) {
        const start = await t.gw.log.size();
        await t.gql(warm);
        assert.equal(await t.gw.log.size(), start + 2);
        assert.equal((await t.gw.log.get(start))!.record.kind, 'statistical-release');
        assert.equal((await t.gw.log.get(start + 1))!.record.kind, 'access');
      }
      for (const name of GOVERNED_FIELDS) {
        for (const [i, q] of [calls[name]!, refused[name]!].entries()) {
          const before = await t.gw.log.size();
          const r = await t.gql(q, undefined, name === 'encryptedAggregate' && i === 0 ? asOwner : {});
          assert.equal(await t.gw.log.size(), before + 1, `${name}: ${r.raw.slice(0, 200)}`);
          assert.equal(r.body.extensions?.receipts?.length, 1);
        }
      }
    });
  });
});
