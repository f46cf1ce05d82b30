import { describe, expect, test } from 'vitest';
import {
  decimalPlaces,
  formatMoney,
  isCurrency,
  lineAmounts,
  minorUnits,
  sum,
  toDecimal,
} from '../../src/features/invoices/money.js';

// Invoice money in decimals: a line's net is quantity × price rounded half-up to the currency's
// minor units, its tax the rounded net × rate / 100 rounded half-up, its gross their sum; totals
// are plain sums. Every channel shows an amount as formatMoney's string.

const line = (quantity: number | string, price: number | string, taxRate: number | string, currency = 'EUR') => {
  const places = minorUnits(currency);
  const { net, tax, gross } = lineAmounts(toDecimal(quantity), toDecimal(price), toDecimal(taxRate), places);
  return { net: formatMoney(net, currency), tax: formatMoney(tax, currency), gross: formatMoney(gross, currency) };
};

describe('minorUnits and isCurrency: ISO 4217, not the runtime locale data', () => {
  test('JPY 0, EUR 2, KWD 3, CLF 4', () => {
    expect(minorUnits('JPY')).toBe(0);
    expect(minorUnits('EUR')).toBe(2);
    expect(minorUnits('USD')).toBe(2);
    expect(minorUnits('KWD')).toBe(3);
    expect(minorUnits('BHD')).toBe(3);
    expect(minorUnits('CLF')).toBe(4);
    expect(minorUnits('UYW')).toBe(4);
  });

  test("where Intl's CLDR digits differ from ISO 4217, ISO wins (measured, not assumed)", () => {
    const intlDigits = (code: string) =>
      new Intl.NumberFormat('en', { style: 'currency', currency: code }).resolvedOptions().maximumFractionDigits;
    for (const [code, iso] of [
      ['HUF', 2],
      ['IDR', 2],
      ['COP', 2],
      ['IQD', 3],
    ] as const) {
      expect(intlDigits(code), code).not.toBe(iso);
      expect(minorUnits(code), code).toBe(iso);
    }
  });

  test('codes without minor units, withdrawn codes, lower case and non-codes are no currency', () => {
    for (const code of ['XAU', 'XDR', 'XTS', 'XXX', 'HRK', 'ZWL', 'DEM', 'eur', 'EURO', 'EU', '', 'toString']) {
      expect(isCurrency(code), code).toBe(false);
    }
    expect(() => minorUnits('XXX')).toThrow(RangeError);
    expect(['EUR', 'JPY', 'KWD', 'ZWG', 'XCG', 'VED'].every(isCurrency)).toBe(true);
  });
});

describe('formatMoney', () => {
  test('exactly the minor units, half-up, no grouping, no symbol', () => {
    expect(formatMoney('25.5', 'EUR')).toBe('25.50');
    expect(formatMoney(25, 'EUR')).toBe('25.00');
    expect(formatMoney('1200', 'JPY')).toBe('1200');
    expect(formatMoney('1199.5', 'JPY')).toBe('1200');
    expect(formatMoney('0.125', 'KWD')).toBe('0.125');
    expect(formatMoney('0.5', 'KWD')).toBe('0.500');
    expect(formatMoney('0.005', 'EUR')).toBe('0.01');
    expect(formatMoney('1234567890123.45', 'EUR')).toBe('1234567890123.45');
    expect(formatMoney(toDecimal('1e-7'), 'CLF')).toBe('0.0000');
  });
});

describe('toDecimal', () => {
  test('a JSON number keeps the decimal the client wrote, a string every digit', () => {
    expect(toDecimal(0.1).toString()).toBe('0.1');
    expect(toDecimal(149.99).toString()).toBe('149.99');
    expect(toDecimal('12345678901234567890.1234').toString()).toBe('12345678901234567890.1234');
  });

  test('decimalPlaces counts the significant ones, in exponent notation too', () => {
    expect(decimalPlaces(8.5)).toBe(1);
    expect(decimalPlaces('0.1234')).toBe(4);
    expect(decimalPlaces('1.2300')).toBe(2);
    expect(decimalPlaces(1e-7)).toBe(7);
    expect(decimalPlaces(42)).toBe(0);
  });
});

describe('lineAmounts', () => {
  test('the example invoice: 2 × 149.99 at 8.5 %', () => {
    expect(line(2, 149.99, 8.5)).toEqual({ net: '299.98', tax: '25.50', gross: '325.48' });
    expect(line(1, 25, 0)).toEqual({ net: '25.00', tax: '0.00', gross: '25.00' });
  });

  test('half a cent rounds up, not to even', () => {
    expect(line(1, '0.125', 0).net).toBe('0.13');
    expect(line(1, '0.005', 0).net).toBe('0.01');
    expect(line(1, '0.0049', 0).net).toBe('0.00');
    expect(line(1, 1, '0.5').tax).toBe('0.01'); // 0.005
  });

  test('tax is taken on the rounded net', () => {
    // net 1.005 → 1.01; 50 % of 1.01 is 0.505 → 0.51 (of the unrounded net it would be 0.50).
    expect(line(1, '1.005', 50)).toEqual({ net: '1.01', tax: '0.51', gross: '1.52' });
  });

  test('the currency decides the scale: JPY rounds to yen, KWD to fils', () => {
    expect(line(3, '33.5', 10, 'JPY')).toEqual({ net: '101', tax: '10', gross: '111' }); // 100.5 → 101; 10.1 → 10
    expect(line(1, '0.5', 0, 'JPY').net).toBe('1');
    expect(line(3, '1.2345', 10, 'KWD')).toEqual({ net: '3.704', tax: '0.370', gross: '4.074' }); // 3.7035 → 3.704
    expect(line(1, '0.0005', 0, 'KWD').net).toBe('0.001');
    expect(line(3, '1.2345', 10, 'EUR')).toEqual({ net: '3.70', tax: '0.37', gross: '4.07' });
  });

  test('no float error: 3 × 0.1 is 0.30, and amounts beyond a double stay exact', () => {
    expect(line(3, 0.1, 0).net).toBe('0.30');
    const big = lineAmounts(toDecimal(1e9), toDecimal('1000000000000'), toDecimal(100), 2);
    expect(big.net.toFixed(2)).toBe('1000000000000000000000.00');
    expect(big.gross.toFixed(2)).toBe('2000000000000000000000.00');
  });
});

describe('sum', () => {
  test('0.1 + 0.2 is 0.3; nothing sums to 0', () => {
    expect(sum([toDecimal(0.1), toDecimal(0.2)]).toString()).toBe('0.3');
    expect(sum([]).toString()).toBe('0');
  });

  test('totals are sums of the rounded line amounts', () => {
    const lines = [
      lineAmounts(toDecimal(1), toDecimal('1.005'), toDecimal(50), 2),
      lineAmounts(toDecimal(2), toDecimal(149.99), toDecimal(8.5), 2),
    ];
    expect(sum(lines.map((l) => l.net)).toFixed(2)).toBe('300.99');
    expect(sum(lines.map((l) => l.tax)).toFixed(2)).toBe('26.01');
    expect(sum(lines.map((l) => l.gross)).toFixed(2)).toBe('327.00');
  });
});
