import type pg from 'pg';

/**
 * What one measurement ran against: `'gateway'`, or the name of one of the scenario's peers
 * (`'baseline'`, `'postgraphile'`, …). Each side is its own child process, measured one at a time.
 */
export type Side = string;

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
export type SideContext = SetupContext & {
  side: Side;
  baseUrl: string;
  /** The side's server process id. */
  pid: number;
  /**
   * Counts another process's CPU in this side's figures from the next measured window on: `server`
   * for more processes of the side (a second gateway), `load` for the load generator's children
   * (subscriber processes). Shown per request in the table and by name in latest.json.
   */
  trackProcess(name: string, pid: number, role: ProcessRole): void;
};

export type ProcessRole = 'server' | 'load';

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
   * CPU time per successful request of the side's server processes (its first process plus those
   * given to `trackProcess` as `server`), in ms. A custom load may fill it itself instead.
   */
  serverCpuMsPerRequest?: number | null;
  /**
   * CPU time per successful request of the load generator, in ms: the harness process (autocannon,
   * a custom load's clients and receivers) plus the children given to `trackProcess` as `load`.
   */
  loadCpuMsPerRequest?: number | null;
  /** CPU time per successful request of each measured process, by name, in ms. */
  processCpuMsPerRequest?: Record<string, number | null>;
  /** CPU time per successful request of the PostgreSQL backends connected to the bench database, in ms. */
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
  /**
   * Served by bench/baseline-server.ts at `/${scenario.id}` (the peer named `baseline`) or
   * `/${scenario.id}/${peer}` (any other peer; see routePath in bench/lib/peers.ts).
   */
  handle(input: { pool: pg.Pool; schema: string; body: unknown; url: URL }): Promise<{ status: number; body: unknown }>;
};

/**
 * A peer that is a server of its own (a WebSocket relay, PostGraphile, graphile-worker behind
 * HTTP) instead of a route of bench/baseline-server.ts: started with the harness's environment
 * (DATABASE_URL, PORT, BENCH_BASELINE_SCHEMA, the scenario's `env`) plus its own `env`, as
 * `node [nodeArgs] --import tsx <script>`; it must answer GET /health with a 2xx.
 */
export type BaselineServer = {
  script: string;
  /** Node options before the script, e.g. ['--import', './bench/lib/promise-with-resolvers.mjs']. */
  nodeArgs?: string[];
  env?: Record<string, string>;
};

/**
 * One thing the gateway is measured against: a bare server doing the same statement, a
 * same-semantics server, another product (PostGraphile, graphile-worker). `target`: the bar the
 * gateway must clear against this peer; without one the peer is shown for reference only (the
 * peer named `baseline` falls back to the scenario's `target`).
 */
export type Peer = (BaselineRoute | BaselineServer) & {
  /** One line for the table's notes and bench/README.md: what this peer does. */
  title?: string;
  target?: Target;
};

/** What a scenario's ratio compares, and the bar the gateway must clear. */
export type Target =
  /** gateway throughput ≥ minRatio × baseline throughput */
  | { kind: 'throughput'; minRatio: number }
  /** gateway p99 ≤ maxRatio × baseline p99, and ≤ maxMs */
  | { kind: 'p99'; maxRatio: number; maxMs: number }
  /** each of the gateway's `figures` ≤ its limit here (the baseline's figures are for reference) */
  | { kind: 'limits'; max: Record<string, number> };

/**
 * One benchmark scenario: everything needed to measure the gateway against its peers.
 * Add a scenario by writing one of these and listing it in bench/scenarios/index.ts.
 */
export type Scenario<State = unknown> = {
  /** Stable id, also the baseline server's route path and the key in latest.json. */
  id: string;
  title: string;
  /** The bar the gateway must clear against the peer named `baseline` (unless it has its own). */
  target?: Target;
  /** Every side gets REDIS_URL (the harness's REDIS_URL, default redis://127.0.0.1:6379). */
  redis?: boolean;
  /** More environment for every side's server (the gateway's settings this scenario needs). */
  env?: Record<string, string>;
  /** Once per run, before any server starts: tenants, baseline tables. */
  setup(ctx: SetupContext): Promise<State>;
  /** Shorthand for `peers.baseline`: a route of bench/baseline-server.ts, or a server of its own. */
  baseline?: BaselineRoute | BaselineServer;
  /**
   * The peers, by name, measured after the gateway in this order, each in a fresh process on the
   * same data (the gateway's side seeds first). `load` is called with `ctx.side` = the name.
   */
  peers?: Record<string, Peer>;
  /** After one side's server is healthy: seed through it if needed and describe the load. */
  load(ctx: SideContext, state: State): Promise<Load>;
};

/** Keeps the State type parameter checked inside one scenario while the list holds Scenario<any>. */
export function defineScenario<State>(scenario: Scenario<State>): Scenario<State> {
  return scenario;
}
