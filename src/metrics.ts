import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Prometheus metrics at /metrics: process defaults, HTTP requests by route, live event streams and subscriptions. */
export function metrics(http: FastifyInstance, live: { activeStreams(): number }, groups: { subscriptions(): number }): void {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'nilo_live_event_streams',
    help: 'Event streams of this process following their tenant\'s events (one per group of identical graphql-ws subscriptions, one per SSE subscription)',
    registers: [registry],
    collect() {
      this.set(live.activeStreams());
    },
  });
  new Gauge({
    name: 'nilo_live_subscriptions',
    help: 'graphql-ws subscriptions of this process receiving live events (identical ones share one stream)',
    registers: [registry],
    collect() {
      this.set(groups.subscriptions());
    },
  });
  const requests = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP requests by method, route pattern and status code',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });

  http.addHook('onResponse', async (request, reply) => {
    // The route pattern, not the URL, keeps the label set small; unmatched URLs share one label.
    const route = request.routeOptions.url ?? 'unmatched';
    requests.observe({ method: request.method, route, status: reply.statusCode }, reply.elapsedTime / 1000);
  });
  http.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  );
}
