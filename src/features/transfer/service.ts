import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Job, PrismaClient } from '../../generated/prisma/client.js';
import type { AuthContext } from '../../auth/context.js';
import { ConflictError, DomainError, NotFoundError, NotYetAvailableError } from '../../core/errors.js';
import { parseId } from '../../core/ids.js';
import { PermanentJobError } from '../jobs/handler.js';
import { JOB, type JobState } from '../jobs/job.js';
import type { JobService, Progress } from '../jobs/service.js';
import { ownedOrNotFound } from '../../core/owned.js';
import { parseInput } from '../../core/validation.js';
import { writeExport, type ExportOptions } from './export.js';
import { LineTooLongError, parseHeader, readLines, RECORD_TYPES, type Counts, type Header } from './format.js';
import { importRecords, type ImportResult } from './import.js';
import { TENANT_EXPORT_JOB, TENANT_IMPORT_JOB } from './jobs.js';
import { FILE_RETENTION_MS, fileStore } from './store.js';

/** POST /api/v1/exports: an application may add the event log; secrets are the operator's to ask for. */
export const ExportInput = z.strictObject({
  includeEvents: z.boolean().default(false).describe("Add the tenant's event log to the file"),
});

/** The admin API's and CLI's export: secrets (webhook signing secrets, runner key hashes) too when asked. */
export const OperatorExportInput = ExportInput.extend({
  includeSecrets: z.boolean().default(false).describe("Add webhook endpoints' signing secrets and runners' key hashes"),
});

/** Where REST serves a finished export. */
export function exportDownloadPath(jobId: string): string {
  return `/api/v1/exports/${jobId}/download`;
}

/** The tenant.export job's result. */
export type ExportResult = {
  exportId: string;
  downloadPath: string;
  bytes: number;
  counts: Counts;
  includesSecrets: boolean;
  includesEvents: boolean;
  /** When the file is deleted; export again after that. */
  expiresAt: string;
};

/** An export file to send: its name and its bytes, read a chunk at a time. */
export type ExportFile = { filename: string; content: AsyncIterable<Uint8Array> };

/** The progress a transfer reports: how many of the file's rows are done. */
type Report = (progress: Progress) => Promise<void>;

/** The longest header line read before the file is refused: the header is a few hundred bytes. */
const MAX_HEADER_BYTES = 64 * 1024;
/** Rows between two progress reports of a job (each is a jobs.job.progress event). */
const REPORT_EVERY = 5000;

type ImportJobInput = { fileId: string; exportId: string; allowSecrets: boolean };
type ExportJobInput = { includeSecrets: boolean; includeEvents: boolean };

/**
 * Tenant export and import: an export writes the tenant as an NDJSON file (./format.ts) that any
 * installation imports, in embedded or server mode. Both run as jobs (tenant.export, tenant.import)
 * for API clients and the admin API; the admin CLI runs them directly on a database it opens.
 */
export function transferService(prisma: PrismaClient, jobs: JobService) {
  const files = fileStore(prisma);

  async function requireTenant(tenantId: string) {
    const tenant = await prisma.tenant.findUnique({ where: { id: parseId('ten', tenantId, 'tenant') } });
    if (!tenant) throw new NotFoundError('Tenant', tenantId);
    return tenant;
  }

  /**
   * A tenant takes an import while it holds no contacts or invoices, or when it received this
   * export before (importing the same file again writes nothing new, and finishes one that stopped).
   */
  async function checkImportable(tenantId: string, exportId: string): Promise<void> {
    const before = await prisma.tenantImport.findUnique({ where: { tenantId_exportId: { tenantId, exportId } } });
    if (before) return;
    const [contact, invoice] = await Promise.all([
      prisma.contact.findFirst({ where: { tenantId }, select: { id: true } }),
      prisma.invoice.findFirst({ where: { tenantId }, select: { id: true } }),
    ]);
    if (contact || invoice) {
      throw new ConflictError(
        'tenant_not_empty',
        `Tenant ${tenantId} already holds contacts or invoices: import into a new tenant (admin create-tenant). Only the export it received before (exportId) may be imported again.`,
      );
    }
  }

  /**
   * Stores an uploaded file, streamed: the header is read and checked (format, version, and that
   * the tenant may take it) before anything is stored, and the body is cut off past `limitBytes`.
   */
  async function receive(
    tenantId: string,
    body: AsyncIterable<Uint8Array>,
    limitBytes: number,
  ): Promise<{ fileId: string; header: Header }> {
    const fileId = randomUUID();
    const writer = files.writer(fileId, tenantId, 0);
    let head: Buffer | null = Buffer.alloc(0);
    let header: Header | undefined;
    let bytes = 0;
    const readHeader = async (text: string) => {
      header = parseHeader(text);
      await checkImportable(tenantId, header.exportId);
    };
    try {
      for await (const chunk of body) {
        bytes += chunk.byteLength;
        if (bytes > limitBytes) throw payloadTooLarge(limitBytes);
        if (head) {
          head = Buffer.concat([head, chunk]);
          const end = head.indexOf(0x0a);
          if (end === -1 && head.length <= MAX_HEADER_BYTES) continue;
          await readHeader(head.subarray(0, end === -1 ? MAX_HEADER_BYTES : end).toString());
          await writer.write(head);
          head = null;
        } else {
          await writer.write(chunk);
        }
      }
      if (head) {
        await readHeader(head.toString());
        await writer.write(head);
      }
      await writer.end();
      return { fileId, header: header! };
    } catch (error) {
      await files.remove(fileId);
      throw error;
    }
  }

  /** Runs an export into a file of its own (`fileId`), reporting progress every REPORT_EVERY rows. */
  async function exportInto(
    tenantId: string,
    ids: { fileId: string; exportId: string },
    options: ExportOptions,
    report: Report,
  ) {
    let reported = 0;
    return writeExport(prisma, files, { tenantId, ...ids }, options, async ({ completed, total }) => {
      if (completed - reported < REPORT_EVERY && completed < total) return;
      reported = completed;
      await report({ completed, total, message: `${completed} of ${total} rows` });
    });
  }

  /** Imports a stored file into a tenant; the file is deleted once the import got through it. */
  async function importFile(tenantId: string, input: ImportJobInput, report: Report): Promise<ImportResult> {
    const lines = readLines(files.read(input.fileId));
    const first = await lines.next();
    if (first.done) throw expired(`The uploaded file of export ${input.exportId}`);
    const header = parseHeader(first.value.text);
    await checkImportable(tenantId, header.exportId);
    await prisma.tenantImport.createMany({ data: [{ tenantId, exportId: header.exportId }], skipDuplicates: true });
    const total = RECORD_TYPES.reduce((sum, type) => sum + header.counts[type], 0);
    let reported = 0;
    const result = await importRecords(
      prisma,
      { tenantId, exportId: header.exportId, total },
      lines,
      { allowSecrets: input.allowSecrets },
      async ({ completed }) => {
        if (completed - reported < REPORT_EVERY && completed < total) return;
        reported = completed;
        await report({ completed, total, message: `${completed} of ${total} rows` });
      },
    );
    await files.remove(input.fileId);
    return result;
  }

  async function startExport(auth: AuthContext, options: ExportJobInput): Promise<JobState> {
    await files.removeExpired();
    return jobs.enqueue(auth, { resourceType: TENANT_EXPORT_JOB, input: options });
  }

  async function startImport(
    auth: AuthContext,
    body: AsyncIterable<Uint8Array>,
    limits: { declaredBytes?: number; limitBytes: number },
    allowSecrets: boolean,
  ): Promise<JobState> {
    if (limits.declaredBytes !== undefined && limits.declaredBytes > limits.limitBytes)
      throw payloadTooLarge(limits.limitBytes);
    await files.removeExpired();
    const { fileId, header } = await receive(auth.tenantId, body, limits.limitBytes);
    const total = RECORD_TYPES.reduce((sum, type) => sum + header.counts[type], 0);
    const input: ImportJobInput = { fileId, exportId: header.exportId, allowSecrets };
    return jobs.enqueue(auth, {
      resourceType: TENANT_IMPORT_JOB,
      input,
      progress: { total, message: `0 of ${total} rows` },
    });
  }

  /** A finished export of the tenant's, as a file; `operator` may read one that holds secrets. */
  async function download(job: JobState, operator: boolean): Promise<ExportFile> {
    const result = job.result as ExportResult | null;
    if (job.resourceType !== TENANT_EXPORT_JOB || (result?.includesSecrets && !operator))
      throw new NotFoundError('Export', job.id);
    if (job.status !== 'succeeded') {
      throw new NotYetAvailableError(
        'export_not_ready',
        `Export ${job.id} is ${job.status}; download it once its job has succeeded (GET /api/v1/jobs/${job.id}).`,
      );
    }
    if (!(await files.exists(job.id, job.tenantId))) throw expired(`Export ${job.id}`);
    return { filename: `tenant-${job.tenantId}-${job.id}.ndjson`, content: files.read(job.id) };
  }

  /** A job of the tenant, for the operator (no application's key). */
  async function operatorJob(tenantId: string, jobId: string): Promise<JobState> {
    await requireTenant(tenantId);
    return ownedOrNotFound(JOB, { tenantId }, jobId, (where) => prisma.job.findFirst({ where, omit: { input: true } }));
  }

  return {
    /** POST /api/v1/exports. */
    startExport: (auth: AuthContext, input: unknown) =>
      startExport(auth, { ...parseInput(ExportInput, input ?? {}), includeSecrets: false }),

    /** POST /api/v1/imports: the NDJSON body, streamed; runner key hashes in it are not taken. */
    startImport: (
      auth: AuthContext,
      body: AsyncIterable<Uint8Array>,
      limits: { declaredBytes?: number; limitBytes: number },
    ) => startImport(auth, body, limits, false),

    /** GET /api/v1/exports/{jobId}/download: another tenant's job, or one that is no export, is not found. */
    async download(auth: AuthContext, jobId: string): Promise<ExportFile> {
      return download(await jobs.get(auth, jobId), false);
    },

    /** The admin API's export of a tenant, secrets included when asked. */
    async startExportAsOperator(tenantId: string, input: unknown, correlationId: string): Promise<JobState> {
      await requireTenant(tenantId);
      return startExport(operator(tenantId, correlationId), parseInput(OperatorExportInput, input ?? {}));
    },

    /** The admin API's import: as POST /imports, and a runner's key hash in the file is kept. */
    async startImportAsOperator(
      tenantId: string,
      body: AsyncIterable<Uint8Array>,
      limits: { declaredBytes?: number; limitBytes: number },
      correlationId: string,
    ): Promise<JobState> {
      await requireTenant(tenantId);
      return startImport(operator(tenantId, correlationId), body, limits, true);
    },

    operatorJob,

    async downloadAsOperator(tenantId: string, jobId: string): Promise<ExportFile> {
      return download(await operatorJob(tenantId, jobId), true);
    },

    /** The tenant.export job. */
    async runExport(job: Job, report: Report): Promise<ExportResult> {
      const options = job.input as ExportJobInput;
      const written = await exportInto(job.tenantId, { fileId: job.id, exportId: job.id }, options, report);
      return {
        ...written,
        downloadPath: exportDownloadPath(job.id),
        includesSecrets: options.includeSecrets,
        includesEvents: options.includeEvents,
        expiresAt: new Date(Date.now() + FILE_RETENTION_MS).toISOString(),
      };
    },

    /** The tenant.import job; what retrying cannot change (a refused file, a tenant that filled meanwhile) fails it at once. */
    async runImport(job: Job, report: Report): Promise<ImportResult> {
      try {
        return await importFile(job.tenantId, job.input as ImportJobInput, report);
      } catch (error) {
        if (error instanceof DomainError) throw new PermanentJobError(error.code, error.message);
        if (error instanceof LineTooLongError) throw new PermanentJobError('line_too_long', error.message);
        throw error;
      }
    },

    /**
     * The admin CLI on the database: exports the tenant straight into `sink`, without a job (no
     * gateway needs to run); the file passes through the database a chunk at a time, as a job's does.
     */
    async exportTo(tenantId: string, input: unknown, sink: (chunk: Uint8Array) => Promise<void>, report: Report) {
      await requireTenant(tenantId);
      const options = parseInput(OperatorExportInput, input ?? {});
      const fileId = randomUUID();
      try {
        const written = await exportInto(tenantId, { fileId, exportId: fileId }, options, report);
        for await (const chunk of files.read(fileId)) await sink(chunk);
        return { ...written, includesSecrets: options.includeSecrets, includesEvents: options.includeEvents };
      } finally {
        await files.remove(fileId);
      }
    },

    /** The admin CLI on the database: imports a file into the tenant without a job, secrets kept. */
    async importFrom(tenantId: string, body: AsyncIterable<Uint8Array>, report: Report): Promise<ImportResult> {
      await requireTenant(tenantId);
      const { fileId, header } = await receive(tenantId, body, Number.POSITIVE_INFINITY);
      try {
        return await importFile(tenantId, { fileId, exportId: header.exportId, allowSecrets: true }, report);
      } finally {
        await files.remove(fileId);
      }
    },
  };
}

export type TransferService = ReturnType<typeof transferService>;

/** 404 for a file deleted after FILE_RETENTION_MS. */
function expired(what: string): DomainError {
  return new DomainError(404, 'not_found', 'Not found', `${what} has expired (files are kept 7 days); export again.`);
}

function payloadTooLarge(limitBytes: number): DomainError {
  return new DomainError(
    413,
    'payload_too_large',
    'Payload too large',
    `The import file is larger than this gateway accepts (${limitBytes} bytes, IMPORT_BODY_LIMIT_BYTES); the admin CLI's import-tenant on the database has no limit.`,
  );
}

/**
 * The caller of a job the operator starts through the admin API: the tenant's, of no application
 * (the job's applicationId stays null, as for any work no application's key asked for).
 */
function operator(tenantId: string, correlationId: string): AuthContext {
  return {
    tenantId,
    applicationId: null as unknown as string,
    applicationName: 'operator',
    features: [],
    correlationId,
  };
}
