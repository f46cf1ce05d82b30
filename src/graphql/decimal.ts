import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';

/**
 * Exact decimal amounts. Output is a string ("325.48") so no client parses money into a
 * float; input accepts a JSON number or a decimal string and the domain validates it.
 */
export const DecimalResolver = new GraphQLScalarType<number | string, string>({
  name: 'Decimal',
  description: 'An exact decimal number. Serialized as a string such as "325.48"; accepts numbers or decimal strings.',
  serialize: (value) => String(value),
  parseValue(value) {
    if (typeof value === 'number' || typeof value === 'string') return value;
    throw new GraphQLError('Decimal must be a number or a decimal string.');
  },
  parseLiteral(ast) {
    if (ast.kind === Kind.INT || ast.kind === Kind.FLOAT || ast.kind === Kind.STRING) return ast.value;
    throw new GraphQLError('Decimal must be a number or a decimal string.');
  },
});
