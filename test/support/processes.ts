import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, inject } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { openDatabase, type Database } from '../../src/db/database.js';
import { projectRoot } from '../../src/db/migrate.js';
import { createServices } from '../../src/services.js';
import { createDatabase, seedDataDir, type Tenant } from './gateway.js';
import { freePort } from './ports.js';
import { scratchDir } from './scratch.js';
import { sleep } from './problem.js';

// Gateways and CLIs as real subprocesses (node, cwd = project root), started from the run's build
// of src/ (test/support/global-setup.ts). Whatever a test file leaves running is killed after it.

const spawned = new Set<ChildProcess>();
afterAll(() => {
  for (const proc of spawned) {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  }
});

/**
 * Spawns the build of `script` (an entry point of `npm run build`, e.g. `src/cli/admin.ts`) with
 * node, and remembers it for cleanup.
 */
export function spawnTracked(script: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const built = path.join(inject('builtDir'), path.relative('src', script).replace(/\.ts$/, '.js'));
  const proc = spawn(process.execPath, [built, ...args], {
    cwd: projectRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  spawned.add(proc);
  return proc;
}

export type GatewayProcess = {
  proc: ChildProcess;
  url: string;
  output: () => string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
};

/** Starts src/main.ts on a free port and waits until /ready answers 200: its start-up work is done. */
export async function startGateway(env: NodeJS.ProcessEnv): Promise<GatewayProcess> {
  const port = await freePort();
  const proc = spawnTracked('src/main.ts', [], { ...env, PORT: String(port), HOST: '127.0.0.1' });
  let output = '';
  proc.stdout!.on('data', (d) => (output += d));
  proc.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000; // a fresh embedded folder runs initdb: slow on a busy machine
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`gateway exited with ${proc.exitCode}:\n${output}`);
    const ready = await fetch(`${url}/ready`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) throw new Error(`gateway did not get ready:\n${output}`);
    await sleep(50);
  }
  return { proc, url, output: () => output, exited };
}

/** SIGTERM, as an operator would; the gateway must shut down cleanly (exit 0). */
export async function stopGateway(gateway: GatewayProcess): Promise<void> {
  gateway.proc.kill('SIGTERM');
  const code = await Promise.race([gateway.exited, sleep(20_000).then(() => 'still running')]);
  expect(code, gateway.output()).toBe(0);
}

/** SIGKILL: no shutdown code runs at all. */
export async function killGateway(gateway: GatewayProcess): Promise<void> {
  gateway.proc.kill('SIGKILL');
  await gateway.exited;
}

/**
 * Environments for gateway processes of one test file: each call gets its own embedded data
 * folder, or, with DATABASE_URL, this file's own PostgreSQL database (workers serve every tenant
 * of their database, so other files' gateways must not see this file's work).
 */
export function gatewayEnvironments() {
  const scratch = scratchDir('nilo-processes-');
  let database: Awaited<ReturnType<typeof createDatabase>> | undefined;
  let folders = 0;
  beforeAll(async () => {
    if (process.env.DATABASE_URL) database = await createDatabase(process.env.DATABASE_URL);
  });
  afterAll(async () => {
    await database?.drop();
    rmSync(scratch, { recursive: true, force: true });
  });

  function environment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
      RATE_LIMIT_PER_MINUTE: '1000000',
      AUTH_FAILURES_PER_MINUTE: '1000000',
      ...extra,
    };
    if (database) env.DATABASE_URL = database.url;
    else env.DATA_DIR = path.join(scratch, `data-${++folders}`);
    return env;
  }

  /**
   * Opens the gateways' database from the test (embedded: only while no gateway holds it). A data
   * folder opened first here starts as a copy of the migrated template, as opening would leave it.
   */
  async function withDatabase<T>(env: NodeJS.ProcessEnv, use: (db: Database) => Promise<T>): Promise<T> {
    if (!database && !existsSync(env.DATA_DIR!)) seedDataDir(env.DATA_DIR!);
    const opened = await openDatabase(loadConfig(env));
    try {
      return await use(opened);
    } finally {
      await opened.close();
    }
  }

  function createTenantIn(env: NodeJS.ProcessEnv): Promise<Tenant> {
    return withDatabase(env, async ({ prisma }) => {
      const { admin } = createServices(prisma, loadConfig(env));
      const { tenantId } = await admin.createTenant({ name: 'Processes', features: ['accounting', 'communication'] });
      const { applicationId, apiKey } = await admin.createApplication({ tenantId, name: 'Processes app' });
      return { tenantId, applicationId, apiKey };
    });
  }

  return { environment, withDatabase, createTenantIn };
}
