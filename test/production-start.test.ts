import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, test } from 'vitest';
import { projectRoot } from '../src/db/migrate.js';
import { sleep } from './support/problem.js';
import { freePort } from './support/ports.js';
import { gatewayEnvironments } from './support/processes.js';
import { connectWs, subscribeLive } from './support/subscriptions.js';
import { waitUntil } from './support/wait.js';

// `npm start` as an operator or a process manager runs it: built to dist/, then `node dist/main.js`
// in place of the shell npm starts (exec), so npm's SIGTERM and SIGINT reach the gateway.

const { environment, createTenantIn } = gatewayEnvironments();
const started = new Set<ChildProcess>();
afterAll(() => {
  for (const proc of started) if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
});

/** Each test starts a gateway process, on a fresh embedded folder (initdb) in the first: slow on a busy machine. */
const START_TIMEOUT_MS = 150_000;

type NpmStart = {
  npm: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
};

/** `npm start` on a free port; resolves once /ready answers 200. */
async function npmStart(env: NodeJS.ProcessEnv): Promise<NpmStart> {
  const port = await freePort();
  const npm = spawn('npm', ['start'], {
    cwd: projectRoot,
    env: { ...env, PORT: String(port), HOST: '127.0.0.1', LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.add(npm);
  let output = '';
  npm.stdout!.on('data', (d) => (output += d));
  npm.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => npm.on('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000; // a fresh embedded folder runs initdb: slow on a busy machine
  for (;;) {
    if (npm.exitCode !== null) throw new Error(`npm start exited with ${npm.exitCode}:\n${output}`);
    const ready = await fetch(`${url}/ready`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ready) {
      // The pipe may hand over the last lines printed before /ready opened after its answer.
      await waitUntil('the ready line is read', () => output.includes('Nilo gateway ready'), 10_000, {
        context: () => output,
      });
      return { npm, url, output: () => output, exited };
    }
    if (Date.now() > deadline) throw new Error(`npm start did not get ready:\n${output}`);
    await sleep(50);
  }
}

/** The JSON log lines printed so far. */
const logLines = (output: string) =>
  output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line));

/** The pid of the gateway: the process npm started, whose command line is `node dist/main.js`. */
function gatewayPid(output: string): number {
  return logLines(output).find((line) => line.msg?.startsWith('Nilo gateway ready'))!.pid;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('npm start', () => {
  test(
    'runs the built JavaScript, says where everything is, and is ready only after its first-run work',
    async () => {
      const env = environment({ NODE_ENV: 'development', LOG_LEVEL: 'info' });
      const gateway = await npmStart(env);
      const pid = gatewayPid(gateway.output());
      expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).slice(-1)).toEqual([
        'dist/main.js',
      ]);

      // One log line per request. Sent once /ready answered: whatever the start printed before
      // /ready opened is in the output before this request's line (one process writing one stream).
      await fetch(`${gateway.url}/api/v1/hello`);
      const helloLine = () => gateway.output().indexOf('"url":"/api/v1/hello"');
      await waitUntil('the request is logged', () => helloLine() >= 0, 10_000, { context: gateway.output });
      const beforeReady = gateway.output().slice(0, gateway.output().lastIndexOf('\n', helloLine()) + 1);
      const helloLines = logLines(gateway.output()).filter((line) => line.req?.url === '/api/v1/hello');
      expect(helloLines).toMatchObject([{ res: { statusCode: 401 }, responseTime: expect.any(Number) }]);

      const announced = logLines(beforeReady).find((line) => line.msg === `Nilo gateway ready at ${gateway.url}`);
      expect(announced).toMatchObject({
        mode: `${env.DATABASE_URL ? 'postgresql' : 'pglite'}+${env.REDIS_URL ? 'redis' : 'in-process'}`,
        graphiql: `${gateway.url}/graphql`,
        docs: `${gateway.url}/docs`,
        openapi: `${gateway.url}/openapi.json`,
        metrics: `${gateway.url}/metrics`,
      });
      expect(announced.database).toContain(env.DATABASE_URL ? 'PostgreSQL' : env.DATA_DIR);
      // Embedded development creates the demo tenant; an empty server database says how to create one. Both before /ready.
      if (env.DATABASE_URL) expect(beforeReady).toContain('no tenant yet');
      else expect(beforeReady).toMatch(/shown only this once:\s+nilo_ak_/);

      gateway.npm.kill('SIGINT');
      expect(await gateway.exited, gateway.output()).toBe(0);
      expect(alive(pid)).toBe(false);
    },
    START_TIMEOUT_MS,
  );

  test(
    'SIGTERM to npm closes websockets with 1001 and the gateway exits 0, leaving no process behind',
    async () => {
      const env = environment({ LOG_LEVEL: 'info' });
      const tenant = await createTenantIn(env);
      const gateway = await npmStart(env);
      const pid = gatewayPid(gateway.output());
      const ws = connectWs(gateway.url, { authorization: `Bearer ${tenant.apiKey}` });
      await subscribeLive(ws, gateway.url, 'subscription { events { id } }');

      gateway.npm.kill('SIGTERM');
      expect((await ws.closed).code).toBe(1001);
      expect(await gateway.exited, gateway.output()).toBe(0);
      expect(alive(pid)).toBe(false);
      expect(logLines(gateway.output()).find((line) => line.msg === 'shutting down')).toMatchObject({
        signal: 'SIGTERM',
      });
    },
    START_TIMEOUT_MS,
  );
});
