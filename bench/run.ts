// npm run bench [-- --only <id,…>] [-- --peers <name,…>] [-- --sql-count] [-- --profile]
// Measures each scenario on the gateway and then on each of its peers (the bare baseline server,
// PostGraphile, …), each a child process started fresh, warmed up and measured one at a time on
// the same data, with the same load. See bench/README.md.
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';

import {
  freePort,
  killAllChildren,
  projectRoot,
  runNode,
  startNode,
  waitForHealthy,
  type Child,
} from './lib/children.js';
import { createBenchDatabase, DEFAULT_DATABASE_URL, redact } from './lib/database.js';
import { failuresOf, measure } from './lib/load.js';
import { startPgCounter } from './lib/pg-counter.js';
import { formatProfileSummary, summarizeProfile, type ProfileSummary } from './lib/profile.js';
import { formatTable, formatTarget, scenarioResult, type ScenarioResult } from './lib/report.js';
import { CpuWindow, machineCpuBusy, startDatabaseCpuCounter } from './lib/machine.js';
import { isServerPeer, peersOf, ROUTE_SERVER_SCRIPT } from './lib/peers.js';
import { formatActivity, HARNESS_APPLICATION_NAME, sampleActivity, type ActivitySummary } from './lib/activity.js';
import type { BenchTenant, Measurement, ProcessRole, Scenario, SetupContext, Side } from './lib/types.js';
import { scenarios as allScenarios } from './scenarios/index.js';

const { values: flags } = parseArgs({
  options: {
    only: { type: 'string' },
    peers: { type: 'string' },
    'sql-count': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
  },
});

const settings = {
  seconds: positive('BENCH_SECONDS', 10),
  /** HTTP loads warm up by answered requests: a fresh process's first seconds under load are slower. */
  warmupRequests: positive('BENCH_WARMUP_REQUESTS', 5_000),
  /** Custom loads (fan-out, webhooks, jobs) warm up with one run of this many seconds. */
  warmupSeconds: positive('BENCH_WARMUP_SECONDS', 5),
  connections: positive('BENCH_CONNECTIONS', 32),
  only: list(flags.only ?? process.env.BENCH_ONLY),
  /** Only these peers (the gateway always runs): quicker A/B runs against one peer. */
  peers: list(flags.peers ?? process.env.BENCH_PEERS),
  sqlCount: flags['sql-count'] || process.env.BENCH_SQL_COUNT === '1',
  profile: flags.profile || process.env.BENCH_PROFILE === '1',
  profileSide: process.env.BENCH_PROFILE_SIDE || 'gateway',
  enforceTargets: process.env.BENCH_ENFORCE_TARGETS === '1',
  serverUrl: process.env.DATABASE_URL || DEFAULT_DATABASE_URL,
  redisUrl: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
  quietWaitSeconds: Number(process.env.BENCH_QUIET_WAIT_SECONDS ?? 30),
};

const resultsDir = path.join(projectRoot, 'bench/results');
const profileDir = path.join(resultsDir, 'profiles');
const baselineSchema = 'bench_baseline';
const activitySummaries: Record<string, ActivitySummary> = {};
const runId = `${Date.now().toString(36)}${process.pid.toString(36)}`;

const scenarios = settings.only.length ? allScenarios.filter((s) => settings.only.includes(s.id)) : allScenarios;
if (!scenarios.length)
  fatal(`No scenario matches ${settings.only.join(',')}; known: ${allScenarios.map((s) => s.id).join(', ')}`);

// --- clean-up on every way out -------------------------------------------------------------
const cleanups: (() => Promise<void>)[] = [];
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    killAllChildren();
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (error) {
        log(`clean-up step failed: ${(error as Error).message}`);
      }
    }
  })();
  return cleaning;
}
process.on('exit', killAllChildren);
let aborted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    aborted = true;
    log(`${signal}: stopping children and dropping the bench database`);
    void cleanup().finally(() => process.exit(130));
  });
}

try {
  await main();
  await cleanup();
} catch (error) {
  // After a signal the children die under the run; its errors are only the consequence.
  if (!aborted) {
    console.error(`\nBENCH FAILED: ${(error as Error).stack ?? error}`);
    await cleanup();
    process.exit(1);
  }
}

async function main() {
  mkdirSync(resultsDir, { recursive: true });
  log(
    `bench database on ${redact(settings.serverUrl)}; ${settings.connections} connections, warm-up ${settings.warmupRequests} requests (custom loads ${settings.warmupSeconds}s) + ${settings.seconds}s per side; ${cpus().length} CPUs`,
  );
  const database = await createBenchDatabase(settings.serverUrl, `nilo_bench_${runId}`);
  cleanups.push(() => database.drop());
  const sql = new pg.Pool({ connectionString: database.url, max: 2, application_name: HARNESS_APPLICATION_NAME });
  // An idle session ended by the server (another process terminating backends) must not end the run.
  sql.on('error', (error) => log(`harness database session lost: ${error.message}`));
  cleanups.push(() => sql.end());
  const postgresVersion = (await sql.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v;

  const ctx: SetupContext = {
    databaseUrl: database.url,
    sql,
    baselineSchema,
    runId,
    createTenant: (name, features) => createTenant(database.url, name, features),
  };

  if (settings.sqlCount) return sqlCountPass(ctx);

  const results: ScenarioResult[] = [];
  const failures: string[] = [];
  const profiles: Record<string, ProfileSummary> = {};
  for (const scenario of scenarios) {
    log(`${scenario.id}: setup`);
    const state = await scenario.setup(ctx);
    const measured: Record<Side, Measurement> = {};
    for (const side of sidesOf(scenario)) {
      const run = await measureSide(scenario, state, side, ctx);
      measured[side] = run.measurement;
      const problem = failuresOf(run.measurement);
      if (problem)
        failures.push(`${scenario.id} ${side}: ${problem}\n    ${run.measurement.failureSamples.join('\n    ')}`);
      if (run.profile) profiles[scenario.id] = run.profile;
    }
    results.push(scenarioResult(scenario, measured));
  }

  console.log(`\n${formatTable(results)}\n`);
  for (const [id, summary] of Object.entries(profiles))
    console.log(`CPU profile of the ${settings.profileSide}, ${id}:\n${formatProfileSummary(summary)}\n`);
  for (const [label, summary] of Object.entries(activitySummaries))
    console.log(`PostgreSQL sessions of ${label} (mean count): ${formatActivity(summary)}`);

  const file = path.join(resultsDir, 'latest.json');
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        runAt: new Date().toISOString(),
        settings: {
          seconds: settings.seconds,
          warmupRequests: settings.warmupRequests,
          warmupSeconds: settings.warmupSeconds,
          connections: settings.connections,
          node: process.version,
          cpus: cpus().length,
          postgres: postgresVersion,
        },
        scenarios: results,
        ...(Object.keys(profiles).length ? { profiles, postgresActivity: activitySummaries } : {}),
      },
      null,
      2,
    )}\n`,
  );
  log(`results written to ${path.relative(projectRoot, file)}`);

  if (failures.length) throw new Error(`requests failed, figures are not valid:\n  ${failures.join('\n  ')}`);
  const below = results.filter((r) => !r.meetsTarget);
  if (below.length) {
    const misses = below.flatMap((r) =>
      r.peers
        .filter((p) => p.meetsTarget === false)
        .map((p) => `${r.id} vs ${p.name} ${p.ratio?.toFixed(2)}x, target ${formatTarget(p.target)}`),
    );
    log(`below target: ${misses.join('; ')}`);
    if (settings.enforceTargets) process.exitCode = 1;
  }
}

/** One side of one scenario: start it fresh, seed, warm up, measure, stop. */
async function measureSide(scenario: Scenario<any>, state: unknown, side: Side, ctx: SetupContext) {
  // One folder per scenario: node writes a profile per thread (tsx's loader runs in its own).
  const profiling = settings.profile && side === settings.profileSide;
  const scenarioProfileDir = path.join(profileDir, scenario.id);
  if (profiling) {
    rmSync(scenarioProfileDir, { recursive: true, force: true });
    mkdirSync(scenarioProfileDir, { recursive: true });
  }
  const background = await waitForQuiet(`${scenario.id} ${side}`);
  const server = await startSide(
    scenario,
    side,
    ctx.databaseUrl,
    profiling ? ['--cpu-prof', '--cpu-prof-dir', scenarioProfileDir] : [],
  );
  let window: { fromUs: number; toUs: number };
  let measurement: Measurement;
  try {
    const pid = server.child.process.pid!;
    const processes = [{ name: side, pid, role: 'server' as ProcessRole }];
    const trackProcess = (name: string, childPid: number, role: ProcessRole) =>
      processes.push({ name, pid: childPid, role });
    const load = await scenario.load({ ...ctx, side, baseUrl: server.baseUrl, pid, trackProcess }, state);
    // A custom load sets its own amount of work (the fan-out: a number of events), not seconds.
    const timed = (seconds: number) => (load.kind === 'http' ? ` ${seconds}s` : '');
    log(
      `${scenario.id} ${side}: warm-up ${load.kind === 'http' ? `${settings.warmupRequests} requests` : `run (${settings.warmupSeconds}s)`}`,
    );
    const warm = await measure(server.baseUrl, load, {
      seconds: settings.warmupSeconds,
      connections: settings.connections,
      warmup: true,
      ...(load.kind === 'http' ? { requests: settings.warmupRequests } : {}),
    });
    const warmProblem = failuresOf(warm);
    if (warmProblem)
      throw new Error(
        `${scenario.id} ${side} failed during warm-up: ${warmProblem}\n    ${warm.failureSamples.join('\n    ')}`,
      );
    // autovacuum is off on the machines measured so far: each side starts from vacuumed tables
    // with fresh statistics, whatever the sides before it (or its own warm-up) left behind.
    await ctx.sql.query('VACUUM ANALYZE');
    log(`${scenario.id} ${side}: measuring${timed(settings.seconds)}`);
    // Processes are read every 250 ms: one a custom load starts inside the window counts from 0,
    // one it stops at the window's end keeps what it used until then.
    const cpu = new CpuWindow();
    const known = processes.length;
    const readProcesses = () => processes.forEach((p, i) => cpu.see(p.pid, i >= known));
    readProcesses();
    const reader = setInterval(readProcesses, 250);
    const harnessBefore = process.cpuUsage();
    const postgres = await startDatabaseCpuCounter(ctx.sql, HARNESS_APPLICATION_NAME);
    const activity = settings.profile ? sampleActivity(ctx.sql, ctx.databaseUrl) : undefined;
    const fromUs = nowUs();
    measurement = await measure(server.baseUrl, load, {
      seconds: settings.seconds,
      connections: settings.connections,
      warmup: false,
    });
    window = { fromUs, toUs: nowUs() };
    clearInterval(reader);
    readProcesses();
    const harness = process.cpuUsage(harnessBefore);
    const postgresCpu = await postgres.stop();
    const perRequest = (ms: number | null) => (ms === null || !measurement.ok ? null : ms / measurement.ok);
    const used = processes.map((p) => ({ ...p, ms: cpu.used(p.pid) }));
    const sum = (role: ProcessRole) =>
      used
        .filter((p) => p.role === role)
        .reduce<number | null>((t, p) => (t === null || p.ms === null ? null : t + p.ms), 0);
    const loadMs = sum('load');
    measurement = {
      ...measurement,
      serverCpuMsPerRequest: measurement.serverCpuMsPerRequest ?? perRequest(sum('server')),
      loadCpuMsPerRequest: perRequest(loadMs === null ? null : loadMs + (harness.user + harness.system) / 1000),
      processCpuMsPerRequest: {
        ...Object.fromEntries(used.map((p) => [p.name, perRequest(p.ms)])),
        harness: perRequest((harness.user + harness.system) / 1000),
      },
      postgresCpuMsPerRequest: perRequest(postgresCpu),
    };
    if (activity) activitySummaries[`${scenario.id} ${side}`] = await activity.stop();
    const throughput = load.kind === 'http' ? `${measurement.throughput.toFixed(0)} req/s, ` : '';
    log(
      `${scenario.id} ${side}: ${throughput}p50 ${measurement.p50.toFixed(1)} ms, p99 ${measurement.p99.toFixed(1)} ms`,
    );
    if (server.child.process.exitCode !== null)
      throw new Error(`${side} exited during the run:\n${server.child.output()}`);
  } catch (error) {
    await server.child.stop();
    throw error;
  }
  await server.child.stop();
  let profile: ProfileSummary | undefined;
  if (profiling) {
    // The main thread's profile is the one that did work.
    const files = existsSync(scenarioProfileDir)
      ? readdirSync(scenarioProfileDir).filter((f) => f.endsWith('.cpuprofile'))
      : [];
    const summaries = files.map((f) => summarizeProfile(path.join(scenarioProfileDir, f), window));
    profile = summaries.sort((a, b) => busyMs(b) - busyMs(a))[0];
    if (!profile) log(`no CPU profile written to ${scenarioProfileDir}`);
  }
  return { measurement: { ...measurement, backgroundCpuBusy: background }, profile };
}

function busyMs(summary: ProfileSummary): number {
  const idle = summary.selfByArea.find((a) => a.area === '(idle)')?.ms ?? 0;
  return summary.sampledMs - idle;
}

/**
 * Other processes on this small machine (test runs, builds) skew a side's figures. Before each
 * side, with nothing of ours running, samples CPU use; waits up to BENCH_QUIET_WAIT_SECONDS for it
 * to drop below 25 % and returns the last sample (recorded with the figures).
 */
async function waitForQuiet(label: string): Promise<number | null> {
  const deadline = Date.now() + settings.quietWaitSeconds * 1000;
  for (;;) {
    const busy = await machineCpuBusy(1_000);
    if (busy === null || busy < 0.25) return busy;
    if (Date.now() > deadline) {
      log(`${label}: WARNING the machine is ${(busy * 100).toFixed(0)}% busy with other work; figures will be noisy`);
      return busy;
    }
    log(`${label}: machine ${(busy * 100).toFixed(0)}% busy with other work, waiting for it to calm down`);
    await new Promise((r) => setTimeout(r, 2_000));
  }
}

/** The gateway, then the scenario's peers (those named by --peers, when given). */
function sidesOf(scenario: Scenario<any>): Side[] {
  const peers = peersOf(scenario).map(([name]) => name);
  return ['gateway', ...(settings.peers.length ? peers.filter((p) => settings.peers.includes(p)) : peers)];
}

/** Starts the gateway or one of the scenario's peers on a free port and waits until it is healthy. */
async function startSide(
  scenario: Scenario<any>,
  side: Side,
  databaseUrl: string,
  nodeArgs: string[] = [],
): Promise<{ child: Child; baseUrl: string }> {
  const port = await freePort();
  const env = {
    DATABASE_URL: databaseUrl,
    ...(scenario.redis ? { REDIS_URL: settings.redisUrl } : {}),
    PORT: String(port),
    HOST: '127.0.0.1',
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    RATE_LIMIT_PER_MINUTE: '100000000', // measure the gateway, not its limiter's refusals
    WS_MAX_CONNECTIONS_PER_APP: '100000', // the fan-out's subscribers are one application's
    ...scenario.env,
  };
  let child: Child;
  if (side === 'gateway') child = startNode('gateway', 'src/main.ts', env, nodeArgs);
  else {
    const peer = peersOf(scenario).find(([name]) => name === side)?.[1];
    if (!peer) throw new Error(`${scenario.id} has no peer ${side}`);
    const peerEnv = { ...env, BENCH_BASELINE_SCHEMA: baselineSchema };
    child = isServerPeer(peer)
      ? startNode(side, peer.script, { ...peerEnv, ...peer.env }, [...(peer.nodeArgs ?? []), ...nodeArgs])
      : startNode(side, ROUTE_SERVER_SCRIPT, peerEnv, nodeArgs);
  }
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    await waitForHealthy(child, `${baseUrl}/health`);
  } catch (error) {
    await child.stop();
    throw error;
  }
  return { child, baseUrl };
}

/**
 * --sql-count: each side behind a counting proxy; a few hundred requests at low concurrency;
 * prints SQL round trips and statements per request. Diagnostic: throughput here means nothing.
 */
async function sqlCountPass(ctx: SetupContext) {
  const _REQUESTS = 300;
  const report: Record<string, unknown> = {};
  for (const scenario of scenarios) {
    log(`${scenario.id}: setup`);
    const state = await scenario.setup(ctx);
    for (const side of sidesOf(scenario)) {
      const proxy = await startPgCounter(ctx.databaseUrl);
      const server = await startSide(scenario, side, proxy.url);
      try {
        const load = await scenario.load(
          { ...ctx, side, baseUrl: server.baseUrl, pid: server.child.process.pid!, trackProcess: () => {} },
          state,
        );
        await measure(server.baseUrl, load, { seconds: 1, connections: 4, warmup: true });
        proxy.reset();
        const m = await measure(server.baseUrl, load, { seconds: 3, connections: 4, warmup: false });
        const problem = failuresOf(m);
        if (problem) throw new Error(`${scenario.id} ${side}: ${problem}\n    ${m.failureSamples.join('\n    ')}`);
        const requests = m.ok;
        // Let in-flight requests finish so their statements are counted.
        await new Promise((r) => setTimeout(r, 500));
        const perRequest = (n: number) => Math.round((n / requests) * 100) / 100;
        const statements = [...proxy.counts.byStatement.entries()]
          .sort((a, b) => b[1] - a[1])
          .map(([sqlText, n]) => ({ perRequest: perRequest(n), sql: sqlText }));
        report[`${scenario.id} ${side}`] = {
          requests,
          roundTripsPerRequest: perRequest(proxy.counts.roundTrips),
          statementsPerRequest: perRequest(proxy.counts.statements),
          statements,
        };
        console.log(
          `\n${scenario.id} ${side}: ${requests} requests, ${perRequest(proxy.counts.roundTrips)} round trips and ${perRequest(proxy.counts.statements)} statements per request`,
        );
        for (const s of statements.slice(0, 12))
          console.log(`  ${s.perRequest.toFixed(2).padStart(6)}  ${s.sql.slice(0, 150)}`);
      } finally {
        await server.child.stop();
        await proxy.close();
      }
    }
  }
  const file = path.join(resultsDir, 'sql-count.json');
  writeFileSync(file, `${JSON.stringify({ runAt: new Date().toISOString(), report }, null, 2)}\n`);
  log(`written to ${path.relative(projectRoot, file)}`);
}

/** A tenant and application through the gateway's own admin CLI, on the bench database. */
async function createTenant(databaseUrl: string, name: string, features: string[]): Promise<BenchTenant> {
  const env = { DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' };
  const lastJson = (out: string) => JSON.parse(out.trim().split('\n').pop()!);
  const tenant = lastJson(
    await runNode(
      'src/cli/admin.ts',
      ['create-tenant', '--name', name, '--features', features.join(','), '--json'],
      env,
    ),
  );
  const app = lastJson(
    await runNode(
      'src/cli/admin.ts',
      ['create-app', '--tenant', tenant.tenantId, '--name', `${name} app`, '--json'],
      env,
    ),
  );
  return { tenantId: tenant.tenantId, applicationId: app.applicationId, apiKey: app.apiKey };
}

function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function positive(name: string, fallback: number): number {
  const raw = process.env[name];
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) fatal(`${name} must be a positive number, got "${raw}"`);
  return value;
}

function log(message: string) {
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

function fatal(message: string): never {
  console.error(message);
  process.exit(2);
}
