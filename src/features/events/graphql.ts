import { PrismaObjectRef, queryFromInfo } from '@pothos/plugin-prisma';
import { resolveCursorConnection } from '@pothos/plugin-relay';
import type { ObjectRef } from '@pothos/core';
import type { EventFacts } from './service.js';
import type { StreamItem } from './live.js';
import type { AuthContext } from '../../auth/context.js';
import { builder, type BuilderTypes, CONNECTION_SIZE, type GraphQLContext } from '../../graphql/builder.js';
import { authOf } from '../../graphql/auth.js';

type EventSource = EventFacts & { data?: unknown; skipped?: number };

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
    skipped: t.int({
      nullable: true,
      description:
        "Subscriptions only (null in queries): how many of the tenant's events this subscription passed over since the previous event it delivered (or since its start: `after`, else the moment it went live) because their type, resource or filter did not match. tenantSequence − skipped − 1 is the previous delivered event's sequence, so a gap the filter left tells itself apart from a missed event.",
      resolve: (event) => event.skipped ?? null,
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

/** One condition of the filter language (the README's "Filters"): the same as REST's `{field, operator, value}`. */
export const EventFilterInput = builder.inputType('EventFilterInput', {
  description:
    'A condition on an event: `field` is a path into its data (status, customer, grossTotal, customData.erpId, tag…) or resourceId / correlationId; operator is one of is, is_not, contains, is_any_of, includes_any_of, is_before, is_after.',
  fields: (t) => ({
    field: t.string({ required: true }),
    operator: t.string({ required: true }),
    value: t.field({
      type: 'JSON',
      description: 'A string, number, boolean, date, null, or a list for is_any_of/includes_any_of.',
    }),
  }),
});

/** The filter arguments every event query and subscription takes. */
export const filterArgs = builder.args((t) => ({
  filters: t.field({
    type: [EventFilterInput],
    description: "Conditions on the event that must all hold, checked against the selected types' data schemas.",
  }),
  anyOf: t.field({
    type: t.listRef(t.listRef(EventFilterInput)),
    description: 'Lists of conditions of which at least one must hold in full, besides `filters`.',
  }),
}));

/** GraphQL's filter arguments as the filter language's input (an omitted value is absent, as in JSON). */
export const filterSelection = (args: {
  filters?: readonly unknown[] | null;
  anyOf?: readonly (readonly unknown[])[] | null;
}) => ({
  filters: args.filters ?? undefined,
  anyOf: args.anyOf ?? undefined,
});

builder.queryFields((t) => ({
  events: t.connection({
    type: EventRef,
    description:
      "The tenant's event log in tenantSequence order. `after` takes any event id (each edge's cursor is its event id), so a client can catch up from the last event it saw.",
    args: { types: t.arg.stringList(TYPES_ARG), ...filterArgs },
    resolve: (_root, args, ctx) =>
      resolveCursorConnection<Promise<EventSource[]>>(
        { args, toCursor: (event: EventSource) => event.id, ...CONNECTION_SIZE },
        async ({ after, before, limit, inverted }): Promise<EventSource[]> => {
          const selection = { types: args.types, ...filterSelection(args) };
          const page = { after, before, limit, descending: inverted };
          return (await ctx.services.events.search(authOf(ctx), selection, page)).events;
        },
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
    args: { types: t.arg.stringList(TYPES_ARG), after: t.arg.id(), ...filterArgs },
    subscribe: (_root, args, ctx) =>
      ctx.live.stream(authOf(ctx), {
        types: args.types,
        after: args.after,
        ...filterSelection(args),
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
  args: {
    id?: string | null;
    after?: string | null;
    filters?: readonly unknown[] | null;
    anyOf?: readonly (readonly unknown[])[] | null;
  },
  find: (auth: AuthContext, id: string) => Promise<{ id: string }>,
) {
  const auth = authOf(ctx);
  const resource = args.id == null ? undefined : await find(auth, args.id);
  return ctx.live.stream(auth, {
    types: [types],
    resourceId: resource?.id,
    after: args.after ?? null,
    ...filterSelection(args),
    reauthenticate: ctx.reauthenticate,
  });
}
