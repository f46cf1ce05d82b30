import type { Prisma, PrismaClient } from '../../generated/prisma/client.js';
import type { AuthContext } from '../../auth/context.js';
import { NotFoundError } from '../../core/errors.js';
import { newId, parseId } from '../../core/ids.js';
import {
  appendedEventsWithChange,
  appendEvents,
  changeAndAppendEvents,
  writeAndAppendEvents,
  writeAndAppendEventsOfWritten,
  type AppendedEvent,
} from './sql.js';
import { selectEventTypes, type EventType } from './types.js';
import type { EventFilter, EventFilters } from './filters.js';

export type NewEvent = {
  type: EventType;
  resourceType: 'contact' | 'invoice' | 'job';
  resourceId: string;
  /** The resource as GET returns it after the change. */
  data: Prisma.InputJsonObject;
};

/** What identifies an event and lets a subscriber filter it: small enough to travel through pub/sub. */
export type EventFacts = {
  id: string;
  tenantSequence: number;
  type: string;
  occurredAt: Date;
  correlationId: string;
  resourceType: string;
  resourceId: string;
};

/** The envelope as REST, webhooks and the GraphQL `snapshot` carry it (DESIGN.md, "Events"). */
export type EventEnvelope = {
  id: string;
  type: string;
  /** Null only for webhook test events, which are not part of the log. */
  tenantSequence: number | null;
  occurredAt: string;
  correlationId: string;
  data: Prisma.JsonValue;
};

const FACT_COLUMNS = {
  id: true,
  tenantSequence: true,
  type: true,
  occurredAt: true,
  correlationId: true,
  resourceType: true,
  resourceId: true,
} as const;

export function eventEnvelope(event: EventFacts & { data: Prisma.JsonValue }): EventEnvelope {
  return {
    id: event.id,
    type: event.type,
    tenantSequence: event.tenantSequence,
    occurredAt: event.occurredAt.toISOString(),
    correlationId: event.correlationId,
    data: event.data,
  };
}

/** Appends events to the log inside the caller's transaction. Call it last, so the tenant's row is locked briefly. */
export async function recordEvents(
  tx: Prisma.TransactionClient,
  writer: Pick<AuthContext, 'tenantId' | 'correlationId'>,
  events: NewEvent[],
): Promise<void> {
  if (!events.length) return;
  await tx.$executeRaw(appendEvents(writer.tenantId, appended(writer, events)));
}

export function recordEvent(
  tx: Prisma.TransactionClient,
  writer: Pick<AuthContext, 'tenantId' | 'correlationId'>,
  event: NewEvent,
): Promise<void> {
  return recordEvents(tx, writer, [event]);
}

/**
 * Runs `write` (an INSERT … RETURNING) and appends its events in one statement, so no transaction
 * is needed: it is atomic, and the tenant's counter row is locked only while the statement commits.
 * Returns what `write` returned.
 */
export function writeWithEvents<Row>(
  db: Prisma.TransactionClient,
  writer: Pick<AuthContext, 'tenantId' | 'correlationId'>,
  write: Prisma.Sql,
  events: NewEvent[],
): Promise<Row[]> {
  return db.$queryRaw<Row[]>(writeAndAppendEvents(write, writer.tenantId, appended(writer, events)));
}

/** One writer's event in a batch of several writers' (each keeps its own correlationId). */
export type WriterEvent = { writer: Pick<AuthContext, 'correlationId'>; event: NewEvent };

/**
 * The CTEs that append `events` of `writer`, then the event of the statement's `changed` row, only
 * when that row changed (see appendedEventsWithChange): for a statement whose writes count only
 * along with the change of one row that names its own event (a job's progress update).
 */
export function eventsWithChange(writer: Pick<AuthContext, 'tenantId' | 'correlationId'>, events: NewEvent[]) {
  return appendedEventsWithChange(writer.tenantId, appended(writer, events), [newId('evt')]);
}

/**
 * The statement of writeWithEvents for a batch of one tenant's rows that may skip some (INSERT …
 * ON CONFLICT DO NOTHING RETURNING "id"…), to run on the driver (Database.query): appends only the
 * events of the rows written (resourceId = "id"), numbered without gaps; returns what `write` returned.
 */
export function batchWithEvents(tenantId: string, write: Prisma.Sql, events: WriterEvent[]): Prisma.Sql {
  const rows = events.flatMap(({ writer, event }) => appended(writer, [event]));
  return writeAndAppendEventsOfWritten(write, tenantId, rows);
}

/** The log's rows of new events: each gets its id here, its tenantSequence from the statement. */
function appended(writer: Pick<AuthContext, 'correlationId'>, events: NewEvent[]): AppendedEvent[] {
  return events.map((event) => ({
    id: newId('evt'),
    type: event.type,
    resourceType: event.resourceType,
    resourceId: event.resourceId,
    correlationId: writer.correlationId,
    data: event.data,
  }));
}

export type EventRange = {
  /** Only events after this tenantSequence. */
  afterSequence: number;
  /** And up to this one, inclusive (default: no bound). */
  throughSequence?: number;
  /** Newest first, for paging backwards. */
  descending?: boolean;
  types: readonly string[];
  resourceId?: string;
  limit: number;
};

/** What a caller selects of the log: types (patterns), and the content filter (see filters.ts). */
export type EventSelection = { types?: readonly string[] | null; filters?: unknown; anyOf?: unknown };

/** A page of the filtered log: the matching events, the last event it examined (null: none), and whether it read the range to its end. */
export type FilteredPage = {
  events: (EventFacts & { data: Prisma.JsonValue })[];
  examined: Pick<EventFacts, 'id' | 'tenantSequence'> | null;
  exhausted: boolean;
};

/** Reads the tenant's durable event log: what catch-up, the events query and GET /events share. */
export function eventService(prisma: PrismaClient, filters: EventFilters) {
  return {
    /**
     * The types a caller reads and its content filter, checked and compiled once (null: none).
     * Refusals name their paths (`types[0]`, `filters[1].field`).
     */
    select(auth: AuthContext, selection: EventSelection): { types: EventType[]; filter: EventFilter | null } {
      const types = selectEventTypes(auth, selection.types);
      return { types, filter: filters.compile(types, { filters: selection.filters, anyOf: selection.anyOf }) };
    },

    /**
     * A page of the log that matches `selection`, read in the log's order and filtered in the
     * process by the same predicate as live streams and webhooks: up to `limit` events, having
     * examined at most `maxExamined` (when given) after `after`.
     */
    async search(
      auth: AuthContext,
      selection: EventSelection,
      page: { after?: string; before?: string; limit: number; descending?: boolean; maxExamined?: number },
    ): Promise<FilteredPage> {
      const { types, filter } = this.select(auth, selection);
      let afterSequence = page.after ? await this.sequenceOf(auth, page.after, 'after') : 0;
      let throughSequence = page.before ? (await this.sequenceOf(auth, page.before, 'before')) - 1 : undefined;
      const found: FilteredPage['events'] = [];
      let examined: FilteredPage['examined'] = null;
      let count = 0;
      for (;;) {
        const rows = await this.withData(auth.tenantId, {
          types,
          afterSequence,
          throughSequence,
          limit: FILTER_PAGE,
          descending: page.descending,
        });
        for (const row of rows) {
          examined = row;
          count++;
          if (!filter || filter(row)) found.push(row);
          if (found.length === page.limit || count === page.maxExamined)
            return { events: found, examined, exhausted: false };
        }
        if (rows.length < FILTER_PAGE) return { events: found, examined, exhausted: true };
        const last = rows.at(-1)!.tenantSequence;
        if (page.descending) throughSequence = last - 1;
        else afterSequence = last;
      }
    },

    /** The tenantSequence of one of the tenant's events; another tenant's id is not found. */
    async sequenceOf(auth: AuthContext, eventId: string, path = 'after'): Promise<number> {
      parseId('evt', eventId, path);
      const event = await prisma.event.findFirst({
        where: { id: eventId, tenantId: auth.tenantId },
        select: { tenantSequence: true },
      });
      if (!event) throw new NotFoundError('Event', eventId);
      return event.tenantSequence;
    },

    /** The tenant's latest tenantSequence: every event up to it is committed and readable. */
    async latestSequence(tenantId: string): Promise<number> {
      const tenant = await prisma.tenant.findUnique({ where: { id: tenantId }, select: { eventSequence: true } });
      return tenant?.eventSequence ?? 0;
    },

    /** The latest tenantSequence of each of these tenants. */
    async latestSequences(tenantIds: string[]): Promise<Map<string, number>> {
      const rows = await prisma.tenant.findMany({
        where: { id: { in: tenantIds } },
        select: { id: true, eventSequence: true },
      });
      return new Map(rows.map((row) => [row.id, row.eventSequence]));
    },

    facts(tenantId: string, range: EventRange): Promise<EventFacts[]> {
      return prisma.event.findMany({
        where: rangeWhere(tenantId, range),
        orderBy: order(range),
        take: range.limit,
        select: FACT_COLUMNS,
      });
    },

    withData(tenantId: string, range: EventRange) {
      return prisma.event.findMany({
        where: rangeWhere(tenantId, range),
        orderBy: order(range),
        take: range.limit,
        select: { ...FACT_COLUMNS, data: true },
      });
    },

    /**
     * A page of the log for the events query and GET /events: after and before are event ids
     * (cursors), types are patterns as in selectEventTypes.
     */
    async list(
      auth: AuthContext,
      page: { types?: readonly string[] | null; after?: string; before?: string; limit: number; descending?: boolean },
    ) {
      const types = selectEventTypes(auth, page.types);
      const afterSequence = page.after ? await this.sequenceOf(auth, page.after, 'after') : 0;
      const throughSequence = page.before ? (await this.sequenceOf(auth, page.before, 'before')) - 1 : undefined;
      return this.withData(auth.tenantId, {
        types,
        afterSequence,
        throughSequence,
        limit: page.limit,
        descending: page.descending,
      });
    },

    /** The envelope's data of one event, as it was right after the change. */
    async snapshot(event: Pick<EventFacts, 'id'>): Promise<Prisma.JsonValue> {
      const row = await prisma.event.findUniqueOrThrow({ where: { id: event.id }, select: { data: true } });
      return row.data;
    },

    /** The event's resource as it is now (with the caller's `select` or `include`), or null once it is deleted. */
    currentResource(event: Pick<EventFacts, 'resourceType' | 'resourceId'>, query: object = {}) {
      const args = { ...query, where: { id: event.resourceId } };
      if (event.resourceType === 'contact') return prisma.contact.findUnique(args);
      if (event.resourceType === 'invoice') return prisma.invoice.findUnique(args);
      return prisma.job.findUnique(args);
    },
  };
}

export type EventService = ReturnType<typeof eventService>;

/** Events read from the log per round trip while filtering it. */
const FILTER_PAGE = 500;

function rangeWhere(tenantId: string, range: EventRange): Prisma.EventWhereInput {
  return {
    tenantId,
    tenantSequence: {
      gt: range.afterSequence,
      ...(range.throughSequence !== undefined ? { lte: range.throughSequence } : {}),
    },
    type: { in: [...range.types] },
    ...(range.resourceId ? { resourceId: range.resourceId } : {}),
  };
}

function order(range: EventRange) {
  return { tenantSequence: range.descending ? ('desc' as const) : ('asc' as const) };
}

/**
 * Runs `change` (an UPDATE … RETURNING rows that each name their event, see
 * changeAndAppendEvents) and appends one event per changed row, of any tenant, in the same
 * statement: atomic without a transaction, each tenant's counter row locked only while it
 * commits. `maxRows`: how many rows `change` may return. Returns what `change` returned.
 */
export function changeWithEvents<Row>(
  db: Prisma.TransactionClient,
  change: Prisma.Sql,
  maxRows: number,
): Promise<Row[]> {
  const eventIds = Array.from({ length: maxRows }, () => newId('evt'));
  return db.$queryRaw<Row[]>(changeAndAppendEvents(change, eventIds));
}
