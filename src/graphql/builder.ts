import SchemaBuilder from '@pothos/core';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import { DateResolver, DateTimeResolver, JSONObjectResolver } from 'graphql-scalars';
import type { AuthContext } from '../auth/context.js';
import { PAGE_SIZE } from '../core/paging.js';
import type { DomainError } from '../core/errors.js';
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

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  PrismaTypes: PrismaTypes;
  DefaultFieldNullability: false;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    Date: { Input: Date; Output: Date };
    Decimal: { Input: number | string; Output: { toString(): string } | number | string };
    JSONObject: { Input: Record<string, unknown>; Output: unknown };
  };
}>({
  plugins: [PrismaPlugin, RelayPlugin],
  defaultFieldNullability: false,
  prisma: {
    client: (ctx) => {
      ctx.signal?.throwIfAborted(); // relations loaded on their own after a timeout
      return ctx.services.prisma;
    },
    dmmf: getDatamodel(),
    onUnusedQuery: null,
    // Sizes outside the shared rule are refused before execution (cost.ts); these are its bounds.
    defaultConnectionSize: PAGE_SIZE.default,
    maxConnectionSize: PAGE_SIZE.max,
  },
  relay: { clientMutationId: 'omit', cursorType: 'String' },
});

builder.addScalarType('DateTime', DateTimeResolver);
builder.addScalarType('Date', DateResolver);
builder.addScalarType('JSONObject', JSONObjectResolver);
builder.addScalarType('Decimal', DecimalResolver);

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
