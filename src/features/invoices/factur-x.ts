// The invoice as Factur-X / ZUGFeRD XML (UN/CEFACT Cross Industry Invoice, EN 16931, BASIC
// profile), built from the same data as the PDF it is attached to, so software can read the
// invoice a person reads.
import { create } from 'xmlbuilder2';
import type { Contact, InvoiceLine, Prisma, SellerProfile } from '../../generated/prisma/client.js';
import { formatMoney, totalsByRate } from './money.js';

type InvoiceWithLines = Prisma.InvoiceGetPayload<{ include: { lines: true } }>;
type Buyer = Pick<Contact, 'streetAddress' | 'postalCode' | 'city' | 'country'> | null;

/** The attachment's name the Factur-X specification requires. */
export const FACTUR_X_FILE = 'factur-x.xml';
export const FACTUR_X_PROFILE = 'urn:factur-x.eu:1p0:basic';

const NAMESPACES = {
  'xmlns:rsm': 'urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100',
  'xmlns:ram': 'urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100',
  'xmlns:udt': 'urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100',
  'xmlns:qdt': 'urn:un:unece:uncefact:data:standard:QualifiedDataType:100',
};

/** UNTDID 1001: a commercial invoice. */
const COMMERCIAL_INVOICE = '380';
/** UNTDID 4461: SEPA credit transfer. */
const SEPA_CREDIT_TRANSFER = '58';
/** UN/ECE Recommendation 20: "one", for lines without a unit of measure. */
const UNIT = 'C62';

/** CII's date: format 102 is YYYYMMDD. */
const date = (value: Date) => ({
  'udt:DateTimeString': { '@format': '102', '#': value.toISOString().slice(0, 10).replaceAll('-', '') },
});

/** UNCL 5305 VAT category: standard rate, or zero rated. */
const category = (rate: { isZero(): boolean }) => (rate.isZero() ? 'Z' : 'S');

/** XML 1.0 forbids most C0 controls even escaped; stored text may hold them (tabs and newlines stay). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: exactly the characters XML 1.0 cannot carry
const text = (value: string) => value.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '');

/** A postal address in CII's order; absent parts are left out. */
function address(parts: {
  postcode?: string | null;
  lines: (string | null | undefined)[];
  city?: string | null;
  country?: string | null;
  region?: string | null;
}) {
  const lines = parts.lines.filter((line): line is string => !!line).slice(0, 3);
  return {
    ...(parts.postcode && { 'ram:PostcodeCode': text(parts.postcode) }),
    ...Object.fromEntries(lines.map((line, index) => [`ram:Line${['One', 'Two', 'Three'][index]}`, text(line)])),
    ...(parts.city && { 'ram:CityName': text(parts.city) }),
    ...(parts.country && { 'ram:CountryID': parts.country }),
    ...(parts.region && { 'ram:CountrySubDivisionName': text(parts.region) }),
  };
}

const vatRegistration = (id: string | null | undefined, scheme: 'VA' | 'FC') =>
  id ? [{ 'ram:ID': { '@schemeID': scheme, '#': text(id) } }] : [];

function lineItem(line: InvoiceLine, currency: string) {
  return {
    'ram:AssociatedDocumentLineDocument': { 'ram:LineID': String(line.position) },
    'ram:SpecifiedTradeProduct': { 'ram:Name': text(line.description) },
    'ram:SpecifiedLineTradeAgreement': {
      'ram:NetPriceProductTradePrice': { 'ram:ChargeAmount': line.price.toFixed() },
    },
    'ram:SpecifiedLineTradeDelivery': { 'ram:BilledQuantity': { '@unitCode': UNIT, '#': line.quantity.toFixed() } },
    'ram:SpecifiedLineTradeSettlement': {
      'ram:ApplicableTradeTax': {
        'ram:TypeCode': 'VAT',
        'ram:CategoryCode': category(line.taxRate),
        'ram:RateApplicablePercent': line.taxRate.toFixed(),
      },
      'ram:SpecifiedTradeSettlementLineMonetarySummation': { 'ram:LineTotalAmount': formatMoney(line.net, currency) },
    },
  };
}

/** The VAT breakdown (BG-23): one entry per rate, its basis and tax the sums of its lines. */
function taxBreakdown(lines: InvoiceLine[], currency: string) {
  return totalsByRate(lines).map((group) => ({
    'ram:CalculatedAmount': formatMoney(group.tax, currency),
    'ram:TypeCode': 'VAT',
    'ram:BasisAmount': formatMoney(group.net, currency),
    'ram:CategoryCode': category(group.rate),
    'ram:RateApplicablePercent': group.rate.toFixed(),
  }));
}

const COUNTRY = /^[A-Z]{2}$/;

/**
 * The Factur-X XML of an invoice, or null when it lacks what EN 16931 requires: the seller (the
 * tenant's seller profile) and the buyer's country (BT-55: an invoice names it through its
 * contact, ISO 3166-1 alpha-2).
 */
export function facturXml(invoice: InvoiceWithLines, seller: SellerProfile | null, buyer: Buyer): string | null {
  if (!seller || !buyer?.country || !COUNTRY.test(buyer.country)) return null;
  const { currency } = invoice;
  const money = (amount: Prisma.Decimal) => formatMoney(amount, currency);
  const document = {
    'rsm:CrossIndustryInvoice': {
      ...Object.fromEntries(Object.entries(NAMESPACES).map(([name, uri]) => [`@${name}`, uri])),
      'rsm:ExchangedDocumentContext': {
        'ram:GuidelineSpecifiedDocumentContextParameter': { 'ram:ID': FACTUR_X_PROFILE },
      },
      'rsm:ExchangedDocument': {
        'ram:ID': invoice.number,
        'ram:TypeCode': COMMERCIAL_INVOICE,
        'ram:IssueDateTime': date(invoice.issuedDate),
        ...(invoice.note && { 'ram:IncludedNote': { 'ram:Content': text(invoice.note) } }),
      },
      'rsm:SupplyChainTradeTransaction': {
        'ram:IncludedSupplyChainTradeLineItem': invoice.lines.map((line) => lineItem(line, currency)),
        'ram:ApplicableHeaderTradeAgreement': {
          'ram:SellerTradeParty': {
            'ram:Name': text(seller.legalName),
            'ram:PostalTradeAddress': address({
              postcode: seller.postalCode,
              lines: seller.addressLines,
              city: seller.city,
              country: seller.country,
              region: seller.region,
            }),
            'ram:SpecifiedTaxRegistration': [
              ...vatRegistration(seller.vatId, 'VA'),
              ...vatRegistration(seller.taxId, 'FC'),
            ],
          },
          'ram:BuyerTradeParty': {
            'ram:Name': text(invoice.customer),
            'ram:PostalTradeAddress': address({
              postcode: buyer.postalCode,
              lines: [buyer.streetAddress],
              city: buyer.city,
              country: buyer.country,
            }),
            'ram:SpecifiedTaxRegistration': vatRegistration(invoice.customerVatId, 'VA'),
          },
          ...(invoice.reference && {
            'ram:BuyerOrderReferencedDocument': { 'ram:IssuerAssignedID': text(invoice.reference) },
          }),
        },
        'ram:ApplicableHeaderTradeDelivery': {},
        'ram:ApplicableHeaderTradeSettlement': {
          'ram:PaymentReference': invoice.number,
          'ram:InvoiceCurrencyCode': currency,
          ...(seller.iban && {
            'ram:SpecifiedTradeSettlementPaymentMeans': {
              'ram:TypeCode': SEPA_CREDIT_TRANSFER,
              // The BASIC profile has no place for the BIC (EN 16931 makes it optional): the PDF prints it.
              'ram:PayeePartyCreditorFinancialAccount': { 'ram:IBANID': seller.iban },
            },
          }),
          'ram:ApplicableTradeTax': taxBreakdown(invoice.lines, currency),
          'ram:SpecifiedTradePaymentTerms': {
            ...(seller.paymentTerms && { 'ram:Description': text(seller.paymentTerms) }),
            'ram:DueDateDateTime': date(invoice.dueDate),
          },
          'ram:SpecifiedTradeSettlementHeaderMonetarySummation': {
            'ram:LineTotalAmount': money(invoice.netTotal),
            'ram:TaxBasisTotalAmount': money(invoice.netTotal),
            'ram:TaxTotalAmount': { '@currencyID': currency, '#': money(invoice.taxTotal) },
            'ram:GrandTotalAmount': money(invoice.grossTotal),
            // A paid invoice was paid in full: nothing is due.
            ...(invoice.status === 'paid' && { 'ram:TotalPrepaidAmount': money(invoice.grossTotal) }),
            'ram:DuePayableAmount': invoice.status === 'paid' ? formatMoney(0, currency) : money(invoice.grossTotal),
          },
        },
      },
    },
  };
  return create({ version: '1.0', encoding: 'UTF-8' }, document).end({ prettyPrint: true });
}
