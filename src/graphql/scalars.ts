import { GraphQLError, GraphQLScalarType, Kind, type ValueNode } from 'graphql';

type ScalarValue = string | number | boolean | null;

function literal(ast: ValueNode): ScalarValue {
  switch (ast.kind) {
    case Kind.STRING:
      return ast.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(ast.value);
    case Kind.BOOLEAN:
      return ast.value;
    case Kind.NULL:
      return null;
    default:
      throw new GraphQLError('A Value is a string, number, boolean or null.');
  }
}

function scalarValue(v: unknown): ScalarValue {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  throw new GraphQLError('A Value is a string, finite number, boolean or null.');
}

/** A field value: string, number, boolean or null. */
export const ValueScalar = new GraphQLScalarType({
  name: 'Value',
  description: 'A field value: a string, a number, a boolean or null.',
  serialize: scalarValue,
  parseValue: scalarValue,
  parseLiteral: literal,
});

/** A GeoJSON geometry object (output only). */
export const GeoJSONScalar = new GraphQLScalarType({
  name: 'GeoJSON',
  description: 'A GeoJSON geometry object.',
  serialize: (v) => v,
  parseValue: () => {
    throw new GraphQLError('GeoJSON is an output type.');
  },
  parseLiteral: () => {
    throw new GraphQLError('GeoJSON is an output type.');
  },
});
