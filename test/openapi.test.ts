import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import { Validator } from '@seriousme/openapi-schema-validator';
import openapiTS, { astToString } from 'openapi-typescript';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compileContract } from './support/contract.js';
import { createTenant, http, useGateway, type Tenant } from './support/gateway.js';

// /openapi.json itself: valid OpenAPI 3.1, lint-clean, complete, and usable to generate a typed client.

type Header = { $ref?: string; required?: boolean };
type Answer = { description: string; headers?: Record<string, Header>; content?: Record<string, unknown> };
type Operation = {
  operationId?: string;
  summary?: string;
  security?: unknown[];
  responses: Record<string, Answer>;
  parameters?: { in: string; name: string }[];
};

const gw = useGateway();
let doc: {
  paths: Record<string, Record<string, Operation>>;
  components: Record<string, Record<string, unknown>>;
  servers?: unknown[];
};
let source: string;
let tenant: Tenant;

beforeAll(async () => {
  const res = await http(gw.url, 'GET', '/openapi.json');
  expect(res.status).toBe(200);
  source = res.text;
  doc = res.body;
  tenant = await createTenant(gw.app);
});

const operations = () =>
  Object.entries(doc.paths).flatMap(([route, item]) =>
    Object.entries(item).map(([method, op]) => ({ name: `${method.toUpperCase()} ${route}`, method, route, op })),
  );

describe('/openapi.json', () => {
  test('is a valid OpenAPI 3.1 document (@seriousme/openapi-schema-validator)', async () => {
    const result = await new Validator().validate(JSON.parse(source));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  test('lints with no error and no warning (@redocly/openapi-core, recommended rules)', async () => {
    const config = await createConfig({ extends: ['recommended'] });
    const problems = await lintFromString({ source, absoluteRef: 'openapi.json', config });
    expect(problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`)).toEqual([]);
  });

  test('every $ref resolves inside the document', () => {
    const refs = [...source.matchAll(/"\$ref":"#\/([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(0);
    const missing = refs.filter(
      (ref) =>
        ref.split('/').reduce<any>((node, key) => node?.[key.replaceAll('~1', '/').replaceAll('~0', '~')], doc) ===
        undefined,
    );
    expect(missing).toEqual([]);
  });

  test('servers and the three security schemes are declared', () => {
    expect(doc.servers).toEqual([expect.objectContaining({ url: '/' })]);
    expect(doc.components.securitySchemes).toMatchObject({
      bearer: { type: 'http', scheme: 'bearer' },
      apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
      runnerKey: { type: 'http', scheme: 'bearer' },
    });
    const runner = operations().filter((o) => o.route.startsWith('/api/v1/runner/'));
    expect(runner.length).toBe(5);
    for (const { op } of runner) expect(op.security).toEqual([{ runnerKey: [] }]);
  });

  test('every operation has a unique operationId, a summary, and no undocumented "Default Response"', () => {
    const all = operations();
    expect(all.length).toBeGreaterThanOrEqual(40);
    const ids = all.map((o) => o.op.operationId);
    expect(ids.filter((id) => !id)).toEqual([]);
    expect(new Set(ids).size).toBe(ids.length);
    expect(all.filter((o) => !o.op.summary).map((o) => o.name)).toEqual([]);
    expect(
      all
        .filter((o) => Object.values(o.op.responses).some((a) => a.description === 'Default Response'))
        .map((o) => o.name),
    ).toEqual([]);
  });

  test('every answer carries X-Correlation-Id; every error is a problem; every 201/202 has Location; 429 and 503 have Retry-After', () => {
    const wrong: string[] = [];
    for (const { name, op } of operations()) {
      for (const [status, answer] of Object.entries(op.responses)) {
        const headers = Object.keys(answer.headers ?? {});
        const code = Number(status);
        if (!headers.includes('X-Correlation-Id')) wrong.push(`${name} ${status}: no X-Correlation-Id`);
        if (code >= 400 && Object.keys(answer.content ?? {}).join() !== 'application/problem+json')
          wrong.push(`${name} ${status}: not a problem`);
        if ((code === 201 || code === 202) && answer.headers?.Location?.$ref !== '#/components/headers/Location')
          wrong.push(`${name} ${status}: no Location`);
        if ((code === 429 || code === 503) && !headers.includes('Retry-After'))
          wrong.push(`${name} ${status}: no Retry-After`);
        if (code < 300 && !headers.includes('RateLimit')) wrong.push(`${name} ${status}: no RateLimit`);
        if (code === 204 && answer.content) wrong.push(`${name} 204 has content`);
      }
      if (!op.responses['401'] || !op.responses['429'] || !op.responses['500'])
        wrong.push(`${name}: 401, 429 or 500 missing`);
    }
    expect(wrong).toEqual([]);
    expect(doc.components.schemas!.Problem).toMatchObject({
      required: expect.arrayContaining(['type', 'title', 'status', 'detail', 'code', 'correlationId']),
    });
  });

  test('side-effecting API-key operations take Idempotency-Key; every operation takes X-Correlation-Id', () => {
    const wrong: string[] = [];
    for (const { name, method, route, op } of operations()) {
      const headers = (op.parameters ?? []).filter((p) => p.in === 'header').map((p) => p.name.toLowerCase());
      if (!headers.includes('x-correlation-id')) wrong.push(`${name}: no X-Correlation-Id`);
      const mutates = method !== 'get' && !route.endsWith('/search') && !route.startsWith('/api/v1/runner/');
      if (mutates !== headers.includes('idempotency-key'))
        wrong.push(`${name}: Idempotency-Key ${mutates ? 'missing' : 'unexpected'}`);
    }
    expect(wrong).toEqual([]);
  });

  test('the Problem code enumerates the codes in use', () => {
    const codes = (doc.components.schemas!.Problem as { properties: { code: { enum: string[] } } }).properties.code
      .enum;
    expect(codes).toEqual(
      expect.arrayContaining([
        'validation_failed',
        'unauthorized',
        'feature_not_enabled',
        'not_found',
        'rate_limited',
        'idempotency_key_reused',
        'invalid_transition',
        'service_unavailable',
      ]),
    );
  });
});

describe('request bodies say what the server enforces', () => {
  /** Whether the document's request body schema accepts `body` (ajv on the operation's schema). */
  async function documentAccepts(route: string, method: string, body: unknown) {
    const { Ajv2020 } = await import('ajv/dist/2020.js');
    const addFormats = (await import('ajv-formats')).default;
    const ajv = new Ajv2020({ strict: false });
    addFormats.default(ajv);
    ajv.addSchema(doc, 'openapi');
    const pointer = `/paths/${route.replaceAll('/', '~1')}/${method}/requestBody/content/application~1json/schema`;
    return ajv.validate({ $ref: `openapi#${pointer}` }, body);
  }

  test.each([
    ['/api/v1/contacts/contacts', 'post', {}],
    ['/api/v1/contacts/contacts', 'post', { email: 'not an email' }],
    ['/api/v1/contacts/contacts', 'post', { firstName: null }],
    ['/api/v1/contacts/contacts/{contactId}', 'patch', { email: 'jane@' }],
    ['/api/v1/webhooks/endpoints', 'post', { url: 'not a url' }],
    ['/api/v1/webhooks/endpoints', 'post', { url: 'ftp://example.com/hook' }],
    ['/api/v1/webhooks/endpoints/{endpointId}', 'patch', { url: 'example.com' }],
    [
      '/api/v1/invoices',
      'post',
      {
        customer: 'A',
        issuedDate: '30.05.2026',
        paymentTermsDays: 30,
        items: [{ description: 'x', quantity: 1, price: 1, taxRate: 0 }],
      },
    ],
    ['/api/v1/invoices', 'post', { customer: 'A', issuedDate: '2026-05-30', paymentTermsDays: 30, items: [] }],
  ])('%s %s refuses %j, like the server', async (route, method, body) => {
    expect(await documentAccepts(route, method, body)).toBe(false);
    const concrete = route
      .replace('{contactId}', 'contact_01HZZZZZZZZZZZZZZZZZZZZZZZ')
      .replace('{endpointId}', 'whep_01HZZZZZZZZZZZZZZZZZZZZZZZ');
    const res = await http(gw.url, method.toUpperCase(), concrete, { key: tenant.apiKey, body });
    expect(res.status).toBe(400);
  });

  test.each([
    ['/api/v1/contacts/contacts', 201],
    ['/api/v1/invoices', 201],
  ])(
    "the Nilo document's example for POST %s is in the document, valid there, and answered %i",
    async (route, status) => {
      const media = (
        doc.paths[route]!.post as unknown as {
          requestBody: { content: Record<string, { examples?: Record<string, { value: unknown }> }> };
        }
      ).requestBody.content['application/json']!;
      const example = media.examples?.nilo?.value;
      expect(example).toBeDefined();
      expect(await documentAccepts(route, 'post', example)).toBe(true);
      const res = await http(gw.url, 'POST', route, { key: tenant.apiKey, body: example });
      expect(res.status, res.text).toBe(status);
    },
  );
});

describe('a generated client', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'nilo-openapi-client-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('openapi-typescript generates types from the document, and a small use of them type-checks (and a wrong one does not)', async () => {
    const ast = await openapiTS(JSON.parse(source));
    writeFileSync(path.join(dir, 'nilo.d.ts'), astToString(ast));
    const use = (contactField: string) => `
      import type { paths, components } from './nilo.js';
      type Created = paths['/api/v1/contacts/contacts']['post']['responses'][201]['content']['application/json'];
      type Problem = components['schemas']['Problem'];
      type Page = paths['/api/v1/invoices']['get']['responses'][200]['content']['application/json'];
      export function describe(contact: Created, problem: Problem, page: Page): string {
        const first: string | null = page.nextCursor;
        const total: string = page.items[0]?.grossTotal ?? '0.00';
        return [contact.contactId, contact.${contactField}, problem.code, problem.correlationId, first, total].join(' ');
      }
    `;
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const check = (file: string) =>
      promisify(execFile)(
        process.execPath,
        [
          tsc,
          '--noEmit',
          '--strict',
          '--module',
          'nodenext',
          '--moduleResolution',
          'nodenext',
          '--target',
          'es2022',
          '--skipLibCheck',
          file,
        ],
        { cwd: dir },
      );
    writeFileSync(path.join(dir, 'use.ts'), use('email'));
    await check('use.ts');
    writeFileSync(path.join(dir, 'wrong.ts'), use('noSuchField'));
    await expect(check('wrong.ts')).rejects.toMatchObject({ stdout: expect.stringContaining('noSuchField') });
  }, 60_000);
});

describe('headers the README promises', () => {
  test('403 feature_not_enabled carries the RateLimit headers, charged like any answer', async () => {
    const invoicesOnly = await createTenant(gw.app, ['accounting']);
    const first = await http(gw.url, 'GET', '/api/v1/contacts/contacts', { key: invoicesOnly.apiKey });
    const second = await http(gw.url, 'GET', '/api/v1/contacts/contacts', { key: invoicesOnly.apiKey });
    expect([first.status, second.status]).toEqual([403, 403]);
    expect(first.headers.get('ratelimit-policy')).toMatch(/^"default";q=\d+;w=60$/);
    const remaining = (res: typeof first) => Number(/;r=(\d+);/.exec(res.headers.get('ratelimit') ?? '')?.[1]);
    expect(remaining(second)).toBe(remaining(first) - 1);
  });

  test("a created contact's Location is where GET finds it", async () => {
    const created = await http(gw.url, 'POST', '/api/v1/contacts/contacts', {
      key: tenant.apiKey,
      body: { firstName: 'Located' },
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe(`/api/v1/contacts/contacts/${created.body.contactId}`);
    const fetched = await http(gw.url, 'GET', created.headers.get('location')!, { key: tenant.apiKey });
    expect(fetched.body).toEqual(created.body);
  });
});

describe('the contract check every test answer goes through', () => {
  const problemHeaders = (more: Record<string, string> = {}) =>
    new Headers({
      'content-type': 'application/problem+json; charset=utf-8',
      'x-correlation-id': 'c-1',
      ratelimit: '"default";r=5;t=60',
      'ratelimit-policy': '"default";q=10;w=60',
      ...more,
    });
  const notFound = JSON.stringify({
    type: 'https://nilo-assistant.com/problems/not-found',
    title: 'Not found',
    status: 404,
    detail: 'No such contact.',
    code: 'not_found',
    correlationId: 'c-1',
  });

  test('passes a documented answer, and says what is wrong with each undocumented one', async () => {
    const contract = compileContract(doc as never);
    const path = '/api/v1/contacts/contacts/contact_01HZZZZZZZZZZZZZZZZZZZZZZZ';
    expect(contract.check('GET', path, 404, problemHeaders(), notFound)).toEqual([]);
    expect(contract.check('GET', path, 418, problemHeaders(), notFound)).toEqual([
      expect.stringContaining('status 418 is not documented'),
    ]);
    expect(
      contract.check('GET', path, 404, problemHeaders(), JSON.stringify({ ...JSON.parse(notFound), extra: 1 })),
    ).toEqual([expect.stringContaining('additional properties')]);
    expect(
      contract.check(
        'GET',
        path,
        404,
        problemHeaders(),
        JSON.stringify({ ...JSON.parse(notFound), code: 'no_such_code' }),
      ),
    ).toEqual([expect.stringContaining('allowed values')]);
    expect(contract.check('GET', path, 404, problemHeaders({ 'content-type': 'application/json' }), notFound)).toEqual([
      expect.stringContaining('content type application/json is not documented'),
    ]);
    const withoutBudget = problemHeaders();
    withoutBudget.delete('ratelimit');
    expect(contract.check('GET', path, 404, withoutBudget, notFound)).toEqual([
      expect.stringContaining('required header RateLimit is missing'),
    ]);
    expect(contract.check('GET', path, 404, problemHeaders({ ratelimit: 'lots' }), notFound)).toEqual([
      expect.stringContaining('header RateLimit'),
    ]);
    const created = await http(gw.url, 'POST', '/api/v1/contacts/contacts', {
      key: tenant.apiKey,
      body: { firstName: 'Checked' },
    });
    const withoutLocation = new Headers(created.headers);
    withoutLocation.delete('location');
    expect(contract.check('POST', '/api/v1/contacts/contacts', 201, withoutLocation, created.text)).toEqual([
      expect.stringContaining('required header Location is missing'),
    ]);
    const deleted = await http(gw.url, 'DELETE', `/api/v1/contacts/contacts/${created.body.contactId}`, {
      key: tenant.apiKey,
    });
    expect(
      contract.check('DELETE', `/api/v1/contacts/contacts/${created.body.contactId}`, 204, deleted.headers, '{}'),
    ).toEqual([expect.stringContaining('without a body')]);
  });

  test('a test calling fetch itself gets the check too: an answer the document does not describe rejects the fetch', async () => {
    // A stand-in server with the gateway's document, whose /hello answers a field the document lacks.
    const server = createServer((request, response) => {
      if (request.url === '/openapi.json')
        return void response.writeHead(200, { 'content-type': 'application/json' }).end(source);
      const headers = {
        'content-type': 'application/json',
        'x-correlation-id': 'c-1',
        ratelimit: '"default";r=5;t=60',
        'ratelimit-policy': '"default";q=10;w=60',
      };
      response
        .writeHead(200, headers)
        .end(JSON.stringify({ status: 'ok', applicationId: 'app_1', applicationName: 'A', undocumented: true }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      await expect(fetch(`http://127.0.0.1:${port}/api/v1/hello`)).rejects.toThrow(
        /does not match \/openapi.json[\s\S]*additional properties/,
      );
      expect(
        (await fetch(`${gw.url}/api/v1/hello`, { headers: { authorization: `Bearer ${tenant.apiKey}` } })).status,
      ).toBe(200);
    } finally {
      server.close();
    }
  });
});
