import { execFileSync } from 'node:child_process';
import { PDFDocument, PDFName } from 'pdf-lib';
import { ulid } from 'ulid';
import { describe, expect, test } from 'vitest';
import { createTenant, graphql, http, useGateway, type Tenant } from './support/gateway.js';
import { settledJob } from './support/jobs.js';
import { pdfAttachments, pdfPages } from './support/pdf.js';
import { expectProblem } from './support/problem.js';
import { waitUntil } from './support/wait.js';

// invoices.pdf end to end: POST …/pdf (or renderInvoicePdf) queues a job, the gateway's worker
// renders the invoice with pdf-lib and stores it, GET …/pdf serves the newest rendering.

const gw = useGateway();

/**
 * Tests that render real documents: a gateway's first rendering loads pdf-lib, the fonts (the CJK
 * one is 10 MB a weight) and HarfBuzz's WebAssembly, seconds on a busy CI machine.
 */
const RENDERING = { timeout: 90_000 };

/** A 1×1 PNG, as a seller's logo. */
const PNG_1X1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

/** poppler's pdffonts, where installed (CI installs it): the embedded-font check of PDF/A. */
const pdffontsInstalled = (() => {
  try {
    execFileSync('pdffonts', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

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

/** The rendering as pdf-lib reads it (title, pages) and the lines of text each page shows. */
async function parsePdf(bytes: Uint8Array) {
  expect(Buffer.from(bytes.subarray(0, 5)).toString('latin1')).toBe('%PDF-');
  const pdf = await PDFDocument.load(bytes);
  return { pdf, pages: await pdfPages(bytes) };
}

/** Renders through REST and reads the result back. */
async function renderedPages(tenant: Tenant, invoiceId: string) {
  await render(tenant, invoiceId);
  const { bytes } = await download(tenant, invoiceId);
  return { bytes, ...(await parsePdf(bytes)) };
}

describe('REST', () => {
  test('POST …/pdf answers 202; the job renders the whole invoice; GET …/pdf serves it', RENDERING, async () => {
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
    // Every field the invoice has, amounts with the currency's two places; the tenant's name
    // stands as the seller while it has no seller profile.
    expect(pages[0]).toEqual([
      tenant.name!,
      `INVOICE ${invoiceNumber}`,
      `Invoice number ${invoiceNumber} Bill to`,
      'Status Draft Acme Floral Supplies',
      'Issued 2026-05-30 Acme Floral Supplies LLC',
      'Due 2026-06-29 (30 days) 123 Garden Lane',
      'Currency EUR Portland, OR 97201',
      'Reference PO-45678 VAT ID: US-987654321',
      'Description Qty Price EUR Tax % Net EUR Tax EUR Gross EUR',
      'Premium rose stems (500 count) 2 149.99 8.5 299.98 25.50 325.48',
      'Delivery fee 1 25.00 0 25.00 0.00 25.00',
      'Tax rate Net EUR Tax EUR Gross EUR',
      '8.5 % 299.98 25.50 325.48',
      '0 % 25.00 0.00 25.00',
      'Net total EUR 324.98',
      'Tax total EUR 25.50',
      'Gross total EUR 350.48',
      'Payment',
      `Please pay EUR 350.48 by 2026-06-29 (30 days), quoting ${invoiceNumber}.`,
      'Net 30 via bank transfer to IBAN CH93 0076 2011 6238 5295 7',
      'Note',
      'Seasonal bulk order',
      `${tenant.name!} ${invoiceNumber} - page 1 of 1`,
    ]);
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
    expect(pages[0]).toContainEqual(expect.stringMatching(/^Status Issued /));
    expect(pages[0]!.join('\n')).not.toContain('Draft');
  });

  test(
    'a mixed-script invoice in every currency scale prints its data exactly: seller, buyer and contact, fonts embedded',
    RENDERING,
    async () => {
      const tenant = await createTenant(gw.app);
      await gw.app.services.sellerProfiles.put(tenant.tenantId, {
        legalName: 'Ωmega Łódź Trading Sp. z o.o.',
        addressLines: ['ul. Piotrkowska 104', 'Lokal 5'],
        city: 'Łódź',
        postalCode: '90-926',
        country: 'PL',
        vatId: 'PL7251234567',
        email: 'faktury@omega.example',
        defaultCurrency: 'PLN',
        iban: 'PL61 1090 1014 0000 0712 1981 2874',
        bic: 'WBKPPLPP',
        bankName: 'Santander Bank Polska',
        paymentTerms: 'Zapłata w ciągu 14 dni.',
        logo: PNG_1X1,
      });
      const contact = await api(tenant, 'POST', '/contacts/contacts', {
        email: 'buyer@tokyo.example',
        firstName: '太郎',
        lastName: '山田',
        streetAddress: '丸の内 1-1',
        city: '東京',
        postalCode: '100-0005',
        country: 'JP',
        phone: '+81 3 0000 0000',
      });
      expect(contact.status, contact.text).toBe(201);
      const cases = [
        { currency: 'JPY', price: 1234.5, net: '1235', tax: '124', gross: '1359' },
        { currency: 'KWD', price: 12.3456, net: '12.346', tax: '1.235', gross: '13.581' },
        { currency: undefined, price: 19.999, net: '20.00', tax: '2.00', gross: '22.00' }, // the profile's PLN
      ];
      for (const { currency, price, net, tax, gross } of cases) {
        const { invoiceId, invoiceNumber } = await createInvoice(tenant, {
          customer: 'Łódź Ωmega 東京 GmbH ☕',
          customerContactId: contact.body.contactId,
          ...(currency && { currency }),
          issuedDate: '2026-12-01',
          paymentTermsDays: 14,
          note: 'Спасибо за заказ — 谢谢 — Ευχαριστούμε',
          items: [{ description: 'Kaffee ☕ Кофе 咖啡 Καφές', quantity: 1, price, taxRate: 10 }],
        });
        const code = currency ?? 'PLN';
        const { bytes, pdf, pages } = await renderedPages(tenant, invoiceId);
        expect(pages[0]).toEqual([
          'Ωmega Łódź Trading Sp. z o.o.',
          'ul. Piotrkowska 104',
          'Lokal 5',
          '90-926 Łódź',
          'PL',
          'VAT ID: PL7251234567',
          'faktury@omega.example',
          `INVOICE ${invoiceNumber}`,
          `Invoice number ${invoiceNumber} Bill to`,
          'Status Draft Łódź Ωmega 東京 GmbH ☕',
          'Issued 2026-12-01 丸の内 1-1',
          'Due 2026-12-15 (14 days) 100-0005 東京',
          `Currency ${code} JP`,
          'buyer@tokyo.example',
          '+81 3 0000 0000',
          `Description Qty Price ${code} Tax % Net ${code} Tax ${code} Gross ${code}`,
          `Kaffee ☕ Кофе 咖啡 Καφές 1 ${String(price)} 10 ${net} ${tax} ${gross}`,
          `Tax rate Net ${code} Tax ${code} Gross ${code}`,
          `10 % ${net} ${tax} ${gross}`,
          `Net total ${code} ${net}`,
          `Tax total ${code} ${tax}`,
          `Gross total ${code} ${gross}`,
          'Payment',
          `Please pay ${code} ${gross} by 2026-12-15 (14 days), quoting ${invoiceNumber}.`,
          'Zapłata w ciągu 14 dni.',
          'IBAN PL61 1090 1014 0000 0712 1981 2874 · BIC WBKPPLPP · Santander Bank Polska',
          'Note',
          'Спасибо за заказ — 谢谢 — Ευχαριστούμε',
          `Ωmega Łódź Trading Sp. z o.o. · VAT ID PL7251234567 ${invoiceNumber} - page 1 of 1`,
        ]);
        // The logo is drawn: the page has an image.
        const xObjects = pdf.getPage(0).node.Resources()?.lookup(PDFName.of('XObject'));
        expect(xObjects?.toString()).toMatch(/\/Image|\/X/);
        // Fonts are subset: a CJK font in full would be megabytes.
        expect(bytes.byteLength).toBeLessThan(200_000);
        if (pdffontsInstalled) {
          const fonts = execFileSync('pdffonts', ['-'], { input: bytes }).toString().trim().split('\n').slice(2);
          expect(fonts.length).toBeGreaterThanOrEqual(4); // Noto Sans, DejaVu Sans and Noto Sans SC, regular and bold
          for (const font of fonts) expect(font.split(/\s+/).at(-5), font).toBe('yes'); // the "emb" column
        }
      }
    },
  );

  test(
    'an issued invoice of a tenant with a seller profile, for a contact with a country, carries its Factur-X XML; its draft does not',
    RENDERING,
    async () => {
      const tenant = await createTenant(gw.app);
      await gw.app.services.sellerProfiles.put(tenant.tenantId, {
        legalName: 'Nilo Blumen GmbH',
        addressLines: ['Gartenstraße 12'],
        city: 'München',
        postalCode: '80331',
        country: 'DE',
        vatId: 'DE123456789',
        defaultCurrency: 'EUR',
        iban: 'DE89 3704 0044 0532 0130 00',
      });
      const contact = await api(tenant, 'POST', '/contacts/contacts', {
        email: 'ap@omega.example',
        streetAddress: 'ul. Piotrkowska 1',
        postalCode: '90-001',
        city: 'Łódź',
        country: 'PL',
      });
      expect(contact.status, contact.text).toBe(201);
      const { invoiceId, invoiceNumber } = await createInvoice(tenant, {
        ...detailed,
        customer: 'Łódź Ωmega & Söhne',
        customerContactId: contact.body.contactId,
      });

      expect(await pdfAttachments((await renderedPages(tenant, invoiceId)).bytes)).toEqual({});
      expect((await api(tenant, 'POST', `/invoices/${invoiceId}/issue`)).status).toBe(200);
      const attachments = await pdfAttachments((await renderedPages(tenant, invoiceId)).bytes);
      expect(Object.keys(attachments)).toEqual(['factur-x.xml']);
      const xml = Buffer.from(attachments['factur-x.xml']!).toString('utf8');
      for (const element of [
        '<ram:ID>urn:factur-x.eu:1p0:basic</ram:ID>',
        `<ram:ID>${invoiceNumber}</ram:ID>`,
        '<ram:Name>Nilo Blumen GmbH</ram:Name>',
        '<ram:Name>Łódź Ωmega &amp; Söhne</ram:Name>',
        '<ram:CountryID>PL</ram:CountryID>',
        '<ram:IBANID>DE89370400440532013000</ram:IBANID>',
        '<ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode>',
        '<ram:TaxTotalAmount currencyID="EUR">25.50</ram:TaxTotalAmount>',
        '<ram:GrandTotalAmount>350.48</ram:GrandTotalAmount>',
      ])
        expect(xml).toContain(element);
    },
  );

  test('a character no font can print fails the job, naming it, without retries (never a silent "?")', async () => {
    const tenant = await createTenant(gw.app);
    const { invoiceId } = await createInvoice(tenant, {
      customer: '한국 상사 🧾 ሰ',
      issuedDate: '2026-12-01',
      paymentTermsDays: 14,
      items: [{ description: 'שלום', quantity: 1, price: 1, taxRate: 0 }],
    });
    const res = await api(tenant, 'POST', `/invoices/${invoiceId}/pdf`);
    expect(res.status, res.text).toBe(202);
    const job = await settled(tenant, res.body.jobId);
    expect(job).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'unsupported_characters' } });
    for (const named of ['"한" (U+D55C)', '"🧾" (U+1F9FE)', '"ሰ" (U+1230)', '"ש" (U+05E9)'])
      expect(job.error.message).toContain(named);
    expectProblem(await api(tenant, 'GET', `/invoices/${invoiceId}/pdf`), 404, 'pdf_not_rendered');
  });

  test(
    '200 lines continue over several pages, each with the table header and its page number; every line printed once',
    RENDERING,
    async () => {
      const tenant = await createTenant(gw.app);
      const items = Array.from({ length: 200 }, (_, i) => ({
        description: `Line ${i + 1} Ωμέγα Кофе 東京`,
        quantity: 1,
        price: 1,
        taxRate: i % 2 ? 0 : 20,
      }));
      const { invoiceId, invoiceNumber } = await createInvoice(tenant, {
        customer: 'Zoë Ünal 東京',
        issuedDate: '2026-01-15',
        paymentTermsDays: 0,
        items,
      });
      const { pdf, pages } = await renderedPages(tenant, invoiceId);
      expect(pdf.getPageCount()).toBeGreaterThan(3);
      expect(pages).toHaveLength(pdf.getPageCount());
      pages.forEach((lines, index) => {
        expect(lines).toContain('Description Qty Price EUR Tax % Net EUR Tax EUR Gross EUR');
        expect(lines.at(-1)).toBe(`${tenant.name!} ${invoiceNumber} - page ${index + 1} of ${pages.length}`);
      });
      const all = pages.flat();
      for (let i = 1; i <= 200; i++) {
        const rate = i % 2 ? 20 : 0;
        const tax = i % 2 ? '0.20' : '0.00';
        const gross = i % 2 ? '1.20' : '1.00';
        expect(
          all.filter((line) => line === `Line ${i} Ωμέγα Кофе 東京 1 1.00 ${rate} 1.00 ${tax} ${gross}`),
        ).toHaveLength(1);
      }
      const last = pages.at(-1)!;
      expect(last).toContain('20 % 100.00 20.00 120.00');
      expect(last).toContain('0 % 100.00 0.00 100.00');
      expect(last).toContain('Gross total EUR 220.00');
      expect(all).toContain('Status Draft Zoë Ünal 東京');
    },
  );

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
    expect((await parsePdf(pdf.bytes)).pages[0]).toContain(`INVOICE ${invoiceNumber}`);
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
