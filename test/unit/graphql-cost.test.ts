import { buildSchema, parse } from 'graphql';
import { describe, expect, test } from 'vitest';
import { DomainError } from '../../src/core/errors.js';
import { operationCost } from '../../src/graphql/cost.js';

const schema = buildSchema(`
  type Query { viewer: Viewer contacts(first: Int, after: String, last: Int, before: String): ContactConnection!
               endpoints(first: Int): EndpointConnection! contact(id: ID!): Contact events(first: Int): EventConnection! }
  type Mutation { createContact(email: String): Contact! }
  type Viewer { name: String }
  type Contact { id: ID! email: String }
  type ContactConnection { edges: [ContactEdge!]! pageInfo: PageInfo! }
  type ContactEdge { cursor: String! node: Contact! }
  type PageInfo { hasNextPage: Boolean! }
  type Endpoint { id: ID! deliveries(first: Int): DeliveryConnection! }
  type EndpointConnection { edges: [EndpointEdge!]! }
  type EndpointEdge { node: Endpoint! }
  type Delivery { id: ID! attempts: [Attempt!]! }
  type Attempt { statusCode: Int }
  type DeliveryConnection { edges: [DeliveryEdge!]! }
  type DeliveryEdge { node: Delivery! }
  union Data = Contact | Endpoint
  type Event { id: ID! data: Data }
  type EventConnection { edges: [EventEdge!]! }
  type EventEdge { node: Event! }
`);

const cost = (query: string, variables?: Record<string, unknown>, operationName?: string) =>
  operationCost(schema, parse(query), operationName, variables);

function refusal(query: string, variables?: Record<string, unknown>): DomainError {
  try {
    cost(query, variables);
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    return error as DomainError;
  }
  throw new Error('the operation was not refused');
}

describe('operationCost', () => {
  test('an operation without connections costs 1', () => {
    expect(cost('{ viewer { name } contact(id: "1") { email } }')).toBe(1);
    expect(cost('mutation { createContact(email: "a@b.c") { id } }')).toBe(1);
  });

  test('a connection costs its page size: first, last, or the default 50', () => {
    expect(cost('{ contacts(first: 10) { edges { node { id } } } }')).toBe(10);
    expect(cost('{ contacts(last: 7) { edges { node { id } } } }')).toBe(7);
    expect(cost('{ contacts { pageInfo { hasNextPage } } }')).toBe(50);
    expect(cost('query($n: Int) { contacts(first: $n) { edges { cursor } } }', { n: 120 })).toBe(120);
    expect(cost('query($n: Int = 30) { contacts(first: $n) { edges { cursor } } }')).toBe(30);
    expect(cost('query($n: Int) { contacts(first: $n) { edges { cursor } } }', { n: null })).toBe(50);
  });

  test('nested connections multiply, siblings and aliases add up', () => {
    expect(
      cost(
        '{ endpoints(first: 10) { edges { node { deliveries(first: 20) { edges { node { attempts { statusCode } } } } } } } }',
      ),
    ).toBe(10 + 10 * 20);
    expect(cost('{ endpoints { edges { node { deliveries { edges { node { id } } } } } } }')).toBe(50 + 50 * 50);
    expect(
      cost(
        '{ a: contacts(first: 100) { edges { cursor } } b: contacts(first: 100) { edges { cursor } } events(first: 5) { edges { node { id } } } }',
      ),
    ).toBe(205);
    const bomb = Array.from({ length: 1000 }, (_, i) => `a${i}: events(first: 100) { edges { node { id } } }`).join(
      ' ',
    );
    expect(cost(`{ ${bomb} }`)).toBe(100_000);
  });

  test('fragments count where they are spread; the same field twice under one key counts once', () => {
    const fragment = 'fragment E on Endpoint { deliveries(first: 4) { edges { node { id } } } }';
    expect(cost(`{ endpoints(first: 3) { edges { node { ...E ... on Endpoint { id } } } } } ${fragment}`)).toBe(3 + 12);
    expect(
      cost(
        `{ endpoints(first: 3) { edges { node { ...E ...E deliveries(first: 4) { edges { node { id } } } } } } } ${fragment}`,
      ),
    ).toBe(3 + 12);
    expect(cost('{ contacts(first: 9) { edges { cursor } } contacts(first: 9) { pageInfo { hasNextPage } } }')).toBe(9);
    expect(
      cost(
        '{ events(first: 2) { edges { node { data { ... on Endpoint { deliveries(first: 10) { edges { node { id } } } } } } } } }',
      ),
    ).toBe(2 + 20);
  });

  test('@skip and @include leave fields out; introspection costs nothing', () => {
    expect(
      cost('query($big: Boolean!) { contacts(first: 500) @include(if: $big) { edges { cursor } } viewer { name } }', {
        big: false,
      }),
    ).toBe(1);
    expect(
      cost(
        '{ contacts(first: 500) @skip(if: true) { edges { cursor } } events(first: 3) { edges { cursor: __typename } } }',
      ),
    ).toBe(3);
    expect(cost('{ __schema { types { name fields { name } } } }')).toBe(1);
  });

  test('the operation named is the one costed', () => {
    const document =
      'query Small { contacts(first: 1) { edges { cursor } } } query Big { contacts(first: 400) { edges { cursor } } }';
    expect(cost(document, undefined, 'Small')).toBe(1);
    expect(cost(document, undefined, 'Big')).toBe(400);
  });

  test('page sizes outside 1–500 are refused as invalid_request naming the argument and the field, never clamped', () => {
    for (const size of [0, -1, 501, 1_000_000_000, 2.5]) {
      const error = refusal(`{ contacts(first: ${size}) { edges { cursor } } }`);
      expect({ status: error.status, code: error.code }).toEqual({ status: 400, code: 'invalid_request' });
      expect(error.message).toContain('"first" of contacts');
      expect(error.message).toContain(String(size));
    }
    expect(refusal('{ contacts(last: 501) { edges { cursor } } }').message).toContain('"last" of contacts');
    expect(refusal('query($n: Int) { contacts(first: $n) { edges { cursor } } }', { n: '7' }).code).toBe(
      'invalid_request',
    );
    const nested = refusal(
      '{ endpoints(first: 2) { edges { node { deliveries(first: 0) { edges { node { id } } } } } } }',
    );
    expect(nested.message).toContain('"first" of endpoints.edges.node.deliveries');
  });
});
