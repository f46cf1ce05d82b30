import { z } from 'zod';

// The one place environment variables are read. Everything else receives a Config.
const EnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HOST: z.string().default('0.0.0.0'),
  DATABASE_URL: z.string().url().optional(),
  REDIS_URL: z.string().url().optional(),
  DATA_DIR: z.string().default('./.data'),
  NODE_ENV: z.string().default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  BODY_LIMIT_BYTES: z.coerce.number().int().positive().default(1_048_576),
  IDEMPOTENCY_TTL_HOURS: z.coerce.number().positive().default(24),
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().positive().default(600),
  EVENT_RELAY: z.enum(['on', 'off']).default('on'),
  EVENT_POLL_MS: z.coerce.number().int().min(10).default(1000),
});

export type Config = {
  port: number;
  host: string;
  /** PostgreSQL server; absent means embedded PGlite under dataDir. */
  databaseUrl?: string;
  redisUrl?: string;
  dataDir: string;
  production: boolean;
  logLevel: z.infer<typeof EnvSchema>['LOG_LEVEL'];
  bodyLimitBytes: number;
  idempotencyTtlMs: number;
  /** Requests per application and minute, shared by all processes through Redis when set. */
  rateLimitPerMinute: number;
  /** Whether this process publishes committed events ("off" for API-only processes). */
  eventRelay: boolean;
  /** Safety-net polling of the event log when NOTIFY or pub/sub messages are missed. */
  eventPollMs: number;
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
    redisUrl: e.REDIS_URL,
    dataDir: e.DATA_DIR,
    production: e.NODE_ENV === 'production',
    logLevel: e.LOG_LEVEL,
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    idempotencyTtlMs: e.IDEMPOTENCY_TTL_HOURS * 3_600_000,
    rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE,
    eventRelay: e.EVENT_RELAY === 'on',
    eventPollMs: e.EVENT_POLL_MS,
  };
}

/** `FOO=` in a shell means "not set", not "set to the empty string". */
function emptyToUndefined(env: NodeJS.ProcessEnv): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === '' ? undefined : v]));
}
