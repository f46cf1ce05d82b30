import { describe, expect, test } from 'vitest';
import { logoMediaType, SellerProfileInput } from '../../src/features/invoices/seller-profile.js';

// The seller profile's rules: ISO 3166-1 countries, IBAN check digits (ISO 13616), BICs and the
// logo's type, decided by the input schema the admin API and CLI share.

const BASE = { legalName: 'Acme', addressLines: ['Street 1'], city: 'Town', country: 'DE', defaultCurrency: 'EUR' };
const parse = (change: Record<string, unknown>) => SellerProfileInput.safeParse({ ...BASE, ...change });
const refusedPaths = (change: Record<string, unknown>) => {
  const result = parse(change);
  return result.success ? [] : result.error.issues.map((issue) => issue.path.join('.'));
};

describe('country', () => {
  test('every assigned ISO 3166-1 alpha-2 code is a region the runtime names; CLDR-only codes are refused', () => {
    const names = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' });
    const accepted: string[] = [];
    for (let a = 65; a <= 90; a++)
      for (let b = 65; b <= 90; b++) {
        const code = String.fromCharCode(a, b);
        if (parse({ country: code }).success) accepted.push(code);
      }
    expect(accepted).toHaveLength(249);
    for (const code of accepted) expect(names.of(code), code).toBeTruthy();
    for (const code of ['EU', 'UK', 'XK', 'EZ', 'UN', 'ZZ', 'SU', 'YU']) expect(accepted, code).not.toContain(code);
  });
});

describe('IBAN', () => {
  test.each([
    ['DE89 3704 0044 0532 0130 00', 'DE89370400440532013000'],
    ['GB82 WEST 1234 5698 7654 32', 'GB82WEST12345698765432'],
    ['fr14 2004 1010 0505 0001 3m02 606', 'FR1420041010050500013M02606'],
    ['NL91ABNA0417164300', 'NL91ABNA0417164300'],
    ['NO9386011117947', 'NO9386011117947'],
  ])('%s is stored as %s', (iban, stored) => {
    const result = parse({ iban });
    expect(result.success).toBe(true);
    expect(result.data!.iban).toBe(stored);
  });

  test.each([
    'DE88 3704 0044 0532 0130 00', // check digits off by one
    'DE89 3704 0044 0532 0130 01', // one account digit changed
    'GB82 WEST 1234 5698 7654 3', // one digit short: the remainder changes
    '89DE 3704 0044 0532 0130 00', // country and check digits swapped
    'DE89', // too short
    'DE89 3704 0044 0532 0130 00 0000 0000 0000 0', // longer than 34
    'DE89-3704-0044-0532-0130-00', // dashes are no IBAN
  ])('%s is refused', (iban) => {
    expect(refusedPaths({ iban })).toEqual(['iban']);
  });

  test('absent or null means none', () => {
    expect(parse({}).success).toBe(true);
    expect(parse({ iban: null }).data!.iban).toBeNull();
  });
});

describe('BIC', () => {
  test('8 or 11 characters, bank and country letters; stored in capitals', () => {
    expect(parse({ bic: 'cobadeff' }).data!.bic).toBe('COBADEFF');
    expect(parse({ bic: 'DEUTDEFF500' }).data!.bic).toBe('DEUTDEFF500');
    for (const bic of ['COBADEF', 'COBADEFFX', 'COBADEFFXXXX', '1OBADEFF', 'COBA1EFF'])
      expect(refusedPaths({ bic }), bic).toEqual(['bic']);
  });
});

describe('logo', () => {
  test('PNG and JPEG by their first bytes; anything else is no logo', () => {
    expect(logoMediaType(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0]))).toBe('image/png');
    expect(logoMediaType(new Uint8Array([0xff, 0xd8, 0xff, 0xdb]))).toBe('image/jpeg');
    expect(logoMediaType(new Uint8Array([0x89, 0x50, 0x4e, 0x47]))).toBeNull(); // a truncated PNG signature
    expect(logoMediaType(Buffer.from('GIF89a'))).toBeNull();
    expect(logoMediaType(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'))).toBeNull();
    expect(logoMediaType(new Uint8Array())).toBeNull();
  });
});
