import type { AuthContext } from '../../auth/context.js';
import { databaseFault } from '../../db/unavailable.js';
import { DomainError, FeatureNotEnabledError } from '../../core/errors.js';
import { featureOf, selectEventTypes, type EventFacts } from './service.js';
import type { Services } from '../../services.js';
import type { EventBus } from './bus.js';

export type StreamRequest = {
  /** Event type patterns (see selectEventTypes); all readable types when absent. */
  types?: readonly string[] | null;
  /** Resume after this event: first everything later from the durable log, then live. */
  after?: string | null;
  /** Only events about this resource. */
  resourceId?: string | null;
  /** Looks the caller's key up again after an admin change; throws when it no longer works. */
  reauthenticate(): Promise<AuthContext>;
};

/** What a stream yields: the next event, or why it ends (the subscription reports it as its error). */
export type StreamItem = EventFacts | { end: DomainError };

type Signal = { kind: 'event'; event: EventFacts } | { kind: 'check' } | { kind: 'auth' } | { kind: 'close' };
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
export function createLiveEvents(options: { services: Services; bus: EventBus; pollMs: number }) {
  const { services, bus, pollMs } = options;
  /** Per followed tenant: its local streams, and the highest sequence seen (or suspected) so far. */
  const tenants = new Map<
    string,
    { listeners: Set<Listener>; unsubscribe: () => void; seen: number; suspected: number }
  >();

  function broadcast(tenantId: string | null, signal: Signal) {
    for (const [id, tenant] of tenants) {
      if (tenantId === null || tenantId === id) tenant.listeners.forEach((listener) => listener(signal));
    }
  }

  function join(tenantId: string, listener: Listener): () => void {
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
  }

  function noteSeen(tenantId: string, sequence: number) {
    const tenant = tenants.get(tenantId);
    if (tenant) tenant.seen = Math.max(tenant.seen, sequence);
  }

  // A sequence the log had one poll ago that pub/sub has still not brought was lost on the way
  // (the relay normally publishes within milliseconds, so one poll of grace avoids false alarms).
  let polling = false;
  const poll = setInterval(async () => {
    if (polling || !tenants.size) return;
    polling = true;
    try {
      const latest = await services.events.latestSequences([...tenants.keys()]);
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
  const stopWatchingAuth = services.onAuthChange((tenantId) => broadcast(tenantId, { kind: 'auth' }));
  /** Streams that are live: following their tenant, with their starting point read. */
  let active = 0;

  /**
   * Checks the request (types, feature gates, `after`) at once, so a refusal is the subscription's
   * error, and is live when it resolves: whatever commits from then on reaches the stream.
   */
  async function stream(auth: AuthContext, request: StreamRequest): Promise<AsyncGenerator<StreamItem>> {
    const types = new Set<string>(selectEventTypes(auth, request.types));
    const afterSequence = request.after ? await services.events.sequenceOf(auth, request.after) : null;

    const inbox: Signal[] = [];
    let wake: (() => void) | undefined;
    const receive: Listener = (signal) => {
      if (signal.kind !== 'event' || inbox.length < MAX_QUEUED) inbox.push(signal);
      else if (inbox.at(-1)?.kind !== 'check') inbox.push({ kind: 'check' });
      wake?.();
    };
    // Following before reading the log: whatever commits from here on arrives or is caught up.
    const leave = join(auth.tenantId, receive);
    let latest: number;
    try {
      latest = await services.events.latestSequence(auth.tenantId);
    } catch (error) {
      leave();
      throw error;
    }
    noteSeen(auth.tenantId, latest);
    active++;
    let open = true;
    const close = () => {
      if (!open) return;
      open = false;
      leave();
      active--;
    };
    const mailbox: Mailbox = {
      take: async () => {
        while (!inbox.length) await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        return inbox.shift()!;
      },
      close,
      checkLater: () => setTimeout(() => receive({ kind: 'check' }), pollMs).unref(),
    };
    const generator = follow(
      auth,
      request,
      types,
      afterSequence ?? latest,
      afterSequence !== null ? latest : null,
      mailbox,
    );
    // An async generator that has not started or waits for the next event would take a return()
    // only at its next yield, which on a quiet tenant may never come: the stream closes at once.
    const stream: AsyncGenerator<StreamItem> = {
      [Symbol.asyncIterator]: () => stream,
      next: () => generator.next(),
      throw: (error) => generator.throw(error),
      return: (value) => {
        close();
        receive({ kind: 'close' });
        return generator.return(value);
      },
    };
    return stream;
  }

  /** Yields the tenant's matching events after `start`: first from the log up to `catchUpTo` (when resuming), then as they arrive. */
  async function* follow(
    auth: AuthContext,
    request: StreamRequest,
    types: Set<string>,
    start: number,
    catchUpTo: number | null,
    mailbox: Mailbox,
  ): AsyncGenerator<StreamItem> {
    const features = new Set([...types].map(featureOf).filter((feature) => feature !== null));
    const range = { types: [...types], resourceId: request.resourceId ?? undefined, limit: PAGE_SIZE };
    let last = start;

    /** Yields the tenant's matching events after `last` up to `through`, from the log. */
    async function* catchUp(through: number): AsyncGenerator<EventFacts> {
      for (;;) {
        const page = await services.events.facts(auth.tenantId, {
          ...range,
          afterSequence: last,
          throughSequence: through,
        });
        for (const event of page) {
          last = event.tenantSequence;
          yield event;
        }
        if (page.length < PAGE_SIZE) break;
      }
      last = Math.max(last, through);
    }

    /** Catches up through `through` (the latest sequence when absent); while the database is away, tries again a poll later. */
    async function* catchUpSoon(through?: number): AsyncGenerator<EventFacts> {
      try {
        yield* catchUp(through ?? (await services.events.latestSequence(auth.tenantId)));
      } catch (error) {
        if (databaseFault(error) === undefined) throw error;
        mailbox.checkLater();
      }
    }

    try {
      if (catchUpTo !== null) yield* catchUp(catchUpTo);
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
            yield* catchUpSoon();
            break;
          case 'event': {
            const { event } = signal;
            if (event.tenantSequence <= last) break; // already passed: a duplicate or caught up earlier
            if (event.tenantSequence === last + 1) {
              last = event.tenantSequence;
              if (types.has(event.type) && (!range.resourceId || range.resourceId === event.resourceId)) yield event;
            } else {
              yield* catchUpSoon(event.tenantSequence); // something before it has not arrived (yet)
            }
          }
        }
      }
    } finally {
      mailbox.close();
    }
  }

  return {
    stream,
    /** How many streams are live in this process (the nilo_live_event_streams metric). */
    activeStreams: () => active,
    /** Ends every stream (their subscriptions complete) and stops following tenants. */
    close() {
      clearInterval(poll);
      stopWatchingAuth();
      broadcast(null, { kind: 'close' });
    },
  };
}

export type LiveEvents = ReturnType<typeof createLiveEvents>;

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
