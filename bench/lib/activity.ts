import type pg from 'pg';

/** Mean number of the server's PostgreSQL sessions in each state over the sampled window. */
export type ActivitySummary = { samples: number; meanSessions: Record<string, number> };

export const HARNESS_APPLICATION_NAME = 'bench-harness';

/**
 * Samples pg_stat_activity of the bench database every `intervalMs` while a side is measured:
 * shows whether the pool's sessions are executing, waiting on locks, or sitting "idle in
 * transaction" (waiting for the Node process between statements of an open transaction).
 */
export function sampleActivity(
  sql: pg.Pool,
  _databaseUrl: string,
  intervalMs = 100,
): { stop(): Promise<ActivitySummary> } {
  const totals = new Map<string, number>();
  let samples = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const { rows } = await sql.query<{ state: string | null; wait: string | null }>(
        `SELECT state, wait_event_type || ':' || wait_event AS wait FROM pg_stat_activity
         WHERE datname = current_database() AND backend_type = 'client backend' AND application_name <> $1`,
        [HARNESS_APPLICATION_NAME],
      );
      samples++;
      for (const row of rows) {
        const key =
          row.state === 'active'
            ? row.wait && !row.wait.startsWith('Client')
              ? `waiting ${row.wait}`
              : 'executing'
            : (row.state ?? 'unknown');
        totals.set(key, (totals.get(key) ?? 0) + 1);
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      const meanSessions = Object.fromEntries(
        [...totals.entries()]
          .sort((a, b) => b[1] - a[1])
          .map(([k, n]) => [k, Math.round((n / Math.max(samples, 1)) * 100) / 100]),
      );
      return { samples, meanSessions };
    },
  };
}

export function formatActivity(summary: ActivitySummary): string {
  return Object.entries(summary.meanSessions)
    .map(([state, n]) => `${state} ${n.toFixed(1)}`)
    .join(', ');
}
