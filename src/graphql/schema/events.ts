import { resolveCursorConnection } from '@pothos/plugin-relay';
import type { EventFacts } from '../../domain/events.js';
import type { StreamItem } from '../../events/live.js';
import { builder } from '../builder.js';
import { authOf } from '../auth.js';
import { ContactObject } from './contacts.js';
import { InvoiceObject } from './invoices.js';
import { JobRef } from './jobs.js';

type EventSource = EventFacts & { data?: unknown };

const DeletedResource = builder.objectRef<{ id: string; resourceType: string }>('DeletedResource').implement({
  description: 'A resource that no longer exists; the event\'s `snapshot` holds its last state.',
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
  description: 'One entry of the tenant\'s durable event log; the same envelope webhooks carry, with the same id.',
  fields: (t) => ({
    id: t.exposeID('id'),
    type: t.exposeString('type', { description: 'For example communication.contact.created or accounting.invoice.paid.' }),
    tenantSequence: t.exposeInt('tenantSequence', { description: 'Gapless and increasing per tenant: a jump means a missed event.' }),
    occurredAt: t.expose('occurredAt', { type: 'DateTime' }),
    correlationId: t.exposeString('correlationId', { description: 'Of the request that caused the event.' }),
    resourceType: t.exposeString('resourceType'),
    resourceId: t.exposeID('resourceId'),
    data: t.field({
      type: EventData,
      description: 'The resource as it is now, read with your selection; DeletedResource once it is gone.',
      resolve: async (event, _args, ctx) => {
        const resource = await ctx.services.events.currentResource(event);
        if (!resource) return { id: event.resourceId, resourceType: event.resourceType };
        resourceTypes.set(resource, GRAPHQL_TYPES[event.resourceType as keyof typeof GRAPHQL_TYPES]);
        return resource;
      },
    }),
    snapshot: t.field({
      type: 'JSONObject',
      description: 'The resource as it was right after this event, exactly as REST and webhook bodies carry it in `data`.',
      resolve: (event, _args, ctx) => ('data' in event && event.data !== undefined ? event.data : ctx.services.events.snapshot(event)),
    }),
  }),
});

const TYPES_ARG = { description: 'Event types or wildcards such as "accounting.*"; default: every type your features allow.' };

builder.queryFields((t) => ({
  events: t.connection({
    type: EventRef,
    description: 'The tenant\'s event log in tenantSequence order. `after` takes any event id (each edge\'s cursor is its event id), so a client can catch up from the last event it saw.',
    args: { types: t.arg.stringList(TYPES_ARG) },
    resolve: (_root, args, ctx) =>
      resolveCursorConnection<Promise<EventSource[]>>({ args, toCursor: (event: EventSource) => event.id, defaultSize: 50, maxSize: 500 }, ({ after, before, limit, inverted }): Promise<EventSource[]> =>
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
    description: 'Events of the tenant as they commit. With `after` (an event id), first every later event from the log, then live ones, with no gap and no duplicate.',
    args: { types: t.arg.stringList(TYPES_ARG), after: t.arg.id() },
    subscribe: (_root, args, ctx) =>
      ctx.live.stream(authOf(ctx), { types: args.types, after: args.after && String(args.after), reauthenticate: ctx.reauthenticate }),
    resolve: eventOrEnd,
  }),
  contactChanged: t.field({
    type: EventRef,
    description: 'Contact events (communication.contact.*), of one contact when `id` is given. Needs the communication feature.',
    args: { id: t.arg.id(), after: t.arg.id() },
    subscribe: async (_root, args, ctx) => {
      const auth = authOf(ctx);
      if (args.id) await ctx.services.contacts.get(auth, String(args.id), { select: { id: true } });
      return ctx.live.stream(auth, {
        types: ['communication.contact.*'],
        resourceId: args.id && String(args.id),
        after: args.after && String(args.after),
        reauthenticate: ctx.reauthenticate,
      });
    },
    resolve: eventOrEnd,
  }),
  invoiceChanged: t.field({
    type: EventRef,
    description: 'Invoice events (accounting.invoice.*), of one invoice when `id` is given. Needs the accounting feature.',
    args: { id: t.arg.id(), after: t.arg.id() },
    subscribe: async (_root, args, ctx) => {
      const auth = authOf(ctx);
      if (args.id) await ctx.services.invoices.get(auth, String(args.id), { select: { id: true } });
      return ctx.live.stream(auth, {
        types: ['accounting.invoice.*'],
        resourceId: args.id && String(args.id),
        after: args.after && String(args.after),
        reauthenticate: ctx.reauthenticate,
      });
    },
    resolve: eventOrEnd,
  }),
  jobUpdated: t.field({
    type: EventRef,
    description: 'The events of one job (jobs.job.*): queued, running, progress, and how it ended. Use `after` to resume.',
    args: { id: t.arg.id({ required: true }), after: t.arg.id() },
    subscribe: async (_root, args, ctx) => {
      const auth = authOf(ctx);
      const job = await ctx.services.jobs.get(auth, String(args.id));
      return ctx.live.stream(auth, { types: ['jobs.job.*'], resourceId: job.id, after: args.after && String(args.after), reauthenticate: ctx.reauthenticate });
    },
    resolve: eventOrEnd,
  }),
}));
