import type { FastifyInstance } from 'fastify';
import { printedSchema } from '../graphql/printed-schema.js';
import { OPERATIONS } from './operations.js';

// What an agent (or its developer) reads first, without a key: /llms.txt (the llmstxt.org format:
// what the API is, how to authenticate, and links to every machine-readable description) and the
// GraphQL schema as SDL at a stable URL.

/** GET /llms.txt and GET /schema.graphql. */
export function discoveryRoutes(http: FastifyInstance): void {
  let schema: string | undefined;
  http.get('/schema.graphql', { schema: { hide: true } }, async (_request, reply) => {
    schema ??= printedSchema();
    return reply.type('text/plain; charset=utf-8').send(schema);
  });
  http.get('/llms.txt', { schema: { hide: true } }, async (request, reply) =>
    reply.type('text/markdown; charset=utf-8').send(llmsTxt(`${request.protocol}://${request.host}`)),
  );
}

function llmsTxt(base: string): string {
  const tools = OPERATIONS.map((op) => `\`${op.name}\``).join(', ');
  return `# Nilo gateway

> A headless business API for AI agents and customer-hosted middleware: one tenant's contacts, invoices, jobs, event log and signed webhooks, served as REST, GraphQL (with live subscriptions) and MCP tools that share one domain layer, so they validate, answer and fail alike.

Authenticate every call with an application API key: \`Authorization: Bearer nilo_ak_…\` (or \`X-API-Key: nilo_ak_…\`). A key belongs to one tenant and sees only its data; another tenant's id answers not found. The tenant's features gate resources: \`communication\` for contacts, \`accounting\` for invoices (403 \`feature_not_enabled\` without). Errors are RFC 9457 problem details with a stable \`code\` (\`validation_failed\`, \`not_found\`, \`invalid_transition\`, …); GraphQL carries the same code in \`extensions.code\`, MCP tools in their \`isError\` result. Writes take an idempotency key (REST and GraphQL: the \`Idempotency-Key\` header; MCP: the \`idempotencyKey\` argument). Every key has a per-minute budget shared by all three (\`RateLimit\` headers; 429 with \`Retry-After\`).

## API

- [MCP endpoint](${base}/mcp): Model Context Protocol over Streamable HTTP (POST, stateless, JSON answers), with the key as a bearer header. Tools: ${tools}. Resources: \`nilo://event-types\`, \`nilo://openapi.json\`, \`nilo://schema.graphql\`.
- [OpenAPI document](${base}/openapi.json): every REST route under ${base}/api/v1, with its schemas, problems and the webhooks the gateway sends.
- [GraphQL schema](${base}/schema.graphql): the SDL of ${base}/graphql (queries, mutations, and subscriptions over graphql-ws or SSE).
- [Event-type catalog](${base}/api/v1/event-types): every event type with the JSON Schema of its data (with a key; also the MCP resource \`nilo://event-types\`).

## Optional

- [REST reference](${base}/docs): the OpenAPI document as pages, tried from the browser.
- [GraphiQL](${base}/graphql): the GraphQL schema explored and queried in a browser.
`;
}
