import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { GraphQLError, Kind, parse } from 'graphql';
import type {
  DocumentNode,
  FragmentDefinitionNode,
  OperationDefinitionNode,
  SelectionSetNode,
  ValueNode,
} from 'graphql';
import {
  COUNTER_CAP,
  DEFAULT_QUERY_LIMITS,
  LIMIT_EXCEEDED,
  LIMIT_KINDS,
  LimitViolation,
  checkOperation,
  checkTokens,
  countTokens,
} from './query-limits.js';
import type { LimitKind, QueryLimits } from './query-limits.js';

const limits: QueryLimits = { ...DEFAULT_QUERY_LIMITS };

function check(
  source: string,
  opts: {
    allowIntrospection?: boolean;
    variables?: Record<string, unknown>;
    operationName?: string | null;
    limits?: Partial<QueryLimits>;
  } = {},
): LimitViolation | null {
  return checkOperation(parse(source), {
    limits: { ...limits, ...opts.limits },
    allowIntrospection: opts.allowIntrospection ?? false,
    variables: opts.variables,
    operationName: opts.operationName,
  });
}

function assertViolation(result: LimitViolation | null, limit: LimitKind, max: number, actual: number): void {
  assert.ok(result instanceof LimitViolation, `expected a ${limit} violation, got null`);
  assert.deepEqual({ limit: result.limit, max: result.max, actual: result.actual }, { limit, max, actual });
  assert.equal(result.code, LIMIT_EXCEEDED);
  assert.deepEqual(result.extensions, { code: 'LIMIT_EXCEEDED', limit, max, actual });
}

/** `{ f1 { f2 { ... fN } } }` */
function nested(depth: number): string {
  let s = `f${depth}`;
  for (let i = depth - 1; i >= 1; i--) s = `f${i} { ${s} }`;
  return `{ ${s} }`;
}

function repeat(n: number, f: (i: number) => string): string {
  return Array.from({ length: n }, (_, i) => f(i)).join(' ');
}

describe('DEFAULT_QUERY_LIMITS', () => {
  it('has the documented defaults', () => {
    assert.deepEqual(
      { ...DEFAULT_QUERY_LIMITS },
      {
        maxDepth: 6,
        maxAliases: 15,
        maxDirectives: 50,
        maxTokens: 3000,
        maxFields: 200,
        maxCost: 50000,
        defaultPageSize: 50,
        maxPageSize: 1000,
      },
    );
    assert.ok(Object.isFrozen(DEFAULT_QUERY_LIMITS));
  });
});

describe('LimitViolation', () => {
  it('carries code, limit, numbers and a fixed message', () => {
    const v = new LimitViolation('depth', 6, 7);
    assert.ok(v instanceof Error);
    assert.equal(v.name, 'LimitViolation');
    assert.equal(v.message, 'query depth 7 exceeds the limit of 6');
    assertViolation(v, 'depth', 6, 7);
  });

  it('passes its extensions to a GraphQLError wrapping it', () => {
    const v = new LimitViolation('cost', 50000, 102001);
    const err = new GraphQLError(v.message, { originalError: v });
    assert.equal(err.extensions['code'], 'LIMIT_EXCEEDED');
    assert.equal(err.extensions['limit'], 'cost');
  });

  it('never names schema elements in its message', () => {
    const secret = 'secretPayroll';
    const attacks: [string, Record<string, unknown>?][] = [
      [`{ ${secret}: __type(name: "${secret}") { name } }`],
      [`{ ${secret} { ${secret} { ${secret} { ${secret} { ${secret} { ${secret} { ${secret} } } } } } } }`],
      [`{ ${repeat(16, (i) => `${secret}${i}: ${secret}`)} }`],
      [`{ ${repeat(51, (i) => `${secret}${i} @include(if: true)`)} }`],
      [`{ ${repeat(201, () => secret)} }`],
      [`query($${secret}: Int) { ${secret}(first: $${secret}) { id } }`, { [secret]: 5000 }],
      [`{ ${secret}(first: 1000) { ${secret}(first: 1000) { id } } }`],
    ];
    const seen = new Set<LimitKind>();
    for (const [source, variables] of attacks) {
      const v = check(source, { variables });
      assert.ok(v);
      seen.add(v.limit);
      assert.ok(!v.message.includes(secret), v.message);
      assert.ok(!v.message.includes('__type'), v.message);
    }
    assert.equal(seen.size, attacks.length);
  });
});

describe('countTokens / checkTokens', () => {
  it('counts lexical tokens, not comments', () => {
    assert.equal(countTokens('{ a(first: 10) { b } }', 100), 11);
    assert.equal(countTokens('# a comment\n{ a } # another', 100), 3);
    assert.equal(countTokens('', 100), 0);
  });

  it('stops at max + 1', () => {
    assert.equal(countTokens('{ a b c d e }', 3), 4);
    assert.equal(countTokens('{ a b c d e }', 7), 7);
  });

  it('returns the count so far on a lexical error instead of throwing', () => {
    assert.equal(countTokens('{ a "unterminated', 100), 2);
    assert.equal(countTokens('{ a ~ b }', 100), 2);
  });

  it('refuses a 100k-token bomb quickly, lexing only max + 1 tokens', () => {
    const bomb = `{ ${'a '.repeat(100_000)}}`;
    const huge = `{ ${'a '.repeat(2_000_000)}}`;
    const t0 = performance.now();
    const count = countTokens(bomb, limits.maxTokens);
    const hugeCount = countTokens(huge, limits.maxTokens);
    const elapsed = performance.now() - t0;
    assert.equal(count, 3001);
    assert.equal(hugeCount, 3001);
    assert.ok(elapsed < 250, `took ${elapsed.toFixed(1)} ms`);
    assertViolation(checkTokens(bomb, limits), 'tokens', 3000, 3001);
  });

  it('agrees with parse(maxLexicalTokens) at the boundary', () => {
    const atLimit = `{ ${'a '.repeat(2998)}}`; // 3000 tokens
    const overLimit = `{ ${'a '.repeat(2999)}}`; // 3001 tokens
    assert.equal(checkTokens(atLimit, limits), null);
    parse(atLimit, { maxLexicalTokens: 3000 });
    assertViolation(checkTokens(overLimit, limits), 'tokens', 3000, 3001);
    assert.throws(() => parse(overLimit, { maxLexicalTokens: 3000 }), GraphQLError);
  });
});

describe('introspection', () => {
  const schemaQuery = '{ __schema { queryType { name } } }';

  it('refuses __schema unless allowed', () => {
    assertViolation(check(schemaQuery), 'introspection', 0, 1);
    assert.equal(check(schemaQuery, { allowIntrospection: true }), null);
  });

  it('refuses __type, also aliased', () => {
    assertViolation(check('{ t: __type(name: "Dataset") { name } }'), 'introspection', 0, 1);
  });

  it('refuses __schema hidden in a fragment', () => {
    const q = 'query { id ...Meta } fragment Meta on Query { __schema { types { name } } }';
    assertViolation(check(q), 'introspection', 0, 1);
    assert.equal(check(q, { allowIntrospection: true }), null);
  });

  it('refuses __schema hidden in an inline fragment, and in nested fragments', () => {
    assertViolation(check('{ ... on Query { __schema { types { name } } } }'), 'introspection', 0, 1);
    assertViolation(
      check('{ a { ...A } } fragment A on T { ... on T { ...B } } fragment B on T { x: __type(name: "X") { name } }'),
      'introspection',
      0,
      1,
    );
  });

  it('always allows __typename, and an alias that merely looks like introspection', () => {
    assert.equal(check('{ __typename records { __typename id } }'), null);
    assert.equal(check('{ __schema: name __type: id }'), null);
  });

  it('is checked before every other limit', () => {
    assertViolation(check(`{ __schema { types { name } } ${repeat(300, () => 'id')} }`), 'introspection', 0, 1);
  });
});

describe('depth', () => {
  it('refuses depth 7 and accepts depth 6', () => {
    assertViolation(check(nested(7)), 'depth', 6, 7);
    assert.equal(check(nested(6)), null);
  });

  it('counts depth through fragment spreads and inline fragments (which add no depth)', () => {
    const seven =
      '{ a { ...F } } fragment F on T { b { ... on T { c { ...G } } } } fragment G on T { d { e { ... { f { g } } } } }';
    assertViolation(check(seven), 'depth', 6, 7);
    const six = '{ a { ...F } } fragment F on T { b { ... on T { c { ...G } } } } fragment G on T { d { e { f } } }';
    assert.equal(check(six), null);
  });

  it('counts the depth of the deepest branch', () => {
    assertViolation(check(`{ id name ${nested(8).slice(1, -1)} other }`), 'depth', 6, 8);
  });

  it('terminates on fragment cycles', () => {
    const cyclic = [
      'query { ...A } fragment A on T { a ...B } fragment B on T { b { ...A } }',
      'query { ...A } fragment A on T { a { ...A } }',
      'query { x { ...A ...B } } fragment A on T { ...B } fragment B on T { ...C } fragment C on T { ...A y }',
    ];
    for (const q of cyclic) assert.equal(check(q), null, q);
    // Still measured: a cycle does not hide what is around it.
    assertViolation(check(`query { ...A } fragment A on T { f1 { ...A } ${nested(7).slice(1, -1)} }`), 'depth', 6, 7);
  });

  it('does not overflow the stack on a long fragment chain', () => {
    const n = 20_000;
    const source = `{ ...F0 } ${repeat(n, (i) => `fragment F${i} on T { ${i === n - 1 ? 'leaf' : `...F${i + 1}`} }`)}`;
    assert.equal(check(source), null);
  });
});

describe('aliases', () => {
  it('refuses 16 aliases and accepts 15', () => {
    assertViolation(check(`{ ${repeat(16, (i) => `a${i}: id`)} }`), 'aliases', 15, 16);
    assert.equal(check(`{ ${repeat(15, (i) => `a${i}: id`)} }`), null);
  });

  it('counts aliases in fragments each time they are spread, and at any depth', () => {
    const frag = `fragment F on T { ${repeat(8, (i) => `a${i}: id`)} }`;
    assertViolation(check(`{ x { ...F } y { ...F } } ${frag}`), 'aliases', 15, 16);
    assertViolation(check(`{ x { ... on T { ${repeat(16, (i) => `a${i}: id`)} } } }`), 'aliases', 15, 16);
  });
});

describe('directives', () => {
  it('refuses 51 directives and accepts 50', () => {
    assertViolation(check(`{ ${repeat(51, (i) => `f${i} @include(if: true)`)} }`), 'directives', 50, 51);
    assert.equal(check(`{ ${repeat(50, (i) => `f${i} @include(if: true)`)} }`), null);
  });

  it('counts repeated directives on one field', () => {
    assertViolation(check(`{ id ${'@include(if: true) '.repeat(51)}}`), 'directives', 50, 51);
  });

  it('counts directives over the whole document, not just the selected operation', () => {
    const source = `query A { id } query B { ${repeat(51, (i) => `f${i} @skip(if: false)`)} }`;
    assertViolation(check(source, { operationName: 'A' }), 'directives', 50, 51);
  });
});

describe('fields', () => {
  it('refuses 500 copies of the same field and accepts 200', () => {
    assertViolation(check(`{ ${'id '.repeat(500)}}`), 'fields', 200, 500);
    assert.equal(check(`{ ${'id '.repeat(200)}}`), null);
  });

  it('expands fragments, counting duplicates', () => {
    // 4 spreads x (50 x id) + 4 wrapper fields = 204
    const source = `{ ${repeat(4, (i) => `w${i} { ...F }`)} } fragment F on T { ${'id '.repeat(50)}}`;
    assertViolation(check(source), 'fields', 200, 204);
  });

  it('caps an exponential fragment bomb instead of blowing up', () => {
    // F0 = { a a }, Fi = { ...F(i-1) ...F(i-1) }: F70 expands to 2^71 fields.
    const source = `{ ...F70 } fragment F0 on T { a a } ${repeat(70, (i) => `fragment F${i + 1} on T { ...F${i} ...F${i} }`)}`;
    const t0 = performance.now();
    const result = check(source);
    assert.ok(performance.now() - t0 < 250);
    assertViolation(result, 'fields', 200, COUNTER_CAP);
  });
});

describe('page size', () => {
  it('refuses a page size from a variable above the max', () => {
    const q = 'query Q($n: Int) { records(first: $n) { id } }';
    assertViolation(check(q, { variables: { n: 5000 } }), 'page-size', 1000, 5000);
    assert.equal(check(q, { variables: { n: 1000 } }), null);
    assert.equal(check(q, { variables: {} }), null);
    assert.equal(check(q), null);
  });

  it('uses the variable default when no value is given, and an explicit null overrides it', () => {
    const q = 'query Q($n: Int = 2000) { records(limit: $n) { id } }';
    assertViolation(check(q), 'page-size', 1000, 2000);
    assertViolation(check(q, { variables: { n: 3000 } }), 'page-size', 1000, 3000);
    assert.equal(check(q, { variables: { n: 10 } }), null);
    assert.equal(check(q, { variables: { n: null } }), null);
  });

  it('refuses literal first/limit/pageSize above the max, and numeric strings', () => {
    assertViolation(check('{ records(limit: 1001) { id } }'), 'page-size', 1000, 1001);
    assertViolation(check('{ records(first: 1e6) { id } }'), 'page-size', 1000, 1e6);
    assertViolation(check('{ a { b { records(pageSize: 5000) } } }'), 'page-size', 1000, 5000);
    assertViolation(
      check('query Q($n: String) { records(pageSize: $n) { id } }', { variables: { n: '5000' } }),
      'page-size',
      1000,
      5000,
    );
    assert.equal(check('{ records(pageSize: 1000) { id } }'), null);
    assert.equal(check('{ records(offset: 100000, size: 5000) { id } }'), null);
  });

  it('finds page sizes inside fragments', () => {
    assertViolation(
      check('query Q($n: Int) { ...F } fragment F on Query { records(first: $n) { id } }', { variables: { n: 1001 } }),
      'page-size',
      1000,
      1001,
    );
  });
});

describe('cost', () => {
  it('multiplies nested pages: records(first: 1000) { items { related(first: 100) { id } } }', () => {
    // 1 + 1000 * (items 1 + (related 1 + 100 * id 1)) = 102001
    assertViolation(check('{ records(first: 1000) { items { related(first: 100) { id } } } }'), 'cost', 50000, 102001);
    // 1 + 10 * (1 + 1 + 100) = 1021
    assert.equal(check('{ records(first: 10) { items { related(first: 100) { id } } } }'), null);
  });

  it('costs 1 per field when there is no page argument', () => {
    assertViolation(check('{ a { b c } d }', { limits: { maxCost: 3 } }), 'cost', 3, 4);
  });

  it('multiplies page sizes given by variables and inside fragments', () => {
    const q =
      'query Q($n: Int) { records(first: $n) { ...Item } } fragment Item on R { related(first: 100) { id name } }';
    // 1 + 600 * (1 + 100 * 2) = 120601
    assertViolation(check(q, { variables: { n: 600 } }), 'cost', 50000, 120601);
  });

  it('uses defaultPageSize when the page argument is present but has no value', () => {
    // 1 + 50 * 2 = 101
    assertViolation(
      check('query Q($n: Int) { records(first: $n) { id name } }', { limits: { maxCost: 100 } }),
      'cost',
      100,
      101,
    );
  });

  it('caps the computation on exponential fragment expansion', () => {
    const source = `{ ...F40 } fragment F0 on T { a(first: 1000) { id } } ${repeat(40, (i) => `fragment F${i + 1} on T { x(first: 1000) { ...F${i} } }`)}`;
    const result = check(source, { limits: { maxDepth: 100 } });
    assertViolation(result, 'cost', 50000, COUNTER_CAP);
  });
});

describe('operation selection', () => {
  const doc = `query Small { id } query Big ${nested(7)}`;

  it('measures only the selected operation', () => {
    assert.equal(check(doc, { operationName: 'Small' }), null);
    assertViolation(check(doc, { operationName: 'Big' }), 'depth', 6, 7);
  });

  it('measures every operation when none can be selected', () => {
    assertViolation(check(doc), 'depth', 6, 7);
    assertViolation(check(doc, { operationName: 'Unknown' }), 'depth', 6, 7);
  });

  it('reports the first violation in the documented order', () => {
    // depth 7 and 16 aliases: depth first
    const both = `{ ${repeat(16, (i) => `a${i}: id`)} ${nested(7).slice(1, -1)} }`;
    assert.equal(check(both)?.limit, 'depth');
    // 16 aliases and 500 fields: aliases first
    assert.equal(check(`{ ${repeat(16, (i) => `a${i}: id`)} ${'id '.repeat(500)}}`)?.limit, 'aliases');
    // 500 fields and a page of 5000: fields first
    assert.equal(check(`{ records(first: 5000) { id } ${'id '.repeat(500)}}`)?.limit, 'fields');
    // page of 5000 that is also too costly (1 + 5000 * 101): page size first
    assert.equal(check('{ records(first: 5000) { a(first: 100) { b } } }')?.limit, 'page-size');
    assert.equal(check('{ records(first: 1000) { a(first: 100) { b } } }')?.limit, 'cost');
  });
});

// ---------------------------------------------------------------------------------------------------------
// Property-based checks.

const FIELD_NAMES = ['id', 'name', 'records', 'items', 'related', '__typename', '__schema', '__type', 'secretField'];
const FRAGMENTS = ['F0', 'F1', 'F2'];

/** Random syntactically valid selection sets; `spreadable` are the fragment names that may be spread. */
function selectionSetArb(depth: number, spreadable: readonly string[]): fc.Arbitrary<string> {
  const alias = fc.option(fc.constantFrom('a', 'b', 'c'), { nil: undefined });
  const arg = fc.option(
    fc.tuple(
      fc.constantFrom('first', 'limit', 'pageSize', 'offset'),
      fc.oneof(fc.integer({ min: -5, max: 3000 }).map(String), fc.constantFrom('$n', 'null', '"12"', '1.5e3', 'ALL')),
    ),
    { nil: undefined },
  );
  const directive = fc.option(fc.constantFrom('@include(if: true)', '@skip(if: $flag)', '@custom'), { nil: undefined });
  const field = (sub: fc.Arbitrary<string> | null): fc.Arbitrary<string> =>
    fc
      .tuple(alias, fc.constantFrom(...FIELD_NAMES), arg, directive, sub ?? fc.constant(''))
      .map(([a, name, ar, d, s]) => `${a ? `${a}: ` : ''}${name}${ar ? `(${ar[0]}: ${ar[1]})` : ''} ${d ?? ''} ${s}`);
  const choices: fc.Arbitrary<string>[] = [field(null)];
  if (spreadable.length > 0) {
    choices.push(fc.tuple(fc.constantFrom(...spreadable), directive).map(([n, d]) => `...${n} ${d ?? ''}`));
  }
  if (depth > 0) {
    const sub = selectionSetArb(depth - 1, spreadable);
    choices.push(
      field(sub),
      sub.map((s) => `... on T ${s}`),
      sub.map((s) => `... ${s}`),
    );
  }
  return fc.array(fc.oneof(...choices), { minLength: 1, maxLength: 4 }).map((s) => `{ ${s.join(' ')} }`);
}

/** Operation + fragments; fragments may spread each other in any way (cycles included). */
const anyDocumentArb = fc
  .tuple(
    selectionSetArb(3, FRAGMENTS),
    fc.array(selectionSetArb(2, [...FRAGMENTS, 'Missing']), { minLength: 3, maxLength: 3 }),
    fc.boolean(),
  )
  .map(
    ([op, frags, named]) =>
      `query ${named ? 'Q' : ''}($n: Int = 20, $flag: Boolean = false) ${op} ` +
      frags.map((f, i) => `fragment F${i} on T ${f}`).join(' '),
  );

/** Operation + acyclic fragments: Fi may only spread Fj with j < i. */
const acyclicDocumentArb = fc
  .tuple(
    selectionSetArb(3, FRAGMENTS),
    selectionSetArb(2, []),
    selectionSetArb(2, ['F0']),
    selectionSetArb(2, ['F0', 'F1']),
  )
  .map(
    ([op, f0, f1, f2]) =>
      `query Q($n: Int = 20, $flag: Boolean = false) ${op} fragment F0 on T ${f0} fragment F1 on T ${f1} fragment F2 on T ${f2}`,
  );

const limitsArb: fc.Arbitrary<QueryLimits> = fc.record({
  maxDepth: fc.integer({ min: 0, max: 8 }),
  maxAliases: fc.integer({ min: 0, max: 20 }),
  maxDirectives: fc.integer({ min: 0, max: 20 }),
  maxTokens: fc.integer({ min: 0, max: 3000 }),
  maxFields: fc.integer({ min: 0, max: 100 }),
  maxCost: fc.integer({ min: 0, max: 100_000 }),
  defaultPageSize: fc.integer({ min: 0, max: 100 }),
  maxPageSize: fc.integer({ min: 0, max: 2000 }),
});

const variablesArb = fc.option(
  fc.record(
    {
      n: fc.oneof(
        fc.integer({ min: -10, max: 5000 }),
        fc.constant(null),
        fc.string(),
        fc.double(),
        fc.constant(undefined),
      ),
    },
    { requiredKeys: [] },
  ),
  { nil: undefined },
);

const HUGE: QueryLimits = {
  maxDepth: COUNTER_CAP,
  maxAliases: COUNTER_CAP,
  maxDirectives: COUNTER_CAP,
  maxTokens: COUNTER_CAP,
  maxFields: COUNTER_CAP,
  maxCost: COUNTER_CAP,
  defaultPageSize: 50,
  maxPageSize: COUNTER_CAP,
};

/** Naive reference: expands fragments recursively (acyclic documents only). */
function reference(
  doc: DocumentNode,
  variables: Record<string, unknown> | undefined,
  defaultPageSize: number,
): { depth: number; aliases: number; fields: number; cost: number; directives: number } {
  const op = doc.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
  const frags = new Map(
    doc.definitions
      .filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION)
      .map((d) => [d.name.value, d]),
  );
  const num = (v: ValueNode): number | null => {
    if (v.kind === Kind.INT || v.kind === Kind.FLOAT || v.kind === Kind.STRING) {
      return /^-?[\d.e+]+$/.test(v.value) ? Number(v.value) : null;
    }
    if (v.kind === Kind.VARIABLE) {
      const given = variables?.[v.name.value];
      if (given !== undefined) return typeof given === 'number' && !Number.isNaN(given) ? given : null;
      const def = op.variableDefinitions?.find((d) => d.variable.name.value === v.name.value)?.defaultValue;
      return def ? num(def) : null;
    }
    return null;
  };
  const walk = (set: SelectionSetNode): { depth: number; aliases: number; fields: number; cost: number } => {
    const t = { depth: 0, aliases: 0, fields: 0, cost: 0 };
    for (const s of set.selections) {
      let m: { depth: number; aliases: number; fields: number; cost: number };
      if (s.kind === Kind.FIELD) {
        const sub = s.selectionSet ? walk(s.selectionSet) : { depth: 0, aliases: 0, fields: 0, cost: 0 };
        const pages = (s.arguments ?? []).filter((a) => ['first', 'limit', 'pageSize'].includes(a.name.value));
        const values = pages.map((a) => num(a.value)).filter((x): x is number => x !== null);
        const mult = pages.length === 0 ? 1 : Math.max(1, values.length ? Math.max(...values) : defaultPageSize);
        m = {
          depth: sub.depth + 1,
          aliases: sub.aliases + (s.alias ? 1 : 0),
          fields: sub.fields + 1,
          cost: 1 + mult * sub.cost,
        };
      } else if (s.kind === Kind.INLINE_FRAGMENT) {
        m = walk(s.selectionSet);
      } else {
        const f = frags.get(s.name.value);
        m = f ? walk(f.selectionSet) : { depth: 0, aliases: 0, fields: 0, cost: 0 };
      }
      t.depth = Math.max(t.depth, m.depth);
      t.aliases += m.aliases;
      t.fields += m.fields;
      t.cost += m.cost;
    }
    return t;
  };
  let directives = 0;
  JSON.stringify(doc, (key, value: unknown) => {
    if (key === 'directives' && Array.isArray(value)) directives += value.length;
    return value;
  });
  return { ...walk(op.selectionSet), directives };
}

describe('properties (fast-check)', () => {
  it('random valid small queries never throw: null or a well-formed LimitViolation', () => {
    fc.assert(
      fc.property(
        anyDocumentArb,
        limitsArb,
        fc.boolean(),
        variablesArb,
        fc.constantFrom(undefined, null, 'Q', 'Other'),
        (source, lim, allowIntrospection, variables, operationName) => {
          const result = checkOperation(parse(source), { limits: lim, allowIntrospection, variables, operationName });
          if (result === null) return;
          assert.ok(result instanceof LimitViolation);
          assert.ok(LIMIT_KINDS.includes(result.limit));
          assert.ok(result.actual > result.max, `${result.limit}: ${result.actual} <= ${result.max}`);
          assert.ok(result.actual <= COUNTER_CAP);
          assert.equal(result.code, LIMIT_EXCEEDED);
          assert.ok(!result.message.includes('secretField'));
          if (allowIntrospection) assert.notEqual(result.limit, 'introspection');
        },
      ),
      { numRuns: 500 },
    );
  });

  it('with unbounded limits and introspection allowed, nothing is refused', () => {
    fc.assert(
      fc.property(anyDocumentArb, variablesArb, (source, variables) => {
        assert.equal(checkOperation(parse(source), { limits: HUGE, allowIntrospection: true, variables }), null);
      }),
      { numRuns: 300 },
    );
  });

  it('measures depth, aliases, directives, fields and cost like a naive fragment expansion (acyclic)', () => {
    const numericVariables = fc.option(fc.record({ n: fc.integer({ min: 0, max: 50 }) }), { nil: undefined });
    fc.assert(
      fc.property(acyclicDocumentArb, numericVariables, (source, variables) => {
        const doc = parse(source);
        const expected = reference(doc, variables, HUGE.defaultPageSize);
        const measure = (kind: LimitKind, override: Partial<QueryLimits>): number => {
          const r = checkOperation(doc, { limits: { ...HUGE, ...override }, allowIntrospection: true, variables });
          if (r === null) return 0;
          assert.equal(r.limit, kind);
          return r.actual;
        };
        assert.equal(measure('depth', { maxDepth: 0 }), expected.depth);
        assert.equal(measure('aliases', { maxAliases: 0 }), expected.aliases);
        assert.equal(measure('directives', { maxDirectives: 0 }), expected.directives);
        assert.equal(measure('fields', { maxFields: 0 }), expected.fields);
        assert.equal(measure('cost', { maxCost: 0 }), Math.min(expected.cost, COUNTER_CAP));
      }),
      { numRuns: 300 },
    );
  });
});
