import { accessSync, constants, createReadStream, createWriteStream, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Services } from '../services.js';

// The admin CLI's export-tenant and import-tenant: through a gateway's admin API (a job to start
// and follow, a file to download or upload) or on the database (the transfer service directly, no
// job). Both show a progress bar on a terminal and print the same result.

/** One admin API request of a command; `upload` sends that file as NDJSON, `download` writes the answer to that file. */
export type TransferRequest = {
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
  upload?: string;
  download?: string;
};

export function isReadableFile(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The request that uploads a file as NDJSON, streamed from disk with its length declared. */
export function uploadRequest(path: string, headers: Record<string, string>): RequestInit {
  return {
    headers: { ...headers, 'content-type': 'application/x-ndjson', 'content-length': String(statSync(path).size) },
    body: Readable.toWeb(createReadStream(path)) as ReadableStream<Uint8Array>,
    // A streamed request body must say so (fetch's "half duplex").
    duplex: 'half',
  } as RequestInit;
}

/** Streams an answer's body into a file; answers the bytes written. */
export async function saveAnswer(response: Response, path: string): Promise<number> {
  const out = createWriteStream(path);
  await pipeline(Readable.fromWeb(response.body! as import('node:stream/web').ReadableStream), out);
  return out.bytesWritten;
}

/** Draws progress on stderr (a terminal only); `done()` clears the line. */
export type Progress = { update(completed: number, total: number): void; done(): void };

/** A bar on a terminal, nothing otherwise (--json, pipes, CI logs). */
export function progressBar(shown: boolean, label: string): Progress {
  if (!shown) return { update() {}, done() {} };
  const width = 30;
  return {
    update(completed, total) {
      const share = total ? Math.min(1, completed / total) : 0;
      const filled = Math.round(share * width);
      process.stderr.write(
        `\r${label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${Math.floor(share * 100)}% ${completed}/${total} rows`,
      );
    },
    done() {
      process.stderr.write('\r\x1b[2K');
    },
  };
}

type Job = {
  jobId: string;
  status: string;
  progress: { completed: number | null; total: number | null };
  result: Record<string, unknown> | null;
  error: { code: string; message: string } | null;
};

/** Follows a job through the admin API until it ends; a failed or canceled job is the command's error. */
async function followJob(
  call: (request: TransferRequest) => Promise<unknown>,
  tenantId: string,
  job: Job,
  progress: Progress,
  failure: (message: string, code: string) => Error,
): Promise<Record<string, unknown>> {
  for (
    let current = job;
    ;
    current = (await call({ method: 'GET', path: `/tenants/${tenantId}/jobs/${job.jobId}` })) as Job
  ) {
    if (current.progress.total) progress.update(current.progress.completed ?? 0, current.progress.total);
    if (current.status === 'succeeded') return current.result ?? {};
    if (current.status === 'failed' || current.status === 'canceled') {
      throw failure(current.error?.message ?? `The job was ${current.status}.`, current.error?.code ?? current.status);
    }
    await sleep(250);
  }
}

type ExportCommand = {
  tenantId: string;
  out: string;
  includeSecrets: boolean;
  includeEvents: boolean;
  progress: Progress;
  failure: (message: string, code: string) => Error;
};

/** export-tenant: what it prints either way: the file, its exportId, size and counts. */
export function exportTenant(command: ExportCommand) {
  const { tenantId, out, progress } = command;
  const options = { includeSecrets: command.includeSecrets, includeEvents: command.includeEvents };
  const tenant = encodeURIComponent(tenantId);
  const summary = (result: Record<string, unknown>) => ({
    tenantId,
    file: out,
    exportId: result.exportId,
    bytes: result.bytes,
    counts: result.counts,
    includesSecrets: result.includesSecrets,
    includesEvents: result.includesEvents,
  });
  return {
    request: async (call: (request: TransferRequest) => Promise<unknown>) => {
      const job = (await call({ method: 'POST', path: `/tenants/${tenant}/exports`, body: options })) as Job;
      const result = await followJob(call, tenant, job, progress, command.failure);
      await call({ method: 'GET', path: `/tenants/${tenant}/exports/${job.jobId}/download`, download: out });
      progress.done();
      return summary(result);
    },
    direct: async ({ transfer }: Services) => {
      const file = await open(out, 'w');
      try {
        const result = await transfer.exportTo(
          tenantId,
          options,
          async (chunk) => {
            await file.write(chunk);
          },
          async ({ completed, total }) => progress.update(completed ?? 0, total ?? 0),
        );
        progress.done();
        return summary(result);
      } finally {
        await file.close();
      }
    },
  };
}

type ImportCommand = {
  tenantId: string;
  file: string;
  progress: Progress;
  failure: (message: string, code: string) => Error;
};

/** import-tenant: prints the import's result (rows imported and unchanged by type, refused lines). */
export function importTenant(command: ImportCommand) {
  const { tenantId, file, progress } = command;
  const tenant = encodeURIComponent(tenantId);
  return {
    request: async (call: (request: TransferRequest) => Promise<unknown>) => {
      const job = (await call({ method: 'POST', path: `/tenants/${tenant}/imports`, upload: file })) as Job;
      const result = await followJob(call, tenant, job, progress, command.failure);
      progress.done();
      return { tenantId, ...result };
    },
    direct: async ({ transfer }: Services) => {
      const result = await transfer.importFrom(tenantId, createReadStream(file), async ({ completed, total }) =>
        progress.update(completed ?? 0, total ?? 0),
      );
      progress.done();
      return { tenantId, ...result };
    },
  };
}
