/**
 * Pure, framework-free request limits for GraphQL operations (docs/graphql-limits.md).
 *
 * The gateway calls `countTokens` on the raw source before parsing and `checkOperation` on the parsed
 * document before execution. Both are cheap (linear in the size of the document, with fragment expansion
 * memoised and all counters saturating), never throw on a well-formed `DocumentNode`, and terminate on
 * documents that validation would reject (fragment cycles, unknown fragments, several anonymous operations).
 *
 * A refusal is a `LimitViolation`: error code `LIMIT_EXCEEDED`, the kind of limit, its maximum and the
 * measured value. Its message names the limit and the numbers only; it never quotes field, type or argument
 * names, so it is safe to show to any caller.
 */
import { Kind, Lexer, Source, TokenKind, visit } from 'graphql';
import type {
  ASTNode,
  DocumentNode,
  FieldNode,
  FragmentDefinitionNode,
  OperationDefinitionNode,
  SelectionSetNode,
  ValueNode,
} from 'graphql';

/** The stable error code every limit refusal carries (`extensions.code`). */
export const LIMIT_EXCEEDED = 'LIMIT_EXCEEDED' as const;

export const LIMIT_KINDS = [
  'depth',
  'aliases',
  'directives',
  'tokens',
  'fields',
  'cost',
  'introspection',
  'page-size',
] as const;
export type LimitKind = (typeof LIMIT_KINDS)[number];

/** Argument names treated as page sizes (for the page-size limit and the cost multiplier). */
export const PAGE_SIZE_ARGUMENTS: readonly string[] = ['first', 'limit', 'pageSize'];

export interface QueryLimits {
  /** Maximum selection-set nesting of the executed operation; a top-level field is depth 1. Fragment spreads and inline fragments add no depth of their own. */
  maxDepth: number;
  /** Maximum number of aliased field selections in the executed operation, fragments expanded. */
  maxAliases: number;
  /** Maximum number of directive uses anywhere in the document (operations and fragments, as written). */
  maxDirectives: number;
  /** Maximum number of lexical tokens in the source text (comments are not tokens). Checked before parsing. */
  maxTokens: number;
  /** Maximum number of field selections in the executed operation, fragments expanded, duplicates counted. */
  maxFields: number;
  /** Maximum estimated cost: 1 per field, a paginated field's sub-selection multiplied by its page size. */
  maxCost: number;
  /** Page size assumed for the cost of a field whose page-size argument is present but has no value (e.g. an unset variable). */
  defaultPageSize: number;
  /** Maximum value of any `first`, `limit` or `pageSize` argument, literal or variable. */
  maxPageSize: number;
}

/** The gateway defaults (docs/graphql-limits.md). */
export const DEFAULT_QUERY_LIMITS: Readonly<QueryLimits> = Object.freeze({
  maxDepth: 6,
  maxAliases: 15,
  maxDirectives: 50,
  maxTokens: 3000,
  maxFields: 200,
  maxCost: 50000,
  defaultPageSize: 50,
  maxPageSize: 1000,
});

/**
 * Saturation bound for every counter (fields, aliases, cost, page sizes). Fragment expansion can grow
 * exponentially; counters stop at this value instead of overflowing, so `actual` is at most this.
 */
export const COUNTER_CAP = Number.MAX_SAFE_INTEGER;

function describe(limit: LimitKind, max: number, actual: number): string {
  switch (limit) {
    case 'depth':
      return `query depth ${actual} exceeds the limit of ${max}`;
    case 'aliases':
      return `query uses ${actual} aliases, exceeding the limit of ${max}`;
    case 'directives':
      return `query uses ${actual} directives, exceeding the limit of ${max}`;
    case 'tokens':
      return `query token count exceeds the limit of ${max}`;
    case 'fields':
      return `query selects ${actual} fields, exceeding the limit of ${max}`;
    case 'cost':
      return `query cost ${actual} exceeds the limit of ${max}`;
    case 'introspection':
      return 'introspection is not allowed';
    case 'page-size':
      return `requested page size ${actual} exceeds the limit of ${max}`;
  }
}

/** A refused operation. `message` is fixed per limit and never contains schema names. */
export class LimitViolation extends Error {
  readonly code = LIMIT_EXCEEDED;
  readonly limit: LimitKind;
  /** The configured maximum (0 for introspection). */
  readonly max: number;
  /** The measured value (a lower bound for tokens: counting stops at max + 1; capped at COUNTER_CAP). */
  readonly actual: number;
  /** GraphQL error extensions; `GraphQLError` picks these up when this is its `originalError`. */
  readonly extensions: { code: typeof LIMIT_EXCEEDED; limit: LimitKind; max: number; actual: number };

  constructor(limit: LimitKind, max: number, actual: number) {
    super(describe(limit, max, actual));
    this.name = 'LimitViolation';
    this.limit = limit;
    this.max = max;
    this.actual = actual;
    this.extensions = { code: LIMIT_EXCEEDED, limit, max, actual };
  }
}

/**
 * Counts the lexical tokens of `source` with graphql's Lexer (the same tokens `parse` counts for its
 * `maxLexicalTokens` option; comments and the SOF/EOF markers are not tokens). Stops as soon as the count
 * exceeds `max`, so the result is at most `max + 1` and a huge input is only lexed up to that point.
 * On a lexical error the count so far is returned: the document is invalid and `parse` will report it.
 */
export function countTokens(source: string, max: number): number {
  const lexer = new Lexer(new Source(source));
  let count = 0;
  try {
    while (count <= max) {
      if (lexer.advance().kind === TokenKind.EOF) break;
      count++;
    }
  } catch {
    // Lexical (syntax) error: parsing will fail with a proper GraphQL syntax error.
  }
  return count;
}

/** The token check as a violation: null when `source` has at most `limits.maxTokens` tokens. */
export function checkTokens(source: string, limits: Pick<QueryLimits, 'maxTokens'>): LimitViolation | null {
  const count = countTokens(source, limits.maxTokens);
  return count > limits.maxTokens ? new LimitViolation('tokens', limits.maxTokens, count) : null;
}

export interface CheckOperationOptions {
  limits: QueryLimits;
  /** When false, any `__schema` or `__type` field anywhere in the document is refused (`__typename` is fine). */
  allowIntrospection: boolean;
  /** Request variables, used to resolve page-size arguments given as variables. */
  variables?: Record<string, unknown>;
  /** The operation to measure; may be omitted when the document has a single operation. */
  operationName?: string | null;
}

/**
 * Returns the first limit the operation breaks, or null. Order: introspection, depth, aliases, directives,
 * fields, page size, cost.
 *
 * Depth, aliases, fields, page size and cost are measured on the selected operation (by `operationName`,
 * or the only operation) with fragments expanded. When no single operation can be selected (several
 * operations and no or an unknown name; execution would refuse it anyway) every operation is measured.
 * Introspection and directives are checked over the whole document.
 */
export function checkOperation(document: DocumentNode, opts: CheckOperationOptions): LimitViolation | null {
  const { limits, allowIntrospection } = opts;
  const scan = scanDocument(document);
  if (!allowIntrospection && scan.introspectionFields > 0) {
    return new LimitViolation('introspection', 0, scan.introspectionFields);
  }

  const measured = selectOperations(document, opts.operationName).map((op) =>
    measureOperation(document, op, limits, opts.variables),
  );
  const exceeded = (pick: (m: Metrics) => number, max: number): number | null => {
    for (const m of measured) {
      const v = pick(m);
      if (v > max) return v;
    }
    return null;
  };

  const depth = exceeded((m) => m.depth, limits.maxDepth);
  if (depth !== null) return new LimitViolation('depth', limits.maxDepth, depth);
  const aliases = exceeded((m) => m.aliases, limits.maxAliases);
  if (aliases !== null) return new LimitViolation('aliases', limits.maxAliases, aliases);
  if (scan.directives > limits.maxDirectives) {
    return new LimitViolation('directives', limits.maxDirectives, scan.directives);
  }
  const fields = exceeded((m) => m.fields, limits.maxFields);
  if (fields !== null) return new LimitViolation('fields', limits.maxFields, fields);
  const page = exceeded((m) => m.maxPage, limits.maxPageSize);
  if (page !== null) return new LimitViolation('page-size', limits.maxPageSize, page);
  const cost = exceeded((m) => m.cost, limits.maxCost);
  if (cost !== null) return new LimitViolation('cost', limits.maxCost, cost);
  return null;
}

// ---------------------------------------------------------------------------------------------------------
// Internals. graphql's `visit` is iterative, so no pass below recurses on the shape of the document.

interface DocumentScan {
  introspectionFields: number;
  directives: number;
}

function scanDocument(document: DocumentNode): DocumentScan {
  let introspectionFields = 0;
  let directives = 0;
  visit(document, {
    Field(node) {
      const name = node.name.value;
      if (name === '__schema' || name === '__type') introspectionFields++;
    },
    Directive() {
      directives++;
    },
  });
  return { introspectionFields, directives };
}

function selectOperations(document: DocumentNode, operationName: string | null | undefined): OperationDefinitionNode[] {
  const operations = document.definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  if (operationName != null) {
    const named = operations.find((op) => op.name?.value === operationName);
    if (named) return [named];
  }
  // The only operation, or (ambiguous or unknown name) all of them.
  return operations;
}

/** Measurements of a selection set (or a field, fragment, operation), relative to where it is used. */
interface Metrics {
  depth: number;
  aliases: number;
  fields: number;
  cost: number;
  /** Largest page-size argument value seen; -Infinity when none. */
  maxPage: number;
}

const ZERO: Metrics = Object.freeze({ depth: 0, aliases: 0, fields: 0, cost: 0, maxPage: -Infinity });

const sat = (n: number): number => (n > COUNTER_CAP || Number.isNaN(n) ? COUNTER_CAP : n);

function toPageNumber(value: unknown): number | null {
  if (typeof value === 'number') return Number.isNaN(value) ? null : value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string' && /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(value)) return Number(value);
  return null;
}

function literalPageNumber(node: ValueNode): number | null {
  switch (node.kind) {
    case Kind.INT:
    case Kind.FLOAT:
    case Kind.STRING:
      return toPageNumber(node.value);
    default:
      return null;
  }
}

function measureOperation(
  document: DocumentNode,
  op: OperationDefinitionNode,
  limits: QueryLimits,
  variables: Record<string, unknown> | undefined,
): Metrics {
  // Variable values: the request's, else the operation's default.
  const variableValue = (name: string): number | null => {
    if (variables && Object.hasOwn(variables, name) && variables[name] !== undefined) {
      return toPageNumber(variables[name]);
    }
    const def = op.variableDefinitions?.find((d) => d.variable.name.value === name);
    return def?.defaultValue ? literalPageNumber(def.defaultValue) : null;
  };
  const pageArgument = (node: FieldNode): { present: boolean; value: number | null } => {
    let present = false;
    let value: number | null = null;
    for (const arg of node.arguments ?? []) {
      if (!PAGE_SIZE_ARGUMENTS.includes(arg.name.value)) continue;
      present = true;
      const v = arg.value.kind === Kind.VARIABLE ? variableValue(arg.value.name.value) : literalPageNumber(arg.value);
      if (v !== null && (value === null || v > value)) value = v;
    }
    return { present, value };
  };

  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) {
    if (d.kind === Kind.FRAGMENT_DEFINITION && !fragments.has(d.name.value)) fragments.set(d.name.value, d);
  }
  // Fragment metrics, filled in dependency order; a spread of a fragment not (yet) measured counts as empty
  // (unknown fragment, or a back edge of a cycle), which keeps every pass finite.
  const fragmentMetrics = new Map<string, Metrics>();

  const measureSelectionSet = (root: SelectionSetNode): Metrics => {
    const done = new Map<ASTNode, Metrics>();
    visit(root, {
      FragmentSpread: {
        leave(node) {
          done.set(node, fragmentMetrics.get(node.name.value) ?? ZERO);
        },
      },
      InlineFragment: {
        leave(node) {
          done.set(node, done.get(node.selectionSet) ?? ZERO);
        },
      },
      Field: {
        leave(node) {
          const sub = node.selectionSet ? (done.get(node.selectionSet) ?? ZERO) : ZERO;
          const page = pageArgument(node);
          let multiplier = 1;
          if (page.present) multiplier = Math.min(Math.max(1, page.value ?? limits.defaultPageSize), COUNTER_CAP);
          done.set(node, {
            depth: sub.depth + 1,
            aliases: sat(sub.aliases + (node.alias ? 1 : 0)),
            fields: sat(sub.fields + 1),
            cost: sat(1 + sat(multiplier * sub.cost)),
            maxPage: Math.max(sub.maxPage, page.value === null ? -Infinity : Math.min(page.value, COUNTER_CAP)),
          });
        },
      },
      SelectionSet: {
        leave(node) {
          const total = { ...ZERO };
          for (const selection of node.selections) {
            const m = done.get(selection) ?? ZERO;
            total.depth = Math.max(total.depth, m.depth);
            total.aliases = sat(total.aliases + m.aliases);
            total.fields = sat(total.fields + m.fields);
            total.cost = sat(total.cost + m.cost);
            total.maxPage = Math.max(total.maxPage, m.maxPage);
          }
          done.set(node, total);
        },
      },
    });
    return done.get(root) ?? ZERO;
  };

  for (const name of fragmentOrder(op, fragments)) {
    const fragment = fragments.get(name);
    if (fragment) fragmentMetrics.set(name, measureSelectionSet(fragment.selectionSet));
  }
  return measureSelectionSet(op.selectionSet);
}

function spreadNames(selectionSet: SelectionSetNode): string[] {
  const names: string[] = [];
  visit(selectionSet, {
    FragmentSpread(node) {
      names.push(node.name.value);
    },
  });
  return names;
}

/** Fragments reachable from `op`, dependencies first (iterative DFS; cycle back edges are dropped). */
function fragmentOrder(op: OperationDefinitionNode, fragments: Map<string, FragmentDefinitionNode>): string[] {
  const order: string[] = [];
  const seen = new Set<string>();
  const stack: { name: string; deps: string[]; next: number }[] = [];
  const push = (name: string): void => {
    const fragment = fragments.get(name);
    if (!fragment || seen.has(name)) return;
    seen.add(name);
    stack.push({ name, deps: spreadNames(fragment.selectionSet), next: 0 });
  };
  for (const root of spreadNames(op.selectionSet)) {
    push(root);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const dep = top.deps[top.next++];
      if (dep !== undefined) {
        push(dep);
      } else {
        order.push(top.name);
        stack.pop();
      }
    }
  }
  return order;
}
