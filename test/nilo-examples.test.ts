import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { projectRoot } from '../src/db/migrate.js';
import { createTenant, useGateway, type Tenant } from './support/gateway.js';

// The curl examples of the Nilo document, run as written by a real curl: only the host, the key
// and ids of existing records are replaced. curl gets output options appended (where to write the
// body and headers, and to print the status), nothing that changes the request.

// A copy of shared/spec/nilo-headless-api.txt, so a clone alone can run the documented examples.
const SPEC = readFileSync(path.resolve(projectRoot, 'test/fixtures/nilo-headless-api.txt'), 'utf8');
const DOC_HOST = 'https://app.nilo-assistant.com';
const DOC_KEY = 'nilo_ak_xxxxxxxxxxxxxxxxxxxxxxxx';
const DOC_CONTACT_ID = 'contact_01HABC123DEF456';
const ULID = '[0-9A-HJKMNP-TV-Z]{26}';

/** Every `curl …` command of the document, continuation lines and quoted bodies included. */
function curlExamples(text: string): string[] {
  const lines = text.split('\n');
  const commands: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.startsWith('curl ')) continue;
    const command = [lines[i]!];
    const open = () => (command.join('\n').match(/'/g)?.length ?? 0) % 2 === 1;
    while (command.at(-1)!.endsWith('\\') || open()) command.push(lines[++i]!);
    commands.push(command.join('\n'));
  }
  return commands;
}

/** The JSON example that follows `marker` in the document. */
function documentedJson(marker: string, from = 0): any {
  const at = SPEC.indexOf(marker, from);
  expect(at, `"${marker}" is in the document`).toBeGreaterThanOrEqual(0);
  const start = SPEC.indexOf('{', at);
  let depth = 0;
  for (let i = start; i < SPEC.length; i++) {
    if (SPEC[i] === '{') depth++;
    if (SPEC[i] === '}' && --depth === 0) return JSON.parse(SPEC.slice(start, i + 1));
  }
  throw new Error(`no JSON after "${marker}"`);
}

const EXAMPLES = curlExamples(SPEC);
const example = (method: string, pathPattern: RegExp) => {
  const found = EXAMPLES.filter(
    (c) => (/-X (\w+)/.exec(c)?.[1] ?? 'GET') === method && pathPattern.test(c.split('\n')[0]!),
  );
  expect(found, `one documented ${method} example matching ${pathPattern}`).toHaveLength(1);
  return found[0]!;
};

const gw = useGateway();
const scratch = mkdtempSync(path.join(tmpdir(), 'nilo-curl-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

type CurlResult = { status: number; contentType: string | null; body: any; text: string };
let runs = 0;

/** Runs a documented command through sh + curl, with the replacements applied. */
async function curl(command: string, replacements: [string, string][]): Promise<CurlResult> {
  let text = command;
  for (const [from, to] of replacements) {
    expect(text, `the example contains ${from}`).toContain(from);
    text = text.replaceAll(from, to);
  }
  const n = ++runs;
  const bodyFile = path.join(scratch, `body-${n}`);
  const headerFile = path.join(scratch, `headers-${n}`);
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile(
      '/bin/sh',
      [
        '-c',
        `${text} --silent --show-error --output '${bodyFile}' --dump-header '${headerFile}' --write-out '%{http_code}'`,
      ],
      (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out)),
    ),
  );
  const headers = readFileSync(headerFile, 'utf8');
  const body = readFileSync(bodyFile, 'utf8');
  return {
    status: Number(stdout),
    contentType: /^content-type:\s*(.+?)\r?$/im.exec(headers)?.[1] ?? null,
    body: body ? JSON.parse(body) : undefined,
    text: body,
  };
}

let runner: Tenant; // named "Runner", as the hello example's application
let erp: Tenant; // named "ERP Sync", as the invoice example's application

beforeAll(async () => {
  const named = async (name: string) => {
    const tenant = await createTenant(gw.app);
    const app = await gw.app.services.admin.createApplication({ tenantId: tenant.tenantId, name });
    return { tenantId: tenant.tenantId, applicationId: app.applicationId, apiKey: app.apiKey };
  };
  runner = await named('Runner');
  erp = await named('ERP Sync');
});

test('the document has the examples this file runs', () => {
  expect(EXAMPLES).toHaveLength(7);
  expect(
    EXAMPLES.map((c) => `${/-X (\w+)/.exec(c)?.[1] ?? 'GET'} ${/\S+nilo-assistant\.com(\S+)/.exec(c)![1]}`),
  ).toEqual([
    'GET /api/v1/hello',
    'POST /api/v1/invoices',
    'POST /api/v1/contacts/contacts',
    'GET /api/v1/contacts/contacts',
    `GET /api/v1/contacts/contacts/${DOC_CONTACT_ID}`,
    `PATCH /api/v1/contacts/contacts/${DOC_CONTACT_ID}`,
    `DELETE /api/v1/contacts/contacts/${DOC_CONTACT_ID}`,
  ]);
});

test('hello: 200 with exactly the documented body', async () => {
  const res = await curl(example('GET', /\/api\/v1\/hello/), [
    [DOC_HOST, gw.url],
    [DOC_KEY, runner.apiKey],
  ]);
  const documented = documentedJson('Returns 200 OK on success:', SPEC.indexOf('GET /api/v1/hello'));
  expect(res.status).toBe(200);
  expect(res.contentType).toMatch(/^application\/json/);
  expect(res.body).toStrictEqual({ ...documented, applicationId: runner.applicationId });
  expect(res.body.applicationName).toBe('Runner');
});

test('hello with the placeholder key of the document: 401', async () => {
  const res = await curl(example('GET', /\/api\/v1\/hello/), [[DOC_HOST, gw.url]]);
  expect(res.status).toBe(401);
  expect(res.contentType).toMatch(/^application\/problem\+json/);
  expect(res.body.code).toBe('unauthorized');
});

describe('contacts, in the order of the document', () => {
  const keyOf = () => [DOC_KEY, erp.apiKey] as [string, string];
  let contactId: string;
  let created: any;

  // The request of the create example; its documented 201 body adds customData the request does not send.
  const createdFields = () => {
    const documented = documentedJson(
      'Returns 201 Created on success:',
      SPEC.indexOf('POST /api/v1/contacts/contacts'),
    );
    const { contactId: _id, updatedAt: _u, customData: _c, ...fields } = documented;
    return { documented, fields };
  };

  test('create contact: 201 with the documented fields and values', async () => {
    const res = await curl(example('POST', /\/api\/v1\/contacts\/contacts \\$/), [[DOC_HOST, gw.url], keyOf()]);
    expect(res.status, res.text).toBe(201);
    expect(res.contentType).toMatch(/^application\/json/);
    const { documented, fields } = createdFields();
    for (const key of Object.keys(documented)) expect(res.body, `documented key ${key}`).toHaveProperty(key);
    expect(res.body).toMatchObject(fields); // fullName "Jane Doe", preferredLanguage "en-us", …
    expect(res.body.preferredLanguage).toBe('en-us');
    expect(res.body.fullName).toBe('Jane Doe');
    expect(res.body.customData).toBeNull(); // the example request sends none
    expect(res.body.contactId).toMatch(new RegExp(`^contact_${ULID}$`));
    expect(new Date(res.body.updatedAt).toISOString()).toBe(res.body.updatedAt);
    contactId = res.body.contactId;
    created = res.body;
  });

  test('create contact again with the same Idempotency-Key: the first response, replayed', async () => {
    const res = await curl(example('POST', /\/api\/v1\/contacts\/contacts \\$/), [[DOC_HOST, gw.url], keyOf()]);
    expect(res.status).toBe(201);
    expect(res.body).toStrictEqual(created);
  });

  test('list contacts: 200, items with the documented keys and values', async () => {
    const res = await curl(example('GET', /\/api\/v1\/contacts\/contacts \\$/), [[DOC_HOST, gw.url], keyOf()]);
    expect(res.status).toBe(200);
    expect(res.contentType).toMatch(/^application\/json/);
    const documented = documentedJson('Returns 200 OK:', SPEC.indexOf('GET /api/v1/contacts/contacts'));
    expect(res.body).toHaveProperty('items');
    expect(res.body.items).toHaveLength(1);
    const [item] = res.body.items;
    const { contactId: _id, createdAt: _c, updatedAt: _u, ...values } = documented.items[0];
    for (const key of Object.keys(documented.items[0])) expect(item, `documented key ${key}`).toHaveProperty(key);
    expect(item).toMatchObject({ ...values, contactId });
    expect(item).toStrictEqual(created);
  });

  test('get contact: 200 with the contact', async () => {
    const res = await curl(example('GET', /\/api\/v1\/contacts\/contacts\/contact_/), [
      [DOC_HOST, gw.url],
      keyOf(),
      [DOC_CONTACT_ID, contactId],
    ]);
    expect(res.status).toBe(200);
    expect(res.contentType).toMatch(/^application\/json/);
    expect(res.body).toStrictEqual(created);
  });

  test('patch contact: 200 with the updated contact', async () => {
    const command = example('PATCH', /\/api\/v1\/contacts\/contacts\/contact_/);
    const sent = JSON.parse(/-d '([\s\S]*)'/.exec(command)![1]!);
    const res = await curl(command, [[DOC_HOST, gw.url], keyOf(), [DOC_CONTACT_ID, contactId]]);
    expect(res.status, res.text).toBe(200);
    expect(res.contentType).toMatch(/^application\/json/);
    expect(res.body).toStrictEqual({
      ...created,
      ...sent,
      preferredLanguage: 'en-us',
      fullName: 'Janet Doe',
      updatedAt: res.body.updatedAt,
    });
    expect(res.body).toMatchObject({
      firstName: 'Janet',
      phone: '+1-555-9999',
      tag: 'customer',
      formality: 'formal',
      salutation: 'Dear',
    });
    expect(Date.parse(res.body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(created.updatedAt));
    created = res.body;
  });

  test('create invoice for the contact: 201 with exactly the documented keys', async () => {
    const res = await curl(example('POST', /\/api\/v1\/invoices \\$/), [
      [DOC_HOST, gw.url],
      keyOf(),
      ['contact_abc123', contactId],
    ]);
    expect(res.status, res.text).toBe(201);
    expect(res.contentType).toMatch(/^application\/json/);
    const documented = documentedJson('Returns 201 Created on success:', SPEC.indexOf('POST /api/v1/invoices'));
    expect(Object.keys(res.body).sort()).toEqual(Object.keys(documented).sort());
    expect(res.body).toStrictEqual({
      ...documented,
      invoiceId: expect.stringMatching(new RegExp(`^inv_${ULID}$`)),
      invoiceNumber: 'INV-2026-00001',
      applicationId: erp.applicationId,
    });
    expect(res.body.applicationName).toBe('ERP Sync');

    const invoice = await fetch(`${gw.url}/api/v1/invoices/${res.body.invoiceId}`, {
      headers: { authorization: `Bearer ${erp.apiKey}` },
    });
    expect(await invoice.json()).toMatchObject({
      customer: 'Acme Floral Supplies',
      customerContactId: contactId,
      customerVatId: null,
      issuedDate: '2026-05-30',
      dueDate: '2026-06-29',
      // The documented numbers in, decimal strings at the currency's scale out (README: money).
      currency: 'EUR',
      netTotal: '324.98',
      taxTotal: '25.50',
      grossTotal: '350.48',
      items: [
        {
          description: 'Premium rose stems (500 count)',
          quantity: '2',
          price: '149.99',
          taxRate: '8.5',
          net: '299.98',
          tax: '25.50',
          gross: '325.48',
        },
        {
          description: 'Delivery fee',
          quantity: '1',
          price: '25.00',
          taxRate: '0',
          net: '25.00',
          tax: '0.00',
          gross: '25.00',
        },
      ],
    });
  });

  test('delete contact: 204 without a body, then 404 for get and delete', async () => {
    const command = example('DELETE', /\/api\/v1\/contacts\/contacts\/contact_/);
    const replacements: [string, string][] = [[DOC_HOST, gw.url], keyOf(), [DOC_CONTACT_ID, contactId]];
    const res = await curl(command, replacements);
    expect(res.status).toBe(204);
    expect(res.text).toBe('');

    const again = await curl(command, replacements);
    expect(again.status).toBe(404);
    expect(again.contentType).toMatch(/^application\/problem\+json/);
    expect(again.body.code).toBe('not_found');

    const get = await curl(example('GET', /\/api\/v1\/contacts\/contacts\/contact_/), replacements);
    expect(get.status).toBe(404);
    expect(get.body).toMatchObject({ status: 404, code: 'not_found', title: 'Not found' });
    expect(get.body.detail).toContain(contactId);
  });
});

describe('create invoice naming no contact of the tenant', () => {
  test("another tenant's contact: 422 with a clear message", async () => {
    const owner = await createTenant(gw.app);
    const contact = await fetch(`${gw.url}/api/v1/contacts/contacts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${owner.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ firstName: 'Not', lastName: 'Yours' }),
    }).then((r) => r.json());
    const stranger = await createTenant(gw.app);

    const res = await curl(example('POST', /\/api\/v1\/invoices \\$/), [
      [DOC_HOST, gw.url],
      [DOC_KEY, stranger.apiKey],
      ['contact_abc123', contact.contactId],
    ]);
    expect(res.status, res.text).toBe(422);
    expect(res.contentType).toMatch(/^application\/problem\+json/);
    expect(res.body).toStrictEqual({
      type: 'https://nilo-assistant.com/problems/customer-contact-not-found',
      title: 'Unprocessable entity',
      status: 422,
      detail: `customerContactId ${contact.contactId} names no contact of this tenant.`,
      code: 'customer_contact_not_found',
      correlationId: expect.stringMatching(/\S/),
      errors: [{ path: 'customerContactId', message: 'names no contact of this tenant' }],
    });
    const list = await fetch(`${gw.url}/api/v1/invoices`, {
      headers: { authorization: `Bearer ${stranger.apiKey}` },
    }).then((r) => r.json());
    expect(list.items).toEqual([]);
  });

  test('a well-formed id of no contact at all: 422', async () => {
    const tenant = await createTenant(gw.app);
    const res = await curl(example('POST', /\/api\/v1\/invoices \\$/), [
      [DOC_HOST, gw.url],
      [DOC_KEY, tenant.apiKey],
      ['contact_abc123', 'contact_01ARZ3NDEKTSV4RRFFQ69G5FAV'],
    ]);
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('customer_contact_not_found');
    expect(res.body.detail).toBe(
      'customerContactId contact_01ARZ3NDEKTSV4RRFFQ69G5FAV names no contact of this tenant.',
    );
  });
});
