// /ready: whether this process can serve, dependency by dependency. The database is required (503
// without it); Redis only shares pub/sub and rate limits between processes, so without it the
// process still serves, degraded (subscribers catch up from the log, budgets count per process).

/** Each check gets this long; a frozen dependency fails it instead of holding the probe. */
export const CHECK_TIMEOUT_MS = 1000;

export type Check =
  | { status: 'up'; latencyMs: number }
  | { status: 'down'; error: string }
  | { status: 'not_configured' };
export type Readiness = { status: 'ready' | 'degraded' | 'unavailable'; checks: { database: Check; redis: Check } };

/** Runs `probe` within CHECK_TIMEOUT_MS: up with its latency, or down with why. */
export async function check(probe: () => Promise<unknown>): Promise<Check> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([probe(), timeout]);
    return { status: 'up', latencyMs: Math.round(performance.now() - started) };
  } catch (error) {
    return { status: 'down', error: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
  }
}

export async function readiness(probes: {
  database: () => Promise<unknown>;
  redis?: () => Promise<unknown>;
}): Promise<Readiness> {
  const [database, redis] = await Promise.all([
    check(probes.database),
    probes.redis ? check(probes.redis) : ({ status: 'not_configured' } as const),
  ]);
  const status = database.status !== 'up' ? 'unavailable' : redis.status === 'down' ? 'degraded' : 'ready';
  return { status, checks: { database, redis } };
}
