import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { EventEnvelope as DomainEventEnvelope } from './envelope.js';
import { eventEnvelope, type EventService } from './service.js';
import { operation, Page } from '../../http/openapi.js';
import { decodeKeysetCursor } from '../../core/paging.js';
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

/** The envelope every event travels in: the log, webhooks and subscriptions alike. */
export const EventEnvelope = DomainEventEnvelope.meta({ id: 'EventEnvelope' });

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
  };
