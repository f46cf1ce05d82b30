import { PrismaObjectRef, queryFromInfo } from '@pothos/plugin-prisma';
import { resolveCursorConnection } from '@pothos/plugin-relay';
import type { ObjectRef } from '@pothos/core';
import type { EventFacts } from './service.js';
import type { StreamItem } from './live.js';
import type { AuthContext } from '../../auth/context.js';
import { builder, type BuilderTypes, CONNECTION_SIZE, type GraphQLContext } from '../../graphql/builder.js';
import { authOf } from '../../graphql/auth.js';

type EventSource = EventFacts & { data?: unknown };

const DeletedResource = builder.objectRef<{ id: string; resourceType: string }>('DeletedResource').implement({
  description: "A resource that no longer exists; the event's `snapshot` holds its last state.",
  fields: (t) => ({ id: t.exposeID('id'), resourceType: t.exposeString('resourceType') }),
});

/**
 * The GraphQL object of each resource type events are about. Each feature names its own
 * (eventResource), so the event log, which every feature writes to, imports none of them.
 */
const resourceObjects = new Map<string, ObjectRef<BuilderTypes, object>>();

/** Makes `object` the type of an event's `data` when the event is about a `resourceType`. */
export function eventResource(resourceType: string, object: ObjectRef<BuilderTypes, object>) {
  resourceObjects.set(resourceType, object);
}

/** Which GraphQL type each resolved resource is (the union's resolveType reads it). */
const resourceTypes = new WeakMap<object, string>();

const EventData = builder.unionType('EventData', {
  // Read when the schema is built, once every feature has named its object.
  types: () => [...resourceObjects.values(), DeletedResource],
  resolveType: (value) => resourceTypes.get(value as object) ?? 'DeletedResource',
});

export const EventRef = builder.objectRef<EventSource>('Event').implement({
  description: "One entry of the tenant's durable event log; the same envelope webhooks carry, with the same id.",
  fields: (t) => ({
    id: t.exposeID('id'),
    type: t.exposeString('type', {
      description: 'For example communication.contact.created or accounting.invoice.paid.',
    }),
    tenantSequence: t.exposeInt('tenantSequence', {
      description: 'Gapless and increasing per tenant: a jump means a missed event.',
    }),
    occurredAt: t.expose('occurredAt', { type: 'DateTime' }),
    correlationId: t.exposeString('correlationId', { description: 'Of the request that caused the event.' }),
    resourceType: t.exposeString('resourceType'),
    resourceId: t.exposeID('resourceId'),
    data: t.field({
      type: EventData,
      description: 'The resource as it is now, read with your selection; DeletedResource once it is gone.',
      resolve: async (event, _args, ctx, info) => {
        ctx.signal?.throwIfAborted();
        // Read with the client's selection in one query: loaded without it, each field would read
        // the row again, and fail once the resource is deleted in between.
        const object = resourceObjects.get(event.resourceType)!;
        const query =
          object instanceof PrismaObjectRef ? queryFromInfo({ context: ctx, info, typeName: object.name }) : {};
        const resource = await ctx.services.events.currentResource(event, query);
        if (!resource) return { id: event.resourceId, resourceType: event.resourceType };
        resourceTypes.set(resource, object.name);
        return resource;
      },
    }),
    snapshot: t.field({
      type: 'JSONObject',
      description:
        'The resource as it was right after this event, exactly as REST and webhook bodies carry it in `data`.',
      resolve: (event, _args, ctx) => {
        if ('data' in event && event.data !== undefined) return event.data;
        ctx.signal?.throwIfAborted();
        return ctx.services.events.snapshot(event);
      },
    }),
  }),
});

const TYPES_ARG = {
  description: 'Event types or wildcards such as "accounting.*"; default: every type your features allow.',
};

builder.queryFields((t) => ({
  events: t.connection({
    type: EventRef,
    description:
      "The tenant's event log in tenantSequence order. `after` takes any event id (each edge's cursor is its event id), so a client can catch up from the last event it saw.",
    args: { types: t.arg.stringList(TYPES_ARG) },
    resolve: (_root, args, ctx) =>
      resolveCursorConnection<Promise<EventSource[]>>(
        { args, toCursor: (event: EventSource) => event.id, ...CONNECTION_SIZE },
        ({ after, before, limit, inverted }): Promise<EventSource[]> =>
          ctx.services.events.list(authOf(ctx), { types: args.types, after, before, limit, descending: inverted }),
      ),
  }),
}));

/** Subscription payloads are stream items: an event, or the error that ends the stream. */
export const eventOrEnd = (item: StreamItem) => {
  if ('end' in item) throw item.end;
  return item;
};

builder.subscriptionFields((t) => ({
  events: t.field({
    type: EventRef,
    description:
      'Events of the tenant as they commit. With `after` (an event id), first every later event from the log, then live ones, with no gap and no duplicate.',
    args: { types: t.arg.stringList(TYPES_ARG), after: t.arg.id() },
    subscribe: (_root, args, ctx) =>
      ctx.live.stream(authOf(ctx), {
        types: args.types,
        after: args.after,
        reauthenticate: ctx.reauthenticate,
      }),
    resolve: eventOrEnd,
  }),
}));

/**
 * Subscribes to events of one family, of one resource when `id` is given: `find` makes sure it is
 * the tenant's (404 otherwise). Each feature's subscription to its resources' changes.
 */
export async function resourceEvents(
  ctx: GraphQLContext,
  types: string,
  args: { id?: string | null; after?: string | null },
  find: (auth: AuthContext, id: string) => Promise<{ id: string }>,
) {
  const auth = authOf(ctx);
  const resource = args.id == null ? undefined : await find(auth, args.id);
  return ctx.live.stream(auth, {
    types: [types],
    resourceId: resource?.id,
    after: args.after ?? null,
    reauthenticate: ctx.reauthenticate,
  });
}
