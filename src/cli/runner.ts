import { parseArgs } from 'node:util';

// The reference runner: what a customer-hosted worker does, in one file with no dependencies.
// Registers its job types, claims the tenant's queued jobs one at a time, heartbeats progress
// (learning of a cancel that way), and completes or fails each job.

const USAGE = `Usage: npm run runner -- --key <nilo_rk_…> --types <type,…> [--url <gateway>] [--poll-ms <ms>]

  --key      the runner key from "admin create-runner" (or NILO_RUNNER_KEY)
  --types    the job types to claim, e.g. demo.echo
  --url      the gateway (default http://localhost:4000)
  --poll-ms  how long to wait between claims while there is no work (default 500)

Runs demo.echo (input { message, steps = 3, stepMs = 500 }: reports progress each step, then
answers { echo: message }). Other registered types fail with unsupported_type.
SIGINT/SIGTERM stop it after the current step; a job it held returns to the queue when its lease lapses.`;

const options = parseCommandLine();

function parseCommandLine() {
  const usage = (message: string): never => {
    console.error(`${message}\n\n${USAGE}`);
    process.exit(2);
  };
  const parse = () => {
    try {
      return parseArgs({
        options: {
          url: { type: 'string', default: 'http://localhost:4000' },
          key: { type: 'string', default: process.env.NILO_RUNNER_KEY },
          types: { type: 'string' },
          'poll-ms': { type: 'string', default: '500' },
          help: { type: 'boolean', short: 'h', default: false },
        },
      });
    } catch (error) {
      return usage(error instanceof Error ? error.message : String(error));
    }
  };
  const { values } = parse();
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const types = (values.types ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  const pollMs = Number(values['poll-ms']);
  if (!values.key) return usage('--key (or NILO_RUNNER_KEY) is required.');
  if (!types.length) return usage('--types is required.');
  if (!Number.isInteger(pollMs) || pollMs < 10)
    return usage('--poll-ms must be a whole number of milliseconds, at least 10.');
  return { url: values.url.replace(/\/+$/, ''), key: values.key, types, pollMs };
}

type Json = Record<string, unknown>;
type ClaimedJob = {
  jobId: string;
  resourceType: string;
  input: Json;
  attempts: number;
  maxAttempts: number;
  leaseExpiresAt: string;
};
type Progress = { completed: number; total: number; message: string };

/** A problem-details answer from the gateway. */
class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
  ) {
    super(`${status} ${code}: ${detail}`);
  }
}

/** The gateway told us to stop working on the job (canceled, lease lost), or we are shutting down. */
class Stopped extends Error {}

/** Bad input: retrying cannot help, so the job fails for good. */
class InvalidInput extends Error {}

const log = (message: string) => console.log(`${new Date().toISOString()} ${message}`);

async function call(path: string, body: unknown = {}): Promise<Json | undefined> {
  let response: Response;
  for (;;) {
    response = await fetch(`${options.url}/api/v1/runner${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${options.key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    // Over the runner's rate budget: wait as long as the gateway says, then ask again.
    if (response.status !== 429 || shuttingDown) break;
    await response.text();
    await sleep(1000 * Number(response.headers.get('retry-after') ?? 1));
  }
  const text = await response.text();
  const parsed = text ? (JSON.parse(text) as Json) : undefined;
  if (!response.ok)
    throw new ApiError(response.status, String(parsed?.code ?? 'error'), String(parsed?.detail ?? text));
  return parsed;
}

let shuttingDown = false;
let wakeUp = () => {};
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping`);
    shuttingDown = true;
    wakeUp();
  });
}

/** Waits between claims; a shutdown ends the wait at once. */
function idle(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    wakeUp = () => {
      clearTimeout(timer);
      resolve();
    };
  });
}

/** One claimed job: keeps its lease alive, also while a step runs longer than the lease between progress reports. */
class JobSession {
  private timer?: NodeJS.Timeout;
  private stopReason?: string;
  private ended = false;

  constructor(readonly job: ClaimedJob) {
    this.renewBefore(job.leaseExpiresAt);
  }

  /** Reports progress; throws Stopped when the job should not go on. */
  async progress(progress: Progress): Promise<void> {
    await this.beat(progress);
    if (shuttingDown) this.stopReason ??= 'shutting down; the lease will lapse';
    if (this.stopReason) throw new Stopped(this.stopReason);
  }

  end(): void {
    this.ended = true;
    clearTimeout(this.timer);
  }

  private async beat(progress?: Progress): Promise<void> {
    try {
      const answer = await call(`/jobs/${this.job.jobId}/heartbeat`, progress ? { progress } : {});
      if (answer!.canceled) this.stopReason = 'canceled';
      else this.renewBefore(String(answer!.leaseExpiresAt));
    } catch (error) {
      // 409 job_not_held, 404, 401 (revoked): the job is not ours any more. Anything else may pass: try again soon.
      if (error instanceof ApiError && error.status < 500) this.stopReason = error.message;
      else {
        log(`heartbeat of ${this.job.jobId} failed (${describe(error)}); retrying`);
        this.schedule(1000);
      }
    }
  }

  private renewBefore(leaseExpiresAt: string): void {
    // A third of the remaining lease, within bounds in case this machine's clock is off.
    this.schedule(Math.min(Math.max((Date.parse(leaseExpiresAt) - Date.now()) / 3, 100), 10_000));
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    if (this.stopReason || this.ended) return;
    this.timer = setTimeout(() => void this.beat(), delayMs);
  }
}

type Handler = (input: Json, session: JobSession) => Promise<Json>;

const handlers: Record<string, Handler> = {
  /** Waits `steps` × `stepMs`, reporting progress after each step, then echoes the message. */
  async 'demo.echo'(input, session) {
    const steps = wholeNumber(input, 'steps', 3, 1000);
    const stepMs = wholeNumber(input, 'stepMs', 500, 60_000);
    for (let step = 1; step <= steps; step++) {
      await sleep(stepMs);
      await session.progress({ completed: step, total: steps, message: `step ${step} of ${steps}` });
    }
    return { echo: input.message ?? null };
  },
};

function wholeNumber(input: Json, field: string, fallback: number, max: number): number {
  const value = input[field] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new InvalidInput(`input.${field} must be a whole number from 0 to ${max}.`);
  }
  return value;
}

async function run(job: ClaimedJob): Promise<void> {
  log(`claimed ${job.jobId} (${job.resourceType}, attempt ${job.attempts} of ${job.maxAttempts})`);
  const handler = handlers[job.resourceType];
  let outcome: { action: 'complete' | 'fail'; body: Json } | undefined;
  if (!handler) {
    outcome = {
      action: 'fail',
      body: {
        error: { code: 'unsupported_type', message: `This runner cannot run ${job.resourceType} jobs.` },
        retry: false,
      },
    };
  } else {
    const session = new JobSession(job);
    try {
      outcome = { action: 'complete', body: { result: await handler(job.input, session) } };
    } catch (error) {
      if (error instanceof Stopped) log(`stopped ${job.jobId}: ${error.message}`);
      else if (error instanceof InvalidInput)
        outcome = { action: 'fail', body: { error: { code: 'invalid_input', message: error.message }, retry: false } };
      else outcome = { action: 'fail', body: { error: { code: 'job_failed', message: describe(error) }, retry: true } };
    } finally {
      session.end();
    }
  }
  if (!outcome) return;
  try {
    const answer = await call(`/jobs/${job.jobId}/${outcome.action}`, outcome.body);
    log(`${job.jobId} is ${answer!.status}`);
  } catch (error) {
    log(`could not ${outcome.action} ${job.jobId}: ${describe(error)}`);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** fetch's own message ("fetch failed") hides the reason (ECONNREFUSED …) in its cause. */
const describe = (error: unknown): string =>
  error instanceof Error
    ? error.cause instanceof Error
      ? `${error.message}: ${error.cause.message}`
      : error.message
    : String(error);

/** An answer from the gateway that will not change by asking again (bad key, bad types). */
function fatal(error: unknown): error is ApiError {
  return error instanceof ApiError && error.status >= 400 && error.status < 500;
}

// Register (waiting for the gateway if it is not up yet), then claim and run until stopped.
while (!shuttingDown) {
  try {
    await call('/register', { resourceTypes: options.types });
    log(`registered for ${options.types.join(', ')} at ${options.url}; waiting for jobs`);
    const unsupported = options.types.filter((type) => !handlers[type]);
    if (unsupported.length) log(`no handler for ${unsupported.join(', ')}: such jobs fail with unsupported_type`);
    break;
  } catch (error) {
    if (fatal(error)) {
      console.error(`registration refused: ${error.message}`);
      process.exit(1);
    }
    log(`gateway not reachable (${describe(error)}); retrying`);
    await idle(Math.max(options.pollMs, 1000));
  }
}

while (!shuttingDown) {
  let job: ClaimedJob | undefined;
  try {
    job = (await call('/claim'))?.job as ClaimedJob | undefined;
  } catch (error) {
    if (fatal(error)) {
      console.error(`claim refused: ${error.message}`);
      process.exit(1);
    }
    log(`claim failed (${describe(error)}); retrying`);
  }
  if (job) await run(job);
  else await idle(options.pollMs);
}
log('stopped');
