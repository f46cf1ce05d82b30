import { STATUS_CODES } from 'node:http';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';

// The REST contract in one place: the shared answer schemas, the headers every answer carries,
// and how route declarations become OpenAPI operations. /openapi.json is generated from the
// routes' zod schemas; the test suite checks every answer it receives against it.

/** Every `code` a problem can carry (src/core/errors.ts and its callers, the REST adapters, src/db/unavailable.ts). */
export const PROBLEM_CODES = [
  'invalid_request',
  'validation_failed',
  'invalid_id',
  'unauthorized',
  'feature_not_enabled',
  'not_found',
  'pdf_not_rendered',
  'export_not_ready',
  'method_not_allowed',
  'request_timeout',
  'payload_too_large',
  'uri_too_long',
  'unsupported_media_type',
  'headers_too_large',
  'email_taken',
  'external_id_taken',
  'idempotency_key_in_flight',
  'idempotency_key_reused',
  'job_finished',
  'tenant_not_empty',
  'job_not_held',
  'runner_not_registered',
  'amount_out_of_range',
  'customer_contact_not_found',
  'invalid_transition',
  'rate_limited',
  'internal_error',
  'service_unavailable',
] as const;

export const Problem = z
  .object({
    type: z.url().describe('https://nilo-assistant.com/problems/ followed by the code with dashes'),
    title: z.string(),
    status: z.int().min(400).max(599),
    detail: z.string().describe('What went wrong, for a person to read'),
    code: z.enum(PROBLEM_CODES).describe('Stable machine-readable reason'),
    correlationId: z.string().describe('The X-Correlation-Id of this answer'),
    errors: z
      .array(
        z.object({
          path: z.string().describe('Dotted path of the field ("" for the whole body)'),
          message: z.string(),
        }),
      )
      .optional()
      .describe('One entry per refused field'),
  })
  .meta({
    id: 'Problem',
    description: 'RFC 9457 problem details',
    examples: [
      {
        type: 'https://nilo-assistant.com/problems/invalid-request',
        title: 'Invalid request',
        status: 400,
        detail: 'At least one item is required.',
        code: 'invalid_request',
        correlationId: '8f5f7d90-6e0c-4c82-95c9-1ef85d221f1d',
      },
    ],
  });

export { JsonObject } from '../core/validation.js';

export const Timestamp = z.iso.datetime();

/** Lists: one page of items, the cursor of the next page (null on the last) and how many this page holds. */
export function Page<T extends z.ZodType>(item: T) {
  return z.object({
    items: z.array(item),
    nextCursor: z
      .string()
      .nullable()
      .describe('Pass as ?cursor= (lists) or "cursor" (search bodies) for the next page'),
    count: z.int().min(0),
  });
}

// Headers, as components the operations reference.
export const HEADERS = {
  'X-Correlation-Id': {
    description:
      "The request's X-Correlation-Id when it was sensible (1–128 of A-Z a-z 0-9 . _ : @ -), else a new UUID; also in problem bodies and events",
    required: true,
    schema: { type: 'string', minLength: 1, maxLength: 128 },
  },
  RateLimit: {
    description:
      'Points left in the budget and seconds until it starts afresh (IETF httpapi draft), e.g. "default";r=599;t=60',
    required: true,
    schema: { type: 'string', pattern: '^"[a-z-]+";r=\\d+;t=\\d+$' },
  },
  'RateLimit-Policy': {
    description: 'The budget: points per window of seconds, e.g. "default";q=600;w=60',
    required: true,
    schema: { type: 'string', pattern: '^"[a-z-]+";q=\\d+;w=\\d+$' },
  },
  'Retry-After': {
    description: 'Seconds to wait before trying again',
    required: true,
    schema: { type: 'string', pattern: '^\\d+$' },
  },
  Location: {
    description: 'Where the created resource, or the job to poll, is',
    required: true,
    schema: { type: 'string' },
  },
  'Idempotent-Replayed': {
    description: 'Present (true) when this is the stored answer to an earlier request with the same Idempotency-Key',
    schema: { type: 'string', enum: ['true'] },
  },
} as const;
type HeaderName = keyof typeof HEADERS;

/** What a route declares about one status; the document's response object is built from it. */
type HeaderMark = { 'x-header': HeaderName; 'x-optional'?: true };
type ResponseSpec = {
  description: string;
  content?: Record<string, { schema: z.ZodType }>;
  headers?: Partial<Record<HeaderName, HeaderMark>>;
};

/** Marks transformObject turns into header objects: references to components.headers, or optional copies. */
const headerRefs = (names: HeaderName[], optional: HeaderName[] = []) =>
  Object.fromEntries([
    ...names.map((name) => [name, { 'x-header': name }]),
    ...optional.map((name) => [name, { 'x-header': name, 'x-optional': true }]),
  ]);

/** Who calls an operation: an application's API key, a runner's key, or the admin token. */
export type Caller = 'apiKey' | 'runner';

export type OperationSpec = {
  operationId: string;
  summary: string;
  tags: string[];
  caller?: Caller;
  /** Success answers by status: a zod schema (JSON), null (no body), or a full spec (PDF). */
  ok: Record<number, z.ZodType | null | { description?: string; content: Record<string, { schema: z.ZodType }> }>;
  /** Error statuses besides those every operation can answer. */
  errors?: number[];
  /** POST/PATCH/DELETE: Idempotency-Key is honoured (409 while in flight or reused). */
  sideEffects?: boolean;
  /** Takes a JSON body (413, 415). */
  body?: boolean;
  description?: string;
};

const SUCCESS_DESCRIPTIONS: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted: a job does the work',
  204: 'No content',
};
const ALWAYS = [400, 401, 408, 414, 429, 431, 500, 503];

/**
 * The schema fragment of one route: operationId, summary, tags, the Idempotency-Key and
 * X-Correlation-Id request headers, and every answer with its headers.
 */
export function operation(spec: OperationSpec) {
  const caller = spec.caller ?? 'apiKey';
  const sideEffects = spec.sideEffects ?? false;
  const budget: HeaderName[] = ['RateLimit', 'RateLimit-Policy'];
  const replayed: HeaderName[] = sideEffects && caller === 'apiKey' ? ['Idempotent-Replayed'] : [];
  const response: Record<string, ResponseSpec> = {};
  const security: Record<string, string[]>[] =
    caller === 'runner' ? [{ runnerKey: [] }] : [{ bearer: [] }, { apiKey: [] }];
  for (const [status, answer] of Object.entries(spec.ok)) {
    const code = Number(status);
    const headers: HeaderName[] = [
      'X-Correlation-Id',
      ...budget,
      ...replayed,
      ...(code === 201 || code === 202 ? (['Location'] as const) : []),
    ];
    const description = SUCCESS_DESCRIPTIONS[code] ?? STATUS_CODES[code]!;
    if (answer === null) response[status] = { description, headers: headerRefs(headers) };
    else if ('content' in answer && !(answer instanceof z.ZodType))
      response[status] = {
        description: answer.description ?? description,
        content: answer.content,
        headers: headerRefs(headers),
      };
    else
      response[status] = {
        description,
        content: { 'application/json': { schema: answer } },
        headers: headerRefs(headers),
      };
  }
  const errors = new Set([
    ...ALWAYS,
    ...(spec.errors ?? []),
    ...(spec.body ? [413, 415] : []),
    ...(sideEffects && caller === 'apiKey' ? [409] : []),
  ]);
  for (const code of [...errors].sort((a, b) => a - b)) {
    const headers: HeaderName[] = ['X-Correlation-Id'];
    const optional: HeaderName[] = [];
    // A refused key spends no budget of the application; every other answer to a caller does,
    // except a 400 for a URL refused before the key is read (undecodable percent-encoding).
    if (code === 400) optional.push(...budget);
    else if (code !== 401 && code < 500 && ![408, 414, 431].includes(code)) headers.push(...budget);
    if (code === 429 || code === 503) headers.push('Retry-After');
    // Answers stored under an Idempotency-Key are the ones given after the body was read.
    if ([400, 404, 409, 422].includes(code)) optional.push(...replayed);
    response[code] = {
      description: problemDescription(code),
      content: { 'application/problem+json': { schema: Problem } },
      headers: headerRefs(headers, optional),
    };
  }
  return {
    operationId: spec.operationId,
    summary: spec.summary,
    ...(spec.description ? { description: spec.description } : {}),
    tags: spec.tags,
    security,
    headers: requestHeaders(sideEffects && caller === 'apiKey'),
    response,
  };
}

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: 'Malformed payload or validation failure (invalid_request, validation_failed, invalid_id)',
  401: 'Missing, malformed, revoked or unknown key (unauthorized)',
  403: 'Valid key, but the feature is not enabled for the tenant (feature_not_enabled)',
  404: 'No such resource for this tenant (not_found)',
  408: 'The request headers or body did not arrive in time (request_timeout)',
  409: 'Conflict with the current state, or an Idempotency-Key still in flight or reused with another request',
  413: 'Body larger than this endpoint accepts (payload_too_large)',
  414: 'A path segment is too long (uri_too_long)',
  415: 'Body not sent as application/json (unsupported_media_type)',
  422: 'Valid input that the business rules refuse',
  429: 'Rate limit used up (rate_limited); retry after Retry-After seconds',
  431: 'Request line and headers too large (headers_too_large)',
  500: 'Unexpected error (internal_error); quote the correlationId',
  503: 'The database is unreachable (service_unavailable); retry after Retry-After seconds',
};
const problemDescription = (code: number) => PROBLEM_DESCRIPTIONS[code] ?? STATUS_CODES[code]!;

/**
 * The request headers, for the document only: the rules are enforced where they live (the
 * idempotency service answers 400 invalid_request; an unusable correlation id is replaced), so
 * the schemas state them as metadata and Fastify's header validation accepts any value.
 */
function requestHeaders(idempotent: boolean) {
  return z.object({
    ...(idempotent && {
      'idempotency-key': z
        .string()
        .optional()
        .meta({
          pattern: '^[\\x21-\\x7e]{1,255}$',
          description:
            'Makes a retry safe: 1–255 visible ASCII characters; the first answer is stored and replayed (with Idempotent-Replayed: true) for the same key and request',
          examples: ['inv-2026-05-30-001'],
        }),
    }),
    'x-correlation-id': z.string().optional().meta({
      description:
        'Traces the request across systems; echoed in X-Correlation-Id, problem bodies and events (replaced by a UUID unless 1–128 of A-Z a-z 0-9 . _ : @ -)',
    }),
  });
}

/**
 * @fastify/swagger transform: zod → JSON Schema for parameters and bodies (fastify-type-provider-zod),
 * plus the answers declared by operation(): content as JSON Schema, headers as component references.
 */
export function transform(input: Parameters<typeof jsonSchemaTransform>[0]) {
  const declared = (input.schema as { response?: Record<string, ResponseSpec> } | undefined)?.response;
  const withContent = declared && Object.fromEntries(Object.entries(declared).filter(([, spec]) => spec.content));
  const result = jsonSchemaTransform({ ...input, schema: { ...input.schema, response: withContent } } as typeof input);
  const schema = result.schema as { hide?: boolean; response?: Record<string, Record<string, unknown>> };
  if (!declared || schema.hide) return result;
  schema.response ??= {};
  for (const [status, spec] of Object.entries(declared)) {
    // type 'null' tells @fastify/swagger the answer has no body.
    schema.response[status] = {
      ...(schema.response[status] ?? { description: spec.description, type: 'null' }),
      headers: spec.headers,
    };
  }
  return result;
}

/**
 * @fastify/swagger transformObject: registered schemas (Problem, JsonObject, JobReceipt) as
 * components, and response headers as references to components.headers.
 */
export function transformObject(input: Parameters<typeof jsonSchemaTransformObject>[0]) {
  const document = jsonSchemaTransformObject(input) as {
    paths?: Record<string, Record<string, { responses?: Record<string, { headers?: Record<string, unknown> }> }>>;
    components?: Record<string, unknown>;
  };
  for (const operations of Object.values(document.paths ?? {})) {
    for (const op of Object.values(operations)) {
      for (const answer of Object.values(op.responses ?? {})) {
        for (const [name, header] of Object.entries(answer.headers ?? {})) {
          const mark = (header as { schema?: Partial<HeaderMark> }).schema;
          if (!mark?.['x-header']) continue;
          answer.headers![name] = mark['x-optional']
            ? { ...HEADERS[mark['x-header']], required: false }
            : { $ref: `#/components/headers/${mark['x-header']}` };
        }
      }
    }
  }
  document.components = { ...document.components, headers: HEADERS };
  // Every registered schema exists in an input and an output form: keep the ones referenced.
  const schemas = document.components.schemas as Record<string, unknown>;
  const json = JSON.stringify(document);
  for (const id of Object.keys(schemas)) if (!json.includes(`"#/components/schemas/${id}"`)) delete schemas[id];
  return document;
}

/** The document's fixed parts: servers, security schemes and the tags' order. */
export function openApiDocument(): NonNullable<FastifyDynamicSwaggerOptions['openapi']> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Nilo headless API gateway',
      version: '1.0.0',
      description:
        'REST under /api/v1. Errors are RFC 9457 problem details (application/problem+json) with a stable `code`.',
      license: { name: 'Proprietary', identifier: 'LicenseRef-Proprietary' },
    },
    servers: [{ url: '/', description: 'This gateway (paths are relative to where /openapi.json was fetched)' }],
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'An application API key: Authorization: Bearer nilo_ak_...',
        },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'The same API key in X-API-Key' },
        runnerKey: {
          type: 'http',
          scheme: 'bearer',
          description: 'A runner key (Authorization: Bearer nilo_rk_...), for /api/v1/runner only',
        },
      },
    },
    security: [{ bearer: [] }, { apiKey: [] }],
    tags: [
      { name: 'connection', description: 'Check a key' },
      { name: 'contacts', description: 'Contacts (feature: communication)' },
      { name: 'invoices', description: 'Invoices (feature: accounting)' },
      { name: 'events', description: "The tenant's event log" },
      { name: 'webhooks', description: 'Webhook endpoints and deliveries' },
      { name: 'jobs', description: 'Long-running work' },
      { name: 'runners', description: "The tenant's runners" },
      { name: 'runner', description: 'The runner protocol (runner keys)' },
      { name: 'transfer', description: "Export the tenant's data as a file, and import one" },
    ],
  };
}
