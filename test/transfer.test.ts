import { request as httpRequest } from 'node:http';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildApp, type App } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { openDatabase } from '../src/db/database.js';
import { json, refused, runAdmin } from './support/cli.js';
import { createDatabase, createTenant, http, migratedDataDir, useGateway, type Tenant } from './support/gateway.js';
import { settledJob } from './support/jobs.js';
import { expectProblem } from './support/problem.js';
import { scratchDir } from './support/scratch.js';

// Tenant export and import (issue 19), end to end: the export job and its download, the import of
// the file into a tenant of another installation with every resource reading back the same, a second
// import that changes nothing, refused lines by number, and each refusal of the routes. Source and
// target gateways have databases of their own, as two installations do (ids are kept, so a tenant's
// copy cannot live next to the original).

const SETTINGS = { WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8', EVENT_POLL_MS: '200' };
const source = useGateway(SETTINGS, { ownDatabase: true });
const target = useGateway({ ...SETTINGS, IMPORT_BODY_LIMIT_BYTES: '300000' }, { ownDatabase: true });

const NDJSON = 'application/x-ndjson';
/** A 1×1 PNG: the seller profile's logo, bytes that must travel exactly. */
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

type Gateway = { url: string; app: App };

async function api(gw: Gateway, tenant: Tenant, method: string, path: string, body?: unknown) {
  return http(gw.url, method, `/api/v1${path}`, { key: tenant.apiKey, body });
}

/** A tenant holding one of everything: contacts, invoices (a draft and an issued one), an endpoint and a runner. */
async function populatedTenant(gw: Gateway): Promise<Tenant & { runnerKey: string }> {
  const tenant = await createTenant(gw.app);
  const contacts = [];
  for (const [index, extra] of [
    { customData: { erpId: 'ERP-1', tiers: [1, 2, { deep: true }] }, externalId: 'crm-1' },
    { company: 'Acme', phone: '+1 555 0100', preferredLanguage: 'de-DE' },
    {},
  ].entries()) {
    const res = await api(gw, tenant, 'POST', '/contacts/contacts', {
      firstName: `Ada ${index}`,
      lastName: 'Lovelace',
      email: `ada${index}@example.com`,
      ...extra,
    });
    expect(res.status, res.text).toBe(201);
    contacts.push(res.body);
  }
  for (const contact of contacts.slice(0, 2)) {
    const res = await api(gw, tenant, 'POST', '/invoices', {
      customer: 'Acme Floral Supplies',
      customerContactId: contact.contactId,
      issuedDate: '2026-05-30',
      paymentTermsDays: 30,
      items: [
        { description: 'Premium rose stems (500 count)', quantity: 2, price: '149.99', taxRate: 8.5 },
        { description: 'Delivery fee', quantity: '1.5', price: '25.0001', taxRate: 0 },
      ],
    });
    expect(res.status, res.text).toBe(201);
  }
  const invoices = (await api(gw, tenant, 'GET', '/invoices')).body.items;
  expect((await api(gw, tenant, 'POST', `/invoices/${invoices[0].invoiceId}/issue`)).status).toBe(200);
  const endpoint = await api(gw, tenant, 'POST', '/webhooks/endpoints', {
    url: 'http://127.0.0.1:9/hooks',
    description: 'ERP',
    eventTypes: ['accounting.invoice.paid'],
    // Columns another feature added (filters): they travel as stored, unknown to the transfer code.
    filters: [{ field: 'grossTotal', operator: 'is_after', value: '100' }],
    anyOf: [[{ field: 'customer', operator: 'contains', value: 'acme' }]],
  });
  expect(endpoint.status, endpoint.text).toBe(201);
  const runner = await gw.app.services.runners.createRunner(tenant.tenantId, 'GPU box');
  await gw.app.services.sellerProfiles.put(tenant.tenantId, {
    legalName: 'Acme Floral GmbH',
    addressLines: ['Hauptstraße 1'],
    city: 'Berlin',
    country: 'DE',
    defaultCurrency: 'EUR',
    iban: 'DE89 3704 0044 0532 0130 00',
    logo: PNG,
  });
  return { ...tenant, runnerKey: runner.runnerKey };
}

/** Every resource of the tenant as its GETs answer it. */
async function readBack(gw: Gateway, tenant: Tenant) {
  const get = async (path: string) => {
    const res = await api(gw, tenant, 'GET', path);
    expect(res.status, `${path}: ${res.text}`).toBe(200);
    return res.body;
  };
  const contacts = (await get('/contacts/contacts?limit=500')).items;
  const invoices = (await get('/invoices?limit=500')).items;
  return {
    contacts,
    contactDetails: await Promise.all(contacts.map((c: any) => get(`/contacts/contacts/${c.contactId}`))),
    invoices,
    invoiceDetails: await Promise.all(invoices.map((i: any) => get(`/invoices/${i.invoiceId}`))),
    webhookEndpoints: (await get('/webhooks/endpoints?limit=500')).items,
    runners: (await get('/runners?limit=500')).items,
    sellerProfile: await get('/seller-profile'),
    logo: Buffer.from(
      await (
        await fetch(`${gw.url}/api/v1/seller-profile/logo`, { headers: { authorization: `Bearer ${tenant.apiKey}` } })
      ).arrayBuffer(),
    ).toString('base64'),
  };
}

/** Runs an export job to its end and downloads the file. */
async function exported(gw: Gateway, tenant: Tenant, body?: unknown) {
  const started = await api(gw, tenant, 'POST', '/exports', body);
  expect(started.status, started.text).toBe(202);
  expect(started.body.resourceType).toBe('tenant.export');
  const job = await settledJob(gw.url, tenant.apiKey, started.body.jobId);
  expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
  expect(job.result.downloadPath).toBe(`/api/v1/exports/${job.jobId}/download`);
  const file = await http(gw.url, 'GET', job.result.downloadPath, { key: tenant.apiKey });
  expect(file.status, file.text).toBe(200);
  expect(file.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
  return { job, text: file.text };
}

/** Posts a file to /imports; answers the 202's settled job. */
async function imported(gw: Gateway, tenant: Tenant, text: string) {
  const started = await http(gw.url, 'POST', '/api/v1/imports', {
    key: tenant.apiKey,
    body: text,
    headers: { 'content-type': NDJSON },
  });
  expect(started.status, started.text).toBe(202);
  expect(started.body.resourceType).toBe('tenant.import');
  return settledJob(gw.url, tenant.apiKey, started.body.jobId);
}

const lines = (text: string) =>
  text
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line));

const header = (counts: Record<string, number> = {}) =>
  JSON.stringify({
    type: 'header',
    format: 'nilo-tenant-export',
    version: 1,
    exportId: `test-${Date.now()}-${Math.random()}`,
    exportedAt: new Date().toISOString(),
    tenant: { id: 'ten_01KBWZ2W7ZQ4G5Y6B0J9C2N3P4', name: 'Hand-written', features: [] },
    includesSecrets: false,
    includesEvents: false,
    counts: {
      application: 0,
      sellerProfile: 0,
      contact: 0,
      invoice: 0,
      invoiceCounter: 0,
      webhookEndpoint: 0,
      runner: 0,
      event: 0,
      ...counts,
    },
  });

describe('export → import into another installation', () => {
  let origin: Tenant & { runnerKey: string };
  let file: string;
  let copy: Tenant;

  beforeAll(async () => {
    origin = await populatedTenant(source);
    file = (await exported(source, origin)).text;
    copy = await createTenant(target.app);
  });

  test('the file is a header with the counts, then one record a line, secrets left out', () => {
    const [first, ...records] = lines(file);
    expect(first).toMatchObject({
      type: 'header',
      format: 'nilo-tenant-export',
      version: 1,
      tenant: { id: origin.tenantId },
      includesSecrets: false,
      includesEvents: false,
      counts: {
        application: 1,
        sellerProfile: 1,
        contact: 3,
        invoice: 2,
        invoiceCounter: 1,
        webhookEndpoint: 1,
        runner: 1,
        event: 0,
      },
    });
    expect(records.map((r) => r.type)).toEqual([
      'application',
      'sellerProfile',
      'contact',
      'contact',
      'contact',
      'invoice',
      'invoice',
      'invoiceCounter',
      'webhookEndpoint',
      'runner',
    ]);
    for (const record of records) expect(record.row.tenantId).toBeUndefined();
    const invoice = records.find((r) => r.type === 'invoice');
    expect(invoice.lines).toHaveLength(2);
    expect(records.find((r) => r.type === 'webhookEndpoint').secrets).toBeUndefined();
    expect(records.find((r) => r.type === 'runner').row.keyHash).toBeUndefined();
    expect(records.find((r) => r.type === 'invoiceCounter').row).toEqual({ year: 2026, last: 2 });
    // Exact decimals, as stored (a float would print 25.0001 × 1.5 differently).
    expect(file).toContain('"price": 25.0001');
  });

  test('every resource reads back identically, and numbering goes on from the counters', async () => {
    const job = await imported(target, copy, file);
    expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
    expect(job.result).toMatchObject({
      imported: {
        application: 1,
        sellerProfile: 1,
        contact: 3,
        invoice: 2,
        invoiceCounter: 1,
        webhookEndpoint: 1,
        runner: 1,
        event: 0,
      },
      failed: 0,
      errors: [],
    });
    const copied = await readBack(target, copy);
    expect(copied).toEqual(await readBack(source, origin));
    // What other features store travelled too: an endpoint's filters, an invoice's currency, the seller's logo.
    expect(copied.webhookEndpoints[0]).toMatchObject({
      filters: [{ field: 'grossTotal', operator: 'is_after', value: '100' }],
      anyOf: [[{ field: 'customer', operator: 'contains', value: 'acme' }]],
    });
    expect(copied.invoiceDetails[0].currency).toBe('EUR');
    expect(copied.logo).toBe(PNG);

    const next = await api(target, copy, 'POST', '/invoices', {
      customer: 'Next',
      issuedDate: '2026-06-01',
      paymentTermsDays: 0,
      items: [{ description: 'x', quantity: 1, price: 1, taxRate: 0 }],
    });
    expect(next.status, next.text).toBe(201);
    expect(next.body.invoiceNumber).toBe('INV-2026-00003');
  });

  test('importing the same file again changes nothing', async () => {
    const before = await readBack(target, copy);
    const job = await imported(target, copy, file);
    expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
    expect(job.result.imported).toEqual({
      application: 0,
      sellerProfile: 0,
      contact: 0,
      invoice: 0,
      invoiceCounter: 0,
      webhookEndpoint: 0,
      runner: 0,
      event: 0,
    });
    expect(job.result.unchanged).toMatchObject({
      application: 1,
      sellerProfile: 1,
      contact: 3,
      invoice: 2,
      webhookEndpoint: 1,
      runner: 1,
    });
    expect(await readBack(target, copy)).toEqual(before);
  });

  test('a tenant holding contacts or invoices refuses another export with 409, storing nothing', async () => {
    const other = await createTenant(target.app);
    await api(target, other, 'POST', '/contacts/contacts', { email: 'someone@example.com' });
    const res = await http(target.url, 'POST', '/api/v1/imports', {
      key: other.apiKey,
      body: file,
      headers: { 'content-type': NDJSON },
    });
    expectProblem(res, 409, 'tenant_not_empty');
    expect(await target.app.services.prisma.transferChunk.count({ where: { tenantId: other.tenantId } })).toBe(0);
    expect(await target.app.services.prisma.job.count({ where: { tenantId: other.tenantId } })).toBe(0);
  });

  test("another tenant's export, or a job that is no export, is not found; one not run yet is not ready; an expired one says so", async () => {
    const stranger = await createTenant(source.app);
    const { job } = await exported(source, origin);
    expectProblem(await http(source.url, 'GET', job.result.downloadPath, { key: stranger.apiKey }), 404, 'not_found');
    const ownExport = await exported(source, stranger);
    const pdfJob = await api(
      source,
      origin,
      'POST',
      `/invoices/${(await readBack(source, origin)).invoices[0].invoiceId}/pdf`,
    );
    expectProblem(
      await http(source.url, 'GET', `/api/v1/exports/${pdfJob.body.jobId}/download`, { key: origin.apiKey }),
      404,
      'not_found',
    );
    expect(lines(ownExport.text)[0].counts.contact).toBe(0);
    // An export not run yet (due in an hour) is not ready.
    const waiting = await source.app.services.prisma.job.create({
      data: {
        id: `job_${job.jobId.slice(4, 10)}${'Z'.repeat(20)}`,
        tenantId: origin.tenantId,
        correlationId: 'later',
        resourceType: 'tenant.export',
        input: { includeSecrets: false, includeEvents: false },
        runAt: new Date(Date.now() + 3_600_000),
      },
    });
    const early = await http(source.url, 'GET', `/api/v1/exports/${waiting.id}/download`, { key: origin.apiKey });
    expectProblem(early, 404, 'export_not_ready');
    expect(early.body.detail).toBe(
      `Export ${waiting.id} is queued; download it once its job has succeeded (GET /api/v1/jobs/${waiting.id}).`,
    );
    await source.app.services.prisma.job.delete({ where: { id: waiting.id } });
    // Once its file is gone (kept 7 days), an export says so.
    await source.app.services.prisma.transferChunk.deleteMany({ where: { fileId: job.jobId } });
    const gone = await http(source.url, 'GET', job.result.downloadPath, { key: origin.apiKey });
    expectProblem(gone, 404, 'not_found');
    expect(gone.body.detail).toBe(`Export ${job.jobId} has expired (files are kept 7 days); export again.`);
    expectProblem(
      await http(source.url, 'GET', '/api/v1/exports/nope/download', { key: origin.apiKey }),
      400,
      'invalid_id',
    );
  });
});

describe('refusals', () => {
  let tenant: Tenant;
  beforeAll(async () => {
    tenant = await createTenant(target.app);
  });

  test('without a key every route answers 401', async () => {
    expectProblem(await http(target.url, 'POST', '/api/v1/exports', { body: {} }), 401, 'unauthorized');
    expectProblem(
      await http(target.url, 'GET', '/api/v1/exports/job_01KBWZ2W7ZQ4G5Y6B0J9C2N3P4/download'),
      401,
      'unauthorized',
    );
    expectProblem(
      await http(target.url, 'POST', '/api/v1/imports', { body: header(), headers: { 'content-type': NDJSON } }),
      401,
      'unauthorized',
    );
  });

  test('an export body with unknown fields, or secrets asked by an application, is refused', async () => {
    const res = await api(target, tenant, 'POST', '/exports', { includeSecrets: true });
    expectProblem(res, 400, 'validation_failed');
  });

  test('a body over IMPORT_BODY_LIMIT_BYTES is 413, declared or streamed, and nothing is kept', async () => {
    const big = `${header()}\n${'x'.repeat(400_000)}\n`;
    const declared = await http(target.url, 'POST', '/api/v1/imports', {
      key: tenant.apiKey,
      body: big,
      headers: { 'content-type': NDJSON },
    });
    expectProblem(declared, 413, 'payload_too_large');
    // Chunked, without Content-Length: cut off once past the limit, and the connection closed, so
    // a client still sending cannot hold it (and the gateway's stop) open.
    const streamed = await new Promise<{ status: number; body: any }>((resolve, reject) => {
      let answer: { status: number; body: any } | undefined;
      const req = httpRequest(
        `${target.url}/api/v1/imports`,
        { method: 'POST', headers: { authorization: `Bearer ${tenant.apiKey}`, 'content-type': NDJSON } },
        (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => (answer = { status: res.statusCode!, body: JSON.parse(text) }));
        },
      );
      req.on('close', () => (answer ? resolve(answer) : reject(new Error('closed before the answer'))));
      req.on('error', () => {}); // the server closing while the body is still being sent
      req.write(`${header()}\n`);
      let sent = 0;
      const pump = () => {
        while (sent < 1_000_000) {
          sent += 10_000;
          if (!req.write('y'.repeat(10_000))) return req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
    expect(streamed.status).toBe(413);
    expect(streamed.body.code).toBe('payload_too_large');
    expect(await target.app.services.prisma.transferChunk.count({ where: { tenantId: tenant.tenantId } })).toBe(0);
  });

  test('another media type is 415', async () => {
    const res = await http(target.url, 'POST', '/api/v1/imports', { key: tenant.apiKey, body: { contacts: [] } });
    expectProblem(res, 415, 'unsupported_media_type');
  });

  test('a file that does not start with a header, or of an unknown format version, is 400 naming line 1', async () => {
    const post = (body: string) =>
      http(target.url, 'POST', '/api/v1/imports', { key: tenant.apiKey, body, headers: { 'content-type': NDJSON } });
    const notJson = await post('{"type": "header", oops\n');
    expectProblem(notJson, 400, 'validation_failed');
    expect(notJson.body.errors[0].path).toBe('line 1');
    const noHeader = await post('{"type":"contact","row":{}}\n');
    expectProblem(noHeader, 400, 'validation_failed');
    expect(noHeader.body.errors[0].path).toBe('line 1.type');
    const future = await post(`${header().replace('"version":1', '"version":99')}\n`);
    expectProblem(future, 400, 'validation_failed');
    expect(future.body.errors[0]).toEqual({
      path: 'line 1.version',
      message: 'format version 99 is not supported; this gateway reads version 1',
    });
    expect(await target.app.services.prisma.job.count({ where: { tenantId: tenant.tenantId } })).toBe(0);
  });

  test('bad lines are reported by number; the others are imported', async () => {
    const good = (n: number, email: string) =>
      JSON.stringify({
        type: 'contact',
        row: {
          id: `contact_01KBWZ2W7ZQ4G5Y6B0J9C2N3P${n}`,
          email,
          emailNormalized: email,
          firstName: `Row ${n}`,
          createdAt: '2026-01-01T00:00:00.000',
          updatedAt: '2026-01-01T00:00:00.000',
        },
      });
    const text = [
      header({ contact: 6 }),
      good(1, 'one@example.com'),
      '{"type":"contact", "row": ',
      '',
      JSON.stringify({ type: 'planet', row: {} }),
      JSON.stringify({ type: 'contact', row: { id: 'contact_nope' } }),
      good(2, 'one@example.com'),
      JSON.stringify({ type: 'contact', row: { id: 'contact_01KBWZ2W7ZQ4G5Y6B0J9C2N3P5', shoeSize: 44 } }),
      good(3, 'three@example.com'),
    ].join('\n');
    const job = await imported(target, tenant, text);
    expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
    expect(job.result.imported.contact).toBe(2);
    expect(job.result.failed).toBe(5);
    expect(job.result.errors.map((e: any) => e.line)).toEqual([3, 5, 6, 7, 8]);
    expect(job.result.errors[0].message).toBe('is not valid JSON');
    expect(job.result.errors[1].message).toMatch(/^"type" must be one of/);
    expect(job.result.errors[2].message).toMatch(/^"row.id" must be "contact_"/);
    expect(job.result.errors[3].message).toMatch(/^cannot be stored: .*unique/i);
    expect(job.result.errors[4].message).toBe('has columns this gateway does not store: shoeSize');
    const stored = (await api(target, tenant, 'GET', '/contacts/contacts')).body.items;
    expect(stored.map((c: any) => c.firstName)).toEqual(['Row 1', 'Row 3']);
  });
});

describe('the event log', () => {
  test('travels with includeEvents: same ids, types, times and data, published to nobody again', async () => {
    const origin = await populatedTenant(source);
    const { text } = await exported(source, origin, { includeEvents: true });
    const [first, ...records] = lines(text);
    expect(first.includesEvents).toBe(true);
    const events = records.filter((r) => r.type === 'event').map((r) => r.row);
    expect(events.length).toBe(first.counts.event);
    expect(events.length).toBeGreaterThan(5);

    const copy = await createTenant(target.app);
    const job = await imported(target, copy, text);
    expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
    expect(job.result.imported.event).toBe(events.length);
    const log = (await api(target, copy, 'GET', '/events?limit=500')).body.items;
    const moved = log.filter((e: any) => events.some((x) => x.id === e.id));
    expect(moved.map((e: any) => e.id)).toEqual(events.map((e) => e.id));
    expect(moved.map((e: any) => [e.type, e.occurredAt, e.data])).toEqual(
      events.map((e) => [e.type, new Date(`${e.occurredAt}Z`).toISOString(), e.data]),
    );
    // Gapless after the import job's own events, and already published: no delivery for history.
    expect(log.map((e: any) => e.tenantSequence)).toEqual(log.map((_: unknown, i: number) => i + 1));
    const deliveries = await target.app.services.prisma.webhookDelivery.count({
      where: { tenantId: copy.tenantId, eventId: { in: events.map((e) => e.id) } },
    });
    expect(deliveries).toBe(0);
    const again = await imported(target, copy, text);
    expect(again.result.imported.event).toBe(0);
    expect(again.result.unchanged.event).toBe(events.length);
  });
});

describe('admin CLI', () => {
  const folder = mkdtempSync(path.join(tmpdir(), 'nilo-transfer-'));
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  test('export-tenant and import-tenant through gateways, secrets and runner keys included', async () => {
    const origin = await populatedTenant(source);
    const out = path.join(folder, 'through-gateway.ndjson');
    const env = { ...process.env, DATABASE_URL: '', DATA_DIR: scratchDir('nilo-cli-') };
    const exportedFile = json(
      await runAdmin(
        [
          'export-tenant',
          '--tenant',
          origin.tenantId,
          '--out',
          out,
          '--include-secrets',
          '--url',
          source.url,
          '--json',
        ],
        env,
      ),
    );
    expect(exportedFile).toMatchObject({ tenantId: origin.tenantId, file: out, counts: { contact: 3, invoice: 2 } });
    const [first, ...records] = lines(readFileSync(out, 'utf8'));
    expect(first.includesSecrets).toBe(true);
    expect(records.find((r) => r.type === 'webhookEndpoint').secrets).toHaveLength(1);
    expect(records.find((r) => r.type === 'runner').row.keyHash).toMatch(/^[0-9a-f]{64}$/);

    const copy = await createTenant(target.app);
    const result = json(
      await runAdmin(['import-tenant', '--tenant', copy.tenantId, '--file', out, '--url', target.url, '--json'], env),
    );
    expect(result).toMatchObject({ failed: 0, imported: { contact: 3, invoice: 2, runner: 1 } });
    expect(await readBack(target, copy)).toEqual(await readBack(source, origin));
    // The runner's key hash travelled: its key works on the new installation.
    const register = await http(target.url, 'POST', '/api/v1/runner/register', {
      key: origin.runnerKey,
      body: { resourceTypes: ['documents.ocr'] },
    });
    expect(register.status, register.text).toBe(200);

    const again = json(
      await runAdmin(['import-tenant', '--tenant', copy.tenantId, '--file', out, '--url', target.url, '--json'], env),
    );
    expect(again.imported.contact).toBe(0);
    expect(again.unchanged.contact).toBe(3);
  }, 90_000);

  test('on the database itself, without a gateway; mistakes are usage errors', async () => {
    const origin = await populatedTenant(source);
    const file = path.join(folder, 'source.ndjson');
    const env = { ...process.env, DATABASE_URL: '', DATA_DIR: scratchDir('nilo-cli-') };
    json(
      await runAdmin(['export-tenant', '--tenant', origin.tenantId, '--out', file, '--url', source.url, '--json'], env),
    );

    // A database no gateway runs on: a fresh copy of the migrated database (PostgreSQL), or data folder (PGlite).
    const own = process.env.DATABASE_URL ? await createDatabase(process.env.DATABASE_URL, { migrated: true }) : null;
    const direct = own
      ? { ...process.env, DATABASE_URL: own.url }
      : { ...process.env, DATABASE_URL: '', DATA_DIR: migratedDataDir() };
    try {
      const tenant = json(await runAdmin(['create-tenant', '--name', 'Moved', '--json'], direct));
      const result = json(
        await runAdmin(['import-tenant', '--tenant', tenant.tenantId, '--file', file, '--json'], direct),
      );
      expect(result).toMatchObject({ failed: 0, imported: { contact: 3, invoice: 2 } });
      const back = path.join(folder, 'back.ndjson');
      const second = json(
        await runAdmin(['export-tenant', '--tenant', tenant.tenantId, '--out', back, '--json'], direct),
      );
      expect(second.counts).toMatchObject({ contact: 3, invoice: 2, invoiceCounter: 1, runner: 1 });
      // Record for record the same file, but for the header and the new tenant's own application.
      const records = (f: string) =>
        lines(readFileSync(f, 'utf8'))
          .slice(1)
          .filter((r) => r.type !== 'application');
      expect(records(back)).toEqual(records(file));
      refused(await runAdmin(['import-tenant', '--tenant', tenant.tenantId, '--json'], direct), 2, 'usage');
      refused(await runAdmin(['export-tenant', '--out', back, '--json'], direct), 2, 'usage');
    } finally {
      await own?.drop();
    }
  }, 120_000);
});

test.skipIf(!process.env.DATABASE_URL)(
  'round trip embedded → PostgreSQL → embedded reads back the same',
  async () => {
    // Two embedded installations: one database initialised once, copied.
    const template = scratchDir('nilo-embedded-');
    const base = { ...process.env, DATABASE_URL: undefined, REDIS_URL: undefined, LOG_LEVEL: 'silent' };
    const config = (dataDir: string) =>
      loadConfig({
        ...base,
        ...SETTINGS,
        PORT: '0',
        HOST: '127.0.0.1',
        DATA_DIR: dataDir,
        RATE_LIMIT_PER_MINUTE: '1000000',
      });
    await (await openDatabase(config(template))).close();
    const second = scratchDir('nilo-embedded-');
    rmSync(second, { recursive: true, force: true });
    cpSync(template, second, { recursive: true });
    const embedded: Gateway[] = [];
    try {
      for (const dir of [template, second]) {
        const app = await buildApp(config(dir));
        embedded.push({ app, url: await app.start() });
      }
      const origin = await populatedTenant(embedded[0]!);
      const onServer = await createTenant(target.app);
      const first = await imported(target, onServer, (await exported(embedded[0]!, origin)).text);
      expect(first.result.failed).toBe(0);
      const back = await createTenant(embedded[1]!.app);
      const last = await imported(embedded[1]!, back, (await exported(target, onServer)).text);
      expect(last.result.failed).toBe(0);
      const original = await readBack(embedded[0]!, origin);
      expect(await readBack(target, onServer)).toEqual(original);
      expect(await readBack(embedded[1]!, back)).toEqual(original);
    } finally {
      for (const gw of embedded) await gw.app.stop();
      rmSync(template, { recursive: true, force: true });
      rmSync(second, { recursive: true, force: true });
    }
  },
  240_000,
);
