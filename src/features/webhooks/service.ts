import { z } from 'zod';
import type {
  Prisma,
  PrismaClient,
  WebhookAttempt,
  WebhookDelivery,
  WebhookEndpoint,
} from '../../generated/prisma/client.js';
import type { AuthContext } from '../../auth/context.js';
import type { WebhookConfig } from '../../config.js';
import type { Query } from '../../db/database.js';
import { BlockedAddressError, type AddressGuard } from './address-guard.js';
import { ValidationError } from '../../core/errors.js';
import { FilterGroups } from '../../core/filters.js';
import { ownedOrNotFound, type OwnedResource } from '../../core/owned.js';
import type { EventEnvelope } from '../events/service.js';
import type { EventFilters, FilterableEvent } from '../events/filters.js';
import { EVENT_TYPES, matchesPattern, TEST_EVENT_TYPE } from '../events/types.js';
import { newId } from '../../core/ids.js';
import { optionalText, parseInput } from '../../core/validation.js';
import { newWebhookSecret } from './signing.js';
import { endpointWants, typesOf } from './policy.js';
import { deliveryScheduler, endpointFilter } from './schedule.js';
import { eventsMissedBy, insertDeliveries, notifyDeliveryWorkers } from './sql.js';

const eventTypePattern = z
  .string()
  .trim()
  .refine(
    (pattern) => EVENT_TYPES.some((type) => matchesPattern(type, pattern)),
    'is not an event type or a wildcard such as "accounting.*"',
  );

const endpointFields = {
  url: z
    .string()
    .trim()
    .max(2000)
    .refine((url) => URL.canParse(url) && /^https?:$/.test(new URL(url).protocol), 'must be an http or https URL')
    .refine((url) => !URL.canParse(url) || !new URL(url).username, 'must not contain credentials')
    .meta({ format: 'uri', pattern: '^\\s*[Hh][Tt][Tt][Pp][Ss]?://[^@/]*(/|$)' }),
  description: optionalText(500),
  eventTypes: z.array(eventTypePattern).min(1, 'must name at least one type, or "*"').max(50),
  ...FilterGroups.shape,
};

export const CreateEndpointInput = z.strictObject({
  url: endpointFields.url,
  description: endpointFields.description,
  eventTypes: endpointFields.eventTypes.default(['*']),
  filters: endpointFields.filters,
  anyOf: endpointFields.anyOf,
});
export const UpdateEndpointInput = z.strictObject({
  url: endpointFields.url.optional(),
  description: endpointFields.description,
  eventTypes: endpointFields.eventTypes.optional(),
  filters: endpointFields.filters.unwrap().optional(),
  anyOf: endpointFields.anyOf.unwrap().optional(),
  enabled: z.boolean({ error: 'must be true or false' }).optional(),
});
/** A sample event for POST …/test: would the endpoint get it? */
export const TestEndpointInput = z.strictObject({
  event: z
    .strictObject({
      type: z.string().max(200).describe('An event type, e.g. accounting.invoice.paid'),
      data: z.record(z.string(), z.unknown()).describe("The event's data: the resource as REST returns it"),
      resourceId: z.string().max(200).default(''),
      correlationId: z.string().max(200).default(''),
    })
    .describe('A sample event: nothing is sent, the answer says whether the endpoint would get it'),
});
export const RecoverInput = z.strictObject({
  since: z.iso.datetime({ offset: true, error: 'must be an ISO-8601 date-time' }),
});

export const DELIVERY_STATUSES = ['pending', 'succeeded', 'failed'] as const;
export const DeliveryFilter = z.strictObject({
  status: z.enum(DELIVERY_STATUSES, { error: `must be one of ${DELIVERY_STATUSES.join(', ')}` }).optional(),
  eventType: z.string().trim().max(200).optional(),
});

/** The endpoint as REST returns it; the secret only when it was just made (creation, rotation). */
export function endpointResource(endpoint: WebhookEndpoint) {
  return {
    endpointId: endpoint.id,
    url: endpoint.url,
    description: endpoint.description,
    eventTypes: endpoint.eventTypes,
    filters: endpoint.filters as FilterGroups['filters'],
    anyOf: endpoint.anyOf as FilterGroups['anyOf'],
    enabled: endpoint.enabled,
    disabledReason: endpoint.disabledReason,
    createdAt: endpoint.createdAt.toISOString(),
    updatedAt: endpoint.updatedAt.toISOString(),
  };
}

export function deliveryResource(delivery: WebhookDelivery & { attempts: WebhookAttempt[] }) {
  return {
    deliveryId: delivery.id,
    endpointId: delivery.endpointId,
    eventId: delivery.eventId,
    eventType: delivery.eventType,
    status: delivery.status,
    attemptCount: delivery.attemptCount,
    nextAttemptAt: delivery.status === 'pending' ? (delivery.nextAttemptAt?.toISOString() ?? null) : null,
    lastAttemptAt: delivery.lastAttemptAt?.toISOString() ?? null,
    createdAt: delivery.createdAt.toISOString(),
    attempts: delivery.attempts.map((attempt) => ({
      attemptedAt: attempt.attemptedAt.toISOString(),
      durationMs: attempt.durationMs,
      statusCode: attempt.statusCode,
      responseHeaders: attempt.responseHeaders,
      responseBody: attempt.responseBody,
      error: attempt.error,
    })),
  };
}

type DeliveryPage = { limit: number; afterId?: string; status?: string; eventType?: string };

const ENDPOINT: OwnedResource = { name: 'Webhook endpoint', prefix: 'whep' };
const DELIVERY: OwnedResource = { name: 'Delivery', prefix: 'whdel', path: 'deliveryId' };

export function webhookService(
  prisma: PrismaClient,
  query: Query,
  config: WebhookConfig,
  guard: AddressGuard,
  filters: EventFilters,
) {
  /** Checks an endpoint's filter against the data of its types; refusals name `filters[1].field`. */
  const checkFilter = (eventTypes: readonly string[], groups: unknown) => filters.compile(typesOf(eventTypes), groups);

  const scheduler = deliveryScheduler(query, filters);
  const filterOf = (endpoint: WebhookEndpoint) => endpointFilter(filters, endpoint);

  const findEndpoint = (auth: AuthContext, id: string): Promise<WebhookEndpoint> =>
    ownedOrNotFound(ENDPOINT, auth, id, (where) => prisma.webhookEndpoint.findFirst({ where }));

  /** Refuses URLs that are or resolve to non-public addresses (unless allowed by the operator). */
  async function checkTarget(url: string): Promise<void> {
    try {
      await guard.check(new URL(url).hostname);
    } catch (error) {
      const message =
        error instanceof BlockedAddressError
          ? `resolves to ${error.address} (${error.reason}), which is not a public address (an operator can allow ranges with WEBHOOK_ALLOWED_CIDRS)`
          : 'could not be resolved';
      throw new ValidationError([{ path: 'url', message }]);
    }
  }

  return {
    async create(auth: AuthContext, input: unknown): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
      const data = parseInput(CreateEndpointInput, input);
      checkFilter(data.eventTypes, { filters: data.filters, anyOf: data.anyOf });
      await checkTarget(data.url);
      const secret = newWebhookSecret();
      const endpoint = await prisma.webhookEndpoint.create({
        data: {
          id: newId('whep'),
          tenantId: auth.tenantId,
          url: data.url,
          description: data.description ?? null,
          eventTypes: data.eventTypes,
          filters: data.filters as Prisma.InputJsonValue,
          anyOf: data.anyOf as Prisma.InputJsonValue,
          secrets: { create: { id: newId('whsk'), secret } },
        },
      });
      return { endpoint, secret };
    },

    list(auth: AuthContext, page: { limit: number; afterId?: string }) {
      return prisma.webhookEndpoint.findMany({
        where: { tenantId: auth.tenantId, ...(page.afterId ? { id: { gt: page.afterId } } : {}) },
        orderBy: { id: 'asc' },
        take: page.limit,
      });
    },

    get: (auth: AuthContext, id: string) => findEndpoint(auth, id),

    /** Changes what was given; `enabled: true` re-enables a disabled endpoint and forgets its failures. */
    async update(auth: AuthContext, id: string, input: unknown): Promise<WebhookEndpoint> {
      const data = parseInput(UpdateEndpointInput, input);
      const endpoint = await findEndpoint(auth, id);
      // The filter as it will be, against the types as they will be: changing either checks both.
      checkFilter(data.eventTypes ?? endpoint.eventTypes, {
        filters: data.filters ?? endpoint.filters,
        anyOf: data.anyOf ?? endpoint.anyOf,
      });
      if (data.url) await checkTarget(data.url);
      const enabling = data.enabled === true && !endpoint.enabled;
      return prisma.webhookEndpoint.update({
        where: { id: endpoint.id },
        data: {
          url: data.url,
          description: data.description,
          eventTypes: data.eventTypes,
          filters: data.filters as Prisma.InputJsonValue | undefined,
          anyOf: data.anyOf as Prisma.InputJsonValue | undefined,
          enabled: data.enabled,
          ...(data.enabled === false ? { disabledReason: 'manual' } : {}),
          ...(enabling ? { disabledReason: null, failingSince: null } : {}),
        },
      });
    },

    async delete(auth: AuthContext, id: string): Promise<void> {
      const endpoint = await findEndpoint(auth, id);
      await prisma.webhookEndpoint.delete({ where: { id: endpoint.id } });
    },

    /** A new secret signs from now on; the current ones keep signing for the overlap, then stop. */
    async rotateSecret(auth: AuthContext, id: string): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
      const endpoint = await findEndpoint(auth, id);
      const secret = newWebhookSecret();
      const overlapEnds = new Date(Date.now() + config.secretOverlapMs);
      await prisma.$transaction([
        prisma.webhookSecret.updateMany({
          where: { endpointId: endpoint.id, OR: [{ expiresAt: null }, { expiresAt: { gt: overlapEnds } }] },
          data: { expiresAt: overlapEnds },
        }),
        prisma.webhookSecret.create({ data: { id: newId('whsk'), endpointId: endpoint.id, secret } }),
      ]);
      return { endpoint, secret };
    },

    async deliveries(auth: AuthContext, endpointId: string, page: DeliveryPage) {
      const endpoint = await findEndpoint(auth, endpointId);
      const filter = parseInput(DeliveryFilter, { status: page.status, eventType: page.eventType });
      const typeFilter = filter.eventType?.endsWith('*')
        ? { startsWith: filter.eventType.slice(0, -1) }
        : filter.eventType;
      return prisma.webhookDelivery.findMany({
        where: {
          endpointId: endpoint.id,
          status: filter.status,
          eventType: typeFilter,
          ...(page.afterId ? { id: { gt: page.afterId } } : {}),
        },
        orderBy: { id: 'asc' },
        take: page.limit,
        include: { attempts: { orderBy: { attemptedAt: 'asc' } } },
      });
    },

    /** How many events of the endpoint's types its content filter kept from it (no delivery was created for them). */
    async filteredOut(auth: AuthContext, endpointId: string): Promise<number> {
      const endpoint = await findEndpoint(auth, endpointId);
      const row = await prisma.webhookFilteredCount.findUnique({ where: { endpointId: endpoint.id } });
      return Number(row?.filteredOut ?? 0) + scheduler.keptBackOf(endpoint.id);
    },

    async delivery(auth: AuthContext, endpointId: string, deliveryId: string) {
      const endpoint = await findEndpoint(auth, endpointId);
      return ownedOrNotFound(DELIVERY, auth, deliveryId, (where) =>
        prisma.webhookDelivery.findFirst({
          where: { ...where, endpointId: endpoint.id },
          include: { attempts: { orderBy: { attemptedAt: 'asc' } } },
        }),
      );
    },

    /** Tries one delivery again now, whatever its status; the attempt joins its log. */
    async retry(auth: AuthContext, endpointId: string, deliveryId: string) {
      const delivery = await this.delivery(auth, endpointId, deliveryId);
      await prisma.webhookDelivery.update({
        where: { id: delivery.id },
        data: { status: 'pending', nextAttemptAt: new Date() },
      });
      await notifyWorkers(prisma);
      return this.delivery(auth, endpointId, deliveryId);
    },

    /**
     * Sends again what the endpoint missed since `since`: its failed deliveries created since then
     * go back to pending, and events that occurred since then and that it wants but never got a
     * delivery for (it was disabled, or did not want their type then) get one. Events from before
     * the endpoint existed are not its own. A disabled endpoint's recovered deliveries wait until
     * it is re-enabled. Answers how many deliveries are due.
     */
    async recover(auth: AuthContext, endpointId: string, input: unknown): Promise<{ recovered: number }> {
      const { since } = parseInput(RecoverInput, input);
      const endpoint = await findEndpoint(auth, endpointId);
      const from = new Date(Math.max(Date.parse(since), endpoint.createdAt.getTime()));
      const types = EVENT_TYPES.filter((type) => endpointWants(endpoint, auth.features, type));
      const recovered = await prisma.$transaction(async (tx) => {
        const { count: retried } = await tx.webhookDelivery.updateMany({
          where: { endpointId: endpoint.id, status: 'failed', createdAt: { gte: new Date(since) } },
          data: { status: 'pending', nextAttemptAt: new Date() },
        });
        // Delivered at commit; the missed events' insert below wakes the workers itself.
        if (retried) await notifyWorkers(tx);
        const filter = filterOf(endpoint);
        const missed = (
          await tx.$queryRaw<(FilterableEvent & { id: string; type: string })[]>(
            eventsMissedBy({ tenantId: auth.tenantId, endpointId: endpoint.id, from, types }),
          )
        ).filter((event) => !filter || filter(event));
        // The relay may create some of them meanwhile (events it had not published yet): one each.
        if (!missed.length) return retried;
        const [{ created }] = await tx.$queryRaw<{ created: number }[]>(
          insertDeliveries(
            missed.map((event) => ({
              id: newId('whdel'),
              tenantId: auth.tenantId,
              endpointId: endpoint.id,
              eventId: event.id,
              eventType: event.type,
            })),
          ),
        );
        return retried + created;
      });
      return { recovered };
    },

    /**
     * Whether the endpoint would get a sample event: its types (and the tenant's features) and its
     * content filter, judged as the relay judges every event. Nothing is sent.
     */
    async wouldDeliver(auth: AuthContext, endpointId: string, input: unknown) {
      const { event } = parseInput(TestEndpointInput, input);
      const endpoint = await findEndpoint(auth, endpointId);
      const typeMatches = endpointWants(endpoint, auth.features, event.type);
      const filter = filterOf(endpoint);
      const filterMatches = !filter || filter(event);
      return { matches: typeMatches && filterMatches, typeMatches, filterMatches };
    },

    /** Sends a `webhooks.endpoint.test` event to this endpoint only; it is not part of the event log. */
    async sendTest(auth: AuthContext, endpointId: string) {
      const endpoint = await findEndpoint(auth, endpointId);
      const eventId = newId('evt');
      const payload: EventEnvelope = {
        id: eventId,
        type: TEST_EVENT_TYPE,
        tenantSequence: null,
        occurredAt: new Date().toISOString(),
        correlationId: auth.correlationId,
        data: { endpointId: endpoint.id, message: 'A test event sent on request.' },
      };
      const delivery = await prisma.webhookDelivery.create({
        data: {
          id: newId('whdel'),
          tenantId: auth.tenantId,
          endpointId: endpoint.id,
          eventId,
          eventType: TEST_EVENT_TYPE,
          payload,
          nextAttemptAt: new Date(),
        },
      });
      await notifyWorkers(prisma);
      return this.delivery(auth, endpointId, delivery.id);
    },

    /** Creates the deliveries of a batch of committed events inside the relay's transaction (each event gets them exactly once). */
    scheduleDeliveries: scheduler.schedule,
    /** Writes the counts of events content filters kept from their endpoints (see KEPT_BACK_WRITE_MS). */
    writeKeptBack: scheduler.writeKeptBack,
  };
}

export type WebhookService = ReturnType<typeof webhookService>;

export async function notifyWorkers(db: Prisma.TransactionClient): Promise<void> {
  await db.$executeRaw(notifyDeliveryWorkers());
}
