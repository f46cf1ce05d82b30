import { describe, expect, test } from 'vitest';
import { newCaller, useServices } from '../support/domain.js';
import { eventsOf } from '../support/gateway.js';
import { jobResource } from '../../src/features/jobs/job.js';

// A runner's job through the job and runner services: queued by a client, claimed under a lease
// by a runner of the tenant registered for its type, reported on, finished; each step an event.

const ctx = useServices();

async function registeredRunner(tenantId: string, types: string[]) {
  const { runnerKey } = await ctx.services.runners.createRunner(tenantId, 'Service test runner');
  const runner = await ctx.services.runners.authenticate(runnerKey);
  await ctx.services.runners.register(runner, types);
  return ctx.services.runners.authenticate(runnerKey);
}

describe('job lifecycle', () => {
  test('queued, claimed, progressing, succeeded: each change recorded once', async () => {
    const auth = await newCaller(ctx.services);
    const { jobs, runners } = ctx.services;
    const queued = await jobs.create(auth, { resourceType: 'documents.ocr', input: { page: 1 } });
    expect(queued).toMatchObject({ status: 'queued', attempts: 0, tenantId: auth.tenantId });
    expect(await jobs.input(auth, queued.id)).toEqual({ page: 1 });

    const runner = await registeredRunner(auth.tenantId, ['documents.ocr']);
    const claimed = await runners.claim(runner);
    expect(claimed).toMatchObject({ id: queued.id, status: 'running', attempts: 1, runnerId: runner.id });
    expect(await runners.claim(runner), 'nothing else is queued').toBeNull();

    const beat = await runners.heartbeat(runner, queued.id, { progress: { completed: 1, total: 2 } });
    expect(beat.canceled).toBe(false);
    expect(await jobs.get(auth, queued.id)).toMatchObject({ progressCompleted: 1, progressTotal: 2 });

    const done = await runners.complete(runner, queued.id, { text: 'hello' });
    expect(done).toMatchObject({ status: 'succeeded', result: { text: 'hello' } });
    await expect(runners.complete(runner, queued.id, { text: 'again' })).rejects.toMatchObject({
      code: 'job_not_held',
    });
    const types = (await eventsOf(ctx, auth.tenantId)).map((e) => e.type);
    expect(types[0]).toBe('jobs.job.queued');
    expect(types.at(-1)).toBe('jobs.job.succeeded');
    expect(types.filter((t) => t === 'jobs.job.succeeded')).toHaveLength(1);
  });

  test("claims and completions of several tenants' jobs: one event each, the job as read back, gapless per tenant", async () => {
    const [a, b] = await Promise.all([newCaller(ctx.services), newCaller(ctx.services)]);
    const { jobs } = ctx.services;
    const type = `bench.t${Date.now()}`;
    const queued = [
      await jobs.create(a, { resourceType: type }),
      await jobs.create(b, { resourceType: type }),
      await jobs.create(a, { resourceType: type }),
    ];
    const worker = { runnerId: null };
    const claimed = await jobs.claim([type], worker, 10, 30_000);
    expect(claimed.map((job) => job.id)).toEqual(queued.map((job) => job.id).sort());
    expect(await jobs.claim([type], worker, 10, 30_000), 'nothing else is queued').toEqual([]);

    const beat = await jobs.heartbeat(queued[2]!.id, worker, 30_000, { completed: 1, total: 2, message: 'half' });
    expect(beat.job).toMatchObject({ progressCompleted: 1, progressTotal: 2, progressMessage: 'half' });
    const renewed = await jobs.heartbeat(queued[2]!.id, worker, 60_000);
    expect(renewed.job!.leaseExpiresAt!.getTime()).toBeGreaterThan(beat.job!.leaseExpiresAt!.getTime());
    expect(renewed.job).toMatchObject({ progressCompleted: 1, progressMessage: 'half' });

    const done = await jobs.completeMany(worker, [
      { id: queued[0]!.id, result: { n: 0 } },
      { id: queued[1]!.id, result: { n: 1 } },
      { id: 'job_01JXNOTHELDBYTHISWORKER000', result: {} },
    ]);
    expect(done.map((job) => job?.status ?? null)).toEqual(['succeeded', 'succeeded', null]);
    expect(await jobs.complete(queued[0]!.id, { runnerId: 'run_someoneelse' }, {}), 'not its holder').toBeNull();

    for (const auth of [a, b]) {
      const events = await eventsOf(ctx, auth.tenantId);
      expect(events.map((e) => e.tenantSequence)).toEqual(events.map((_, i) => i + 1));
      for (const event of events.filter((e) => e.type !== 'jobs.job.queued')) {
        const job = await jobs.get(auth, event.resourceId);
        const at =
          event.type === 'jobs.job.running'
            ? claimed.find((c) => c.id === job.id)!
            : event.type === 'jobs.job.progress'
              ? beat.job!
              : done.find((d) => d?.id === job.id)!;
        expect(event.data, `${event.type} of ${job.id}`).toEqual(jsonOf(jobResource(at)));
        expect(event.correlationId).toBe(auth.correlationId);
      }
    }
    const ofA = (await eventsOf(ctx, a.tenantId)).map((e) => `${e.type} ${e.resourceId}`);
    expect(ofA.filter((e) => e.startsWith('jobs.job.running'))).toHaveLength(2);
    expect(
      ofA.filter((e) => e.startsWith('jobs.job.progress')),
      'a lease renewal is no event',
    ).toEqual([`jobs.job.progress ${queued[2]!.id}`]);
    expect(ofA.filter((e) => e.startsWith('jobs.job.succeeded'))).toEqual([`jobs.job.succeeded ${queued[0]!.id}`]);
  });

  test("a runner claims only its own tenant's jobs of its registered types", async () => {
    const [a, b] = await Promise.all([newCaller(ctx.services), newCaller(ctx.services)]);
    const job = await ctx.services.jobs.create(a, { resourceType: 'documents.ocr' });
    const otherTenant = await registeredRunner(b.tenantId, ['documents.ocr']);
    const otherType = await registeredRunner(a.tenantId, ['documents.translate']);
    expect(await ctx.services.runners.claim(otherTenant)).toBeNull();
    expect(await ctx.services.runners.claim(otherType)).toBeNull();
    expect((await ctx.services.jobs.get(a, job.id)).status).toBe('queued');
  });

  test('canceling ends a queued job at once, and a second cancel is a conflict', async () => {
    const auth = await newCaller(ctx.services);
    const job = await ctx.services.jobs.create(auth, { resourceType: 'documents.ocr' });
    expect(await ctx.services.jobs.cancel(auth, job.id)).toMatchObject({ status: 'canceled' });
    await expect(ctx.services.jobs.cancel(auth, job.id)).rejects.toMatchObject({ code: 'job_finished' });
    expect((await eventsOf(ctx, auth.tenantId)).map((e) => e.type)).toEqual(['jobs.job.queued', 'jobs.job.canceled']);
  });

  test("built-in job types are refused on the runners' endpoint", async () => {
    const auth = await newCaller(ctx.services);
    const [builtIn] = ctx.services.jobs.builtInTypes;
    await expect(async () => ctx.services.jobs.create(auth, { resourceType: builtIn })).rejects.toMatchObject({
      code: 'validation_failed',
    });
  });
});

/** What a JSON column gives back for `value`: undefined and Dates as JSON has them. */
const jsonOf = (value: unknown) => JSON.parse(JSON.stringify(value));
