import type { FastifyBaseLogger } from 'fastify';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  ListResourcesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { requireFeature, type AuthContext } from '../auth/context.js';
import { DomainError, ValidationError } from '../core/errors.js';
import { parseInput } from '../core/validation.js';
import { databaseUnavailable } from '../db/unavailable.js';
import { eventTypesFor } from '../features/event-types/catalog.js';
import { printedSchema } from '../graphql/printed-schema.js';
import { requestFingerprint } from '../http/idempotency.js';
import { httpProblem, type Problem, problemFromDomainError } from '../http/problems.js';
import type { Services } from '../services.js';
import { OPERATIONS, type Operation } from './operations.js';

// One MCP server per request (the transport is stateless), bound to the caller's AuthContext. The
// SDK's low-level Server rather than McpServer: McpServer validates tool arguments itself and
// answers a refusal as free text, while these tools validate exactly as REST does (the feature
// gate first, then the domain's zod schemas through parseInput) and answer every refusal with
// REST's problem: its code, status, detail and field errors.

const SERVER_INFO = { name: 'nilo-gateway', version: '1.0.0' };

const INSTRUCTIONS = `Tools over one tenant's contacts, invoices, jobs, event log and webhook endpoints: the same rules, answers and error codes as the REST API under /api/v1.
Ids carry their kind: contact_…, inv_…, job_…, evt_…, whep_…; another tenant's id is not found.
A refused call answers isError with the REST problem as JSON: { code, status, detail, errors? }, e.g. validation_failed (400, each bad field in errors), not_found (404), feature_not_enabled (403), invalid_transition (422).
Tools that change something take an optional idempotencyKey (1–255 visible ASCII characters): a retry with the same key and arguments answers the first result again (with _meta "nilo/idempotentReplayed": true) instead of doing it twice.
Work that takes time (contacts_import, invoices_render_pdf) answers a job: follow it with jobs_get.`;

const IDEMPOTENCY_KEY = {
  type: 'string',
  minLength: 1,
  maxLength: 255,
  pattern: '^[\\x21-\\x7e]+$',
  description:
    'Makes a retry safe: the first result is stored for this key and these arguments and answered again (with _meta "nilo/idempotentReplayed": true); the same key with other arguments answers 409 idempotency_key_reused',
};
const REPLAYED = 'nilo/idempotentReplayed';
/** The JSON-RPC code the MCP specification gives an unknown resource (the SDK has no constant for it). */
const RESOURCE_NOT_FOUND = -32002;

type JsonSchema = { $ref?: string; definitions?: Record<string, object> } & Record<string, unknown>;

/**
 * JSON Schema of a zod schema as the MCP SDK's own McpServer writes it (draft-07, which its client
 * validates with). A schema with an OpenAPI component id (Job, WebhookEndpoint…) comes out as a
 * `$ref` to its definition; tools need an object at the root, so that definition is the root.
 */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Tool['inputSchema'] {
  const generated = z.toJSONSchema(schema, { target: 'draft-7', io, unrepresentable: 'any' }) as JsonSchema;
  const name = generated.$ref?.replace('#/definitions/', '');
  const root = name && generated.definitions?.[name];
  if (!name || !root) return generated as Tool['inputSchema'];
  const { $ref: _ref, definitions, ...rest } = generated;
  const others = Object.fromEntries(Object.entries(definitions!).filter(([id]) => id !== name));
  return { ...rest, ...root, ...(Object.keys(others).length ? { definitions: others } : {}) } as Tool['inputSchema'];
}

function toolOf(op: Operation): Tool {
  const inputSchema = jsonSchema(op.input, 'input');
  if (op.effect !== 'read') inputSchema.properties = { ...inputSchema.properties, idempotencyKey: IDEMPOTENCY_KEY };
  return {
    name: op.name,
    title: op.title,
    description: op.feature ? `${op.description} Needs the tenant's ${op.feature} feature.` : op.description,
    inputSchema,
    outputSchema: jsonSchema(op.output, 'output') as Tool['outputSchema'],
    annotations: { title: op.title, readOnlyHint: op.effect === 'read', destructiveHint: op.effect === 'destroy' },
  };
}

/** The tool list is the same for every caller: derived once. */
const TOOLS: Tool[] = OPERATIONS.map(toolOf);
const BY_NAME = new Map(OPERATIONS.map((op) => [op.name, op]));

/** The documents the resources serve that the HTTP server builds (the OpenAPI document, from every route). */
export type Documents = { openApi(): unknown };

type Resource = {
  uri: string;
  name: string;
  title: string;
  description: string;
  mimeType: string;
  read(auth: AuthContext, documents: Documents): string;
};

const RESOURCES: Resource[] = [
  {
    uri: 'nilo://event-types',
    name: 'event-types',
    title: 'Event-type catalog',
    description:
      'Every event type: what it means, the feature it needs, whether this tenant receives it, and the JSON Schema of its data (as GET /api/v1/event-types)',
    mimeType: 'application/json',
    read(auth) {
      const items = eventTypesFor(auth.features);
      return JSON.stringify({ items, nextCursor: null, count: items.length });
    },
  },
  {
    uri: 'nilo://openapi.json',
    name: 'openapi',
    title: 'OpenAPI document',
    description: 'The REST API under /api/v1 (as GET /openapi.json)',
    mimeType: 'application/json',
    read: (_auth, documents) => JSON.stringify(documents.openApi()),
  },
  {
    uri: 'nilo://schema.graphql',
    name: 'graphql-schema',
    title: 'GraphQL schema',
    description: 'The SDL of /graphql (as GET /schema.graphql)',
    mimeType: 'text/plain',
    read: () => printedSchema(),
  },
];

/** The MCP server for one authenticated request. */
export function mcpServer(
  services: Services,
  auth: AuthContext,
  context: { documents: Documents; log: FastifyBaseLogger },
): Server {
  const server = new Server(SERVER_INFO, {
    capabilities: { tools: {}, resources: {} },
    instructions: INSTRUCTIONS,
  });
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: TOOLS }));
  server.setRequestHandler(CallToolRequestSchema, async (request) => {
    const op = BY_NAME.get(request.params.name);
    if (!op) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${request.params.name}`);
    return callTool(services, auth, op, request.params.arguments ?? {}, context.log);
  });
  server.setRequestHandler(ListResourcesRequestSchema, () => ({
    resources: RESOURCES.map(({ read: _read, ...resource }) => resource),
  }));
  server.setRequestHandler(ReadResourceRequestSchema, (request) => {
    const { uri } = request.params;
    const resource = RESOURCES.find((r) => r.uri === uri);
    if (!resource) throw new McpError(RESOURCE_NOT_FOUND, `Unknown resource: ${uri}`);
    return { contents: [{ uri, mimeType: resource.mimeType, text: resource.read(auth, context.documents) }] };
  });
  return server;
}

/**
 * One tool call, in REST's order: the feature gate, the arguments, the Idempotency-Key claim
 * (for tools that change something), the service call; any refusal becomes the REST problem.
 */
async function callTool(
  services: Services,
  auth: AuthContext,
  op: Operation,
  args: Record<string, unknown>,
  log: FastifyBaseLogger,
): Promise<CallToolResult> {
  const toProblem = (error: unknown) => problemOf(error, auth, log);
  const { idempotencyKey, ...rest } = args;
  try {
    if (op.feature) requireFeature(auth, op.feature);
    const input = parseInput(op.input, op.effect === 'read' ? args : rest);
    const run = async () => answer(await op.run(services, auth, input));
    if (op.effect === 'read' || idempotencyKey === undefined) return await run();
    if (typeof idempotencyKey !== 'string')
      throw new ValidationError([{ path: 'idempotencyKey', message: 'must be a string' }]);
    const claim = { key: idempotencyKey, fingerprint: requestFingerprint(['mcp', op.name, input]) };
    return await idempotent(services, auth, claim, run, toProblem);
  } catch (error) {
    return refusal(toProblem(error));
  }
}

/**
 * Idempotency-Key semantics of REST (src/http/idempotency.ts, one key space per application):
 * the first result, refusals included, is stored and answered again; an unexpected failure
 * releases the key so the call can be retried.
 */
async function idempotent(
  services: Services,
  auth: AuthContext,
  claim: { key: string; fingerprint: string },
  run: () => Promise<CallToolResult>,
  toProblem: (error: unknown) => Problem,
): Promise<CallToolResult> {
  const { replay } = await services.idempotency.begin(auth.applicationId, claim.key, claim.fingerprint);
  if (replay) return { ...(JSON.parse(replay.body) as CallToolResult), _meta: { [REPLAYED]: true } };
  let result: CallToolResult;
  let status = 200;
  try {
    result = await run();
  } catch (error) {
    const problem = toProblem(error);
    if (problem.status >= 500) {
      await services.idempotency.release(auth.applicationId, claim.key);
      return refusal(problem);
    }
    result = refusal(problem);
    status = problem.status;
  }
  await services.idempotency.complete(auth.applicationId, claim.key, {
    statusCode: status,
    headers: {},
    body: JSON.stringify(result),
  });
  return result;
}

/** A tool's answer: the resource as structured content, and as JSON text for clients that read only text. */
function answer(value: unknown): CallToolResult {
  return {
    content: [{ type: 'text', text: JSON.stringify(value) }],
    structuredContent: value as Record<string, unknown>,
  };
}

/** A refused call: isError, with REST's problem as the text (no structuredContent, which must match the output schema). */
function refusal(problem: Problem): CallToolResult {
  return { isError: true, content: [{ type: 'text', text: JSON.stringify(problem) }] };
}

/** The problem REST would answer for this error (app.ts's toProblem, for the errors a service call can throw). */
function problemOf(error: unknown, auth: AuthContext, log: FastifyBaseLogger): Problem {
  const unavailable = databaseUnavailable(error, log);
  if (unavailable) return problemFromDomainError(unavailable, auth.correlationId);
  if (error instanceof DomainError) return problemFromDomainError(error, auth.correlationId);
  log.error({ err: error }, 'unexpected error in an MCP tool');
  return httpProblem(
    'internal_error',
    'An unexpected error occurred; quote the correlationId when reporting it.',
    auth.correlationId,
  );
}
