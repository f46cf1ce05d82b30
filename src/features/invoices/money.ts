import { Decimal } from 'decimal.js';

// Money arithmetic in decimals, never floats: amounts are rounded half-up to cents.
const Money = Decimal.clone({ precision: 40, rounding: Decimal.ROUND_HALF_UP });

export type LineAmounts = { net: Decimal; tax: Decimal; gross: Decimal };

export function toDecimal(value: number | string): Decimal {
  // String(0.1) is "0.1": JSON numbers keep the decimal the client wrote.
  return new Money(typeof value === 'number' ? String(value) : value);
}

export function lineAmounts(quantity: Decimal, price: Decimal, taxRate: Decimal): LineAmounts {
  const net = quantity.times(price).toDecimalPlaces(2, Decimal.ROUND_HALF_UP);
  const tax = net.times(taxRate).dividedBy(100).toDecimalPlaces(2, Decimal.ROUND_HALF_UP);
  return { net, tax, gross: net.plus(tax) };
}

export function sum(values: Decimal[]): Decimal {
  return values.reduce((total, v) => total.plus(v), new Money(0));
}

export function decimalPlaces(value: number | string): number {
  return toDecimal(value).decimalPlaces();
}
