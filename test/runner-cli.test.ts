import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { fingerprintOf, json, refused, runAdmin } from './support/cli.js';
import { sleep } from './support/problem.js';
import { spawnTracked, startGateway, stopGateway, type GatewayProcess } from './support/processes.js';
import { scratchDir } from './support/scratch.js';
import { waitUntil } from './support/wait.js';

// Runner keys through the admin CLI, and the reference runner (src/cli/runner.ts) against a
// gateway, all as real subprocesses: on a temporary embedded data folder, or on DATABASE_URL.

const PG = Boolean(process.env.DATABASE_URL);
const ULID = '[0-9A-HJKMNP-TV-Z]{26}';
const scratch = scratchDir('nilo-runner-cli-test-');

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const dataDir = PG ? null : path.join(scratch, 'data');
const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn', NODE_ENV: 'development' };
if (dataDir) {
  delete env.DATABASE_URL;
  env.DATA_DIR = dataDir;
}

const admin = (args: string[]) => runAdmin([...args, '--json'], env);

async function request(url: string, method: string, key: string, body?: unknown) {
  const res = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

describe('runner keys and the reference runner', { timeout: 180_000 }, () => {
  let tenantId: string;
  let apiKey: string;
  const runners = {} as Record<'gpu' | 'old', { runnerId: string; runnerKey: string; fingerprint: string }>;

  // In embedded mode the CLI and a gateway cannot share the data folder: all CLI work comes first.
  test('create-runner prints a runner key once, with its fingerprint', async () => {
    tenantId = json(await admin(['create-tenant', '--name', `Runners ${Date.now()}`])).tenantId;
    apiKey = json(await admin(['create-app', '--tenant', tenantId, '--name', 'Client'])).apiKey;
    for (const [which, name] of [
      ['gpu', 'GPU box'],
      ['old', 'Old box'],
    ] as const) {
      const runner = json(await admin(['create-runner', '--tenant', tenantId, '--name', name]));
      expect(Object.keys(runner).sort()).toEqual(['fingerprint', 'runnerId', 'runnerKey', 'runnerName', 'tenantId']);
      expect(runner).toMatchObject({ runnerName: name, tenantId });
      expect(runner.runnerId).toMatch(new RegExp(`^run_${ULID}$`));
      expect(runner.runnerKey).toMatch(/^nilo_rk_[A-Za-z0-9_-]{32,64}$/);
      expect(runner.fingerprint).toBe(fingerprintOf(runner.runnerKey));
      runners[which] = runner;
    }
  });

  test('revoke-runner revokes; list-runners shows fingerprints and status, never keys', async () => {
    expect(json(await admin(['revoke-runner', '--runner', runners.old.runnerId]))).toStrictEqual({
      runnerId: runners.old.runnerId,
      status: 'revoked',
    });
    const out = await admin(['list-runners', '--tenant', tenantId]);
    expect(out.stdout).not.toContain('nilo_rk_');
    expect(json(out)).toStrictEqual(
      [runners.gpu, runners.old].map((r) => ({
        runnerId: r.runnerId,
        runnerName: r === runners.gpu ? 'GPU box' : 'Old box',
        fingerprint: r.fingerprint,
        status: r === runners.gpu ? 'active' : 'revoked',
        resourceTypes: [],
        lastSeenAt: null,
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
      })),
    );
  });

  test('bad input exits non-zero with a JSON error', async () => {
    expect(refused(await admin(['create-runner', '--tenant', 'ten_nope', '--name', 'X']), 1, 'invalid_id')).toBe(
      '"ten_nope" is not a valid ten_ id.',
    );
    expect(refused(await admin(['create-runner', '--tenant', tenantId]), 2, 'usage')).toBe(
      '--name is required for create-runner.',
    );
    expect(refused(await admin(['list-runners']), 2, 'usage')).toBe('--tenant is required for list-runners.');
    expect(refused(await admin(['revoke-runner', '--runner', 'run_01J00000000000000000000000']), 1, 'not_found')).toBe(
      'Runner run_01J00000000000000000000000 was not found.',
    );
  });

  let gateway: GatewayProcess;

  test('the reference runner registers, runs demo.echo with progress, stops on cancel, fails unsupported types, shuts down cleanly', async () => {
    gateway = await startGateway(env);
    const jobs = `${gateway.url}/api/v1/jobs`;
    expect(
      (await request(`${gateway.url}/api/v1/runner/claim`, 'POST', runners.old.runnerKey)).status,
      'a revoked key',
    ).toBe(401);

    const runner = spawnTracked(
      'src/cli/runner.ts',
      [
        '--url',
        gateway.url,
        '--key',
        runners.gpu.runnerKey,
        '--types',
        'demo.echo,demo.unsupported',
        '--poll-ms',
        '100',
      ],
      env,
    );
    let output = '';
    runner.stdout!.on('data', (d) => (output += d));
    runner.stderr!.on('data', (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => runner.on('exit', (code) => resolve(code)));

    /** Polls the job as a client would, until `done` holds. */
    async function until(jobId: string, done: (job: any) => boolean) {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const job = (await request(`${jobs}/${jobId}`, 'GET', apiKey)).body;
        if (done(job)) return job;
        if (Date.now() > deadline) throw new Error(`job ${jobId} is ${JSON.stringify(job)}\nrunner output:\n${output}`);
        await sleep(100);
      }
    }

    const echo = await request(jobs, 'POST', apiKey, {
      resourceType: 'demo.echo',
      input: { message: 'hi', steps: 2, stepMs: 100 },
    });
    expect(echo.status).toBe(202);
    const succeeded = await until(echo.body.jobId, (job) => job.status === 'succeeded');
    expect(succeeded).toMatchObject({
      result: { echo: 'hi' },
      progress: { completed: 2, total: 2, message: 'step 2 of 2' },
      runnerId: runners.gpu.runnerId,
      attempts: 1,
    });

    // A long job, canceled while it runs: the runner learns it at its next heartbeat and moves on.
    const long = await request(jobs, 'POST', apiKey, {
      resourceType: 'demo.echo',
      input: { message: 'long', steps: 100, stepMs: 100 },
    });
    await until(long.body.jobId, (job) => job.progress.completed >= 1);
    expect((await request(`${jobs}/${long.body.jobId}/cancel`, 'POST', apiKey)).body.status).toBe('canceled');
    await waitUntil(
      'the runner stopped the canceled job',
      () => output.includes(`stopped ${long.body.jobId}: canceled`),
      10_000,
      {
        intervalMs: 100,
        context: () => output,
      },
    );
    expect(output).toContain(`stopped ${long.body.jobId}: canceled`);

    const unsupported = await request(jobs, 'POST', apiKey, { resourceType: 'demo.unsupported', input: {} });
    const failed = await until(unsupported.body.jobId, (job) => job.status === 'failed');
    expect(failed.error).toStrictEqual({
      code: 'unsupported_type',
      message: 'This runner cannot run demo.unsupported jobs.',
    });

    // SIGTERM in the middle of a job: the runner stops after the step, failing nothing; the lease will lapse.
    const interrupted = await request(jobs, 'POST', apiKey, {
      resourceType: 'demo.echo',
      input: { steps: 100, stepMs: 100 },
    });
    await until(interrupted.body.jobId, (job) => job.progress.completed >= 1);
    runner.kill('SIGTERM');
    expect(await Promise.race([exited, sleep(10_000).then(() => 'still running')]), output).toBe(0);
    expect(output).toContain('registered for demo.echo, demo.unsupported');
    expect(output).toContain(`${echo.body.jobId} is succeeded`);
    expect(output).toContain(`stopped ${interrupted.body.jobId}: shutting down`);
    expect((await request(`${jobs}/${interrupted.body.jobId}`, 'GET', apiKey)).body).toMatchObject({
      status: 'running',
      error: null,
    });
    await stopGateway(gateway);
  });

  test('afterwards list-runners shows what the runner registered and when it was last seen', async () => {
    const [gpu, old] = json(await admin(['list-runners', '--tenant', tenantId]));
    expect(gpu).toMatchObject({
      runnerId: runners.gpu.runnerId,
      status: 'active',
      resourceTypes: ['demo.echo', 'demo.unsupported'],
    });
    expect(gpu.lastSeenAt).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/);
    expect(old).toMatchObject({ runnerId: runners.old.runnerId, status: 'revoked', lastSeenAt: null });
  });
});
