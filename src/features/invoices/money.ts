import { Decimal } from 'decimal.js';

// Money arithmetic in decimals, never floats: amounts are rounded half-up to the minor units of
// the invoice's currency (cents for EUR, whole yen for JPY, fils for KWD).
const Money = Decimal.clone({ precision: 40, rounding: Decimal.ROUND_HALF_UP });

/**
 * ISO 4217 List One: every current currency code and its minor units (the digits after the decimal
 * point). A table, not Intl.NumberFormat: the runtime's CLDR data gives the digits used in
 * practice, not ISO's (measured on Node 20: HUF, IDR, COP, LBP 0 instead of 2, IQD 0 instead of 3),
 * formats any three letters (ABC: 2 places), and Intl.supportedValuesOf('currency') lacks the fund
 * codes (CLF, UYW) but still lists withdrawn ones (HRK, ZWL). Codes without minor
 * units (gold XAU, SDR XDR, the test code XTS, "no currency" XXX) are not invoice currencies and
 * are left out.
 */
const MINOR_UNITS: Readonly<Record<string, number>> = {
  ...codes(0, 'BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF'),
  ...codes(3, 'BHD IQD JOD KWD LYD OMR TND'),
  ...codes(4, 'CLF UYW'),
  ...codes(
    2,
    'AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN BZD CAD CDF CHE CHF ' +
      'CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG ' +
      'HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR ' +
      'MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD ' +
      'SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG ' +
      'YER ZAR ZMW ZWG',
  ),
};

function codes(units: number, list: string): Record<string, number> {
  return Object.fromEntries(list.split(' ').map((code) => [code, units]));
}

/** The invoice currency when neither the request nor the tenant's seller profile names one. */
export const FALLBACK_CURRENCY = 'EUR';

/** The largest minor units of any currency: the scale the amount columns are stored with. */
export const MAX_MINOR_UNITS = 4;

export function isCurrency(code: string): boolean {
  return Object.hasOwn(MINOR_UNITS, code);
}

/** The digits after the decimal point of an amount in `currency` (ISO 4217): JPY 0, EUR 2, KWD 3. */
export function minorUnits(currency: string): number {
  const units = MINOR_UNITS[currency];
  if (units === undefined) throw new RangeError(`${currency} is not an ISO 4217 currency code`);
  return units;
}

/**
 * The one money format of every channel (REST, GraphQL, events, webhooks, PDF): a decimal string
 * with exactly the currency's minor units, half-up, no grouping and no symbol ("25.50", "1200",
 * "0.125"). Strings, so no client parses money into a float.
 */
export function formatMoney(amount: { toString(): string } | number, currency: string): string {
  // toString, not the value: Prisma's Decimal is another copy of decimal.js than this module's.
  return toDecimal(typeof amount === 'number' ? amount : amount.toString()).toFixed(minorUnits(currency));
}

export type LineAmounts = { net: Decimal; tax: Decimal; gross: Decimal };

export function toDecimal(value: number | string): Decimal {
  // String(0.1) is "0.1": JSON numbers keep the decimal the client wrote.
  return new Money(typeof value === 'number' ? String(value) : value);
}

/** A line's amounts rounded to `places` (the currency's minor units): tax is taken on the rounded net. */
export function lineAmounts(quantity: Decimal, price: Decimal, taxRate: Decimal, places: number): LineAmounts {
  const net = quantity.times(price).toDecimalPlaces(places, Decimal.ROUND_HALF_UP);
  const tax = net.times(taxRate).dividedBy(100).toDecimalPlaces(places, Decimal.ROUND_HALF_UP);
  return { net, tax, gross: net.plus(tax) };
}

export function sum(values: Decimal[]): Decimal {
  return values.reduce((total, v) => total.plus(v), new Money(0));
}

export function decimalPlaces(value: number | string): number {
  return toDecimal(value).decimalPlaces();
}

/** Amounts of one tax rate: what the PDF's tax summary and the e-invoice's VAT breakdown print. */
export type RateTotals<Amount> = { rate: Amount; net: Amount; tax: Amount; gross: Amount };

/** The lines' amounts summed per tax rate, in the order the rates first appear. */
export function totalsByRate<Amount extends Decimal>(
  lines: { taxRate: Amount; net: Amount; tax: Amount; gross: Amount }[],
): RateTotals<Decimal>[] {
  const rates = new Map<string, typeof lines>();
  for (const line of lines) rates.set(line.taxRate.toString(), [...(rates.get(line.taxRate.toString()) ?? []), line]);
  return [...rates.values()].map((group) => ({
    rate: group[0]!.taxRate,
    net: sum(group.map((line) => line.net)),
    tax: sum(group.map((line) => line.tax)),
    gross: sum(group.map((line) => line.gross)),
  }));
}
