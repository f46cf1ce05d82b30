import { z } from 'zod';
import type { Feature } from '../../auth/context.js';
import { canRead, EVENT_TYPES, featureOf, TEST_EVENT_TYPE, type EventType } from '../events/types.js';
import { EventEnvelope, GAPLESS } from '../events/envelope.js';
import { ContactResource } from '../contacts/resource.js';
import { InvoiceResource } from '../invoices/resource.js';
import { JobResource } from '../jobs/resource.js';

// The event-type catalog: every type the gateway emits, what it means, the feature it needs and
// the JSON Schema of its `data`. Served as GET /api/v1/event-types, the GraphQL `eventTypes` query
// and the OpenAPI document's `webhooks`, all from this one list. A feature of its own, above the
// events feature: it knows every resource's shape, and the features that own those resources
// write to the event log.

/** JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1) of a zod schema, without `$schema`, to embed anywhere. */
function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'output' });
  return rest;
}

const TestEventData = z.strictObject({
  endpointId: z.string().describe('whep_ followed by a ULID'),
  message: z.string(),
});

const RESOURCES = { contact: ContactResource, invoice: InvoiceResource, job: JobResource } as const;

/** What each type means; keyed by EventType, so a type the domain adds and this misses does not compile. */
const DESCRIPTIONS: Record<EventType, string> = {
  'communication.contact.created': 'A contact was created (REST, GraphQL or an import); data is the contact.',
  'communication.contact.updated':
    'A contact was changed (REST, GraphQL or an import); data is the contact after the change.',
  'communication.contact.deleted': 'A contact was deleted; data is its last state.',
  'accounting.invoice.created':
    "An invoice was created as a draft; data is the invoice with its currency, lines and totals (amounts as decimal strings with the currency's minor units).",
  'accounting.invoice.issued': 'A draft invoice was issued; data is the invoice, status issued.',
  'accounting.invoice.paid': 'An issued invoice was paid; data is the invoice, status paid.',
  'accounting.invoice.voided': 'A draft or issued invoice was voided; data is the invoice, status void.',
  'jobs.job.queued': 'A job entered the queue: created, or waiting for another attempt; data is the job.',
  'jobs.job.running': 'A gateway worker or a runner started an attempt of the job; data is the job.',
  'jobs.job.progress': 'A running job reported progress; data is the job with its progress.',
  'jobs.job.succeeded': 'A job finished; data is the job with its result.',
  'jobs.job.failed':
    'A job failed for good (attempts used up, or no runner for its type); data is the job with its error.',
  'jobs.job.canceled': 'A job was canceled; data is the job.',
};

export type EventTypeEntry = {
  type: string;
  description: string;
  /** The tenant feature a subscriber needs to receive it; null: every tenant. */
  feature: Feature | null;
  /** JSON Schema of the envelope's `data`. */
  schema: Record<string, unknown>;
  /** Only webhook endpoints receive it, on request: it is not part of the event log. */
  webhookOnly: boolean;
};

export const EVENT_TYPE_CATALOG: readonly EventTypeEntry[] = [
  ...EVENT_TYPES.map((type) => ({
    type,
    description: DESCRIPTIONS[type],
    feature: featureOf(type),
    schema: jsonSchema(RESOURCES[type.split('.')[1] as keyof typeof RESOURCES]),
    webhookOnly: false,
  })),
  {
    type: TEST_EVENT_TYPE,
    description:
      'Sent to one webhook endpoint when asked (POST /api/v1/webhooks/endpoints/{id}/test); not in the event log, tenantSequence null.',
    feature: null,
    schema: jsonSchema(TestEventData),
    webhookOnly: true,
  },
];

/** The JSON Schema of each type's data, by type: what content filters check their fields against. */
export const EVENT_DATA_SCHEMAS: ReadonlyMap<string, Record<string, unknown>> = new Map(
  EVENT_TYPE_CATALOG.map((entry) => [entry.type, entry.schema]),
);

/** The catalog as a caller sees it: each type, and whether the caller's tenant receives it (its feature is on). */
export function eventTypesFor(features: readonly string[]) {
  return EVENT_TYPE_CATALOG.map((entry) => ({ ...entry, enabled: canRead(features, entry.type) }));
}

/** JSON Schema of the envelope as webhooks POST it (and GET /api/v1/events lists it) for one type, with that type's data. */
export function envelopeSchema(entry: EventTypeEntry): Record<string, unknown> {
  const envelope = EventEnvelope.extend({
    type: z.literal(entry.type),
    tenantSequence: entry.webhookOnly
      ? z.null().describe('Test events are not part of the log')
      : z.int().min(1).describe(GAPLESS),
  });
  const schema = jsonSchema(envelope) as { properties: Record<string, unknown> };
  schema.properties.data = entry.schema;
  return schema;
}
