import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { OpenAPIV3_1 } from 'openapi-types';
import { z } from 'zod';
import { FEATURES } from '../../auth/context.js';
import { EVENT_TYPE_CATALOG, envelopeSchema, eventTypesFor } from './catalog.js';
import { operation } from '../../http/openapi.js';

const EventTypeItem = z
  .object({
    type: z.enum(EVENT_TYPE_CATALOG.map((entry) => entry.type)),
    description: z.string(),
    feature: z.enum(FEATURES).nullable().describe('The tenant feature needed to receive it; null: every tenant'),
    enabled: z.boolean().describe('Whether your tenant receives it now (its feature is on)'),
    webhookOnly: z.boolean().describe('Only webhook endpoints receive it, on request; it is not in the event log'),
    schema: z.record(z.string(), z.unknown()).describe("JSON Schema (draft 2020-12) of the envelope's data"),
  })
  .meta({ id: 'EventType' });

const EventTypeList = z.object({
  items: z.array(EventTypeItem),
  nextCursor: z.null().describe('Always null: the catalog is one page'),
  count: z.int().min(0),
});

/** The event-type catalog, every type with whether the caller's tenant receives it. */
export const eventTypeRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/event-types',
    {
      schema: operation({
        operationId: 'listEventTypes',
        summary:
          'Every event type: what it means, the feature it needs, whether your tenant receives it, and the JSON Schema of its data',
        tags: ['events'],
        ok: { 200: EventTypeList },
      }),
    },
    async (request) => {
      const items = eventTypesFor(request.auth!.features);
      return { items, nextCursor: null, count: items.length };
    },
  );
};

const header = (name: string, description: string, pattern?: string): OpenAPIV3_1.ParameterObject => ({
  name,
  in: 'header',
  required: true,
  description,
  schema: { type: 'string', ...(pattern && { pattern }) },
});
/** Standard Webhooks headers (https://www.standardwebhooks.com/) and the correlation id, on every delivery. */
const DELIVERY_HEADERS = [
  header('webhook-id', 'The event id (evt_…): the same on every retry, so receivers process each event once'),
  header('webhook-timestamp', 'Seconds since the Unix epoch when this attempt was signed; refuse old ones', '^\\d+$'),
  header(
    'webhook-signature',
    'Space-separated v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}"> with each active secret (two while a rotated-out secret overlaps)',
    '^v1,[A-Za-z0-9+/=]+( v1,[A-Za-z0-9+/=]+)*$',
  ),
  header('X-Correlation-Id', 'The correlation id of the request that caused the event'),
];

/**
 * The OpenAPI 3.1 `webhooks` object: one POST per event type, as an endpoint receives it, with
 * the envelope and that type's data schema, signed per Standard Webhooks.
 */
export function eventWebhooks(): Record<string, OpenAPIV3_1.PathItemObject> {
  return Object.fromEntries(
    EVENT_TYPE_CATALOG.map((entry) => [
      entry.type,
      {
        post: {
          operationId: `receive_${entry.type.replaceAll('.', '_')}`,
          summary: entry.type,
          description: `${entry.description}${entry.feature ? ` Needs the ${entry.feature} feature.` : ''}`,
          tags: ['events'],
          // Deliveries are authenticated by their signature, not by a key.
          security: [],
          parameters: DELIVERY_HEADERS,
          requestBody: { required: true, content: { 'application/json': { schema: envelopeSchema(entry) } } },
          responses: {
            '2XX': { description: 'Received: any 2xx within WEBHOOK_TIMEOUT acknowledges the delivery' },
            '410': { description: 'Gone: the endpoint is disabled at once' },
            default: {
              description:
                'Anything else (or a redirect, or no answer in time) fails the attempt; the next follows WEBHOOK_RETRY_SCHEDULE',
            },
          },
        },
      },
    ]),
  );
}
