import type { WebhookAttempt, WebhookDelivery, WebhookEndpoint } from '../../generated/prisma/client.js';
import { DELIVERY_STATUSES } from './service.js';
import { builder } from '../../graphql/builder.js';
import { authOf } from '../../graphql/auth.js';
import type { GraphQLContext } from '../../graphql/builder.js';
import { withoutNulls } from '../../graphql/inputs.js';
import { forwardConnection } from '../../graphql/pages.js';
import { EventFilterInput } from '../events/graphql.js';

type DeliveryWithAttempts = WebhookDelivery & { attempts: WebhookAttempt[] };

const WebhookAttemptRef = builder.objectRef<WebhookAttempt>('WebhookAttempt').implement({
  description: 'One HTTP attempt of a delivery.',
  fields: (t) => ({
    attemptedAt: t.expose('attemptedAt', { type: 'DateTime' }),
    durationMs: t.exposeInt('durationMs'),
    statusCode: t.exposeInt('statusCode', {
      nullable: true,
      description: 'Null when there was no answer: refused, timed out or blocked.',
    }),
    responseHeaders: t.expose('responseHeaders', { type: 'JSONObject', nullable: true }),
    responseBody: t.exposeString('responseBody', { nullable: true, description: 'The first 4 KiB of the answer.' }),
    error: t.exposeString('error', { nullable: true }),
  }),
});

const DeliveryStatus = builder.enumType('WebhookDeliveryStatus', { values: DELIVERY_STATUSES });

const WebhookDeliveryRef = builder.objectRef<DeliveryWithAttempts>('WebhookDelivery').implement({
  description: 'One event for one endpoint, tried until it succeeds or its retries run out.',
  fields: (t) => ({
    id: t.exposeID('id'),
    eventId: t.exposeID('eventId', { description: 'Sent as the webhook-id header; the id subscriptions see.' }),
    eventType: t.exposeString('eventType'),
    status: t.field({ type: DeliveryStatus, resolve: (d) => d.status as (typeof DELIVERY_STATUSES)[number] }),
    attemptCount: t.exposeInt('attemptCount'),
    nextAttemptAt: t.field({
      type: 'DateTime',
      nullable: true,
      resolve: (d) => (d.status === 'pending' ? d.nextAttemptAt : null),
    }),
    lastAttemptAt: t.expose('lastAttemptAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    attempts: t.field({ type: [WebhookAttemptRef], resolve: (d) => d.attempts }),
  }),
});

const WebhookEndpointRef = builder.objectRef<WebhookEndpoint>('WebhookEndpoint');
WebhookEndpointRef.implement({
  description: "A receiver of the tenant's events, signed with Standard Webhooks.",
  fields: (t) => ({
    id: t.exposeID('id'),
    url: t.exposeString('url'),
    description: t.exposeString('description', { nullable: true }),
    eventTypes: t.exposeStringList('eventTypes', {
      description: "Types or wildcards; the tenant's features narrow them.",
    }),
    filters: t.field({
      type: ['JSON'],
      description: 'Content filter: conditions ({field, operator, value}) on the event that must all hold.',
      resolve: (endpoint) => endpoint.filters as unknown[],
    }),
    anyOf: t.field({
      type: t.listRef(t.listRef('JSON')),
      description: 'Lists of conditions of which at least one must hold in full.',
      resolve: (endpoint) => endpoint.anyOf as unknown[][],
    }),
    filteredOut: t.int({
      description: "Events of the endpoint's types its content filter kept from it: no delivery was created for them.",
      resolve: (endpoint, _args, ctx) => ctx.services.webhooks.filteredOut(authOf(ctx), endpoint.id),
    }),
    enabled: t.exposeBoolean('enabled'),
    disabledReason: t.exposeString('disabledReason', {
      nullable: true,
      description: 'manual, gone (answered 410) or failing (failed too long).',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    deliveries: t.connection({
      type: WebhookDeliveryRef,
      args: {
        status: t.arg({ type: DeliveryStatus }),
        eventType: t.arg.string({ description: 'A type, or a prefix wildcard such as "accounting.*".' }),
      },
      resolve: (endpoint, args, ctx: GraphQLContext) =>
        forwardConnection(args, 'whdel', (page) =>
          ctx.services.webhooks.deliveries(authOf(ctx), endpoint.id, {
            ...page,
            status: args.status ?? undefined,
            eventType: args.eventType ?? undefined,
          }),
        ),
    }),
  }),
});

const EndpointWithSecret = builder
  .objectRef<{ endpoint: WebhookEndpoint; secret: string }>('WebhookEndpointWithSecret')
  .implement({
    fields: (t) => ({
      endpoint: t.field({ type: WebhookEndpointRef, resolve: (r) => r.endpoint }),
      secret: t.exposeString('secret', {
        description: 'whsec_…; shown only in this answer. Verify deliveries with it.',
      }),
    }),
  });

const CreateWebhookEndpointInput = builder.inputType('CreateWebhookEndpointInput', {
  fields: (t) => ({
    url: t.string({ required: true }),
    description: t.string(),
    eventTypes: t.stringList({ description: 'Default ["*"]: every type the tenant\'s features allow.' }),
    filters: t.field({ type: [EventFilterInput], description: 'Conditions on the event that must all hold.' }),
    anyOf: t.field({
      type: t.listRef(t.listRef(EventFilterInput)),
      description: 'Lists of conditions of which at least one must hold in full.',
    }),
  }),
});

const UpdateWebhookEndpointInput = builder.inputType('UpdateWebhookEndpointInput', {
  description: 'Omitted fields are left unchanged; enabled: true re-enables a disabled endpoint.',
  fields: (t) => ({
    url: t.string(),
    description: t.string(),
    eventTypes: t.stringList(),
    filters: t.field({ type: [EventFilterInput], description: 'Replaces the conditions; [] removes them.' }),
    anyOf: t.field({
      type: t.listRef(t.listRef(EventFilterInput)),
      description: 'Replaces the groups; [] removes them.',
    }),
    enabled: t.boolean(),
  }),
});

const WouldDeliverRef = builder
  .objectRef<{ matches: boolean; typeMatches: boolean; filterMatches: boolean }>('WebhookWouldDeliver')
  .implement({
    description: 'Whether an endpoint would get a sample event, and why not.',
    fields: (t) => ({
      matches: t.exposeBoolean('matches'),
      typeMatches: t.exposeBoolean('typeMatches', {
        description: "Its type is one of the endpoint's eventTypes, and the tenant's features allow it.",
      }),
      filterMatches: t.exposeBoolean('filterMatches', {
        description: "The endpoint's content filter matches its data (true without a filter).",
      }),
    }),
  });

builder.queryFields((t) => ({
  webhookWouldDeliver: t.field({
    type: WouldDeliverRef,
    description: 'Whether the endpoint would get a sample event (its types and content filter); nothing is sent.',
    args: {
      endpointId: t.arg.id({ required: true }),
      type: t.arg.string({ required: true }),
      data: t.arg({ type: 'JSONObject', required: true }),
      resourceId: t.arg.string(),
      correlationId: t.arg.string(),
    },
    resolve: (_root, { endpointId, ...event }, ctx) =>
      ctx.services.webhooks.wouldDeliver(authOf(ctx), endpointId, { event: withoutNulls(event) }),
  }),
  webhookEndpoint: t.field({
    type: WebhookEndpointRef,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.webhooks.get(authOf(ctx), args.id),
  }),
  webhookEndpoints: t.connection({
    type: WebhookEndpointRef,
    description: "The tenant's webhook endpoints, oldest first.",
    resolve: (_root, args, ctx) =>
      forwardConnection(args, 'whep', (page) => ctx.services.webhooks.list(authOf(ctx), page)),
  }),
}));

builder.mutationFields((t) => ({
  createWebhookEndpoint: t.field({
    type: EndpointWithSecret,
    args: { input: t.arg({ type: CreateWebhookEndpointInput, required: true }) },
    resolve: (_root, args, ctx) => ctx.services.webhooks.create(authOf(ctx), withoutNulls(args.input)),
  }),
  updateWebhookEndpoint: t.field({
    type: WebhookEndpointRef,
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateWebhookEndpointInput, required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.webhooks.update(authOf(ctx), args.id, withoutNulls(args.input, ['description'])),
  }),
  deleteWebhookEndpoint: t.field({
    type: 'ID',
    description: 'Deletes the endpoint and its delivery log; answers its id.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      await ctx.services.webhooks.delete(authOf(ctx), args.id);
      return args.id;
    },
  }),
  rotateWebhookSecret: t.field({
    type: EndpointWithSecret,
    description: 'A new secret; the previous ones keep signing alongside it for the overlap (WEBHOOK_SECRET_OVERLAP).',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.webhooks.rotateSecret(authOf(ctx), args.id),
  }),
  retryWebhookDelivery: t.field({
    type: WebhookDeliveryRef,
    args: { endpointId: t.arg.id({ required: true }), deliveryId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.webhooks.retry(authOf(ctx), args.endpointId, args.deliveryId),
  }),
  recoverWebhookDeliveries: t.field({
    type: 'Int',
    description:
      'Sends again what the endpoint missed since `since`: its failed deliveries, and events it got no delivery for (say, while it was disabled); answers how many deliveries are due.',
    args: { endpointId: t.arg.id({ required: true }), since: t.arg({ type: 'DateTime', required: true }) },
    resolve: async (_root, args, ctx) =>
      (await ctx.services.webhooks.recover(authOf(ctx), args.endpointId, { since: args.since.toISOString() }))
        .recovered,
  }),
  sendTestWebhook: t.field({
    type: WebhookDeliveryRef,
    description: 'Sends a webhooks.endpoint.test event to this endpoint only.',
    args: { endpointId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.webhooks.sendTest(authOf(ctx), args.endpointId),
  }),
}));
