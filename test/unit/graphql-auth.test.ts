import { execute, type GraphQLObjectType, type GraphQLResolveInfo, parse } from 'graphql';
import { describe, expect, test } from 'vitest';
import { type DomainError, UnauthorizedError } from '../../src/core/errors.js';
import type { GraphQLContext } from '../../src/graphql/builder.js';
import { schema } from '../../src/graphql/schema.js';

/** A request without a usable key: services are absent, so reaching any resolver would throw a TypeError. */
const keyless = (authError?: DomainError) => ({ auth: null, authError }) as unknown as GraphQLContext;

const rootFields = (type: GraphQLObjectType | null | undefined) =>
  Object.values(type!.getFields()).map((field) => [`${type!.name}.${field.name}`, type!, field] as const);

/** What a field's resolver (or a subscription's subscribe) does for a caller without a key. */
async function refusal(type: GraphQLObjectType, name: string, context: GraphQLContext): Promise<unknown> {
  const field = type.getFields()[name]!;
  const run = type === schema.getSubscriptionType() ? field.subscribe! : field.resolve!;
  const info = { parentType: type, fieldName: name, path: { key: name, prev: undefined } } as GraphQLResolveInfo;
  try {
    await run(undefined, {}, context, info);
  } catch (error) {
    return error;
  }
  throw new Error(`${type.name}.${name} ran without a key`);
}

describe('the root types need a key (ScopeAuth), with the refusal a hand check gave', () => {
  const roots = [
    ...rootFields(schema.getQueryType()),
    ...rootFields(schema.getMutationType()),
    ...rootFields(schema.getSubscriptionType()),
  ];

  test.each(roots)('%s: unauthorized without a key, before its resolver runs', async (_name, type, field) => {
    const error = await refusal(type, field.name, keyless());
    expect(error).toBeInstanceOf(UnauthorizedError);
    expect((error as DomainError).message).toBe(new UnauthorizedError().message);
  });

  test.each(roots)('%s: a refused key is refused with the reason authentication gave', async (_name, type, field) => {
    const revoked = new UnauthorizedError('The API key is unknown or revoked.');
    expect(await refusal(type, field.name, keyless(revoked))).toBe(revoked);
  });

  test('introspection needs no key (GraphiQL loads the schema without one)', async () => {
    const result = await execute({
      schema,
      document: parse('{ __typename __schema { queryType { name } } __type(name: "Contact") { name } }'),
      contextValue: keyless(),
    });
    expect(result).toEqual({
      data: { __typename: 'Query', __schema: { queryType: { name: 'Query' } }, __type: { name: 'Contact' } },
    });
  });
});
