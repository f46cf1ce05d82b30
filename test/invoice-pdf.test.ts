import { decodePDFRawStream, PDFArray, PDFDocument, PDFRawStream, type PDFPage } from 'pdf-lib';
import { ulid } from 'ulid';
import { describe, expect, test } from 'vitest';
import { createTenant, graphql, http, useGateway, type Tenant } from './support/gateway.js';
import { settledJob } from './support/jobs.js';
import { expectProblem } from './support/problem.js';
import { waitUntil } from './support/wait.js';

// invoices.pdf end to end: POST …/pdf (or renderInvoicePdf) queues a job, the gateway's worker
// renders the invoice with pdf-lib and stores it, GET …/pdf serves the newest rendering.

const gw = useGateway();

const api = (tenant: Tenant | undefined, method: string, path: string, body?: unknown) =>
  http(gw.url, method, `/api/v1${path}`, { key: tenant?.apiKey, body });

const detailed = {
  customer: 'Acme Floral Supplies',
  customerCompany: 'Acme Floral Supplies LLC',
  customerAddress: '123 Garden Lane\nPortland, OR 97201',
  customerVatId: 'US-987654321',
  reference: 'PO-45678',
  paymentInstructions: 'Net 30 via bank transfer to IBAN CH93 0076 2011 6238 5295 7',
  note: 'Seasonal bulk order',
  issuedDate: '2026-05-30',
  paymentTermsDays: 30,
  items: [
    { description: 'Premium rose stems (500 count)', quantity: 2, price: 149.99, taxRate: 8.5 },
    { description: 'Delivery fee', quantity: 1, price: 25, taxRate: 0 },
  ],
};

async function createInvoice(
  tenant: Tenant,
  body: Record<string, unknown> = detailed,
): Promise<{ invoiceId: string; invoiceNumber: string }> {
  const res = await api(tenant, 'POST', '/invoices', body);
  expect(res.status, res.text).toBe(201);
  return res.body;
}

const settled = (tenant: Tenant, jobId: string, timeoutMs?: number) =>
  settledJob(gw.url, tenant.apiKey, jobId, timeoutMs);

/** POST …/pdf, expecting the documented 202, and waits for the job to succeed. */
async function render(tenant: Tenant, invoiceId: string) {
  const res = await api(tenant, 'POST', `/invoices/${invoiceId}/pdf`);
  expect(res.status, res.text).toBe(202);
  const job = await settled(tenant, res.body.jobId);
  expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
  return { res, job };
}

/** GET …/pdf as bytes (the shared helper reads bodies as text, which would mangle binary). */
async function download(tenant: Tenant, invoiceId: string) {
  const response = await fetch(`${gw.url}/api/v1/invoices/${invoiceId}/pdf`, {
    headers: { authorization: `Bearer ${tenant.apiKey}` },
  });
  return { status: response.status, headers: response.headers, bytes: new Uint8Array(await response.arrayBuffer()) };
}

/**
 * The text a page shows. pdf-lib writes content streams deflated, and each drawText as a hex
 * string of WinAnsi bytes followed by Tj: inflate the streams, decode those strings (Latin-1
 * matches WinAnsi for every character these tests draw).
 */
function pageText(page: PDFPage): string {
  const contents = page.node.Contents();
  const refs = contents instanceof PDFArray ? contents.asArray() : [contents];
  const operators = refs
    .map((ref) => page.doc.context.lookup(ref))
    .map((stream) => {
      if (!(stream instanceof PDFRawStream)) throw new Error('expected a stored content stream');
      return Buffer.from(decodePDFRawStream(stream).decode()).toString('latin1');
    })
    .join('\n');
  return [...operators.matchAll(/<([0-9A-Fa-f]*)>\s*Tj/g)]
    .map((match) => Buffer.from(match[1]!, 'hex').toString('latin1'))
    .join('\n');
}

async function parsePdf(bytes: Uint8Array) {
  expect(Buffer.from(bytes.subarray(0, 5)).toString('latin1')).toBe('%PDF-');
  const pdf = await PDFDocument.load(bytes);
  return { pdf, pages: pdf.getPages().map(pageText) };
}

describe('REST', () => {
  test('POST …/pdf answers 202; the job renders the whole invoice; GET …/pdf serves it', async () => {
    const tenant = await createTenant(gw.app);
    const { invoiceId, invoiceNumber } = await createInvoice(tenant);

    const res = await api(tenant, 'POST', `/invoices/${invoiceId}/pdf`);
    expect(res.status, res.text).toBe(202);
    expect(res.body).toEqual({
      jobId: expect.stringMatching(/^job_[0-9A-Z]{26}$/),
      status: 'queued',
      resourceType: 'invoices.pdf',
      pollPath: `/api/v1/jobs/${res.body.jobId}`,
    });
    expect(res.headers.get('location')).toBe(res.body.pollPath);

    const job = await settled(tenant, res.body.jobId);
    expect(job).toMatchObject({
      status: 'succeeded',
      attempts: 1,
      error: null,
      result: {
        invoiceId,
        documentId: expect.stringMatching(/^invdoc_[0-9A-Z]{26}$/),
        pdfPath: `/api/v1/invoices/${invoiceId}/pdf`,
        bytes: expect.any(Number),
      },
    });

    const pdf = await download(tenant, invoiceId);
    expect(pdf.status).toBe(200);
    expect(pdf.headers.get('content-type')).toBe('application/pdf');
    expect(pdf.headers.get('content-disposition')).toBe(`attachment; filename="${invoiceNumber}.pdf"`);
    expect(pdf.bytes.byteLength).toBe(job.result.bytes);

    const { pdf: document, pages } = await parsePdf(pdf.bytes);
    expect(document.getPageCount()).toBe(1);
    expect(document.getTitle()).toBe(`Invoice ${invoiceNumber}`);
    const lines = pages[0]!.split('\n');
    // Every field the invoice has, amounts exactly as stored (money with cents).
    for (const text of [
      invoiceNumber,
      'Draft',
      '2026-05-30',
      '2026-06-29 (30 days)',
      'PO-45678',
      'Acme Floral Supplies',
      'Acme Floral Supplies LLC',
      '123 Garden Lane',
      'Portland, OR 97201',
      'VAT ID: US-987654321',
      'Premium rose stems (500 count)',
      '2',
      '149.99',
      '8.5',
      '299.98',
      '25.50',
      '325.48',
      'Delivery fee',
      '1',
      '25.00',
      '0',
      '0.00',
      '324.98',
      '350.48',
      'Payment instructions',
      'Net 30 via bank transfer to IBAN CH93 0076 2011 6238 5295 7',
      'Note',
      'Seasonal bulk order',
      `${invoiceNumber} - page 1 of 1`,
    ]) {
      expect(lines, text).toContain(text);
    }
  });

  test("the jobs.job.* events of the job: queued → running → progress → succeeded, with the request's correlation id", async () => {
    const tenant = await createTenant(gw.app);
    const { invoiceId } = await createInvoice(tenant);
    const { res, job } = await render(tenant, invoiceId);

    const events = await api(tenant, 'GET', '/events?types=jobs.*&limit=100');
    expect(events.status, events.text).toBe(200);
    const ofJob = (
      events.body.items as {
        type: string;
        correlationId: string;
        data: { jobId: string; status: string; result: unknown; progress: { completed: number | null } };
      }[]
    ).filter((event) => event.data.jobId === job.jobId);
    expect(ofJob.map((event) => [event.type, event.data.status, event.data.progress.completed])).toEqual([
      ['jobs.job.queued', 'queued', 0],
      ['jobs.job.running', 'running', 0],
      ['jobs.job.progress', 'running', 1],
      ['jobs.job.succeeded', 'succeeded', 1],
    ]);
    expect(ofJob.every((event) => event.correlationId === res.headers.get('x-correlation-id'))).toBe(true);
    expect(ofJob.at(-1)!.data.result).toEqual(job.result);
  });

  test('GET …/pdf serves the newest rendering: the invoice as it was when that job ran', async () => {
    const tenant = await createTenant(gw.app);
    const { invoiceId } = await createInvoice(tenant);
    const first = await render(tenant, invoiceId);
    expect((await api(tenant, 'POST', `/invoices/${invoiceId}/issue`)).status).toBe(200);
    const second = await render(tenant, invoiceId);
    expect(second.job.result.documentId).not.toBe(first.job.result.documentId);

    const { pages } = await parsePdf((await download(tenant, invoiceId)).bytes);
    expect(pages[0]!.split('\n')).toContain('Issued');
    expect(pages[0]!.split('\n')).not.toContain('Draft');
  });

  test('many lines continue on further pages, each with the table header; text outside WinAnsi does not fail the job', async () => {
    const tenant = await createTenant(gw.app);
    const items = Array.from({ length: 120 }, (_, i) => ({
      description: `Line ${i + 1}`,
      quantity: 1,
      price: 1,
      taxRate: 0,
    }));
    const { invoiceId, invoiceNumber } = await createInvoice(tenant, {
      customer: 'Zoë Ünal 東京',
      issuedDate: '2026-01-15',
      paymentTermsDays: 0,
      items,
    });
    await render(tenant, invoiceId);

    const { pdf, pages } = await parsePdf((await download(tenant, invoiceId)).bytes);
    expect(pdf.getPageCount()).toBeGreaterThan(1);
    expect(pages).toHaveLength(pdf.getPageCount());
    pages.forEach((text, index) => {
      expect(text.split('\n')).toContain('Description');
      expect(text.split('\n')).toContain(`${invoiceNumber} - page ${index + 1} of ${pages.length}`);
    });
    const all = pages.join('\n').split('\n');
    for (let i = 1; i <= 120; i++) expect(all).toContain(`Line ${i}`);
    expect(pages.at(-1)!.split('\n')).toContain('120.00'); // the gross total, after the last line
    expect(all).toContain('Zoë Ünal ??'); // what Helvetica cannot draw shows as "?"
  });

  test('an invoice gone before the job runs fails the job at once, without retries', async () => {
    const tenant = await createTenant(gw.app);
    const auth = {
      tenantId: tenant.tenantId,
      applicationId: tenant.applicationId,
      applicationName: 'Test app',
      features: ['accounting'],
      correlationId: crypto.randomUUID(),
    };
    // Queued as start() would have, for an invoice that no longer exists.
    const queued = await gw.app.services.jobs.enqueue(auth, {
      resourceType: 'invoices.pdf',
      input: { invoiceId: `inv_${ulid()}` },
    });
    const job = await settled(tenant, queued.id);
    expect(job).toMatchObject({
      status: 'failed',
      attempts: 1,
      error: { code: 'invoice_not_found', message: expect.stringContaining('no longer exists') },
    });
  });

  describe('refusals', () => {
    test('GET …/pdf before any rendering is 404 pdf_not_rendered, telling the client to POST', async () => {
      const tenant = await createTenant(gw.app);
      const { invoiceId, invoiceNumber } = await createInvoice(tenant);
      const res = await api(tenant, 'GET', `/invoices/${invoiceId}/pdf`);
      expectProblem(res, 404, 'pdf_not_rendered', {
        detail: `Invoice ${invoiceNumber} has no PDF yet: POST /api/v1/invoices/${invoiceId}/pdf to render one.`,
      });
    });

    test("another tenant's invoice, rendered or not, and an unknown id are 404 not_found", async () => {
      const owner = await createTenant(gw.app);
      const other = await createTenant(gw.app);
      const { invoiceId } = await createInvoice(owner);
      await render(owner, invoiceId);
      expectProblem(await api(other, 'POST', `/invoices/${invoiceId}/pdf`), 404, 'not_found');
      expectProblem(await api(other, 'GET', `/invoices/${invoiceId}/pdf`), 404, 'not_found');
      const unknown = `inv_${ulid()}`;
      expectProblem(await api(owner, 'POST', `/invoices/${unknown}/pdf`), 404, 'not_found');
      expectProblem(await api(owner, 'GET', `/invoices/${unknown}/pdf`), 404, 'not_found');
    });

    test('a malformed id is 400 invalid_id', async () => {
      const tenant = await createTenant(gw.app);
      const errors = [{ path: 'id', message: 'must be "inv_" followed by a 26-character ULID' }];
      expectProblem(await api(tenant, 'POST', '/invoices/not-an-id/pdf'), 400, 'invalid_id', { errors });
      expectProblem(await api(tenant, 'GET', '/invoices/not-an-id/pdf'), 400, 'invalid_id', { errors });
    });

    test('a tenant without accounting is 403 feature_not_enabled', async () => {
      const tenant = await createTenant(gw.app, ['communication']);
      const invoiceId = `inv_${ulid()}`;
      expectProblem(await api(tenant, 'POST', `/invoices/${invoiceId}/pdf`), 403, 'feature_not_enabled');
      expectProblem(await api(tenant, 'GET', `/invoices/${invoiceId}/pdf`), 403, 'feature_not_enabled');
    });

    test('without a key is 401', async () => {
      const invoiceId = `inv_${ulid()}`;
      expectProblem(await api(undefined, 'POST', `/invoices/${invoiceId}/pdf`), 401, 'unauthorized');
      expectProblem(await api(undefined, 'GET', `/invoices/${invoiceId}/pdf`), 401, 'unauthorized');
    });
  });
});

describe('GraphQL', () => {
  const gql = (tenant: Tenant | undefined, query: string, variables?: Record<string, unknown>) =>
    graphql(gw.url, tenant?.apiKey, query, variables);
  const RENDER = 'mutation($id: ID!) { renderInvoicePdf(id: $id) { id status resourceType pollPath } }';

  test('renderInvoicePdf queues the job; job(id) follows it; pdfPath appears on the invoice, in lists too', async () => {
    const tenant = await createTenant(gw.app);
    const { invoiceId, invoiceNumber } = await createInvoice(tenant);
    const { invoiceId: unrendered } = await createInvoice(tenant);

    const started = await gql(tenant, RENDER, { id: invoiceId });
    expect(started.errors).toBeUndefined();
    const jobId = started.data.renderInvoicePdf.id;
    expect(started.data.renderInvoicePdf).toEqual({
      id: expect.stringMatching(/^job_/),
      status: 'queued',
      resourceType: 'invoices.pdf',
      pollPath: `/api/v1/jobs/${jobId}`,
    });

    const pdfPath = `/api/v1/invoices/${invoiceId}/pdf`;
    const poll = async () =>
      (await gql(tenant, 'query($id: ID!) { job(id: $id) { status result } }', { id: jobId })).data.job;
    let job: any;
    await waitUntil(
      'the job has ended',
      async () => {
        job = await poll();
        return job.status !== 'queued' && job.status !== 'running';
      },
      30_000,
      { context: () => `job ${jobId} still ${job?.status}` },
    );
    expect(job).toEqual({
      status: 'succeeded',
      result: { invoiceId, documentId: expect.stringMatching(/^invdoc_/), pdfPath, bytes: expect.any(Number) },
    });

    const one = await gql(tenant, 'query($id: ID!) { invoice(id: $id) { number pdfPath } }', { id: invoiceId });
    expect(one).toEqual({
      data: { invoice: { number: invoiceNumber, pdfPath } },
      extensions: { cost: expect.any(Object) },
    });
    const list = await gql(tenant, '{ invoices(first: 10) { edges { node { id pdfPath } } } }');
    expect(list.data.invoices.edges.map((edge: { node: unknown }) => edge.node)).toEqual([
      { id: invoiceId, pdfPath },
      { id: unrendered, pdfPath: null },
    ]);

    const pdf = await download(tenant, invoiceId);
    expect(pdf.status).toBe(200);
    expect((await parsePdf(pdf.bytes)).pages[0]!.split('\n')).toContain(invoiceNumber);
  });

  test('refusals carry the REST codes', async () => {
    const owner = await createTenant(gw.app);
    const other = await createTenant(gw.app);
    const withoutAccounting = await createTenant(gw.app, ['communication']);
    const { invoiceId } = await createInvoice(owner);
    const code = async (tenant: Tenant | undefined, id: string) =>
      (await gql(tenant, RENDER, { id })).errors?.[0]?.extensions.code;
    expect(await code(other, invoiceId)).toBe('not_found');
    expect(await code(owner, 'not-an-id')).toBe('invalid_id');
    expect(await code(withoutAccounting, invoiceId)).toBe('feature_not_enabled');
    expect(await code(undefined, invoiceId)).toBe('unauthorized');
  });
});
