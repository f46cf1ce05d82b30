import ipaddr from 'ipaddr.js';
import { z } from 'zod';

// The one place environment variables are read. Everything else receives a Config.

/** "500ms", "5s", "5m", "2h", "5d" or plain milliseconds. */
const DURATION_UNITS_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const duration = z
  .string()
  .trim()
  .regex(/^\d+(ms|s|m|h|d)?$/, 'must be a duration such as 500ms, 5s, 5m, 2h or 5d')
  .transform((text) => {
    const [, amount, unit] = /^(\d+)(ms|s|m|h|d)?$/.exec(text)!;
    return Number(amount) * DURATION_UNITS_MS[(unit ?? 'ms') as keyof typeof DURATION_UNITS_MS];
  });
const list = z.string().transform((text) =>
  text
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean),
);

const EnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HOST: z.string().default('0.0.0.0'),
  DATABASE_URL: z.string().url().optional(),
  DATABASE_PREPARED_STATEMENTS: z.enum(['on', 'off']).default('on'),
  DATABASE_CONNECT_TIMEOUT: duration.default(5_000),
  DATABASE_STATEMENT_TIMEOUT: duration.default(15_000),
  REDIS_URL: z.string().url().optional(),
  REDIS_COMMAND_TIMEOUT: duration.default(500),
  DATA_DIR: z.string().default('./.data'),
  ADMIN_TOKEN: z.string().trim().min(16, 'must be at least 16 characters').optional(),
  ADMIN_URL: z.string().url().optional(),
  NODE_ENV: z.string().default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  BODY_LIMIT_BYTES: z.coerce.number().int().positive().default(1_048_576),
  IMPORT_BODY_LIMIT_BYTES: z.coerce.number().int().positive().default(536_870_912),
  REQUEST_HEADERS_TIMEOUT: duration.default(10_000),
  REQUEST_BODY_TIMEOUT: duration.default(30_000),
  IDEMPOTENCY_TTL_HOURS: z.coerce.number().positive().default(24),
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().positive().default(600),
  RUNNER_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().positive().default(600),
  AUTH_FAILURES_PER_MINUTE: z.coerce.number().int().positive().default(60),
  WS_MAX_CONNECTIONS_PER_APP: z.coerce.number().int().positive().default(1000),
  GRAPHQL_MAX_COST: z.coerce.number().int().positive().default(10_000),
  GRAPHQL_MAX_ALIASES: z.coerce.number().int().min(0).default(30),
  GRAPHQL_MAX_DEPTH: z.coerce.number().int().positive().default(12),
  GRAPHQL_MAX_DIRECTIVES: z.coerce.number().int().min(0).default(50),
  GRAPHQL_MAX_TOKENS: z.coerce.number().int().positive().default(5000),
  GRAPHQL_INTROSPECTION: z.enum(['on', 'off']).default('on'),
  GRAPHQL_FIELD_SUGGESTIONS: z.enum(['on', 'off']).optional(),
  GRAPHQL_TIMEOUT: duration.default(10_000),
  EVENT_RELAY: z.enum(['on', 'off']).default('on'),
  EVENT_POLL_MS: z.coerce.number().int().min(10).default(1000),
  WEBHOOK_TIMEOUT: duration.default(15_000),
  WEBHOOK_RETRY_SCHEDULE: list
    .pipe(z.array(duration).min(1).max(50))
    .default([0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000]),
  WEBHOOK_DISABLE_AFTER: duration.default(5 * 86_400_000),
  WEBHOOK_SECRET_OVERLAP: duration.default(86_400_000),
  WEBHOOK_ALLOWED_CIDRS: list
    .pipe(
      z.array(
        z.string().refine((cidr) => ipaddr.isValidCIDR(cidr), 'must list CIDR ranges such as 127.0.0.0/8,::1/128'),
      ),
    )
    .default([]),
  WEBHOOK_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(10),
  WEBHOOK_ENDPOINT_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(4),
  JOB_CONCURRENCY: z.coerce.number().int().min(0).max(100).default(2),
  JOB_LEASE: duration.default(30_000),
  JOB_NO_RUNNER_TIMEOUT: duration.default(600_000),
  JOB_NOOP_TYPE: z
    .string()
    .regex(/^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/, 'must be dotted lower-case words such as "bench.noop"')
    .optional(),
  LOG_FORMAT: z.enum(['pretty', 'json']).optional(),
});

export type Config = {
  port: number;
  host: string;
  /** PostgreSQL server; absent means embedded PGlite under dataDir. */
  databaseUrl?: string;
  /** Whether PostgreSQL connections keep statements prepared ("off" behind a pooler that cannot). */
  preparedStatements: boolean;
  /** A PostgreSQL connection not established within this fails (the request answers 503). */
  databaseConnectTimeoutMs: number;
  /** A statement PostgreSQL has not answered within this fails, whether it runs long or the server is gone. */
  databaseStatementTimeoutMs: number;
  redisUrl?: string;
  /** A Redis command not answered within this fails; callers fall back (rate limits) or catch up from the log (events). */
  redisCommandTimeoutMs: number;
  dataDir: string;
  /** The operator token /admin/v1 requires (Bearer); unset: the admin API answers loopback clients only. */
  adminToken?: string;
  /** The gateway the admin CLI sends its commands to (server mode); unset: the database, or the gateway holding DATA_DIR. */
  adminUrl?: string;
  production: boolean;
  logLevel: z.infer<typeof EnvSchema>['LOG_LEVEL'];
  /** Log lines for people (pretty) or machines (json); unset: pretty when stdout is a terminal. */
  logFormat?: 'pretty' | 'json';
  bodyLimitBytes: number;
  /** Largest tenant import file (POST /api/v1/imports, NDJSON streamed to the database); more answers 413. */
  importBodyLimitBytes: number;
  /** A request whose headers have not all arrived this long after its first byte answers 408 and is closed. */
  requestHeadersTimeoutMs: number;
  /** The same for the whole request, body included (Node's requestTimeout), with or without an API key. */
  requestBodyTimeoutMs: number;
  idempotencyTtlMs: number;
  /** Requests per application and minute, shared by all processes through Redis when set. */
  rateLimitPerMinute: number;
  /** Runner protocol requests per runner and minute. */
  runnerRateLimitPerMinute: number;
  /** Failed authentications per client address and minute before that address is refused (429). */
  authFailuresPerMinute: number;
  /** Open graphql-ws connections per application and process. */
  wsMaxConnectionsPerApp: number;
  graphql: GraphQLLimits;
  /** Whether this process publishes committed events ("off" for API-only processes). */
  eventRelay: boolean;
  /** Safety-net polling of the event log when NOTIFY or pub/sub messages are missed. */
  eventPollMs: number;
  webhooks: WebhookConfig;
  jobs: JobConfig;
};

export type GraphQLLimits = {
  /** The largest static cost (nodes its page sizes can return) an operation may have. */
  maxCost: number;
  maxAliases: number;
  maxDepth: number;
  maxDirectives: number;
  maxTokens: number;
  introspection: boolean;
  /** "Did you mean …" in validation errors; off in production unless asked for. */
  fieldSuggestions: boolean;
  /** A query still executing after this is aborted. */
  timeoutMs: number;
};

export type JobConfig = {
  /** Built-in jobs one process runs at once (0: this process runs none). */
  concurrency: number;
  /** A running job whose holder has not reported for this long goes back to the queue. */
  leaseMs: number;
  /** A queued job no runner (or built-in worker) is registered for fails as no_runner after being due this long (0: never). */
  noRunnerTimeoutMs: number;
  /**
   * Whether the built-in types count as handled. Always with PostgreSQL (another process may run
   * them); embedded, only this process can, so JOB_CONCURRENCY=0 leaves them without a runner.
   */
  builtInHandled: boolean;
  /**
   * A job type this process's workers finish at once, doing nothing (unset: none): benchmarks
   * measure the queue itself with it. Queued through POST /jobs like a runner's type.
   */
  noopType?: string;
};

export type WebhookConfig = {
  /** An attempt that has not answered (headers and body) within this fails. */
  timeoutMs: number;
  /** Delay before each attempt: the first (0 = at once), then after each failure; its length bounds the attempts. */
  retryScheduleMs: number[];
  /** An endpoint whose attempts have failed without a success for this long is disabled. */
  disableAfterMs: number;
  /** How long a rotated-out secret keeps signing next to the new one. */
  secretOverlapMs: number;
  /** Non-public address ranges webhooks may still reach (CIDR), e.g. 127.0.0.0/8 for local development. */
  allowedCidrs: string[];
  /** Deliveries one process sends at once. */
  concurrency: number;
  /** Attempts one process has in flight to one endpoint at once, so a slow endpoint cannot take every slot. */
  endpointConcurrency: number;
};

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(emptyToUndefined(env));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Invalid configuration: ${problems}`);
  }
  const e = parsed.data;
  return {
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    preparedStatements: e.DATABASE_PREPARED_STATEMENTS === 'on',
    databaseConnectTimeoutMs: e.DATABASE_CONNECT_TIMEOUT,
    databaseStatementTimeoutMs: e.DATABASE_STATEMENT_TIMEOUT,
    redisUrl: e.REDIS_URL,
    redisCommandTimeoutMs: e.REDIS_COMMAND_TIMEOUT,
    dataDir: e.DATA_DIR,
    adminToken: e.ADMIN_TOKEN,
    adminUrl: e.ADMIN_URL,
    production: e.NODE_ENV === 'production',
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    importBodyLimitBytes: e.IMPORT_BODY_LIMIT_BYTES,
    requestHeadersTimeoutMs: e.REQUEST_HEADERS_TIMEOUT,
    requestBodyTimeoutMs: e.REQUEST_BODY_TIMEOUT,
    idempotencyTtlMs: e.IDEMPOTENCY_TTL_HOURS * 3_600_000,
    rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE,
    runnerRateLimitPerMinute: e.RUNNER_RATE_LIMIT_PER_MINUTE,
    authFailuresPerMinute: e.AUTH_FAILURES_PER_MINUTE,
    wsMaxConnectionsPerApp: e.WS_MAX_CONNECTIONS_PER_APP,
    graphql: {
      maxCost: e.GRAPHQL_MAX_COST,
      maxAliases: e.GRAPHQL_MAX_ALIASES,
      maxDepth: e.GRAPHQL_MAX_DEPTH,
      maxDirectives: e.GRAPHQL_MAX_DIRECTIVES,
      maxTokens: e.GRAPHQL_MAX_TOKENS,
      introspection: e.GRAPHQL_INTROSPECTION === 'on',
      fieldSuggestions: (e.GRAPHQL_FIELD_SUGGESTIONS ?? (e.NODE_ENV === 'production' ? 'off' : 'on')) === 'on',
      timeoutMs: e.GRAPHQL_TIMEOUT,
    },
    eventRelay: e.EVENT_RELAY === 'on',
    eventPollMs: e.EVENT_POLL_MS,
    webhooks: {
      timeoutMs: e.WEBHOOK_TIMEOUT,
      retryScheduleMs: e.WEBHOOK_RETRY_SCHEDULE,
      disableAfterMs: e.WEBHOOK_DISABLE_AFTER,
      secretOverlapMs: e.WEBHOOK_SECRET_OVERLAP,
      allowedCidrs: e.WEBHOOK_ALLOWED_CIDRS,
      concurrency: e.WEBHOOK_CONCURRENCY,
      endpointConcurrency: e.WEBHOOK_ENDPOINT_CONCURRENCY,
    },
    jobs: {
      concurrency: e.JOB_CONCURRENCY,
      leaseMs: e.JOB_LEASE,
      noRunnerTimeoutMs: e.JOB_NO_RUNNER_TIMEOUT,
      builtInHandled: e.DATABASE_URL !== undefined || e.JOB_CONCURRENCY > 0,
      noopType: e.JOB_NOOP_TYPE,
    },
  };
}

/** `FOO=` in a shell means "not set", not "set to the empty string". */
function emptyToUndefined(env: NodeJS.ProcessEnv): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === '' ? undefined : v]));
}
