// Pub/sub between gateway processes: Redis when REDIS_URL is set, in-process otherwise. This
// factory is the only place the two differ; everything else publishes and subscribes through it.
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyBaseLogger } from 'fastify';
import { Redis } from 'ioredis';
import type { EventFacts } from './service.js';

/** An event as it travels through pub/sub: JSON, so the date is a string. */
type PublishedEvent = Omit<EventFacts, 'occurredAt'> & { occurredAt: string };
type Listener = (event: EventFacts) => void;

export type EventBus = {
  publish(tenantId: string, event: EventFacts): void;
  /** Calls `listener` with each event of the tenant published by any process, until unsubscribed. */
  subscribe(tenantId: string, listener: Listener): () => void;
  /** A round trip to Redis (rejects when it is away or does not answer in time); absent in-process. */
  ping?: () => Promise<unknown>;
  /**
   * Resolves once publishing can reach Redis, or after `withinMs` if it cannot (it is not a
   * dependency); absent in-process. Publishes before that fail: the relay waits for it at start.
   */
  connected?: (withinMs: number) => Promise<void>;
  close(): Promise<void>;
};

/** Channels are `events:<tenantId>`: a process only receives tenants its subscribers follow. */
const CHANNEL_PREFIX = 'events:';

/**
 * Pub/sub is a fast path, never a dependency: while Redis is away or frozen, every command fails
 * within `commandTimeoutMs` (nothing waits in a queue for it; failures are caught, never thrown
 * at the process), and subscribers catch up from the durable log (see live.ts). When Redis is
 * back, the subscribing connection follows every tenant again and live messages resume.
 */
export function createEventBus(options: {
  redisUrl?: string;
  commandTimeoutMs: number;
  log: FastifyBaseLogger;
}): EventBus {
  const { redisUrl, commandTimeoutMs, log } = options;
  const local = new Map<string, Set<Listener>>();
  const deliver = (tenantId: string, event: EventFacts) => local.get(tenantId)?.forEach((listener) => listener(event));

  if (!redisUrl) {
    return {
      publish: deliver,
      subscribe: (tenantId, listener) => follow(local, tenantId, listener, () => {}),
      close: async () => local.clear(),
    };
  }

  const outage = outageLog(log);
  // No offline queue and no retries: a command meets a connected Redis or fails at once.
  const settings = { commandTimeout: commandTimeoutMs, enableOfflineQueue: false, maxRetriesPerRequest: 0 };
  const publisher = new Redis(redisUrl, settings);
  // A subscribing connection can do nothing else, hence two. It follows the channels itself at
  // each (re)connection, including those whose SUBSCRIBE failed while Redis was away.
  const subscriber = new Redis(redisUrl, { ...settings, autoResubscribe: false });
  for (const client of [publisher, subscriber]) {
    client.on('error', (err: Error) => outage.fault(err.message));
    client.on('ready', () => outage.recovered());
  }
  const publisherReady = new Promise<void>((resolve) => publisher.once('ready', resolve));
  subscriber.on('ready', () => {
    if (local.size)
      subscriber
        .subscribe(...[...local.keys()].map((tenantId) => CHANNEL_PREFIX + tenantId))
        .catch((err: Error) => outage.fault(err.message));
  });
  subscriber.on('message', (channel: string, message: string) => {
    const event = JSON.parse(message) as PublishedEvent;
    deliver(channel.slice(CHANNEL_PREFIX.length), { ...event, occurredAt: new Date(event.occurredAt) });
  });

  // The relay's batch of publishes (up to 500 in one tick) goes out as one pipeline, in one write.
  // Not ioredis's auto-pipelining: without an offline queue, its commands' rejections go unhandled
  // while Redis is away, and an unhandled rejection ends the process.
  let pending: string[][] = [];
  function flush() {
    const commands = pending;
    pending = [];
    publisher
      .pipeline(commands)
      .exec()
      .then(
        (results) => {
          const failure = results?.find(([err]) => err)?.[0];
          if (failure) outage.fault(failure.message);
          else outage.recovered();
        },
        (err: Error) => outage.fault(err.message),
      );
  }

  return {
    publish(tenantId, event) {
      const message: PublishedEvent = { ...event, occurredAt: event.occurredAt.toISOString() };
      if (!pending.length) queueMicrotask(flush);
      pending.push(['publish', CHANNEL_PREFIX + tenantId, JSON.stringify(message)]);
    },
    subscribe(tenantId, listener) {
      const channel = CHANNEL_PREFIX + tenantId;
      return follow(local, tenantId, listener, (following) => {
        if (subscriber.status !== 'ready') return; // followed or not at the next 'ready'
        const command = following ? subscriber.subscribe(channel) : subscriber.unsubscribe(channel);
        command.catch((err: Error) => outage.fault(err.message));
      });
    },
    ping: () => publisher.ping(),
    connected: (withinMs) =>
      publisher.status === 'ready' ? Promise.resolve() : Promise.race([publisherReady, sleep(withinMs)]),
    async close() {
      local.clear();
      await Promise.all([publisher, subscriber].map((client) => client.quit().catch(() => client.disconnect())));
    },
  };
}

/** Adds a tenant's listener; `toggle(true)` when the first arrives, `toggle(false)` when the last leaves. */
function follow(
  local: Map<string, Set<Listener>>,
  tenantId: string,
  listener: Listener,
  toggle: (following: boolean) => void,
): () => void {
  let listeners = local.get(tenantId);
  if (!listeners) {
    local.set(tenantId, (listeners = new Set()));
    toggle(true);
  }
  listeners.add(listener);
  return () => {
    if (!listeners.delete(listener) || listeners.size || local.get(tenantId) !== listeners) return;
    local.delete(tenantId);
    toggle(false);
  };
}

/** Logs an outage of Redis once when it starts and once when it ends, not at every failed command or reconnection attempt. */
function outageLog(log: FastifyBaseLogger) {
  let down = false;
  return {
    fault(reason: string) {
      if (down) return;
      down = true;
      log.warn({ reason }, 'Redis unavailable: subscribers catch up from the event log until it is back');
    },
    recovered() {
      if (!down) return;
      down = false;
      log.info('Redis available again: live pub/sub resumed');
    },
  };
}
