import type { AddressInfo } from 'node:net';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
} from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import compress from '@fastify/compress';
import { z } from 'zod';
import { AUTH_CHANGED_CHANNEL } from './db/channels.js';
import type { Config } from './config.js';
import { type Database, openDatabase, ping } from './db/database.js';
import { databaseUnavailable } from './db/unavailable.js';
import { DomainError, ValidationError } from './core/errors.js';
import { createServices, type Services } from './services.js';
import { fieldErrors } from './core/validation.js';
import { createEventBus } from './features/events/bus.js';
import { createLiveEvents } from './features/events/live.js';
import { startRelay } from './features/events/relay.js';
import type { EventBus } from './features/events/bus.js';
import type { LiveEvents } from './features/events/live.js';
import { metrics } from './metrics.js';
import { requestLogLine, loggerOptions } from './logging.js';
import { homePage } from './http/home.js';
import { readiness } from './http/readiness.js';
import { costControl } from './graphql/limits.js';
import { graphqlRoutes } from './graphql/route.js';
import { subscriptionGroups, type SubscriptionGroups } from './graphql/subscription-groups.js';
import { graphqlWebSocket } from './graphql/websocket.js';
import { eventRoutes } from './features/events/rest.js';
import { eventTypeRoutes, eventWebhooks } from './features/event-types/rest.js';
import { jobRoutes } from './features/jobs/rest.js';
import { runnerAdminRoutes, runnerRoutes } from './features/runners/rest.js';
import { adminRoutes } from './features/admin/rest.js';
import { advertiseGateway } from './db/data-dir.js';
import { webhookRoutes } from './features/webhooks/rest.js';
import { transferRoutes } from './features/transfer/rest.js';
import { builtInJobHandlers } from './built-in-jobs.js';
import { startJobWorker } from './features/jobs/worker.js';
import { startDeliveryWorker } from './features/webhooks/worker.js';
import { KEPT_BACK_WRITE_MS } from './features/webhooks/schedule.js';
import { contactRoutes } from './features/contacts/rest.js';
import { correlationIdOf } from './http/context.js';
import { idempotency, requireApiKey } from './http/hooks.js';
import { invoiceRoutes } from './features/invoices/rest.js';
import { chargeOnAuthentication, createRateLimiter, rateLimit, type RateLimiter } from './http/rate-limit.js';
import { answerClientError, httpProblem, problemFromDomainError, sendProblem } from './http/problems.js';
import { parseJsonBody, refuseUnstorableUrlText } from './http/input.js';
import { discoveryRoutes } from './mcp/discovery.js';
import { mcpRoutes } from './mcp/route.js';
import { openApiDocument, operation, transform, transformObject } from './http/openapi.js';

export type App = {
  http: FastifyInstance;
  services: Services;
  database: Database;
  /**
   * Listens on config.port (0 picks a free port) and resolves to the base URL. /ready answers 200
   * only after `beforeReady` (e.g. the first start's demo tenant) has finished.
   */
  start(options?: { beforeReady?: (url: string) => Promise<void> }): Promise<string>;
  stop(): Promise<void>;
};

/** The gateway: the database and the domain services, HTTP with every feature's routes, GraphQL, and the workers. */
export async function buildApp(config: Config): Promise<App> {
  const database = await openDatabase(config);
  const services = createServices(database.prisma, config, database.query);
  // Key revocations, rotations and feature changes made by the CLI or another process.
  await database.listen(AUTH_CHANGED_CHANNEL, (tenantId) => services.forgetAuth(tenantId || null));

  const http = createHttp(config);
  const bus = createEventBus({
    redisUrl: config.redisUrl,
    commandTimeoutMs: config.redisCommandTimeoutMs,
    log: http.log,
  });
  const live = createLiveEvents({ services, bus, pollMs: config.eventPollMs });
  const subscriptions = subscriptionGroups();
  parseRequests(http);
  await answerRequests(http);
  await documentation(http);
  const readinessGate = operationalRoutes(http, { database, bus, live, subscriptions });

  const limiter = rateLimiter(config);
  await featureRoutes(http, services, limiter, config);
  advertiseWhenEmbedded(http, database, config);
  const websocket = await graphql(http, config, { services, live, subscriptions, limiter });

  const workers = await startWorkers(config, { database, services, bus, log: http.log });
  return {
    http,
    services,
    database,
    start: (options = {}) => listen(http, config, options, readinessGate),
    /**
     * Graceful: stops accepting, tells websocket clients to go elsewhere (1001), ends event streams,
     * lets in-flight requests finish, then releases relay work and connections.
     */
    async stop() {
      workers.stopSweeping();
      const closing = http.close();
      await websocket?.close();
      live.close();
      await closing;
      await workers.stop();
      await bus.close();
      await limiter.close();
      await database.close();
    },
  };
}

/** Fastify with the gateway's limits, request ids, and the problem shape for errors found before routing. */
function createHttp(config: Config): FastifyInstance {
  return Fastify({
    logger: loggerOptions(config),
    // One line per request, written when it is answered (requestLogLine), instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimitBytes,
    // A client that never finishes its headers or body is cut with 408, key or not (Fastify's default is never).
    requestTimeout: config.requestBodyTimeoutMs,
    http: {
      requestTimeout: config.requestBodyTimeoutMs,
      headersTimeout: Math.min(config.requestHeadersTimeoutMs, config.requestBodyTimeoutMs),
      // Node looks for expired requests every 30 s by default: too coarse for limits of seconds.
      connectionsCheckingInterval: Math.max(100, Math.min(1000, config.requestHeadersTimeoutMs / 4)),
    },
    // Headers too large (431), malformed HTTP (400) and the timeouts above (408) have no request yet.
    clientErrorHandler(this: FastifyInstance, error, socket) {
      answerClientError(error, socket, this.log);
    },
    genReqId: correlationIdOf,
    // Ids are ~35 characters; longer path segments still reach the route and answer 400 invalid_id.
    routerOptions: { maxParamLength: 1000 },
    // Undecodable URLs and over-long path segments are answered before routing: keep the problem shape.
    frameworkErrors: (error, request, reply) => {
      reply.header('x-correlation-id', request.id);
      const status = error.statusCode ?? 400;
      const code = status === 414 ? 'uri_too_long' : status < 500 ? 'invalid_request' : 'internal_error';
      return sendProblem(reply, httpProblem(code, error.message, request.id, status));
    },
  });
}

/** Request bodies: JSON only, validated by the routes' zod schemas; answers serialized as built. */
function parseRequests(http: FastifyInstance) {
  http.setValidatorCompiler<z.ZodType>(({ schema }) => (data) => {
    const result = schema.safeParse(data);
    return result.success ? { value: result.data } : { error: new ValidationError(fieldErrors(result.error)) };
  });
  // Response schemas document the answers (and the test suite checks every answer against them);
  // bodies are serialized as the handlers built them, never reshaped or stripped on the way out.
  http.setSerializerCompiler(() => (data) => JSON.stringify(data));
  // JSON only: text/plain would otherwise reach the validators as a string instead of answering 415.
  http.removeContentTypeParser(['application/json', 'text/plain']);
  // Fastify matches against the whole header with parameters ("application/json; charset=\"utf-8\"").
  http.addContentTypeParser(/^application\/([\w.+-]+\+)?json(;|$)/, { parseAs: 'string' }, (_req, body, done) => {
    if (body === '') return done(null, undefined);
    try {
      done(null, parseJsonBody(body as string));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
  http.addHook('preValidation', refuseUnstorableUrlText);
}

/** What every answer gets: the correlation id, a log line, compression, and problems for errors, 404 and 405. */
async function answerRequests(http: FastifyInstance) {
  http.addHook('onRequest', async (request, reply) => {
    reply.header('x-correlation-id', request.id);
  });
  http.addHook('onResponse', requestLogLine);
  // gzip, deflate or brotli as the client accepts (GraphiQL's page is 9 MB). Event streams and
  // multipart answers are left alone, so subscriptions over SSE still flush each event. Request
  // bodies are not inflated: the body limit and input rules see what the client sent.
  await http.register(compress, { globalDecompression: false });
  http.setErrorHandler((error, _request, reply) => sendProblem(reply, toProblem(error, reply)));
  const routes = trackRoutes(http);
  http.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!;
    const allowed = routes.methodsFor(path);
    if (!allowed.length) {
      return sendProblem(reply, httpProblem('not_found', `No route ${request.method} ${path}.`, request.id));
    }
    reply.header('allow', allowed.join(', '));
    const message = `${request.method} is not allowed here; use ${allowed.join(', ')}.`;
    return sendProblem(reply, httpProblem('method_not_allowed', message, request.id));
  });
}

/** The OpenAPI document (with the event types as its webhooks) and its human docs. */
async function documentation(http: FastifyInstance) {
  await http.register(swagger, {
    openapi: { ...openApiDocument(), webhooks: eventWebhooks() },
    transform,
    transformObject,
  });
  http.get('/openapi.json', { schema: { hide: true } }, async () => http.swagger());
  // Human docs of the same OpenAPI document; its assets ship inside the package (no CDN).
  await http.register(swaggerUi, { routePrefix: '/docs' });
  // /llms.txt and /schema.graphql: what an agent reads first, without a key.
  discoveryRoutes(http);
}

/** Metrics, the home page, liveness and readiness; /ready answers 503 until `open()` is called. */
function operationalRoutes(
  http: FastifyInstance,
  sources: { database: Database; bus: EventBus; live: LiveEvents; subscriptions: SubscriptionGroups },
) {
  const { database, bus } = sources;
  metrics(http, { live: sources.live, groups: sources.subscriptions, database, redisPing: bus.ping });
  http.get('/', { schema: { hide: true } }, homePage);
  // Liveness: answers while the process runs, whatever its dependencies do.
  http.get('/health', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  let started = false;
  http.get('/ready', { schema: { hide: true } }, async (_request, reply) => {
    if (!started) return reply.code(503).send({ status: 'starting' });
    const state = await readiness({ database: () => ping(database), redis: bus.ping });
    return reply.code(state.status === 'unavailable' ? 503 : 200).send(state);
  });
  return {
    open() {
      started = true;
    },
  };
}

/** The request budgets: per application, per runner, and of failed authentications. */
function rateLimiter(config: Config): RateLimiter {
  return createRateLimiter({
    perMinute: config.rateLimitPerMinute,
    runnerPerMinute: config.runnerRateLimitPerMinute,
    authFailuresPerMinute: config.authFailuresPerMinute,
    redisUrl: config.redisUrl,
    commandTimeoutMs: config.redisCommandTimeoutMs,
  });
}

/** Every feature's REST routes: /api/v1 behind API keys, the runners' own scope, and the admin API. */
async function featureRoutes(http: FastifyInstance, services: Services, limiter: RateLimiter, config: Config) {
  rateLimit(http, limiter);
  idempotency(http, services);
  await http.register(
    async (api) => {
      requireApiKey(api, services);
      chargeOnAuthentication(api, limiter);
      const hello = operation({
        operationId: 'hello',
        summary: 'Check the API key and see the application it resolves to',
        tags: ['connection'],
        ok: { 200: z.object({ status: z.literal('ok'), applicationId: z.string(), applicationName: z.string() }) },
      });
      api.get('/hello', { schema: hello }, async (request) => ({
        status: 'ok',
        applicationId: request.auth!.applicationId,
        applicationName: request.auth!.applicationName,
      }));
      await api.register(contactRoutes(services));
      await api.register(invoiceRoutes(services));
      await api.register(eventRoutes(services));
      await api.register(eventTypeRoutes);
      await api.register(webhookRoutes(services));
      await api.register(jobRoutes(services));
      await api.register(runnerAdminRoutes(services));
      await api.register(transferRoutes(services, config.importBodyLimitBytes));
    },
    { prefix: '/api/v1' },
  );
  // The same domain as MCP tools, behind the same keys and budget.
  await http.register(mcpRoutes(services, limiter, { openApi: () => http.swagger() }));
  // Runners authenticate with their own keys: outside the API-key scope above.
  await http.register(runnerRoutes(services, limiter), { prefix: '/api/v1/runner' });
  await http.register(adminRoutes(services, config.adminToken, config.importBodyLimitBytes), { prefix: '/admin/v1' });
}

/** The admin CLI finds an embedded gateway, and sends it its commands, through the data folder. */
function advertiseWhenEmbedded(http: FastifyInstance, database: Database, config: Config) {
  if (database.kind === 'pglite')
    http.addHook('onListen', async () => advertiseGateway(config.dataDir, http.server.address() as AddressInfo));
}

/** /graphql over HTTP and SSE, and its websocket transport (returned, to close it first on stop). */
async function graphql(
  http: FastifyInstance,
  config: Config,
  parts: { services: Services; live: LiveEvents; subscriptions: SubscriptionGroups; limiter: RateLimiter },
) {
  const { services, live, subscriptions, limiter } = parts;
  let websocket: ReturnType<typeof graphqlWebSocket> | undefined;
  await http.register(async (gql) => {
    const cost = costControl(config.graphql, limiter);
    const yoga = await graphqlRoutes(gql, services, live, { limits: config.graphql, cost });
    websocket = graphqlWebSocket(http.server, yoga, services, subscriptions, {
      limiter,
      cost,
      maxConnectionsPerApp: config.wsMaxConnectionsPerApp,
    });
  });
  return websocket;
}

/** The event relay (when enabled), the job and webhook delivery workers, and the hourly sweep of idempotency keys. */
async function startWorkers(
  config: Config,
  parts: { database: Database; services: Services; bus: EventBus; log: FastifyBaseLogger },
) {
  const { database, services, bus, log } = parts;
  const pollMs = config.eventPollMs;
  const { scheduleDeliveries } = services.webhooks;
  // A backlog the relay publishes before Redis is connected would reach other processes' subscribers only through their poll of the log.
  await bus.connected?.(config.redisCommandTimeoutMs);
  const relay = config.eventRelay ? await startRelay({ database, bus, scheduleDeliveries, pollMs, log }) : undefined;
  const jobs = await startJobWorker({
    database,
    services,
    handlers: builtInJobHandlers,
    config: config.jobs,
    pollMs,
    log,
  });
  const deliveries = await startDeliveryWorker({
    database,
    config: config.webhooks,
    guard: services.addressGuard,
    pollMs,
    log,
  });
  const sweeper = setInterval(
    () => services.idempotency.deleteExpired().catch((err) => log.warn({ err }, 'idempotency sweep failed')),
    3_600_000,
  );
  sweeper.unref();
  const writeKeptBack = () =>
    services.webhooks
      .writeKeptBack()
      .catch(
        (err: unknown) => databaseUnavailable(err, log) ?? log.warn({ err }, 'writing filtered-out counts failed'),
      );
  const keptBackWriter = relay ? setInterval(writeKeptBack, KEPT_BACK_WRITE_MS) : undefined;
  keptBackWriter?.unref();
  return {
    stopSweeping: () => clearInterval(sweeper),
    /** Lets each worker finish what it holds (in this order: jobs, relay, deliveries). */
    async stop() {
      await jobs.stop();
      await relay?.stop();
      clearInterval(keptBackWriter);
      if (relay) await writeKeptBack();
      await deliveries.stop();
    },
  };
}

/** Listens, then runs `beforeReady` and opens /ready; resolves to the base URL. */
async function listen(
  http: FastifyInstance,
  config: Config,
  options: { beforeReady?: (url: string) => Promise<void> },
  readinessGate: { open(): void },
): Promise<string> {
  await http.listen({ port: config.port, host: config.host });
  const address = http.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
  await options.beforeReady?.(url);
  readinessGate.open();
  return url;
}

function toProblem(error: unknown, reply: FastifyReply) {
  const { id: correlationId, log } = reply.request;
  const unavailable = databaseUnavailable(error, log);
  if (unavailable) {
    reply.header('retry-after', String(unavailable.retryAfterSeconds));
    return problemFromDomainError(unavailable, correlationId);
  }
  if (error instanceof DomainError) return problemFromDomainError(error, correlationId);
  const fastifyError = error as FastifyError;
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return httpProblem('payload_too_large', 'The request body is larger than this endpoint accepts.', correlationId);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return httpProblem('unsupported_media_type', 'Send the request body as application/json.', correlationId);
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return httpProblem('invalid_request', fastifyError.message, correlationId);
  }
  if (fastifyError.statusCode && fastifyError.statusCode < 500) {
    return httpProblem('invalid_request', fastifyError.message, correlationId, fastifyError.statusCode);
  }
  log.error({ err: error }, 'unexpected error');
  return httpProblem(
    'internal_error',
    'An unexpected error occurred; quote the correlationId when reporting it.',
    correlationId,
  );
}

/** Remembers registered routes so an unknown method on a known path can answer 405, not 404. */
function trackRoutes(http: FastifyInstance) {
  const routes: { pattern: RegExp; methods: string[] }[] = [];
  http.addHook('onRoute', (route) => {
    if (route.url.includes('*')) return;
    // Exact match (Fastify does not ignore trailing slashes); literal segments escaped ("/openapi.json").
    const source = route.url
      .split('/')
      .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('/');
    const pattern = new RegExp(`^${source}$`);
    routes.push({ pattern, methods: [route.method].flat().filter((m) => m !== 'HEAD') });
  });
  return {
    methodsFor: (path: string) => [...new Set(routes.filter((r) => r.pattern.test(path)).flatMap((r) => r.methods))],
  };
}
