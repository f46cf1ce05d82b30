import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ulid } from 'ulid';
import { afterAll, describe, expect, test } from 'vitest';
import { json, refused, runAdmin } from './support/cli.js';
import { createTenant, http, useGateway, type Tenant } from './support/gateway.js';
import { failed, graphqlClient, ok } from './support/graphql.js';
import { errorPaths, expectProblem } from './support/problem.js';

// The seller profile: set by the operator (admin API, admin CLI), read by the tenant's
// applications (REST, GraphQL), every refusal named by its field and changing nothing.

const gw = useGateway();
const gql = graphqlClient(() => gw.url);
const scratch = mkdtempSync(path.join(tmpdir(), 'nilo-seller-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A real 1×1 PNG. */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);
/** The start of a JPEG (SOI and an APP0 marker): what the type check reads. */
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01]);

const PROFILE = {
  legalName: 'Łódź Ωmega 東京 GmbH',
  addressLines: ['Hauptstraße 5', 'Hinterhaus'],
  city: 'Berlin',
  postalCode: '10115',
  region: 'Berlin',
  country: 'DE',
  vatId: 'DE123456789',
  taxId: '27/123/45678',
  email: 'billing@omega.example',
  phone: '+49 30 1234567',
  defaultCurrency: 'EUR',
  iban: 'DE89 3704 0044 0532 0130 00',
  bic: 'cobadeffxxx',
  bankName: 'Commerzbank',
  paymentTerms: 'Payable within 30 days without deduction.',
};

/** What PROFILE reads back as: the IBAN without spaces, the BIC in capitals. */
const STORED = { ...PROFILE, iban: 'DE89370400440532013000', bic: 'COBADEFFXXX' };

const adminPath = (tenantId: string) => `/admin/v1/tenants/${tenantId}/seller-profile`;
const put = (tenantId: string, body: unknown) => http(gw.url, 'PUT', adminPath(tenantId), { body });
const read = (t: Tenant) => http(gw.url, 'GET', '/api/v1/seller-profile', { key: t.apiKey });
const SELLER_FIELDS = `{ sellerProfile { legalName addressLines city postalCode region country vatId taxId email phone
  defaultCurrency iban bic bankName paymentTerms logo { mediaType byteLength } updatedAt } }`;

describe('set by the operator, read by the tenant', () => {
  test('the admin API sets it; REST, GraphQL and the admin API read the same profile', async () => {
    const t = await createTenant(gw.app);
    const set = await put(t.tenantId, { ...PROFILE, logo: PNG.toString('base64') });
    expect(set.status, set.text).toBe(200);
    const expected = {
      ...STORED,
      logo: { mediaType: 'image/png', byteLength: PNG.length },
      updatedAt: set.body.updatedAt,
    };
    expect(set.body).toStrictEqual(expected);

    expect((await http(gw.url, 'GET', adminPath(t.tenantId))).body).toStrictEqual(expected);
    const viaRest = await read(t);
    expect(viaRest.status, viaRest.text).toBe(200);
    expect(viaRest.body).toStrictEqual(expected);
    expect(ok(await gql(t.apiKey, SELLER_FIELDS)).sellerProfile).toStrictEqual(expected);

    const logo = await fetch(`${gw.url}/api/v1/seller-profile/logo`, {
      headers: { authorization: `Bearer ${t.apiKey}` },
    });
    expect(logo.status).toBe(200);
    expect(logo.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await logo.arrayBuffer()).equals(PNG)).toBe(true);

    // What the invoice PDF reads: the row with the logo's bytes.
    const row = await gw.app.services.sellerProfiles.get(t.tenantId);
    expect(Buffer.from(row!.logo!).equals(PNG)).toBe(true);
    expect(row).toMatchObject({ ...STORED, logoType: 'image/png' });
  });

  test('an absent logo keeps the stored one, a new one replaces it, null removes it; every field is replaced', async () => {
    const t = await createTenant(gw.app);
    expect((await put(t.tenantId, { ...PROFILE, logo: PNG.toString('base64') })).status).toBe(200);
    const minimal = {
      legalName: 'Renamed SARL',
      addressLines: ['1 rue de Rivoli'],
      city: 'Paris',
      country: 'FR',
      defaultCurrency: 'EUR',
    };
    const kept = await put(t.tenantId, minimal);
    expect(kept.body).toMatchObject({
      ...minimal,
      vatId: null,
      iban: null,
      postalCode: null,
      logo: { mediaType: 'image/png' },
    });

    const jpeg = await put(t.tenantId, { ...minimal, logo: JPEG.toString('base64') });
    expect(jpeg.body.logo).toEqual({ mediaType: 'image/jpeg', byteLength: JPEG.length });
    const logo = await fetch(`${gw.url}/api/v1/seller-profile/logo`, {
      headers: { authorization: `Bearer ${t.apiKey}` },
    });
    expect(logo.headers.get('content-type')).toBe('image/jpeg');

    expect((await put(t.tenantId, { ...minimal, logo: null })).body.logo).toBeNull();
    expectProblem(await http(gw.url, 'GET', '/api/v1/seller-profile/logo', { key: t.apiKey }), 404, 'not_found');
  });

  test('before the operator sets one (and after removing it): 404 not_found saying who sets it', async () => {
    const t = await createTenant(gw.app);
    const missing = await read(t);
    expectProblem(missing, 404, 'not_found');
    expect(missing.body.detail).toMatch(/operator sets it \(admin CLI set-seller-profile\)/);
    expectProblem(await http(gw.url, 'GET', '/api/v1/seller-profile/logo', { key: t.apiKey }), 404, 'not_found');
    failed(await gql(t.apiKey, '{ sellerProfile { legalName } }'), 'not_found', 'sellerProfile');
    expectProblem(await http(gw.url, 'GET', adminPath(t.tenantId)), 404, 'not_found');

    expect((await put(t.tenantId, PROFILE)).status).toBe(200);
    const removed = await http(gw.url, 'DELETE', adminPath(t.tenantId));
    expect(removed.body).toEqual({ tenantId: t.tenantId, removed: true });
    expect((await http(gw.url, 'DELETE', adminPath(t.tenantId))).body).toEqual({
      tenantId: t.tenantId,
      removed: false,
    });
    expectProblem(await read(t), 404, 'not_found');
  });

  test('each tenant reads its own; a tenant without accounting is 403', async () => {
    const a = await createTenant(gw.app);
    const b = await createTenant(gw.app);
    await put(a.tenantId, PROFILE);
    await put(b.tenantId, { ...PROFILE, legalName: 'B Ltd', country: 'GB', defaultCurrency: 'GBP' });
    expect((await read(a)).body.legalName).toBe(PROFILE.legalName);
    expect((await read(b)).body).toMatchObject({ legalName: 'B Ltd', defaultCurrency: 'GBP' });

    const noAccounting = await createTenant(gw.app, ['communication']);
    await put(noAccounting.tenantId, PROFILE);
    expectProblem(await read(noAccounting), 403, 'feature_not_enabled');
    expectProblem(
      await http(gw.url, 'GET', '/api/v1/seller-profile/logo', { key: noAccounting.apiKey }),
      403,
      'feature_not_enabled',
    );
    failed(await gql(noAccounting.apiKey, '{ sellerProfile { legalName } }'), 'feature_not_enabled', 'sellerProfile');
  });

  test('an unknown tenant is 404, a malformed tenant id 400 invalid_id', async () => {
    expectProblem(await put(`ten_${ulid()}`, PROFILE), 404, 'not_found');
    expectProblem(await put('ten_nope', PROFILE), 400, 'invalid_id');
    expectProblem(await http(gw.url, 'GET', adminPath(`ten_${ulid()}`)), 404, 'not_found');
    expectProblem(await http(gw.url, 'DELETE', adminPath('acme')), 400, 'invalid_id');
  });
});

describe('refusals: 400 naming the field, nothing stored', () => {
  const big = Buffer.concat([PNG, Buffer.alloc(256 * 1024 + 1 - PNG.length)]);
  const justFits = Buffer.concat([PNG, Buffer.alloc(256 * 1024 - PNG.length)]);
  const cases: [string, Record<string, unknown>, string][] = [
    ['no legal name', { legalName: undefined }, 'legalName'],
    ['a blank legal name', { legalName: '   ' }, 'legalName'],
    ['a legal name of 301 characters', { legalName: 'x'.repeat(301) }, 'legalName'],
    ['a NUL byte in the legal name', { legalName: 'Acme\u0000 GmbH' }, 'legalName'],
    ['no address line', { addressLines: [] }, 'addressLines'],
    ['four address lines', { addressLines: ['a', 'b', 'c', 'd'] }, 'addressLines'],
    ['an address line of 201 characters', { addressLines: ['x'.repeat(201)] }, 'addressLines[0]'],
    ['a blank address line', { addressLines: ['ok', ' '] }, 'addressLines[1]'],
    ['no city', { city: undefined }, 'city'],
    ['a postal code of 21 characters', { postalCode: '1'.repeat(21) }, 'postalCode'],
    ['a lower-case country', { country: 'de' }, 'country'],
    ['a three-letter country', { country: 'DEU' }, 'country'],
    ['an unassigned country (XX)', { country: 'XX' }, 'country'],
    ['a region that is no country (EU)', { country: 'EU' }, 'country'],
    ['UK (the code is GB)', { country: 'UK' }, 'country'],
    ['no default currency', { defaultCurrency: undefined }, 'defaultCurrency'],
    ['a lower-case currency', { defaultCurrency: 'eur' }, 'defaultCurrency'],
    ['no currency (XXX)', { defaultCurrency: 'XXX' }, 'defaultCurrency'],
    ['a VAT id of 31 characters', { vatId: 'D'.repeat(31) }, 'vatId'],
    ['a tax id of 51 characters', { taxId: '1'.repeat(51) }, 'taxId'],
    ['an email without @', { email: 'billing.example' }, 'email'],
    ['a phone of 51 characters', { phone: '1'.repeat(51) }, 'phone'],
    ['an IBAN with wrong check digits', { iban: 'DE88 3704 0044 0532 0130 00' }, 'iban'],
    ['an IBAN too short', { iban: 'DE89 3704' }, 'iban'],
    ['a BIC of 9 characters', { bic: 'COBADEFFX' }, 'bic'],
    ['a bank name of 201 characters', { bankName: 'b'.repeat(201) }, 'bankName'],
    ['payment terms of 1001 characters', { paymentTerms: 't'.repeat(1001) }, 'paymentTerms'],
    ['a logo that is not base64', { logo: 'not base64!' }, 'logo'],
    ['a GIF logo', { logo: Buffer.from('GIF89a....').toString('base64') }, 'logo'],
    ['a logo of 256 KiB + 1 byte', { logo: big.toString('base64') }, 'logo'],
    ['an unknown field', { website: 'https://example.com' }, 'website'],
  ];

  test.each(cases)('%s', async (_name, change, field) => {
    const t = await createTenant(gw.app);
    const res = await put(t.tenantId, { ...PROFILE, ...change });
    expectProblem(res, 400, 'validation_failed');
    expect(errorPaths(res)).toEqual([field]);
    expect(await gw.app.services.sellerProfiles.get(t.tenantId)).toBeNull();
  });

  test('the messages say what is expected; a refused change leaves the stored profile as it was', async () => {
    const t = await createTenant(gw.app);
    const stored = await put(t.tenantId, PROFILE);
    const res = await put(t.tenantId, {
      ...PROFILE,
      country: 'XX',
      defaultCurrency: 'ABC',
      logo: big.toString('base64'),
    });
    expect(res.body.errors).toEqual([
      { path: 'country', message: 'must be an ISO 3166-1 alpha-2 country code in capitals, such as DE' },
      { path: 'defaultCurrency', message: 'must be an ISO 4217 currency code in capitals, such as EUR, JPY or KWD' },
      { path: 'logo', message: `must be at most 262144 bytes (it has ${big.length})` },
    ]);
    expect((await read(t)).body).toStrictEqual(stored.body);
    expect((await put(t.tenantId, { ...PROFILE, logo: justFits.toString('base64') })).body.logo.byteLength).toBe(
      262144,
    );
  });

  test('a body that is no object is refused', async () => {
    const t = await createTenant(gw.app);
    expectProblem(await put(t.tenantId, ['DE']), 400, 'validation_failed');
    expectProblem(await put(t.tenantId, 'legalName=x'), 400, 'invalid_request');
  });
});

describe('the admin CLI', () => {
  const cli = (args: string[]) =>
    runAdmin([...args, '--url', gw.url, '--json'], { ...process.env, LOG_LEVEL: 'warn', ADMIN_URL: '' });

  test('set-seller-profile: the JSON file, each option over its field, the logo from a file; show and remove', async () => {
    const t = await createTenant(gw.app);
    const file = path.join(scratch, 'profile.json');
    writeFileSync(file, JSON.stringify({ ...PROFILE, legalName: 'From the file' }));
    const logo = path.join(scratch, 'logo.png');
    writeFileSync(logo, PNG);
    const set = json(
      await cli([
        'set-seller-profile',
        '--tenant',
        t.tenantId,
        '--from-json',
        file,
        '--legal-name',
        'Omega GmbH',
        '--address-line',
        'Line one',
        '--address-line',
        'Line two',
        '--currency',
        'JPY',
        '--logo',
        logo,
      ]),
    );
    expect(set).toStrictEqual({
      ...STORED,
      legalName: 'Omega GmbH',
      addressLines: ['Line one', 'Line two'],
      defaultCurrency: 'JPY',
      logo: { mediaType: 'image/png', byteLength: PNG.length },
      updatedAt: set.updatedAt,
    });
    expect((await read(t)).body).toStrictEqual(set);
    expect(json(await cli(['show-seller-profile', '--tenant', t.tenantId]))).toStrictEqual(set);

    const noLogo = json(await cli(['set-seller-profile', '--tenant', t.tenantId, '--from-json', file, '--no-logo']));
    expect(noLogo).toMatchObject({ legalName: 'From the file', logo: null });
    expect(json(await cli(['remove-seller-profile', '--tenant', t.tenantId]))).toEqual({
      tenantId: t.tenantId,
      removed: true,
    });
    refused(await cli(['show-seller-profile', '--tenant', t.tenantId]), 1, 'not_found');
  });

  // On PostgreSQL the CLI without --url opens the database itself: the same service, the same answers.
  test.runIf(Boolean(process.env.DATABASE_URL))('on the database itself (no gateway named)', async () => {
    const t = await createTenant(gw.app);
    const direct = (args: string[]) =>
      runAdmin([...args, '--json'], { ...process.env, LOG_LEVEL: 'warn', ADMIN_URL: '' });
    const set = json(
      await direct([
        'set-seller-profile',
        '--tenant',
        t.tenantId,
        ...Object.entries({
          'legal-name': 'Direct AG',
          'address-line': 'Weg 1',
          city: 'Bern',
          country: 'CH',
          currency: 'CHF',
        }).flatMap(([k, v]) => [`--${k}`, v]),
      ]),
    );
    expect(set).toMatchObject({ legalName: 'Direct AG', country: 'CH', defaultCurrency: 'CHF', logo: null });
    expect((await read(t)).body).toStrictEqual(set);
    expect(
      refused(
        await direct(['set-seller-profile', '--tenant', t.tenantId, '--legal-name', 'x']),
        1,
        'validation_failed',
      ),
    ).toMatch(/addressLines/);
  });

  test('refusals: the service checks what the API checks; a bad file or option is a usage error', async () => {
    const t = await createTenant(gw.app);
    const invalid = refused(
      await cli(['set-seller-profile', '--tenant', t.tenantId, '--legal-name', 'Only a name']),
      1,
      'validation_failed',
    );
    expect(invalid).toMatch(/addressLines/);

    const notJson = path.join(scratch, 'not.json');
    writeFileSync(notJson, '{ legalName: ');
    expect(
      refused(await cli(['set-seller-profile', '--tenant', t.tenantId, '--from-json', notJson]), 2, 'usage'),
    ).toMatch(/is not JSON/);
    const list = path.join(scratch, 'list.json');
    writeFileSync(list, '[]');
    expect(refused(await cli(['set-seller-profile', '--tenant', t.tenantId, '--from-json', list]), 2, 'usage')).toMatch(
      /one JSON object/,
    );
    expect(
      refused(
        await cli(['set-seller-profile', '--tenant', t.tenantId, '--from-json', path.join(scratch, 'none.json')]),
        2,
        'usage',
      ),
    ).toMatch(/Cannot read the JSON file/);
    expect(
      refused(await cli(['set-seller-profile', '--tenant', t.tenantId, '--logo', 'x.png', '--no-logo']), 2, 'usage'),
    ).toMatch(/exclude each other/);
    refused(await cli(['set-seller-profile', '--legal-name', 'x']), 2, 'usage');
    expect(await gw.app.services.sellerProfiles.get(t.tenantId)).toBeNull();
  });
});
