import { PDFDocument } from 'pdf-lib';
import { describe, expect, test } from 'vitest';
import { embedFonts, printable } from '../../src/features/invoices/pdf-fonts.js';

describe('printable', () => {
  test('other whitespace becomes a space; invisible format characters and variation selectors go; the rest stays', () => {
    expect(printable('a\tb\u00a0c\u2003d')).toBe('a b c d');
    expect(printable('☕\uFE0F zero\u200Bwidth\u200D joiner \uFEFF')).toBe('☕ zerowidth joiner ');
    expect(printable('Łódź Ωmega 東京')).toBe('Łódź Ωmega 東京');
  });
});

describe('embedFonts', () => {
  test('each character is drawn by the first font of the chain that has it, words of one script in one run', async () => {
    const fonts = await embedFonts(await PDFDocument.create(), ['Łódź Ωmega Привет ☕ 東京']);
    const runs = fonts.runs('Łódź Ωmega ☕ 東京 GmbH', 'regular');
    expect(runs.map((run) => run.text)).toEqual(['Łódź Ωmega ', '☕ ', '東京 ', 'GmbH']);
    expect(runs.map((run) => run.font.name)).toEqual([
      expect.stringMatching(/^NotoSans-Regular/),
      expect.stringMatching(/^DejaVuSans/),
      expect.stringMatching(/^NotoSansSC-Regular/),
      expect.stringMatching(/^NotoSans-Regular/),
    ]);
    expect(fonts.width('東京', 'bold', 10)).toBeGreaterThan(fonts.width('東', 'bold', 10));
  });

  test('Latin text alone reads only the first font of the chain', async () => {
    const fonts = await embedFonts(await PDFDocument.create(), ['Invoice for Zoë Ünal, 12 €']);
    expect(new Set(fonts.runs('Zoë Ünal 12 €', 'regular').map((run) => run.font.name)).size).toBe(1);
  });

  test('characters no font has, and scripts pdf-lib cannot shape (right to left, Indic), are refused by name', async () => {
    const refusal = embedFonts(await PDFDocument.create(), ['한 🧾 ש ع क', 'fine']);
    await expect(refusal).rejects.toMatchObject({ code: 'unsupported_characters' });
    const message = await refusal.then(
      () => '',
      (error: Error) => error.message,
    );
    for (const named of ['"한" (U+D55C)', '"🧾" (U+1F9FE)', '"ש" (U+05E9)', '"ع" (U+0639)', '"क" (U+0915)'])
      expect(message).toContain(named);
    expect(message).not.toContain('"f"');
  });
});
