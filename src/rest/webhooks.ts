import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Services } from '../domain/index.js';
import { CreateEndpointInput, DeliveryFilter, deliveryResource, endpointResource, RecoverInput, UpdateEndpointInput } from '../domain/webhooks.js';
import { decodeCursor, page, PageQuery } from './pagination.js';

const EndpointParams = z.object({ endpointId: z.string() });
const DeliveryParams = z.object({ endpointId: z.string(), deliveryId: z.string() });
const DeliveriesQuery = PageQuery.extend(DeliveryFilter.shape);
const tags = ['webhooks'];

/** Webhook endpoints and their deliveries. Any valid key may manage them; features decide which events flow. */
export const webhookRoutes =
  (services: Services): FastifyPluginAsyncZod =>
  async (app) => {
    const { webhooks } = services;

    app.post('/webhooks/endpoints', { schema: { tags, summary: 'Create an endpoint; its secret is shown only in this answer', body: CreateEndpointInput } }, async (request, reply) => {
      const { endpoint, secret } = await webhooks.create(request.auth!, request.body);
      return reply.code(201).send({ ...endpointResource(endpoint), secret });
    });

    app.get('/webhooks/endpoints', { schema: { tags, querystring: PageQuery } }, async (request) => {
      const { limit, cursor } = request.query;
      const rows = await webhooks.list(request.auth!, { limit: limit + 1, afterId: cursor && decodeCursor(cursor) });
      return page(rows, request.query, (e) => e.id, endpointResource);
    });

    app.get('/webhooks/endpoints/:endpointId', { schema: { tags, params: EndpointParams } }, async (request) =>
      endpointResource(await webhooks.get(request.auth!, request.params.endpointId)),
    );

    app.patch(
      '/webhooks/endpoints/:endpointId',
      { schema: { tags, summary: 'Change an endpoint; "enabled": true re-enables a disabled one', params: EndpointParams, body: UpdateEndpointInput } },
      async (request) => endpointResource(await webhooks.update(request.auth!, request.params.endpointId, request.body)),
    );

    app.delete('/webhooks/endpoints/:endpointId', { schema: { tags, params: EndpointParams } }, async (request, reply) => {
      await webhooks.delete(request.auth!, request.params.endpointId);
      return reply.code(204).send();
    });

    app.post(
      '/webhooks/endpoints/:endpointId/rotate-secret',
      { schema: { tags, summary: 'A new secret; the old one keeps signing during the overlap', params: EndpointParams } },
      async (request) => {
        const { endpoint, secret } = await webhooks.rotateSecret(request.auth!, request.params.endpointId);
        return { ...endpointResource(endpoint), secret };
      },
    );

    app.get('/webhooks/endpoints/:endpointId/deliveries', { schema: { tags, summary: 'Deliveries with their attempts, oldest first', params: EndpointParams, querystring: DeliveriesQuery } }, async (request) => {
      const { limit, cursor, status, eventType } = request.query;
      const rows = await webhooks.deliveries(request.auth!, request.params.endpointId, { limit: limit + 1, afterId: cursor && decodeCursor(cursor), status, eventType });
      return page(rows, request.query, (d) => d.id, deliveryResource);
    });

    app.get('/webhooks/endpoints/:endpointId/deliveries/:deliveryId', { schema: { tags, params: DeliveryParams } }, async (request) =>
      deliveryResource(await webhooks.delivery(request.auth!, request.params.endpointId, request.params.deliveryId)),
    );

    app.post(
      '/webhooks/endpoints/:endpointId/deliveries/:deliveryId/retry',
      { schema: { tags, summary: 'Try a delivery again now', params: DeliveryParams } },
      async (request, reply) => reply.code(202).send(deliveryResource(await webhooks.retry(request.auth!, request.params.endpointId, request.params.deliveryId))),
    );

    app.post(
      '/webhooks/endpoints/:endpointId/recover',
      { schema: { tags, summary: 'Send again what the endpoint missed since a time: failed deliveries, and events it got none for (say, while it was disabled)', params: EndpointParams, body: RecoverInput } },
      async (request, reply) => reply.code(202).send(await webhooks.recover(request.auth!, request.params.endpointId, request.body)),
    );

    app.post(
      '/webhooks/endpoints/:endpointId/test',
      { schema: { tags, summary: 'Send a webhooks.endpoint.test event to this endpoint', params: EndpointParams } },
      async (request, reply) => reply.code(202).send(deliveryResource(await webhooks.sendTest(request.auth!, request.params.endpointId))),
    );
  };
