// Lays an invoice out as PDF pages with pdf-lib; loaded by the invoices.pdf job when it first runs.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { AFRelationship, PageSizes, PDFDocument, rgb, type PDFImage, type PDFPage } from 'pdf-lib';
import type { Contact, InvoiceLine, Prisma, SellerProfile } from '../../generated/prisma/client.js';
import { FACTUR_X_FILE, facturXml } from './factur-x.js';
import { formatMoney, minorUnits, totalsByRate } from './money.js';
import { embedFonts, printable, type FontChain, type Weight } from './pdf-fonts.js';
import { isoDate } from './resource.js';

type InvoiceWithLines = Prisma.InvoiceGetPayload<{ include: { lines: true } }>;

/** What an invoice PDF shows: the invoice, who issues it and whom it is for. */
export type InvoiceDocumentData = {
  invoice: InvoiceWithLines;
  /** The tenant's seller profile; without one, the tenant's name stands as the seller. */
  seller: SellerProfile | null;
  tenantName: string;
  /** The contact the invoice is for, when it names one. */
  buyer: Pick<Contact, 'email' | 'phone' | 'streetAddress' | 'postalCode' | 'city' | 'country'> | null;
};

// Layout, in PDF points on A4 portrait.
const [PAGE_WIDTH, PAGE_HEIGHT] = PageSizes.A4;
const MARGIN = 50;
const RIGHT = PAGE_WIDTH - MARGIN;
const FOOTER_Y = MARGIN - 20;
/** Content stops here; below is the footer. */
const BOTTOM = MARGIN;
const SIZE = { title: 20, seller: 12, text: 10, table: 9, footer: 8 };
const LEADING = 1.35;
const GRAY = rgb(0.4, 0.4, 0.4);
const RULE = rgb(0.75, 0.75, 0.75);
const LOGO = { width: 140, height: 56 };
const COLUMN_GAP = 6;
const ROWS_BETWEEN_YIELDS = 50;
/** Where the right-hand column (bill to, totals labels) starts. */
const SECOND_COLUMN = MARGIN + 290;

type TextStyle = { weight?: Weight; size?: number; color?: ReturnType<typeof rgb> };

/** A top-to-bottom cursor over pages: each line asks for room, and a full page continues on a new one. */
class Layout {
  page!: PDFPage;
  y = 0;
  /** Drawn at the top of every further page (the table header while lines continue). */
  continuation?: () => void;

  constructor(
    private readonly pdf: PDFDocument,
    readonly fonts: FontChain,
  ) {
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

  width(text: string, style: TextStyle = {}): number {
    return this.fonts.width(printable(text), style.weight ?? 'regular', style.size ?? SIZE.text);
  }

  /** Draws on this page, or on `page`: one drawText per run of a font (see FontChain). */
  draw(text: string, x: number, y: number, style: TextStyle = {}, page = this.page): void {
    const size = style.size ?? SIZE.text;
    let left = x;
    for (const run of this.fonts.runs(printable(text), style.weight ?? 'regular')) {
      page.drawText(run.text, { x: left, y, size, font: run.font, color: style.color });
      left += run.font.widthOfTextAtSize(run.text, size);
    }
  }

  /** Right-aligned at `right`, shrunk to fit `width` when a very large amount would not. */
  drawRight(text: string, right: number, y: number, width: number, style: TextStyle = {}): void {
    const natural = style.size ?? SIZE.text;
    const size = Math.min(natural, (natural * width) / Math.max(this.width(text, { ...style, size: natural }), 1));
    this.draw(text, right - this.width(text, { ...style, size }), y, { ...style, size });
  }

  rule(y: number): void {
    this.page.drawLine({ start: { x: MARGIN, y }, end: { x: RIGHT, y }, thickness: 0.5, color: RULE });
  }

  /** Breaks text into lines no wider than `width`: at its line breaks, between words, and inside a word too long for a line. */
  wrap(text: string, width: number, style: TextStyle = {}): string[] {
    const fits = (candidate: string) => this.width(candidate, style) <= width;
    const lines: string[] = [];
    for (const paragraph of text.split(/\r\n|\r|\n/)) {
      let line = '';
      for (const word of printable(paragraph).split(' ').filter(Boolean)) {
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
          const charWidth = this.width(char, style);
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

  /** Wrapped text at `x`, `width` wide, from the next line down. */
  block(text: string, x: number, width: number, style: TextStyle = {}): void {
    const size = style.size ?? SIZE.text;
    for (const line of this.wrap(text, width, style)) this.draw(line, x, this.nextLine(size), style);
  }

  /** A heading and its paragraphs, kept together with the first line. */
  section(heading: string, paragraphs: string[]): void {
    if (!paragraphs.length) return;
    this.nextLine(SIZE.text);
    this.keep(SIZE.text, 2);
    this.draw(heading, MARGIN, this.nextLine(SIZE.text), { weight: 'bold' });
    for (const text of paragraphs) this.block(text, MARGIN, RIGHT - MARGIN);
  }
}

const capitalized = (word: string) => word.charAt(0).toUpperCase() + word.slice(1);
const present = (values: (string | null | undefined | false)[]) => values.filter((value): value is string => !!value);
const postalLine = (postalCode: string | null, city: string | null) => present([postalCode, city]).join(' ');

/** The seller block's lines under the legal name. */
function sellerLines(seller: SellerProfile): string[] {
  return present([
    ...seller.addressLines,
    postalLine(seller.postalCode, seller.city),
    present([seller.region, seller.country]).join(', '),
    seller.vatId && `VAT ID: ${seller.vatId}`,
    seller.taxId && `Tax ID: ${seller.taxId}`,
    present([seller.email, seller.phone]).join(' · '),
  ]);
}

/** Whom the invoice is for: its own customer fields, completed by its contact's. */
function buyerLines({ invoice, buyer }: InvoiceDocumentData): string[] {
  const contactAddress = buyer
    ? present([buyer.streetAddress, postalLine(buyer.postalCode, buyer.city), buyer.country]).join('\n')
    : null;
  return present([
    invoice.customerCompany,
    invoice.customerAddress ?? contactAddress,
    invoice.customerVatId && `VAT ID: ${invoice.customerVatId}`,
    buyer?.email,
    buyer?.phone,
  ]);
}

/** How to pay: the terms, the seller's bank account and the invoice's own instructions. */
function paymentLines({ invoice, seller }: InvoiceDocumentData): string[] {
  const amount = `${invoice.currency} ${formatMoney(invoice.grossTotal, invoice.currency)}`;
  return present([
    `Please pay ${amount} by ${isoDate(invoice.dueDate)} (${invoice.paymentTermsDays} days), quoting ${invoice.number}.`,
    seller?.paymentTerms,
    seller?.iban &&
      present([
        `IBAN ${seller.iban.replace(/(.{4})/g, '$1 ').trim()}`,
        seller.bic && `BIC ${seller.bic}`,
        seller.bankName,
      ]).join(' · '),
    invoice.paymentInstructions,
  ]);
}

/** Every text the document prints that comes from data: checked for printable characters before any page is drawn. */
function dataTexts(data: InvoiceDocumentData): string[] {
  const { invoice, seller, tenantName } = data;
  return present([
    seller?.legalName ?? tenantName,
    ...(seller ? sellerLines(seller) : []),
    invoice.customer,
    ...buyerLines(data),
    ...paymentLines(data),
    invoice.reference,
    invoice.note,
    ...invoice.lines.map((line) => line.description),
  ]);
}

async function embedLogo(pdf: PDFDocument, seller: SellerProfile | null): Promise<PDFImage | null> {
  if (!seller?.logo) return null;
  return seller.logoType === 'image/png' ? pdf.embedPng(seller.logo) : pdf.embedJpg(seller.logo);
}

/**
 * One or more A4 pages: seller, title, the invoice's facts and its buyer, the line table (its
 * header on every page), totals by tax rate and in all, payment, note, and page footers.
 */
export async function renderInvoicePdf(data: InvoiceDocumentData): Promise<Uint8Array<ArrayBuffer>> {
  const { invoice, seller, tenantName } = data;
  const { currency } = invoice;
  const money = (amount: Prisma.Decimal) => formatMoney(amount, currency);
  // A price keeps the places it was stored with beyond the currency's.
  const price = (amount: Prisma.Decimal) => amount.toFixed(Math.max(minorUnits(currency), amount.decimalPlaces()));

  const pdf = await PDFDocument.create();
  pdf.setTitle(`Invoice ${invoice.number}`);
  pdf.setCreator('Nilo gateway');
  const layout = new Layout(pdf, await embedFonts(pdf, dataTexts(data)));

  // The seller, with the logo at the right.
  const logo = await embedLogo(pdf, seller);
  if (logo) {
    const { width, height } = logo.scaleToFit(LOGO.width, LOGO.height);
    layout.page.drawImage(logo, { x: RIGHT - width, y: layout.y - height, width, height });
  }
  const sellerWidth = RIGHT - MARGIN - (logo ? LOGO.width + COLUMN_GAP : 0);
  layout.block(seller?.legalName ?? tenantName, MARGIN, sellerWidth, { weight: 'bold', size: SIZE.seller });
  for (const line of seller ? sellerLines(seller) : []) layout.block(line, MARGIN, sellerWidth, { color: GRAY });
  if (logo) layout.y = Math.min(layout.y, PAGE_HEIGHT - MARGIN - LOGO.height);
  layout.nextLine(SIZE.text);

  layout.draw('INVOICE', MARGIN, layout.nextLine(SIZE.title), { weight: 'bold', size: SIZE.title });
  layout.drawRight(invoice.number, RIGHT, layout.y, RIGHT - MARGIN, { weight: 'bold', size: SIZE.title - 6 });
  layout.nextLine(SIZE.text);

  // Two columns from the same height: the invoice's facts on the left, whom it is for on the right.
  const top = layout.y;
  const facts: [string, string | null][] = [
    ['Invoice number', invoice.number],
    ['Status', capitalized(invoice.status)],
    ['Issued', isoDate(invoice.issuedDate)],
    ['Due', `${isoDate(invoice.dueDate)} (${invoice.paymentTermsDays} days)`],
    ['Currency', currency],
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
  const billToWidth = RIGHT - SECOND_COLUMN;
  layout.y = top;
  layout.draw('Bill to', SECOND_COLUMN, layout.nextLine(SIZE.text), { color: GRAY });
  layout.block(invoice.customer, SECOND_COLUMN, billToWidth, { weight: 'bold' });
  for (const text of buyerLines(data)) layout.block(text, SECOND_COLUMN, billToWidth);
  if (layout.page === factsPage) layout.y = Math.min(layout.y, factsBottom);
  layout.nextLine(SIZE.text);

  // The line table; its header repeats on every page the lines continue onto.
  const columns: { label: string; width: number; value: (line: InvoiceLine) => string }[] = [
    { label: 'Qty', width: 45, value: (line) => line.quantity.toFixed() },
    { label: `Price ${currency}`, width: 66, value: (line) => price(line.price) },
    { label: 'Tax %', width: 40, value: (line) => line.taxRate.toFixed() },
    { label: `Net ${currency}`, width: 66, value: (line) => money(line.net) },
    { label: `Tax ${currency}`, width: 60, value: (line) => money(line.tax) },
    { label: `Gross ${currency}`, width: 66, value: (line) => money(line.gross) },
  ];
  const columnRight = (index: number) =>
    RIGHT - columns.slice(index + 1).reduce((total, column) => total + column.width, 0);
  const descriptionWidth = columnRight(0) - columns[0]!.width - MARGIN - COLUMN_GAP;
  const tableHeader = () => {
    const y = layout.nextLine(SIZE.table);
    const style = { weight: 'bold', size: SIZE.table } as const;
    layout.draw('Description', MARGIN, y, style);
    columns.forEach((column, index) =>
      layout.drawRight(column.label, columnRight(index), y, column.width - COLUMN_GAP, style),
    );
    layout.rule(y - 4);
    layout.y -= 4;
  };
  tableHeader();
  layout.continuation = tableHeader;
  for (const [row, line] of invoice.lines.entries()) {
    // Drawing is synchronous: a long invoice lets requests and lease renewals through now and then.
    if (row % ROWS_BETWEEN_YIELDS === ROWS_BETWEEN_YIELDS - 1) await yieldToEventLoop();
    const description = layout.wrap(line.description, descriptionWidth, { size: SIZE.table });
    // The whole row on one page.
    layout.keep(SIZE.table, description.length);
    const y = layout.nextLine(SIZE.table);
    columns.forEach((column, index) =>
      layout.drawRight(column.value(line), columnRight(index), y, column.width - COLUMN_GAP, { size: SIZE.table }),
    );
    description.forEach((text, index) =>
      layout.draw(text, MARGIN, index === 0 ? y : layout.nextLine(SIZE.table), { size: SIZE.table }),
    );
  }
  layout.continuation = undefined;
  layout.rule(layout.y - 4);
  layout.y -= 4;

  // Totals by tax rate under the last three columns, then the invoice's totals.
  const byRate = totalsByRate(invoice.lines);
  const amountColumns = [3, 4, 5] as const;
  layout.keep(SIZE.table, byRate.length + 1);
  const summaryHeader = layout.nextLine(SIZE.table);
  layout.drawRight('Tax rate', columnRight(2), summaryHeader, 120, { weight: 'bold', size: SIZE.table });
  for (const index of amountColumns)
    layout.drawRight(columns[index]!.label, columnRight(index), summaryHeader, columns[index]!.width - COLUMN_GAP, {
      weight: 'bold',
      size: SIZE.table,
    });
  for (const group of byRate) {
    const y = layout.nextLine(SIZE.table);
    layout.drawRight(`${group.rate.toFixed()} %`, columnRight(2), y, 120, { size: SIZE.table });
    [group.net, group.tax, group.gross].forEach((amount, position) => {
      const index = amountColumns[position]!;
      layout.drawRight(money(amount), columnRight(index), y, columns[index]!.width - COLUMN_GAP, { size: SIZE.table });
    });
  }
  layout.nextLine(SIZE.table);

  const totals = [
    ['Net total', invoice.netTotal, false],
    ['Tax total', invoice.taxTotal, false],
    ['Gross total', invoice.grossTotal, true],
  ] as const;
  const totalsWidth = columns[5]!.width + columns[4]!.width;
  layout.keep(SIZE.text, totals.length);
  for (const [label, amount, emphasized] of totals) {
    const y = layout.nextLine(SIZE.text);
    const style = emphasized ? ({ weight: 'bold' } as const) : { color: GRAY };
    layout.drawRight(`${label} ${currency}`, RIGHT - totalsWidth, y, 140, style);
    layout.drawRight(money(amount), RIGHT, y, totalsWidth - COLUMN_GAP, emphasized ? style : {});
  }

  layout.section('Payment', paymentLines(data));
  layout.section('Note', present([invoice.note]));

  const pages = pdf.getPages();
  const issuer = present([seller?.legalName ?? tenantName, seller?.vatId && `VAT ID ${seller.vatId}`]).join(' · ');
  pages.forEach((page, index) => {
    const style = { size: SIZE.footer, color: GRAY };
    const footer = `${invoice.number} - page ${index + 1} of ${pages.length}`;
    const footerWidth = layout.width(footer, style);
    layout.draw(footer, RIGHT - footerWidth, FOOTER_Y, style, page);
    // The issuer on the left, shrunk when a long name would reach the page number.
    const room = RIGHT - MARGIN - footerWidth - 20;
    const size = Math.min(SIZE.footer, (SIZE.footer * room) / Math.max(layout.width(issuer, style), 1));
    layout.draw(issuer, MARGIN, FOOTER_Y, { ...style, size }, page);
  });
  // An issued or paid invoice also carries itself as Factur-X XML (a draft is not an invoice yet)
  // when it has what EN 16931 requires.
  const xml = (invoice.status === 'issued' || invoice.status === 'paid') && facturXml(invoice, seller, data.buyer);
  if (xml) {
    await pdf.attach(new TextEncoder().encode(xml), FACTUR_X_FILE, {
      mimeType: 'text/xml',
      description: 'Factur-X invoice (EN 16931, BASIC profile)',
      afRelationship: AFRelationship.Alternative,
    });
  }
  // A copy typed as Prisma's Bytes wants it: pdf-lib's type does not promise an ArrayBuffer behind its array.
  return new Uint8Array(await pdf.save());
}
