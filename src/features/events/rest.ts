import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { EventEnvelope as DomainEventEnvelope } from './envelope.js';
import { eventEnvelope, type EventService } from './service.js';
import { operation, Page } from '../../http/openapi.js';
import {
  decodeKeysetCursor,
  encodeKeysetCursor,
  isKeysetCursor,
  NOT_A_CURSOR,
  pageSizeSchema,
} from '../../core/paging.js';
import { FilterGroups } from '../../core/filters.js';
import { page, PageQuery } from '../../http/pagination.js';

export const EventsQuery = PageQuery.extend({
  after: z.string().max(200).optional().describe('An event id: only events after it (the same as a cursor).'),
  types: z
    .string()
    .max(2000)
    .optional()
    .describe(
      'Comma-separated event types or wildcards such as accounting.*; default: every type your features allow.',
    ),
}).refine((query) => !(query.after && query.cursor), {
  message: 'give either after or cursor, not both',
  path: ['after'],
});

const EventSearchBody = FilterGroups.extend({
  types: z
    .array(z.string().max(200))
    .max(50)
    .optional()
    .describe('Event types or wildcards such as accounting.*; default: every type your features allow.'),
  after: z.string().max(200).optional().describe('An event id: only events after it.'),
  cursor: z.string().max(200).refine(isKeysetCursor, NOT_A_CURSOR).optional(),
  limit: pageSizeSchema(z.number()),
}).refine((body) => !(body.after && body.cursor), {
  message: 'give either after or cursor, not both',
  path: ['after'],
});

/** Events one poll examines at most: a filter that rarely matches answers a page of progress, not a scan of the whole log. */
const MAX_EXAMINED = 10_000;

/** The envelope every event travels in: the log, webhooks and subscriptions alike. */
export const EventEnvelope = DomainEventEnvelope.meta({ id: 'EventEnvelope' });

const FilteredEventPage = Page(EventEnvelope).extend({
  examinedThrough: z
    .object({ eventId: z.string(), tenantSequence: z.int().min(1) })
    .nullable()
    .describe(
      'The last event of the log this page examined, matching or not (null: none after `after`). Tells a gap left by the filter from a missed event, and is where the next poll starts (`after`).',
    ),
});

export const eventRoutes =
  (services: { events: EventService }): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/events',
      {
        schema: {
          ...operation({
            operationId: 'listEvents',
            summary: "The tenant's event log in tenantSequence order, to catch up by polling",
            tags: ['events'],
            ok: { 200: Page(EventEnvelope) },
            errors: [403, 404],
          }),
          querystring: EventsQuery,
        },
      },
      async (request) => {
        const { after, cursor, types, limit } = request.query;
        const rows = await services.events.list(request.auth!, {
          after: after ?? (cursor && decodeKeysetCursor(cursor)),
          types: types?.split(',').map((type) => type.trim()),
          limit: limit + 1,
        });
        return page(rows, request.query, (event) => event.id, eventEnvelope);
      },
    );

    app.post(
      '/events/search',
      {
        schema: {
          ...operation({
            operationId: 'searchEvents',
            summary: "The tenant's events that match a content filter, in tenantSequence order, to catch up by polling",
            description:
              'The filter language of POST …/search with `anyOf` groups and paths into the data (see the README, "Filters"). A page examines at most 10,000 events: it may hold fewer than `limit` items, or none, while `nextCursor` is set. Poll again with `after` set to `examinedThrough.eventId`.',
            tags: ['events'],
            ok: { 200: FilteredEventPage },
            errors: [403, 404],
            body: true,
          }),
          body: EventSearchBody,
        },
      },
      async (request) => {
        const { after, cursor, limit, types, filters, anyOf } = request.body;
        const found = await services.events.search(
          request.auth!,
          { types, filters, anyOf },
          { after: after ?? (cursor && decodeKeysetCursor(cursor)), limit: limit + 1, maxExamined: MAX_EXAMINED },
        );
        const items = found.events.slice(0, limit);
        const more = found.events.length > limit || !found.exhausted;
        const examined = found.events.length > limit ? items.at(-1)! : found.examined;
        return {
          items: items.map(eventEnvelope),
          nextCursor: more && examined ? encodeKeysetCursor(examined.id) : null,
          count: items.length,
          examinedThrough: examined && { eventId: examined.id, tenantSequence: examined.tenantSequence },
        };
      },
    );
  };
