// Pub/sub between gateway processes: Redis when REDIS_URL is set, in-process otherwise. This
// factory is the only place the two differ; everything else publishes and subscribes through it.
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { createPubSub } from 'graphql-yoga';
import type { FastifyBaseLogger } from 'fastify';
import { Redis } from 'ioredis';
import type { EventFacts } from '../domain/events.js';

/** An event as it travels through pub/sub: JSON, so the date is a string. */
type PublishedEvent = Omit<EventFacts, 'occurredAt'> & { occurredAt: string };

export type EventBus = {
  publish(tenantId: string, event: EventFacts): void;
  /** Calls `listener` with each event of the tenant published by any process, until unsubscribed. */
  subscribe(tenantId: string, listener: (event: EventFacts) => void): () => void;
  close(): Promise<void>;
};

export function createEventBus(redisUrl: string | undefined, log: FastifyBaseLogger): EventBus {
  // A subscribing ioredis connection can do nothing else, hence two. While Redis is away,
  // publishes wait for it (never rejected: nobody awaits them) and subscribers catch up from the
  // log; both clients reconnect and resubscribe on their own.
  // Auto-pipelining sends the relay's batch of publishes (up to 500 in one tick) in one write.
  const clients = redisUrl ? [new Redis(redisUrl, { maxRetriesPerRequest: null, enableAutoPipelining: true }), new Redis(redisUrl)] : [];
  for (const client of clients) client.on('error', (err) => log.warn({ err }, 'Redis pub/sub connection error'));
  const [publishClient, subscribeClient] = clients;
  // Channels are `events:<tenantId>`: a process only receives tenants its subscribers follow.
  const pubSub = createPubSub<{ events: [tenantId: string, event: PublishedEvent] }>({
    eventTarget: publishClient && subscribeClient ? createRedisEventTarget({ publishClient, subscribeClient }) : undefined,
  });

  return {
    publish(tenantId, event) {
      pubSub.publish('events', tenantId, { ...event, occurredAt: event.occurredAt.toISOString() });
    },
    subscribe(tenantId, listener) {
      const messages = pubSub.subscribe('events', tenantId);
      void (async () => {
        for await (const event of messages) listener({ ...event, occurredAt: new Date(event.occurredAt) });
      })();
      return () => void messages.return();
    },
    async close() {
      await Promise.all(clients.map((client) => client.quit().catch(() => client.disconnect())));
    },
  };
}
