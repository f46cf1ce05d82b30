import type { AuthContext } from '../../auth/context.js';
import { databaseFault } from '../../db/unavailable.js';
import { DomainError, FeatureNotEnabledError } from '../../core/errors.js';
import type { EventFacts, EventRange, EventService } from './service.js';
import { featureOf } from './types.js';
import type { EventBus } from './bus.js';
import type { EventFilter } from './filters.js';

export type StreamRequest = {
  /** Event type patterns (see selectEventTypes); all readable types when absent. */
  types?: readonly string[] | null;
  /** Resume after this event: first everything later from the durable log, then live. */
  after?: string | null;
  /** Only events about this resource. */
  resourceId?: string | null;
  /** Content filter: conditions that must all hold, and AND-lists of which one must (see filters.ts). */
  filters?: unknown;
  anyOf?: unknown;
  /** Looks the caller's key up again after an admin change; throws when it no longer works. */
  reauthenticate(): Promise<AuthContext>;
};

/** An event as the relay publishes it: its facts and, from this version's relay on, its data. */
export type LiveEvent = EventFacts & { data?: unknown };

/**
 * An event a stream delivers, with `skipped`: how many of the tenant's events the stream passed
 * over since the previous one it delivered (or since its start: `after`, else the moment it went
 * live) because their type, resource or content did not match. So tenantSequence − skipped − 1 is
 * the previous event's sequence: a client tells a filtered gap from a missed event.
 */
export type StreamEvent = LiveEvent & { skipped: number };

/** What a stream yields: the next event, or why it ends (the subscription reports it as its error). */
export type StreamItem = StreamEvent | { end: DomainError };

/** What live streams need of the domain: the log, and word of admin changes. */
export type LiveServices = {
  events: EventService;
  /** Called after every admin change, with the tenant id (null: any tenant); returns the unsubscribe. */
  onAuthChange(listener: (tenantId: string | null) => void): () => void;
};

type Signal = { kind: 'event'; event: LiveEvent } | { kind: 'check' } | { kind: 'auth' } | { kind: 'close' };
type Listener = (signal: Signal) => void;
/** A stream's signals in arrival order, and the end of its following. */
type Mailbox = { take(): Promise<Signal>; close(): void; checkLater(): void };

const PAGE_SIZE = 500;
/** Events queued for a slow subscriber beyond this are dropped and read from the log instead. */
const MAX_QUEUED = 1000;

/**
 * Live event streams for this process's subscribers. One pub/sub subscription per tenant is shared
 * by all its local streams. Each stream keeps the last tenantSequence it passed and fills any gap
 * from the durable log, so it never skips or repeats an event, whatever order, duplicates or losses
 * pub/sub delivers; a timer compares the tenants' latest sequences with what arrived, so even a
 * lost last message is caught up within `pollMs`, and while Redis is away every event is. While
 * the database is away, streams stay open and catch up once it is back.
 */
export function createLiveEvents(options: { services: LiveServices; bus: EventBus; pollMs: number }) {
  const { services, bus, pollMs } = options;
  const followers = tenantFollowers(bus);
  const poll = watchForLosses(followers, services.events, pollMs);
  const stopWatchingAuth = services.onAuthChange((tenantId) => followers.broadcast(tenantId, { kind: 'auth' }));
  /** Streams that are live: following their tenant, with their starting point read. */
  const active = { count: 0 };
  const context: StreamContext = { events: services.events, followers, pollMs, active };

  return {
    /**
     * Checks the request (types, feature gates, `after`) at once, so a refusal is the subscription's
     * error, and is live when it resolves: whatever commits from then on reaches the stream.
     */
    stream: (auth: AuthContext, request: StreamRequest) => openStream(context, auth, request),
    /** How many streams are live in this process (the nilo_live_event_streams metric). */
    activeStreams: () => active.count,
    /** Ends every stream (their subscriptions complete) and stops following tenants. */
    close() {
      clearInterval(poll);
      stopWatchingAuth();
      followers.broadcast(null, { kind: 'close' });
    },
  };
}

export type LiveEvents = ReturnType<typeof createLiveEvents>;

/** The tenants this process follows: per tenant, its local streams and the highest sequence seen (or suspected) so far. */
function tenantFollowers(bus: EventBus) {
  const tenants = new Map<
    string,
    { listeners: Set<Listener>; unsubscribe: () => void; seen: number; suspected: number }
  >();
  return {
    tenants,
    broadcast(tenantId: string | null, signal: Signal) {
      for (const [id, tenant] of tenants) {
        if (tenantId === null || tenantId === id) tenant.listeners.forEach((listener) => listener(signal));
      }
    },
    /** Follows the tenant's pub/sub (the first stream subscribes, the last one leaving unsubscribes). */
    join(tenantId: string, listener: Listener): () => void {
      let tenant = tenants.get(tenantId);
      if (!tenant) {
        const listeners = new Set<Listener>();
        const unsubscribe = bus.subscribe(tenantId, (event) => {
          const entry = tenants.get(tenantId);
          if (entry) entry.seen = Math.max(entry.seen, event.tenantSequence);
          listeners.forEach((l) => l({ kind: 'event', event }));
        });
        tenant = { listeners, unsubscribe, seen: 0, suspected: 0 };
        tenants.set(tenantId, tenant);
      }
      tenant.listeners.add(listener);
      return () => {
        const entry = tenants.get(tenantId);
        if (!entry) return;
        entry.listeners.delete(listener);
        if (entry.listeners.size) return;
        entry.unsubscribe();
        tenants.delete(tenantId);
      };
    },
    noteSeen(tenantId: string, sequence: number) {
      const tenant = tenants.get(tenantId);
      if (tenant) tenant.seen = Math.max(tenant.seen, sequence);
    },
  };
}

type Followers = ReturnType<typeof tenantFollowers>;

/**
 * Every `pollMs`: a sequence the log had one poll ago that pub/sub has still not brought was lost
 * on the way (the relay normally publishes within milliseconds, so one poll of grace avoids false
 * alarms), and the tenant's streams check the log.
 */
function watchForLosses(followers: Followers, events: EventService, pollMs: number): NodeJS.Timeout {
  const { tenants } = followers;
  let polling = false;
  const poll = setInterval(async () => {
    if (polling || !tenants.size) return;
    polling = true;
    try {
      const latest = await events.latestSequences([...tenants.keys()]);
      for (const [tenantId, sequence] of latest) {
        const tenant = tenants.get(tenantId);
        if (!tenant) continue;
        if (tenant.suspected > tenant.seen) {
          tenant.seen = tenant.suspected;
          tenant.listeners.forEach((listener) => listener({ kind: 'check' }));
        }
        tenant.suspected = sequence;
      }
    } catch {
      // The database is unreachable: the next poll tries again.
    } finally {
      polling = false;
    }
  }, pollMs);
  poll.unref();
  return poll;
}

type StreamContext = { events: EventService; followers: Followers; pollMs: number; active: { count: number } };

/** One stream (see createLiveEvents' `stream`). */
async function openStream(
  { events, followers, pollMs, active }: StreamContext,
  auth: AuthContext,
  request: StreamRequest,
): Promise<AsyncGenerator<StreamItem>> {
  const selection = events.select(auth, request);
  const types = new Set<string>(selection.types);
  const afterSequence = request.after ? await events.sequenceOf(auth, request.after) : null;
  const inbox = createInbox(pollMs);
  // Following before reading the log: whatever commits from here on arrives or is caught up.
  const leave = followers.join(auth.tenantId, inbox.receive);
  let latest: number;
  try {
    latest = await events.latestSequence(auth.tenantId);
  } catch (error) {
    leave();
    throw error;
  }
  followers.noteSeen(auth.tenantId, latest);
  active.count++;
  let open = true;
  const close = () => {
    if (!open) return;
    open = false;
    leave();
    active.count--;
  };
  const range = { types: [...types], resourceId: request.resourceId ?? undefined, limit: PAGE_SIZE };
  const reader = logReader(events, auth.tenantId, range, afterSequence ?? latest, inbox.checkLater, selection.filter);
  const generator = follow(reader, request, types, afterSequence !== null ? latest : null, { ...inbox, close });
  return closingAtOnce(generator, () => {
    close();
    inbox.receive({ kind: 'close' });
  });
}

/** A stream's signals in arrival order; past MAX_QUEUED, events give way to one check of the log. */
function createInbox(pollMs: number) {
  const signals: Signal[] = [];
  let wake: (() => void) | undefined;
  const receive: Listener = (signal) => {
    if (signal.kind !== 'event' || signals.length < MAX_QUEUED) signals.push(signal);
    else if (signals.at(-1)?.kind !== 'check') signals.push({ kind: 'check' });
    wake?.();
  };
  return {
    receive,
    take: async (): Promise<Signal> => {
      while (!signals.length) await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
      return signals.shift()!;
    },
    checkLater: () => {
      setTimeout(() => receive({ kind: 'check' }), pollMs).unref();
    },
  };
}

/**
 * An async generator that has not started or waits for the next event would take a return()
 * only at its next yield, which on a quiet tenant may never come: the stream closes at once.
 */
function closingAtOnce(generator: AsyncGenerator<StreamItem>, close: () => void): AsyncGenerator<StreamItem> {
  const stream: AsyncGenerator<StreamItem> = {
    [Symbol.asyncIterator]: () => stream,
    next: () => generator.next(),
    throw: (error) => generator.throw(error),
    return: (value) => {
      close();
      return generator.return(value);
    },
  };
  return stream;
}

type LogReader = ReturnType<typeof logReader>;

/**
 * Streams delivering the same live event with the same `skipped` share one object: the shared
 * subscription execution (src/graphql/shared-subscriptions.ts) runs once per event object.
 */
const delivered = new WeakMap<LiveEvent, Map<number, StreamEvent>>();

function withSkipped(event: LiveEvent, skipped: number): StreamEvent {
  let bySkipped = delivered.get(event);
  if (!bySkipped) delivered.set(event, (bySkipped = new Map()));
  let item = bySkipped.get(skipped);
  if (!item) bySkipped.set(skipped, (item = { ...event, skipped }));
  return item;
}

/**
 * A stream's place in its tenant's log (the last tenantSequence it passed, and the last it
 * delivered), and its catching up from there. With a content filter, the log is read with the
 * events' data and filtered by the same predicate as live events.
 */
function logReader(
  events: EventService,
  tenantId: string,
  range: Omit<EventRange, 'afterSequence' | 'throughSequence'>,
  start: number,
  checkLater: () => void,
  filter: EventFilter | null,
) {
  let last = start;
  let lastDelivered = start;

  /** The event as delivered (counting what was passed over since the previous one), or null when the filter drops it. */
  function deliver(event: LiveEvent): StreamEvent | null {
    if (filter && !filter(event as LiveEvent & { data: unknown })) return null;
    const skipped = event.tenantSequence - lastDelivered - 1;
    lastDelivered = event.tenantSequence;
    return withSkipped(event, skipped);
  }

  /** Yields the tenant's matching events after `last` up to `through`, from the log. */
  async function* catchUp(through: number): AsyncGenerator<StreamEvent> {
    for (;;) {
      const bounds = { ...range, afterSequence: last, throughSequence: through };
      const page: LiveEvent[] = filter ? await events.withData(tenantId, bounds) : await events.facts(tenantId, bounds);
      for (const event of page) {
        last = event.tenantSequence;
        const item = deliver(event);
        if (item) yield item;
      }
      if (page.length < PAGE_SIZE) break;
    }
    last = Math.max(last, through);
  }

  /** Catches up through `through` (the latest sequence when absent); while the database is away, tries again a poll later. */
  async function* catchUpSoon(through?: number): AsyncGenerator<StreamEvent> {
    try {
      yield* catchUp(through ?? (await events.latestSequence(tenantId)));
    } catch (error) {
      if (databaseFault(error) === undefined) throw error;
      checkLater();
    }
  }

  return {
    catchUp,
    catchUpSoon,
    last: () => last,
    /** Whether the next live event can be judged as it came: a filter needs its data, which a relay of an older version did not publish. */
    judges: (event: LiveEvent) => !filter || event.data !== undefined,
    /** The next sequence arrived live and is passed: the delivered event, or null when the stream does not want it. */
    pass(event: LiveEvent, wanted: boolean): StreamEvent | null {
      last = event.tenantSequence;
      return wanted ? deliver(event) : null;
    },
  };
}

/** Yields the tenant's matching events: first from the log up to `catchUpTo` (when resuming), then as they arrive. */
async function* follow(
  reader: LogReader,
  request: StreamRequest,
  types: Set<string>,
  catchUpTo: number | null,
  mailbox: Mailbox,
): AsyncGenerator<StreamItem> {
  const features = new Set([...types].map(featureOf).filter((feature) => feature !== null));
  try {
    if (catchUpTo !== null) yield* reader.catchUp(catchUpTo);
    for (;;) {
      const signal = await mailbox.take();
      switch (signal.kind) {
        case 'close':
          return;
        case 'auth': {
          const ended = await accessLost(request, features);
          if (ended) {
            yield { end: ended };
            return;
          }
          break;
        }
        case 'check':
          yield* reader.catchUpSoon();
          break;
        case 'event': {
          const { event } = signal;
          if (event.tenantSequence <= reader.last()) break; // already passed: a duplicate or caught up earlier
          if (event.tenantSequence === reader.last() + 1 && reader.judges(event)) {
            const wanted = types.has(event.type) && (!request.resourceId || request.resourceId === event.resourceId);
            const item = reader.pass(event, wanted);
            if (item) yield item;
          } else {
            // Something before it has not arrived (yet), or a filter needs data it came without.
            yield* reader.catchUpSoon(event.tenantSequence);
          }
        }
      }
    }
  } finally {
    mailbox.close();
  }
}

/** After an admin change: the error that ends the stream, if its key or a feature it reads is gone. */
async function accessLost(request: StreamRequest, features: Set<string>): Promise<DomainError | undefined> {
  try {
    const auth = await request.reauthenticate();
    const lost = [...features].find((feature) => !auth.features.includes(feature));
    return lost ? new FeatureNotEnabledError(lost) : undefined;
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
}
