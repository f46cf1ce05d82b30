import { eventTypesFor } from './catalog.js';
import { builder } from '../../graphql/builder.js';
import { authOf } from '../../graphql/auth.js';

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
