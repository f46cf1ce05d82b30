import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { afterAll, expect } from 'vitest';
import { projectRoot } from '../../src/db/migrate.js';
import { sleep } from './problem.js';

// Gateways and CLIs as real subprocesses (node --import tsx, cwd = project root). Whatever a test
// file leaves running is killed after it.

const spawned = new Set<ChildProcess>();
afterAll(() => {
  for (const proc of spawned) {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  }
});

/** Spawns `node --import tsx <script>` and remembers it for cleanup. */
export function spawnTracked(script: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const proc = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  spawned.add(proc);
  return proc;
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export type GatewayProcess = {
  proc: ChildProcess;
  url: string;
  output: () => string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
};

/** Starts src/main.ts on a free port and waits until /health answers. */
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
    const healthy = await fetch(`${url}/health`).then((r) => r.ok, () => false);
    if (healthy) break;
    if (Date.now() > deadline) throw new Error(`gateway did not answer /health:\n${output}`);
    await sleep(100);
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
