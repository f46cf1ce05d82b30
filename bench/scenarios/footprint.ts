import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, projectRoot } from '../lib/children.js';
import { customMeasurement } from '../lib/custom-load.js';
import { defineScenario } from '../lib/types.js';

/** Idle means after start-up's garbage has been collected and the timers have run a few rounds. */
const SETTLE_SECONDS = Math.max(1, Number(process.env.BENCH_FOOTPRINT_SETTLE_SECONDS ?? 15));
const CLI_CALLS = 5;
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
/** Node options for the gateway's processes: the production command's by default (README, Production). */
const NODE_ARGS = (process.env.BENCH_FOOTPRINT_NODE_ARGS ?? '--max-semi-space-size=8').split(' ').filter(Boolean);

type Started = { url: string; readyMs: number; pid: number; stop(): Promise<void> };

/**
 * What running the gateway costs, as an operator starts it: `node dist/main.js` (built first) in
 * server mode (PostgreSQL and Redis) and embedded mode (PGlite), each started twice so the
 * measured start is a warm one (files cached, migrations and the embedded data folder done):
 * time to `/ready`, resident memory once idle, and an admin CLI call (`node dist/cli/admin.js
 * list-tenants --json`) straight on PostgreSQL and through the running gateway (`--url`).
 * The baseline is Node itself: a bare node:http server's start and idle memory, `node -e 0`.
 */
export const footprint = defineScenario({
  id: 'footprint',
  title: 'start time, idle memory and admin CLI calls of node dist/main.js',
  target: {
    kind: 'limits',
    max: {
      'server idle RSS MB': 150,
      'embedded idle RSS MB': 300,
      'server warm ready ms': 2000,
      'admin CLI direct ms': 1000,
      'admin CLI --url ms': 1000,
    },
  },

  async setup() {
    const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: projectRoot, encoding: 'utf8' });
    if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stderr || build.stdout}`);
    return { dataDir: mkdtempSync(path.join(tmpdir(), 'nilo-footprint-')) };
  },

  baseline: {
    method: 'GET',
    handle: async () => ({ status: 200, body: {} }),
  },

  async load(ctx, { dataDir }) {
    const serverEnv = { DATABASE_URL: ctx.databaseUrl, REDIS_URL };
    return {
      kind: 'custom',
      async run({ warmup }) {
        const began = performance.now();
        const figures: Record<string, number> = {};
        if (ctx.side === 'baseline') {
          const bare = await startAndSettle(['-e', BARE_SERVER], {}, '/');
          await bare.stop();
          figures['server idle RSS MB'] = bare.rssMb;
          figures['server warm ready ms'] = bare.readyMs;
          figures['admin CLI direct ms'] = await medianMs(['-e', '0'], {});
        } else {
          const server = await startAndSettle([...NODE_ARGS, 'dist/main.js'], serverEnv);
          try {
            figures['server idle RSS MB'] = server.rssMb;
            figures['server warm ready ms'] = server.readyMs;
            figures['admin CLI direct ms'] = await medianMs(['dist/cli/admin.js', 'list-tenants', '--json'], serverEnv);
            figures['admin CLI --url ms'] = await medianMs(
              ['dist/cli/admin.js', 'list-tenants', '--json', '--url', server.url],
              serverEnv,
            );
          } finally {
            await server.stop();
          }
          const embedded = await startAndSettle([...NODE_ARGS, 'dist/main.js'], { DATA_DIR: dataDir });
          await embedded.stop();
          figures['embedded idle RSS MB'] = embedded.rssMb;
          figures['embedded warm ready ms'] = embedded.readyMs;
          if (!warmup) rmSync(dataDir, { recursive: true, force: true });
        }
        return {
          ...customMeasurement({ ok: 1, durationSeconds: (performance.now() - began) / 1000, latenciesMs: [] }),
          figures,
          notes: [
            Object.entries(figures)
              .map(([name, value]) => `${name} ${value.toFixed(0)}`)
              .join(', '),
          ],
        };
      },
    };
  },
});

const BARE_SERVER = `require('node:http').createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), process.env.HOST)`;

/** Starts `node <args>` on a free port, times it until `readyPath` answers 200, lets it settle and reads its RSS (it keeps running). */
async function startAndSettle(
  args: string[],
  env: Record<string, string>,
  readyPath = '/ready',
): Promise<Started & { rssMb: number }> {
  const started = await start(args, env, readyPath);
  await sleep(SETTLE_SECONDS * 1000);
  try {
    return { ...started, rssMb: rssMb(started.pid) };
  } catch (error) {
    await started.stop();
    throw error;
  }
}

async function start(args: string[], env: Record<string, string>, readyPath: string): Promise<Started> {
  const port = await freePort();
  const began = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: projectRoot,
    env: gatewayEnv({ ...env, PORT: String(port) }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4_000)));
  // The harness exits on a failure or Ctrl-C; a gateway of ours must not outlive it.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => resolve(void process.off('exit', killOnExit))),
  );
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await exited;
  };
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`node ${args.join(' ')} exited (${child.exitCode}) before it was ready:\n${stderr}`);
    if (performance.now() - began > 60_000) {
      await stop();
      throw new Error(`node ${args.join(' ')} was not ready after 60 s:\n${stderr}`);
    }
    const ready = await fetch(url + readyPath).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) return { url, readyMs: performance.now() - began, pid: child.pid!, stop };
    await sleep(20);
  }
}

/** The median wall time of CLI_CALLS runs of `node <args>`, each of which must succeed. */
async function medianMs(args: string[], env: Record<string, string>): Promise<number> {
  const times: number[] = [];
  for (let call = 0; call < CLI_CALLS; call++) {
    const began = performance.now();
    const run = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, args, {
        cwd: projectRoot,
        env: gatewayEnv(env),
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.once('error', reject);
      child.once('exit', (code) => resolve({ code, stderr }));
    });
    if (run.code !== 0) throw new Error(`node ${args.join(' ')} failed (exit ${run.code}):\n${run.stderr}`);
    times.push(performance.now() - began);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}

/** The harness's environment without its database and Redis (each mode names its own), as production runs it. */
function gatewayEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const { DATABASE_URL: _database, REDIS_URL: _redis, NODE_OPTIONS: _options, ...inherited } = process.env;
  return { ...inherited, HOST: '127.0.0.1', NODE_ENV: 'production', LOG_LEVEL: 'warn', ...env };
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]);
  if (!kib) throw new Error(`no VmRSS for process ${pid}`);
  return kib / 1024;
}
