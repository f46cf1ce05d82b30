import { queryFromInfo } from '@pothos/plugin-prisma';
import { resolveCursorConnection } from '@pothos/plugin-relay';
import type { EventFacts } from './service.js';
import { eventTypesFor } from '../event-types/catalog.js';
import type { StreamItem } from './live.js';
import type { AuthContext } from '../../auth/context.js';
import { builder, CONNECTION_SIZE, type GraphQLContext } from '../../graphql/builder.js';
import { authOf } from '../../graphql/auth.js';
import { ContactObject } from '../contacts/graphql.js';
import { InvoiceObject } from '../invoices/graphql.js';
import { JobRef } from '../jobs/graphql.js';

type EventSource = EventFacts & { data?: unknown };

const DeletedResource = builder.objectRef<{ id: string; resourceType: string }>('DeletedResource').implement({
  description: "A resource that no longer exists; the event's `snapshot` holds its last state.",
  fields: (t) => ({ id: t.exposeID('id'), resourceType: t.exposeString('resourceType') }),
});

/** Which GraphQL type each resolved resource is (the union's resolveType reads it). */
const resourceTypes = new WeakMap<object, 'Contact' | 'Invoice' | 'Job' | 'DeletedResource'>();
const GRAPHQL_TYPES = { contact: 'Contact', invoice: 'Invoice', job: 'Job' } as const;

const EventData = builder.unionType('EventData', {
  types: [ContactObject, InvoiceObject, JobRef, DeletedResource],
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
        const typeName = GRAPHQL_TYPES[event.resourceType as keyof typeof GRAPHQL_TYPES];
        const query = typeName === 'Job' ? {} : queryFromInfo({ context: ctx, info, typeName });
        const resource = await ctx.services.events.currentResource(event, query);
        if (!resource) return { id: event.resourceId, resourceType: event.resourceType };
        resourceTypes.set(resource, typeName);
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

const EventTypeRef = builder.objectRef<ReturnType<typeof eventTypesFor>[number]>('EventType').implement({
  description:
    "One entry of the event-type catalog: the same list as GET /api/v1/event-types and the OpenAPI document's webhooks.",
  fields: (t) => ({
    type: t.exposeString('type', { description: 'For example accounting.invoice.paid.' }),
    description: t.exposeString('description'),
    feature: t.exposeString('feature', {
      nullable: true,
      description: 'The tenant feature needed to receive it; null: every tenant.',
    }),
    enabled: t.exposeBoolean('enabled', { description: 'Whether your tenant receives it now (its feature is on).' }),
    webhookOnly: t.exposeBoolean('webhookOnly', {
      description: 'Only webhook endpoints receive it, on request; it is not in the event log.',
    }),
    schema: t.field({
      type: 'JSONObject',
      description: "JSON Schema (draft 2020-12) of the event's `snapshot` (the `data` of REST and webhooks).",
      resolve: (entry) => entry.schema,
    }),
  }),
});

builder.queryFields((t) => ({
  eventTypes: t.field({
    type: [EventTypeRef],
    description:
      'Every event type the gateway emits: what it means, the feature it needs, whether your tenant receives it, and the JSON Schema of its data.',
    resolve: (_root, _args, ctx) => eventTypesFor(authOf(ctx).features),
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
  contactChanged: t.field({
    type: EventRef,
    description:
      'Contact events (communication.contact.*), of one contact when `id` is given. Needs the communication feature.',
    args: { id: t.arg.id(), after: t.arg.id() },
    subscribe: (_root, args, ctx) =>
      resourceEvents(ctx, 'communication.contact.*', args, (auth, id) =>
        ctx.services.contacts.get(auth, id, { select: { id: true } }),
      ),
    resolve: eventOrEnd,
  }),
  invoiceChanged: t.field({
    type: EventRef,
    description:
      'Invoice events (accounting.invoice.*), of one invoice when `id` is given. Needs the accounting feature.',
    args: { id: t.arg.id(), after: t.arg.id() },
    subscribe: (_root, args, ctx) =>
      resourceEvents(ctx, 'accounting.invoice.*', args, (auth, id) =>
        ctx.services.invoices.get(auth, id, { select: { id: true } }),
      ),
    resolve: eventOrEnd,
  }),
  jobUpdated: t.field({
    type: EventRef,
    description:
      'The events of one job (jobs.job.*): queued, running, progress, and how it ended. Use `after` to resume.',
    args: { id: t.arg.id({ required: true }), after: t.arg.id() },
    subscribe: (_root, args, ctx) =>
      resourceEvents(ctx, 'jobs.job.*', args, (auth, id) => ctx.services.jobs.get(auth, id)),
    resolve: eventOrEnd,
  }),
}));

/** Events of one family, of one resource when `id` is given: it must be the tenant's (404 otherwise). */
async function resourceEvents(
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
