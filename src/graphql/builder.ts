import SchemaBuilder from '@pothos/core';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import { DateResolver, DateTimeResolver, JSONObjectResolver, JSONResolver } from 'graphql-scalars';
import type { AuthContext } from '../auth/context.js';
import { PAGE_SIZE } from '../core/paging.js';
import { type DomainError, UnauthorizedError } from '../core/errors.js';
import type { Services } from '../services.js';
import type { LiveEvents } from '../features/events/live.js';
import type PrismaTypes from '../generated/pothos-prisma-types.js';
import { getDatamodel } from '../generated/pothos-prisma-types.js';
import { DecimalResolver } from './decimal.js';
import type { OperationCost } from './limits.js';

export type GraphQLContext = {
  services: Services;
  /** Null when the request carried no valid key; authError says why. */
  auth: AuthContext | null;
  authError?: DomainError;
  correlationId: string;
  /** Live event streams, for subscriptions. */
  live: LiveEvents;
  /** Looks the caller's key up again (subscriptions outlive key revocations and feature changes). */
  reauthenticate(): Promise<AuthContext>;
  /** What the operation cost, once admitted and charged (limits.ts). */
  cost?: OperationCost;
  /** Aborted when a query runs past GRAPHQL_TIMEOUT: fields that would reach the database stop. */
  signal?: AbortSignal;
};

/** The page sizes of every connection (the shared rule): Prisma's through the builder, others' resolvers spread it. */
export const CONNECTION_SIZE = { defaultSize: PAGE_SIZE.default, maxSize: PAGE_SIZE.max } as const;

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  PrismaTypes: PrismaTypes;
  AuthScopes: { authenticated: boolean };
  DefaultFieldNullability: false;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    Date: { Input: Date; Output: Date };
    Decimal: { Input: number | string; Output: { toString(): string } | number | string };
    JSONObject: { Input: Record<string, unknown>; Output: unknown };
    JSON: { Input: unknown; Output: unknown };
  };
}>({
  // Scope auth first, so that a refused caller is answered before the other plugins' resolvers run.
  plugins: [ScopeAuthPlugin, PrismaPlugin, RelayPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authScopes: (ctx) => ({ authenticated: ctx.auth !== null }),
    // The only scope is `authenticated`: a refusal says why the key was not accepted, as REST's 401 does.
    unauthorizedError: (_parent, ctx) => ctx.authError ?? new UnauthorizedError(),
    // Checked once when a subscription starts, not on each of its events.
    authorizeOnSubscribe: true,
  },
  prisma: {
    client: (ctx) => {
      ctx.signal?.throwIfAborted(); // relations loaded on their own after a timeout
      return ctx.services.prisma;
    },
    dmmf: getDatamodel(),
    onUnusedQuery: null,
    // Sizes outside the shared rule are refused before execution (cost.ts); these are its bounds.
    defaultConnectionSize: CONNECTION_SIZE.defaultSize,
    maxConnectionSize: CONNECTION_SIZE.maxSize,
  },
  relay: { clientMutationId: 'omit', cursorType: 'String' },
});

/** The builder's schema types, for refs passed between features (ObjectRef<BuilderTypes, Shape>). */
export type BuilderTypes = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer Types> ? Types : never;

// graphql-scalars' DateTime serializes to a Date, which JSON.stringify then turns into its ISO
// string through toJSON, off its fast path: the same string, built here, made a page of 50
// contacts' JSON.stringify about three times faster (bench/README.md, graphql.contacts.list).
// (Pothos types serialize's result as the resolvers' Date; what it returns is the wire value.)
builder.addScalarType('DateTime', DateTimeResolver, {
  serialize: (value) => (DateTimeResolver.serialize(value) as Date).toISOString() as unknown as Date,
});
builder.addScalarType('Date', DateResolver);
builder.addScalarType('JSONObject', JSONObjectResolver);
builder.addScalarType('JSON', JSONResolver);
builder.addScalarType('Decimal', DecimalResolver);

// Every root field reads or writes tenant data, so each needs a key; GraphiQL and introspection
// (__schema, __type, __typename are not Pothos fields) need none. Features are the services' rule.
builder.queryType({ authScopes: { authenticated: true } });
builder.mutationType({ authScopes: { authenticated: true } });
builder.subscriptionType({ authScopes: { authenticated: true } });
