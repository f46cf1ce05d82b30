import type pg from 'pg';

/** The two servers every scenario is measured against, one at a time. */
export type Side = 'gateway' | 'baseline';

/** A tenant + application + API key created through the gateway's admin CLI. */
export type BenchTenant = { tenantId: string; applicationId: string; apiKey: string };

/** What a scenario's setup may use, before either server runs. */
export type SetupContext = {
  /** The bench database (created for this run, dropped afterwards). */
  databaseUrl: string;
  /** A small pool on the bench database, for baseline tables and seeding (not used while measuring). */
  sql: pg.Pool;
  /** Schema that holds the baseline's tables (dropped with the bench database). */
  baselineSchema: string;
  /** Creates a tenant with one application through the gateway's admin CLI. */
  createTenant(name: string, features: string[]): Promise<BenchTenant>;
  /** Unique per run, for unique emails and Idempotency-Keys. */
  runId: string;
};

/** What a scenario sees once one side's server is up and healthy. */
export type SideContext = SetupContext & { side: Side; baseUrl: string /** The server's process id. */; pid: number };

/** An HTTP load described for autocannon: one request template and optional per-request variation. */
export type HttpLoad = {
  kind: 'http';
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Called for every request (autocannon's setupRequest): return the varied request. */
  vary?: (request: { path: string; headers: Record<string, string>; body?: string }) => {
    path?: string;
    headers?: Record<string, string>;
    body?: string;
  };
  /** A 2xx body that does not pass is counted as a mismatch, which fails the run like a non-2xx. */
  verifyBody?: (body: string) => boolean;
};

/** One measurement of one side. Custom loads (subscriptions, webhooks, jobs) must fill it too. */
export type Measurement = {
  /** Successful operations per second (2xx responses for HTTP loads). */
  throughput: number;
  /** Latency in milliseconds. */
  p50: number;
  p90: number;
  p99: number;
  mean: number;
  /** Totals over the measured window. */
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  mismatches: number;
  statusCodes: Record<string, number>;
  durationSeconds: number;
  /** First failing responses, for the report. */
  failureSamples: string[];
  /** Share of the machine's CPU busy with other work just before this side started (null: unknown). */
  backgroundCpuBusy?: number | null;
  /**
   * CPU time per successful request of the server process (gateway or baseline), in ms. A custom
   * load that runs more server processes fills it itself (the harness sees only the first).
   */
  serverCpuMsPerRequest?: number | null;
  /** CPU time per successful request of all PostgreSQL processes, in ms. */
  postgresCpuMsPerRequest?: number | null;
  /** Fan-out loads: growth of the server's RSS per connected, idle subscriber, in KiB. */
  rssPerSubscriberKib?: number | null;
  /** `limits` targets: the measured figures by name (MB, ms), each compared with its limit. */
  figures?: Record<string, number>;
  /** Custom loads: figures without a column (lost, duplicates, drain rate), printed under the table. */
  notes?: string[];
};

/**
 * A load that is not a plain HTTP request stream (subscription fan-out, webhook delivery, job
 * throughput). It runs for `seconds` and reports the same figures as an HTTP load.
 */
export type CustomLoad = {
  kind: 'custom';
  run(options: { seconds: number; connections: number; warmup: boolean }): Promise<Measurement>;
};

export type Load = HttpLoad | CustomLoad;

/** A route of the bare node:http baseline server: the same single SQL statement the gateway needs. */
export type BaselineRoute = {
  method: 'GET' | 'POST';
  /** Served at `/${scenario.id}` by bench/baseline-server.ts. */
  handle(input: { pool: pg.Pool; schema: string; body: unknown; url: URL }): Promise<{ status: number; body: unknown }>;
};

/**
 * A baseline that is a server of its own (a WebSocket relay, say) instead of a route of
 * bench/baseline-server.ts: started with the same environment, it must answer GET /health.
 */
export type BaselineServer = { script: string };

/** What a scenario's ratio compares, and the bar the gateway must clear. */
export type Target =
  /** gateway throughput ≥ minRatio × baseline throughput */
  | { kind: 'throughput'; minRatio: number }
  /** gateway p99 ≤ maxRatio × baseline p99, and ≤ maxMs */
  | { kind: 'p99'; maxRatio: number; maxMs: number }
  /** each of the gateway's `figures` ≤ its limit here (the baseline's figures are for reference) */
  | { kind: 'limits'; max: Record<string, number> };

/**
 * One benchmark scenario: everything needed to measure the gateway against its baseline.
 * Add a scenario by writing one of these and listing it in bench/scenarios/index.ts.
 */
export type Scenario<State = unknown> = {
  /** Stable id, also the baseline server's route path and the key in latest.json. */
  id: string;
  title: string;
  target: Target;
  /** Both sides get REDIS_URL (the harness's REDIS_URL, default redis://127.0.0.1:6379). */
  redis?: boolean;
  /** More environment for both sides' servers (the gateway's settings this scenario needs). */
  env?: Record<string, string>;
  /** Once per run, before either server starts: tenants, baseline tables. */
  setup(ctx: SetupContext): Promise<State>;
  /** The baseline: a route of bench/baseline-server.ts, or a server of its own. */
  baseline: BaselineRoute | BaselineServer;
  /** After one side's server is healthy: seed through it if needed and describe the load. */
  load(ctx: SideContext, state: State): Promise<Load>;
};

/** Keeps the State type parameter checked inside one scenario while the list holds Scenario<any>. */
export function defineScenario<State>(scenario: Scenario<State>): Scenario<State> {
  return scenario;
}
