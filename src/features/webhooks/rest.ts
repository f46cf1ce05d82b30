import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Services } from '../../services.js';
import {
  CreateEndpointInput,
  DELIVERY_STATUSES,
  DeliveryFilter,
  deliveryResource,
  endpointResource,
  RecoverInput,
  TestEndpointInput,
  UpdateEndpointInput,
} from './service.js';
import { Filter } from '../../core/filters.js';
import { operation, Page, Timestamp } from '../../http/openapi.js';
import { decodeKeysetCursor } from '../../core/paging.js';
import { page, PageQuery } from '../../http/pagination.js';

const EndpointParams = z.object({ endpointId: z.string().describe('whep_ followed by a ULID') });
const DeliveryParams = z.object({
  endpointId: z.string().describe('whep_ followed by a ULID'),
  deliveryId: z.string().describe('whdel_ followed by a ULID'),
});

/** The endpoint as endpointResource builds it. */
export const Endpoint = z
  .object({
    endpointId: z.string(),
    url: z.string(),
    description: z.string().nullable(),
    eventTypes: z.array(z.string()),
    filters: z.array(Filter).describe('Content filter: conditions on the event that must all hold (empty: none)'),
    anyOf: z
      .array(z.array(Filter))
      .describe('Lists of conditions of which at least one must hold in full (empty: none)'),
    enabled: z.boolean(),
    disabledReason: z.string().nullable(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .meta({ id: 'WebhookEndpoint' });
/** Only when created and when its secret is rotated: the signing secret. */
export const EndpointWithSecret = Endpoint.extend({
  secret: z.string().describe('whsec_ + base64: verify signatures with it (Standard Webhooks)'),
}).meta({ id: 'WebhookEndpointWithSecret' });

/** A delivery as deliveryResource builds it, with its attempts. */
export const Delivery = z
  .object({
    deliveryId: z.string(),
    endpointId: z.string(),
    eventId: z.string(),
    eventType: z.string(),
    status: z.enum(DELIVERY_STATUSES),
    attemptCount: z.int(),
    nextAttemptAt: Timestamp.nullable(),
    lastAttemptAt: Timestamp.nullable(),
    createdAt: Timestamp,
    attempts: z.array(
      z.object({
        attemptedAt: Timestamp,
        durationMs: z.int(),
        statusCode: z.int().nullable().describe('null when there was no answer'),
        responseHeaders: z.record(z.string(), z.unknown()).nullable(),
        responseBody: z.string().nullable().describe('The first bytes of the answer'),
        error: z.string().nullable(),
      }),
    ),
  })
  .meta({ id: 'WebhookDelivery' });
const DeliveriesQuery = PageQuery.extend(DeliveryFilter.shape);
const DeliveryPage = Page(Delivery).extend({
  filteredOut: z
    .int()
    .min(0)
    .describe("Events of the endpoint's types its content filter kept from it: no delivery was created for them"),
});
const WouldDeliver = z.object({
  matches: z.boolean().describe('The endpoint would get this event'),
  typeMatches: z.boolean().describe("Its type is one of the endpoint's eventTypes, and the tenant's features allow it"),
  filterMatches: z.boolean().describe("The endpoint's content filter matches its data (true without a filter)"),
});
const tags = ['webhooks'];

/** 202 for delivery work, with Location: where to follow the delivery. */
function accepted(reply: FastifyReply, delivery: ReturnType<typeof deliveryResource>) {
  return reply
    .code(202)
    .header('location', `/api/v1/webhooks/endpoints/${delivery.endpointId}/deliveries/${delivery.deliveryId}`)
    .send(delivery);
}

/** Webhook endpoints and their deliveries. Any valid key may manage them; features decide which events flow. */
export const webhookRoutes =
  (services: Services): FastifyPluginAsyncZod =>
  async (app) => {
    const { webhooks } = services;

    app.post(
      '/webhooks/endpoints',
      {
        schema: {
          ...operation({
            operationId: 'createWebhookEndpoint',
            summary: 'Create an endpoint; its secret is shown only in this answer',
            tags,
            ok: { 201: EndpointWithSecret },
            sideEffects: true,
            body: true,
          }),
          body: CreateEndpointInput,
        },
      },
      async (request, reply) => {
        const { endpoint, secret } = await webhooks.create(request.auth!, request.body);
        return reply
          .code(201)
          .header('location', `/api/v1/webhooks/endpoints/${endpoint.id}`)
          .send({ ...endpointResource(endpoint), secret });
      },
    );

    app.get(
      '/webhooks/endpoints',
      {
        schema: {
          ...operation({
            operationId: 'listWebhookEndpoints',
            summary: 'List endpoints, oldest first',
            tags,
            ok: { 200: Page(Endpoint) },
          }),
          querystring: PageQuery,
        },
      },
      async (request) => {
        const { limit, cursor } = request.query;
        const rows = await webhooks.list(request.auth!, {
          limit: limit + 1,
          afterId: cursor && decodeKeysetCursor(cursor),
        });
        return page(rows, request.query, (e) => e.id, endpointResource);
      },
    );

    app.get(
      '/webhooks/endpoints/:endpointId',
      {
        schema: {
          ...operation({
            operationId: 'getWebhookEndpoint',
            summary: 'Get an endpoint',
            tags,
            ok: { 200: Endpoint },
            errors: [404],
          }),
          params: EndpointParams,
        },
      },
      async (request) => endpointResource(await webhooks.get(request.auth!, request.params.endpointId)),
    );

    app.patch(
      '/webhooks/endpoints/:endpointId',
      {
        schema: {
          ...operation({
            operationId: 'updateWebhookEndpoint',
            summary: 'Change an endpoint; "enabled": true re-enables a disabled one',
            tags,
            ok: { 200: Endpoint },
            errors: [404],
            sideEffects: true,
            body: true,
          }),
          params: EndpointParams,
          body: UpdateEndpointInput,
        },
      },
      async (request) =>
        endpointResource(await webhooks.update(request.auth!, request.params.endpointId, request.body)),
    );

    app.delete(
      '/webhooks/endpoints/:endpointId',
      {
        schema: {
          ...operation({
            operationId: 'deleteWebhookEndpoint',
            summary: 'Delete an endpoint and its deliveries',
            tags,
            ok: { 204: null },
            errors: [404],
            sideEffects: true,
          }),
          params: EndpointParams,
        },
      },
      async (request, reply) => {
        await webhooks.delete(request.auth!, request.params.endpointId);
        return reply.code(204).send();
      },
    );

    app.post(
      '/webhooks/endpoints/:endpointId/rotate-secret',
      {
        schema: {
          ...operation({
            operationId: 'rotateWebhookSecret',
            summary: 'A new secret; the old one keeps signing during the overlap',
            tags,
            ok: { 200: EndpointWithSecret },
            errors: [404],
            sideEffects: true,
          }),
          params: EndpointParams,
        },
      },
      async (request) => {
        const { endpoint, secret } = await webhooks.rotateSecret(request.auth!, request.params.endpointId);
        return { ...endpointResource(endpoint), secret };
      },
    );

    app.get(
      '/webhooks/endpoints/:endpointId/deliveries',
      {
        schema: {
          ...operation({
            operationId: 'listWebhookDeliveries',
            summary: 'Deliveries with their attempts, oldest first, and how many events the filter kept back',
            tags,
            ok: { 200: DeliveryPage },
            errors: [404],
          }),
          params: EndpointParams,
          querystring: DeliveriesQuery,
        },
      },
      async (request) => {
        const { limit, cursor, status, eventType } = request.query;
        const rows = await webhooks.deliveries(request.auth!, request.params.endpointId, {
          limit: limit + 1,
          afterId: cursor && decodeKeysetCursor(cursor),
          status,
          eventType,
        });
        const filteredOut = await webhooks.filteredOut(request.auth!, request.params.endpointId);
        return { ...page(rows, request.query, (d) => d.id, deliveryResource), filteredOut };
      },
    );

    app.get(
      '/webhooks/endpoints/:endpointId/deliveries/:deliveryId',
      {
        schema: {
          ...operation({
            operationId: 'getWebhookDelivery',
            summary: 'Get a delivery with its attempts',
            tags,
            ok: { 200: Delivery },
            errors: [404],
          }),
          params: DeliveryParams,
        },
      },
      async (request) =>
        deliveryResource(await webhooks.delivery(request.auth!, request.params.endpointId, request.params.deliveryId)),
    );

    app.post(
      '/webhooks/endpoints/:endpointId/deliveries/:deliveryId/retry',
      {
        schema: {
          ...operation({
            operationId: 'retryWebhookDelivery',
            summary: 'Try a delivery again now',
            tags,
            ok: { 202: Delivery },
            errors: [404],
            sideEffects: true,
          }),
          params: DeliveryParams,
        },
      },
      async (request, reply) =>
        accepted(
          reply,
          deliveryResource(await webhooks.retry(request.auth!, request.params.endpointId, request.params.deliveryId)),
        ),
    );

    app.post(
      '/webhooks/endpoints/:endpointId/recover',
      {
        schema: {
          ...operation({
            operationId: 'recoverWebhookEndpoint',
            summary:
              'Send again what the endpoint missed since a time: failed deliveries, and events it got none for (say, while it was disabled)',
            tags,
            ok: { 202: z.object({ recovered: z.int().min(0).describe('Deliveries queued again or created') }) },
            errors: [404],
            sideEffects: true,
            body: true,
          }),
          params: EndpointParams,
          body: RecoverInput,
        },
      },
      async (request, reply) => {
        const recovered = await webhooks.recover(request.auth!, request.params.endpointId, request.body);
        return reply
          .code(202)
          .header('location', `/api/v1/webhooks/endpoints/${request.params.endpointId}/deliveries`)
          .send(recovered);
      },
    );

    app.post(
      '/webhooks/endpoints/:endpointId/test',
      {
        schema: {
          ...operation({
            operationId: 'testWebhookEndpoint',
            summary:
              'Without a body: send a webhooks.endpoint.test event to this endpoint. With a sample event: answer whether the endpoint would get it, sending nothing',
            tags,
            ok: { 200: WouldDeliver, 202: Delivery },
            errors: [404],
            sideEffects: true,
            body: true,
          }),
          params: EndpointParams,
          body: TestEndpointInput.nullish(),
        },
      },
      async (request, reply) => {
        const { endpointId } = request.params;
        if (request.body) return webhooks.wouldDeliver(request.auth!, endpointId, request.body);
        return accepted(reply, deliveryResource(await webhooks.sendTest(request.auth!, endpointId)));
      },
    );
  };
