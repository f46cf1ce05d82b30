// Lays an invoice out as PDF pages with pdf-lib; loaded by the invoices.pdf job when it first runs.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { PageSizes, PDFDocument, rgb, StandardFonts, type PDFFont, type PDFPage } from 'pdf-lib';
import type { InvoiceLine, Prisma } from '../../generated/prisma/client.js';
import { isoDate } from './resource.js';

type InvoiceWithLines = Prisma.InvoiceGetPayload<{ include: { lines: true } }>;

// Layout, in PDF points on A4 portrait.
const [PAGE_WIDTH, PAGE_HEIGHT] = PageSizes.A4;
const MARGIN = 50;
const RIGHT = PAGE_WIDTH - MARGIN;
const FOOTER_Y = MARGIN - 20;
/** Content stops here; below is the footer. */
const BOTTOM = MARGIN;
const SIZE = { title: 20, text: 10, table: 9, footer: 8 };
const LEADING = 1.35;
const GRAY = rgb(0.4, 0.4, 0.4);
const RULE = rgb(0.75, 0.75, 0.75);

/** Money columns show cents; a price keeps the places it was stored with beyond those. */
const money = (amount: Prisma.Decimal) => amount.toFixed(2);
const price = (amount: Prisma.Decimal) => amount.toFixed(Math.max(2, amount.decimalPlaces()));

/** The line table's number columns, right-aligned; the description takes the width left of them. */
const NUMBER_COLUMNS: { label: string; width: number; value: (line: InvoiceLine) => string }[] = [
  { label: 'Qty', width: 45, value: (line) => line.quantity.toFixed() },
  { label: 'Price', width: 62, value: (line) => price(line.price) },
  { label: 'Tax %', width: 40, value: (line) => line.taxRate.toFixed() },
  { label: 'Net', width: 62, value: (line) => money(line.net) },
  { label: 'Tax', width: 55, value: (line) => money(line.tax) },
  { label: 'Gross', width: 62, value: (line) => money(line.gross) },
];
const COLUMN_GAP = 6;
const ROWS_BETWEEN_YIELDS = 50;
const DESCRIPTION_WIDTH =
  RIGHT - MARGIN - NUMBER_COLUMNS.reduce((total, column) => total + column.width, 0) - COLUMN_GAP;

type Fonts = { regular: PDFFont; bold: PDFFont };
type TextStyle = { font?: PDFFont; size?: number; color?: ReturnType<typeof rgb> };

/** A top-to-bottom cursor over pages: each line asks for room, and a full page continues on a new one. */
class Layout {
  page!: PDFPage;
  y = 0;
  /** Drawn at the top of every further page (the table header while lines continue). */
  continuation?: () => void;
  private readonly encodable: Set<number>;
  private readonly pageFonts = new WeakMap<PDFPage, PDFFont>();

  constructor(
    private readonly pdf: PDFDocument,
    private readonly fonts: Fonts,
  ) {
    // The standard fonts encode WinAnsi only (both the same set); anything else would make pdf-lib throw.
    this.encodable = new Set(fonts.regular.getCharacterSet());
    this.addPage();
  }

  addPage(): void {
    this.page = this.pdf.addPage([PAGE_WIDTH, PAGE_HEIGHT]);
    this.y = PAGE_HEIGHT - MARGIN;
    this.continuation?.();
  }

  /** Starts a new page unless `lines` lines of `size` still fit on this one (keeps a row or a heading with its text). */
  keep(size: number, lines: number): void {
    if (this.y - size * LEADING * lines < BOTTOM) this.addPage();
  }

  /** Moves down by one line of `size`, on a new page when this one is full; returns its baseline. */
  nextLine(size: number): number {
    this.keep(size, 1);
    this.y -= size * LEADING;
    return this.y;
  }

  /** Text the font can draw on one line: other whitespace becomes a space, other characters outside WinAnsi "?". */
  printable(text: string): string {
    return Array.from(text, (char) =>
      this.encodable.has(char.codePointAt(0)!) ? char : /\s/.test(char) ? ' ' : '?',
    ).join('');
  }

  /**
   * Draws on this page, or on `page`. The font is selected only when it changes: pdf-lib adds a
   * resource entry each time one is set (twice per drawText given a font), slowing every later call.
   */
  draw(text: string, x: number, y: number, style: TextStyle = {}, page = this.page): void {
    const font = style.font ?? this.fonts.regular;
    if (this.pageFonts.get(page) !== font) {
      page.setFont(font);
      this.pageFonts.set(page, font);
    }
    page.drawText(this.printable(text), { x, y, size: style.size ?? SIZE.text, color: style.color });
  }

  /** Right-aligned at `right`, shrunk to fit `width` when a very large amount would not. */
  drawRight(text: string, right: number, y: number, width: number, style: TextStyle = {}): void {
    const font = style.font ?? this.fonts.regular;
    const printable = this.printable(text);
    const natural = style.size ?? SIZE.text;
    const size = Math.min(natural, (natural * width) / Math.max(font.widthOfTextAtSize(printable, natural), 1));
    this.draw(printable, right - font.widthOfTextAtSize(printable, size), y, { ...style, font, size });
  }

  rule(y: number): void {
    this.page.drawLine({ start: { x: MARGIN, y }, end: { x: RIGHT, y }, thickness: 0.5, color: RULE });
  }

  /** Breaks text into lines no wider than `width`: at its line breaks, between words, and inside a word too long for a line. */
  wrap(text: string, width: number, font: PDFFont, size: number): string[] {
    const fits = (candidate: string) => font.widthOfTextAtSize(candidate, size) <= width;
    const lines: string[] = [];
    for (const paragraph of text.split(/\r\n|\r|\n/)) {
      let line = '';
      for (const word of this.printable(paragraph).split(' ').filter(Boolean)) {
        const joined = line ? `${line} ${word}` : word;
        if (fits(joined)) {
          line = joined;
          continue;
        }
        if (line) lines.push(line);
        line = '';
        // Char by char, summing widths (without kerning, which only narrows): measuring every prefix again is quadratic.
        let lineWidth = 0;
        for (const char of word) {
          const charWidth = font.widthOfTextAtSize(char, size);
          if (line && lineWidth + charWidth > width) {
            lines.push(line);
            line = '';
            lineWidth = 0;
          }
          line += char;
          lineWidth += charWidth;
        }
      }
      lines.push(line);
    }
    return lines;
  }

  /** A paragraph at the left margin, continuing on new pages as needed. */
  paragraph(text: string, style: TextStyle = {}): void {
    const font = style.font ?? this.fonts.regular;
    const size = style.size ?? SIZE.text;
    for (const line of this.wrap(text, RIGHT - MARGIN, font, size))
      this.draw(line, MARGIN, this.nextLine(size), { ...style, font, size });
  }
}

const capitalized = (word: string) => word.charAt(0).toUpperCase() + word.slice(1);

/** One or more A4 pages: header, customer, line table, totals, payment instructions, note, page footers. */
export async function renderInvoicePdf(invoice: InvoiceWithLines): Promise<Uint8Array<ArrayBuffer>> {
  const pdf = await PDFDocument.create();
  pdf.setTitle(`Invoice ${invoice.number}`);
  pdf.setCreator('Nilo gateway');
  const fonts = {
    regular: await pdf.embedFont(StandardFonts.Helvetica),
    bold: await pdf.embedFont(StandardFonts.HelveticaBold),
  };
  const layout = new Layout(pdf, fonts);

  layout.draw('INVOICE', MARGIN, layout.nextLine(SIZE.title), { font: fonts.bold, size: SIZE.title });
  layout.drawRight(invoice.number, RIGHT, layout.y, RIGHT - MARGIN, { font: fonts.bold, size: SIZE.title - 6 });
  layout.nextLine(SIZE.text);

  // Two columns from the same height: the invoice's facts on the left, whom it is for on the right.
  const top = layout.y;
  const facts: [string, string | null][] = [
    ['Invoice number', invoice.number],
    ['Status', capitalized(invoice.status)],
    ['Issued', isoDate(invoice.issuedDate)],
    ['Due', `${isoDate(invoice.dueDate)} (${invoice.paymentTermsDays} days)`],
    ['Reference', invoice.reference],
  ];
  for (const [label, value] of facts) {
    if (value === null) continue;
    const y = layout.nextLine(SIZE.text);
    layout.draw(label, MARGIN, y, { color: GRAY });
    layout.draw(value, MARGIN + 85, y);
  }
  const factsBottom = layout.y;

  const factsPage = layout.page;
  const billTo = MARGIN + 290;
  const billToWidth = RIGHT - billTo;
  layout.y = top;
  layout.draw('Bill to', billTo, layout.nextLine(SIZE.text), { color: GRAY });
  for (const line of layout.wrap(invoice.customer, billToWidth, fonts.bold, SIZE.text))
    layout.draw(line, billTo, layout.nextLine(SIZE.text), { font: fonts.bold });
  const customerLines = [
    invoice.customerCompany,
    invoice.customerAddress,
    invoice.customerVatId && `VAT ID: ${invoice.customerVatId}`,
  ];
  for (const text of customerLines) {
    if (!text) continue;
    for (const line of layout.wrap(text, billToWidth, fonts.regular, SIZE.text))
      layout.draw(line, billTo, layout.nextLine(SIZE.text));
  }
  if (layout.page === factsPage) layout.y = Math.min(layout.y, factsBottom);
  layout.nextLine(SIZE.text);

  // The line table; its header repeats on every page the lines continue onto.
  const columnRight = (index: number) =>
    RIGHT - NUMBER_COLUMNS.slice(index + 1).reduce((total, column) => total + column.width, 0);
  const tableHeader = () => {
    const y = layout.nextLine(SIZE.table);
    layout.draw('Description', MARGIN, y, { font: fonts.bold, size: SIZE.table });
    NUMBER_COLUMNS.forEach((column, index) =>
      layout.drawRight(column.label, columnRight(index), y, column.width - COLUMN_GAP, {
        font: fonts.bold,
        size: SIZE.table,
      }),
    );
    layout.rule(y - 4);
    layout.y -= 4;
  };
  tableHeader();
  layout.continuation = tableHeader;
  for (const [row, line] of invoice.lines.entries()) {
    // Drawing is synchronous: a long invoice lets requests and lease renewals through now and then.
    if (row % ROWS_BETWEEN_YIELDS === ROWS_BETWEEN_YIELDS - 1) await yieldToEventLoop();
    const description = layout.wrap(line.description, DESCRIPTION_WIDTH, fonts.regular, SIZE.table);
    // The whole row on one page.
    layout.keep(SIZE.table, description.length);
    const y = layout.nextLine(SIZE.table);
    NUMBER_COLUMNS.forEach((column, index) =>
      layout.drawRight(column.value(line), columnRight(index), y, column.width - COLUMN_GAP, { size: SIZE.table }),
    );
    description.forEach((text, index) =>
      layout.draw(text, MARGIN, index === 0 ? y : layout.nextLine(SIZE.table), { size: SIZE.table }),
    );
  }
  layout.continuation = undefined;
  layout.rule(layout.y - 4);
  layout.y -= 4;

  const totals = [
    ['Net total', invoice.netTotal, false],
    ['Tax total', invoice.taxTotal, false],
    ['Gross total', invoice.grossTotal, true],
  ] as const;
  // Amounts under the Tax and Gross columns, labels ending where the Net column does.
  const totalsWidth = NUMBER_COLUMNS.at(-1)!.width + NUMBER_COLUMNS.at(-2)!.width;
  layout.keep(SIZE.text, totals.length);
  for (const [label, amount, emphasized] of totals) {
    const y = layout.nextLine(SIZE.text);
    layout.drawRight(label, RIGHT - totalsWidth, y, 120, emphasized ? { font: fonts.bold } : { color: GRAY });
    layout.drawRight(money(amount), RIGHT, y, totalsWidth - COLUMN_GAP, emphasized ? { font: fonts.bold } : {});
  }

  for (const [heading, text] of [
    ['Payment instructions', invoice.paymentInstructions],
    ['Note', invoice.note],
  ] as const) {
    if (!text) continue;
    layout.nextLine(SIZE.text);
    layout.keep(SIZE.text, 2);
    layout.draw(heading, MARGIN, layout.nextLine(SIZE.text), { font: fonts.bold });
    layout.paragraph(text);
  }

  const pages = pdf.getPages();
  pages.forEach((page, index) => {
    const footer = `${invoice.number} - page ${index + 1} of ${pages.length}`;
    layout.draw(
      footer,
      RIGHT - fonts.regular.widthOfTextAtSize(footer, SIZE.footer),
      FOOTER_Y,
      { size: SIZE.footer, color: GRAY },
      page,
    );
  });
  // A copy typed as Prisma's Bytes wants it: pdf-lib's type does not promise an ArrayBuffer behind its array.
  return new Uint8Array(await pdf.save());
}
