import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DomainError } from '../../core/errors.js';
import type { Services } from '../../services.js';
import { accepted } from '../jobs/rest.js';
import { JobReceipt } from '../jobs/resource.js';
import { operation } from '../../http/openapi.js';
import { NDJSON } from './format.js';
import { ExportInput, type ExportFile } from './service.js';

const ExportParams = z.object({ jobId: z.string().describe('job_ followed by a ULID: the tenant.export job') });
const tags = ['transfer'];

/** The file's body in the OpenAPI document: NDJSON, a header line then one record a line (README, "Moving a tenant"). */
const NdjsonFile = z.string().meta({
  contentMediaType: NDJSON,
  description:
    'NDJSON: the header line ({"type":"header","format":"nilo-tenant-export","version":1,…}), then one record a line',
});

/**
 * An NDJSON request body: the raw stream, never buffered whole. The Idempotency-Key check
 * fingerprints requests by their body, and this one is not read yet: it stands for itself by its
 * media type and declared length.
 */
export class NdjsonUpload {
  constructor(
    readonly stream: Readable,
    readonly declaredBytes: number | undefined,
  ) {}

  toJSON() {
    return { mediaType: NDJSON, declaredBytes: this.declaredBytes ?? null };
  }
}

/** Request bodies of the routes this is called on: NDJSON uploads; any other media type is refused with 415. */
export function ndjsonBodies(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(/^application\/x-ndjson(;|$)/, (request, payload, done) => {
    const length = request.headers['content-length'];
    done(null, new NdjsonUpload(payload as Readable, length === undefined ? undefined : Number(length)));
  });
  app.addContentTypeParser('*', (_request, _payload, done) => done(unsupportedMediaType(), undefined));
}

/** The request's NDJSON upload; 415 without one (no body at all). */
export function ndjsonBody(request: FastifyRequest): { body: AsyncIterable<Uint8Array>; declaredBytes?: number } {
  if (!(request.body instanceof NdjsonUpload)) throw unsupportedMediaType();
  return { body: request.body.stream, declaredBytes: request.body.declaredBytes };
}

/** Sends an export file as it is read, a chunk at a time. */
export function sendExportFile(reply: FastifyReply, file: ExportFile) {
  return reply
    .type(NDJSON)
    .header('content-disposition', `attachment; filename="${file.filename}"`)
    .send(Readable.from(file.content));
}

function unsupportedMediaType(): DomainError {
  return new DomainError(
    415,
    'unsupported_media_type',
    'Unsupported media type',
    `Send the export file as ${NDJSON} (the body of GET /api/v1/exports/{jobId}/download).`,
  );
}

export const transferRoutes =
  (services: Services, importLimitBytes: number): FastifyPluginAsyncZod =>
  async (app) => {
    const { transfer } = services;

    app.post(
      '/exports',
      {
        schema: {
          ...operation({
            operationId: 'exportTenant',
            summary: "Export the tenant's data as an NDJSON file in a tenant.export job (202)",
            description:
              'Contacts, applications (names, never keys), invoices with their lines and number counters, webhook endpoints (without their secrets) and runners (without keys); the event log with {"includeEvents": true}. The finished job\'s result names its downloadPath.',
            tags,
            ok: { 202: JobReceipt },
            sideEffects: true,
            body: true,
          }),
          body: ExportInput.nullish(),
        },
      },
      async (request, reply) => accepted(reply, await transfer.startExport(request.auth!, request.body)),
    );

    app.get(
      '/exports/:jobId/download',
      {
        schema: {
          ...operation({
            operationId: 'downloadTenantExport',
            summary: 'The file of a finished export (404 export_not_ready before the job has succeeded)',
            tags,
            ok: {
              200: { description: 'The export file, as an attachment', content: { [NDJSON]: { schema: NdjsonFile } } },
            },
            errors: [404],
          }),
          params: ExportParams,
        },
      },
      async (request, reply) => sendExportFile(reply, await transfer.download(request.auth!, request.params.jobId)),
    );

    await app.register(async (imports) => {
      ndjsonBodies(imports);
      imports.post(
        '/imports',
        {
          schema: {
            ...operation({
              operationId: 'importTenant',
              summary: 'Import an export file into this tenant in a tenant.import job (202)',
              description: `The body is the NDJSON file as downloaded, streamed (at most IMPORT_BODY_LIMIT_BYTES; more answers 413). The header is checked before the job is queued: a tenant that holds contacts or invoices answers 409 tenant_not_empty, unless it is importing again the export it received. Rows keep their ids, invoice numbers and counters; a line that cannot be stored is listed in the job's result by its number. The body is streamed, not kept: an Idempotency-Key replays the first answer to a request of the same declared length, and importing the same file again changes nothing anyway.`,
              tags,
              ok: { 202: JobReceipt },
              errors: [409, 413, 415],
              sideEffects: true,
            }),
            consumes: [NDJSON],
            body: z.any().meta({ ...NdjsonFile.meta(), type: 'string' }),
          },
        },
        async (request, reply) => {
          const { body, declaredBytes } = ndjsonBody(request);
          try {
            return accepted(
              reply,
              await transfer.startImport(request.auth!, body, { declaredBytes, limitBytes: importLimitBytes }),
            );
          } catch (error) {
            // The body may be left unread (cut off past the limit, refused at its header): the
            // connection closes after the answer, so a client still sending cannot hold it open,
            // nor the gateway's stop, which waits for open connections.
            reply.header('connection', 'close');
            throw error;
          }
        },
      );
    });
  };
