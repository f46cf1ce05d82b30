import { describe, expect, test } from 'vitest';
import { decimalPlaces, lineAmounts, sum, toDecimal } from '../../src/features/invoices/money.js';

// Invoice money in decimals: a line's net is quantity × price rounded half-up to cents, its tax
// the rounded net × rate / 100 rounded half-up, its gross their sum; totals are plain sums.

const line = (quantity: number | string, price: number | string, taxRate: number | string) => {
  const { net, tax, gross } = lineAmounts(toDecimal(quantity), toDecimal(price), toDecimal(taxRate));
  return { net: net.toFixed(2), tax: tax.toFixed(2), gross: gross.toFixed(2) };
};

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

  test('no float error: 3 × 0.1 is 0.30, and amounts beyond a double stay exact', () => {
    expect(line(3, 0.1, 0).net).toBe('0.30');
    const big = lineAmounts(toDecimal(1e9), toDecimal('1000000000000'), toDecimal(100));
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
      lineAmounts(toDecimal(1), toDecimal('1.005'), toDecimal(50)),
      lineAmounts(toDecimal(2), toDecimal(149.99), toDecimal(8.5)),
    ];
    expect(sum(lines.map((l) => l.net)).toFixed(2)).toBe('300.99');
    expect(sum(lines.map((l) => l.tax)).toFixed(2)).toBe('26.01');
    expect(sum(lines.map((l) => l.gross)).toFixed(2)).toBe('327.00');
  });
});
