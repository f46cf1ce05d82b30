import { describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { jobWithHint, type JobState } from '../../src/features/jobs/job.js';

describe('which job types count as handled without a runner', () => {
  test('built-in types: with PostgreSQL always (another process may run them), embedded only with JOB_CONCURRENCY > 0', () => {
    expect(loadConfig({}).jobs.builtInHandled).toBe(true);
    expect(loadConfig({ JOB_CONCURRENCY: '0' }).jobs.builtInHandled).toBe(false);
    expect(loadConfig({ JOB_CONCURRENCY: '0', DATABASE_URL: 'postgresql://db/nilo' }).jobs.builtInHandled).toBe(true);
  });

  test('JOB_NO_RUNNER_TIMEOUT is a duration, 10 minutes by default, 0 turns it off', () => {
    expect(loadConfig({}).jobs.noRunnerTimeoutMs).toBe(600_000);
    expect(loadConfig({ JOB_NO_RUNNER_TIMEOUT: '30s' }).jobs.noRunnerTimeoutMs).toBe(30_000);
    expect(loadConfig({ JOB_NO_RUNNER_TIMEOUT: '0' }).jobs.noRunnerTimeoutMs).toBe(0);
    expect(() => loadConfig({ JOB_NO_RUNNER_TIMEOUT: 'soon' })).toThrow(/JOB_NO_RUNNER_TIMEOUT: must be a duration/);
  });

  test('JOB_NOOP_TYPE (benchmarks) is unset by default and a dotted job type when set', () => {
    expect(loadConfig({}).jobs.noopType).toBeUndefined();
    expect(loadConfig({ JOB_NOOP_TYPE: 'bench.noop' }).jobs.noopType).toBe('bench.noop');
    expect(() => loadConfig({ JOB_NOOP_TYPE: 'noop' })).toThrow(/JOB_NOOP_TYPE/);
  });

  test('LOG_FORMAT is pretty or json', () => {
    expect(loadConfig({ LOG_FORMAT: 'json' }).logFormat).toBe('json');
    expect(loadConfig({}).logFormat).toBeUndefined();
    expect(() => loadConfig({ LOG_FORMAT: 'yaml' })).toThrow(/LOG_FORMAT/);
  });
});

describe('waitingFor', () => {
  const job = (status: string, resourceType: string) =>
    ({ id: 'job_1', status, resourceType, createdAt: new Date(), updatedAt: new Date() }) as JobState;

  test('a queued job of a type nobody handles waits for no_runner; handled or no longer queued ones wait for nothing', () => {
    const handled = new Set(['docs.ocr']);
    expect(jobWithHint(job('queued', 'docs.translate'), handled).waitingFor).toBe('no_runner');
    expect(jobWithHint(job('queued', 'docs.ocr'), handled).waitingFor).toBeNull();
    expect(jobWithHint(job('running', 'docs.translate'), handled).waitingFor).toBeNull();
    expect(jobWithHint(job('failed', 'docs.translate'), handled).waitingFor).toBeNull();
  });
});
