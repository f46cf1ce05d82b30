import { get } from 'node:http';
import { buildSchema } from 'graphql';
import { beforeAll, describe, expect, test } from 'vitest';
import { printedSchema } from '../src/graphql/printed-schema.js';
import { OPERATIONS } from '../src/mcp/operations.js';
import { createTenant, http, useGateway, type Tenant } from './support/gateway.js';

// What an agent reads first, without a key: /llms.txt (llmstxt.org: a title, a summary, how to
// authenticate, and links to every machine-readable description, each of which answers) and
// the GraphQL schema at /schema.graphql.

const gateway = useGateway();

let tenant: Tenant;
beforeAll(async () => {
  tenant = await createTenant(gateway.app);
});

describe('/llms.txt', () => {
  test('says what the API is and how to authenticate, in the llms.txt format, without a key', async () => {
    const res = await http(gateway.url, 'GET', '/llms.txt');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/markdown; charset=utf-8');
    const [title, blank, summary] = res.text.split('\n');
    expect(title).toBe('# Nilo gateway');
    expect(blank).toBe('');
    expect(summary).toMatch(/^> A headless business API for AI agents/);
    expect(res.text).toContain('Authorization: Bearer nilo_ak_');
    expect(res.text).toMatch(/^## API$/m);
    for (const op of OPERATIONS) expect(res.text).toContain(`\`${op.name}\``);
  });

  test('links the MCP endpoint, the OpenAPI document, the GraphQL schema and the event catalog, each of which answers', async () => {
    const { text } = await http(gateway.url, 'GET', '/llms.txt');
    const links = Object.fromEntries(
      [...text.matchAll(/^- \[([^\]]+)\]\(([^)]+)\)/gm)].map(([, name, url]) => [name, url]),
    );
    expect(links).toEqual({
      'MCP endpoint': `${gateway.url}/mcp`,
      'OpenAPI document': `${gateway.url}/openapi.json`,
      'GraphQL schema': `${gateway.url}/schema.graphql`,
      'Event-type catalog': `${gateway.url}/api/v1/event-types`,
      'REST reference': `${gateway.url}/docs`,
      GraphiQL: `${gateway.url}/graphql`,
    });
    const headers = { authorization: `Bearer ${tenant.apiKey}` };
    for (const url of Object.values(links).filter((url) => !url.endsWith('/mcp'))) {
      const res = await fetch(url, { headers: { ...headers, accept: 'text/html' } });
      expect(res.status, url).toBe(200);
      await res.arrayBuffer(); // read to the end: an unread answer keeps its request open, and the gateway waits for it on stop
    }
    const mcp = await fetch(links['MCP endpoint']!, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(mcp.status).toBe(200);
    const { result } = await mcp.json();
    expect(result.tools.map((tool: { name: string }) => tool.name)).toEqual(OPERATIONS.map((op) => op.name));
  });

  test('links point at the host the client asked (say, through a proxy)', async () => {
    const { port } = new URL(gateway.url);
    const text = await new Promise<string>((resolve, reject) => {
      get({ port, host: '127.0.0.1', path: '/llms.txt', headers: { host: 'api.example.com' } }, (res) => {
        let body = '';
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve(body));
      }).on('error', reject);
    });
    expect(text).toContain('(http://api.example.com/openapi.json)');
    expect(text).not.toContain('127.0.0.1');
  });
});

describe('/schema.graphql', () => {
  test('is the printed GraphQL schema, without a key', async () => {
    const res = await http(gateway.url, 'GET', '/schema.graphql');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(res.text).toBe(printedSchema());
    const schema = buildSchema(res.text);
    expect(Object.keys(schema.getQueryType()!.getFields())).toEqual(expect.arrayContaining(['contacts', 'invoices']));
    expect(schema.getSubscriptionType()).toBeTruthy();
  });
});
