import type { FastifyInstance, FastifyRequest } from 'fastify';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { requireApiKey } from '../http/hooks.js';
import { chargeOnAuthentication, type RateLimiter } from '../http/rate-limit.js';
import type { Services } from '../services.js';
import { type Documents, mcpServer } from './server.js';

/** As POST /api/v1/contacts/contacts/import: contacts_import takes up to 100,000 contacts in one call. */
const BODY_LIMIT = 64 * 1024 * 1024;

/**
 * POST /mcp: the Model Context Protocol over Streamable HTTP, stateless (no session; every request
 * carries the key) with JSON answers. The same API keys, tenant scope and budget as /api/v1: a
 * key is required before the body is read, and every request costs a point (a batch, one per
 * message). GET (the server-to-client stream) is not offered: 405, as the transport
 * allows a stateless server.
 */
export function mcpRoutes(services: Services, limiter: RateLimiter, documents: Documents) {
  return async (app: FastifyInstance) => {
    requireApiKey(app, services);
    chargeOnAuthentication(app, limiter);
    app.post(
      '/mcp',
      {
        bodyLimit: BODY_LIMIT,
        schema: { hide: true }, // described by its own tools/list, not by OpenAPI
        // Idempotency keys are per tool call (its idempotencyKey argument), not per HTTP request.
        config: { sideEffects: () => false },
      },
      async (request, reply) => {
        const auth = request.auth!;
        const requests = Array.isArray(request.body) ? request.body.length : 1;
        if (requests > 1) await limiter.application.consume(auth.applicationId, requests - 1, reply);
        const server = mcpServer(services, auth, { documents, log: request.log });
        const transport = new WebStandardStreamableHTTPServerTransport({
          sessionIdGenerator: undefined,
          enableJsonResponse: true,
        });
        await server.connect(transport);
        try {
          const response = await transport.handleRequest(webRequest(request), { parsedBody: request.body });
          response.headers.forEach((value, name) => reply.header(name, value));
          return reply.code(response.status).send(await response.text());
        } finally {
          await server.close();
        }
      },
    );
  };
}

/**
 * The request as the SDK's web-standard transport reads it: method and headers (the body is already
 * parsed). The URL only names the endpoint, so the client's Host header is not trusted to form one.
 */
function webRequest(request: FastifyRequest): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  return new Request(`http://localhost${request.url}`, { method: request.method, headers });
}
