// The fonts an invoice PDF is drawn with: embedded and subset, looked up glyph by glyph along a
// fallback chain, so every character prints as itself or the rendering fails naming it.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import fontkit from '@pdf-lib/fontkit';
import type { PDFDocument, PDFFont } from 'pdf-lib';
import subsetFont from 'subset-font';
import { PermanentJobError } from '../jobs/handler.js';

export type Weight = 'regular' | 'bold';
const WEIGHTS: Weight[] = ['regular', 'bold'];
type Face = ReturnType<typeof fontkit.create>;

/** A stretch of text drawn with one font. */
export type Run = { font: PDFFont; text: string };

/**
 * The chain, in order of preference: Noto Sans (Latin, Greek, Cyrillic), DejaVu Sans (symbols such
 * as ☕ and rarer Latin and Cyrillic letters), Noto Sans SC (CJK ideographs, kana). Each is a TTF
 * file of an npm package; the CJK one (10 MB a weight) is read only for an invoice that needs it.
 */
const CHAIN: Record<Weight, string>[] = [
  {
    regular: '@expo-google-fonts/noto-sans/400Regular/NotoSans_400Regular.ttf',
    bold: '@expo-google-fonts/noto-sans/700Bold/NotoSans_700Bold.ttf',
  },
  { regular: 'dejavu-fonts-ttf/ttf/DejaVuSans.ttf', bold: 'dejavu-fonts-ttf/ttf/DejaVuSans-Bold.ttf' },
  {
    regular: '@expo-google-fonts/noto-sans-sc/400Regular/NotoSansSC_400Regular.ttf',
    bold: '@expo-google-fonts/noto-sans-sc/700Bold/NotoSansSC_700Bold.ttf',
  },
];

/**
 * Scripts written right to left or shaped from context (Hebrew, Arabic, Syriac, Thaana, N'Ko, the
 * Indic scripts, Thai, Lao, Tibetan, Myanmar, Khmer, Mongolian, Arabic presentation forms): pdf-lib
 * places glyphs left to right without shaping, so they would print wrong even with a glyph.
 */
const UNSHAPED = /[\u0590-\u08FF\u0900-\u0DFF\u0E00-\u0EFF\u0F00-\u109F\u1780-\u18AF\uFB1D-\uFDFF\uFE70-\uFEFF]/u;

/** Invisible characters with nothing to draw: format controls (zero-width joiners, BOM) and variation selectors. */
const INVISIBLE = /\p{Cf}|\p{Variation_Selector}/gu;

/** What the PDF prints for `text`: other whitespace becomes a space, invisible characters go. */
export function printable(text: string): string {
  return text.replace(INVISIBLE, '').replace(/\s/g, ' ');
}

const require = createRequire(import.meta.url);
const fontFile = (path: string) => readFile(require.resolve(path));

const described = (char: string) => `"${char}" (U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')})`;

/** Every character the layout's own labels use (ASCII and Latin-1: "·", "§"): always in the first font's subset. */
const LABEL_CHARS = String.fromCharCode(...Array.from({ length: 0x7f - 0x20 }, (_, i) => 0x20 + i), 0xa0, 0xb7);

/**
 * Embeds the fonts `texts` need into `pdf`, each cut down to the characters it draws (HarfBuzz's
 * subsetter: pdf-lib's own loses glyph outlines). Fails the job, naming the characters, when any
 * cannot be printed as itself (rather than printing "?" and succeeding).
 */
export async function embedFonts(pdf: PDFDocument, texts: string[]): Promise<FontChain> {
  pdf.registerFontkit(fontkit);
  const files: Record<Weight, Uint8Array>[] = [];
  const faces: Record<Weight, Face[]> = { regular: [], bold: [] };
  const covered = (char: string) =>
    WEIGHTS.every((weight) => faces[weight].some((face) => face.hasGlyphForCodePoint(char.codePointAt(0)!)));
  const chars = [...new Set(texts.flatMap((text) => [...printable(text)]))];
  // A link of the chain is read only when the ones before it fall short; the first always is.
  let uncovered = chars;
  for (const link of CHAIN) {
    if (files.length && !uncovered.length) break;
    const [regular, bold] = await Promise.all([fontFile(link.regular), fontFile(link.bold)]);
    files.push({ regular, bold });
    faces.regular.push(fontkit.create(regular));
    faces.bold.push(fontkit.create(bold));
    uncovered = uncovered.filter((char) => !covered(char));
  }
  const refused = [...new Set([...uncovered, ...chars.filter((char) => UNSHAPED.test(char))])];
  if (refused.length) {
    throw new PermanentJobError(
      'unsupported_characters',
      `The invoice holds characters no PDF font can print: ${refused.slice(0, 20).map(described).join(', ')}${
        refused.length > 20 ? ` and ${refused.length - 20} more` : ''
      }. Supported: Latin, Greek, Cyrillic, Chinese and Japanese scripts and common symbols.`,
    );
  }
  const embedded = (weight: Weight) =>
    Promise.all(
      files.map(async (file, index) => {
        const drawn = [...chars, ...(index === 0 ? LABEL_CHARS : '')].filter(
          (char) => char === ' ' || fontFor(faces[weight], char) === index,
        );
        const subset = await subsetFont(Buffer.from(file[weight]), drawn.join(''), { targetFormat: 'truetype' });
        // Ligatures off: a reader's copy of "ff" drawn as one glyph would lose the letters.
        return pdf.embedFont(subset, { subset: false, features: { liga: false, clig: false } });
      }),
    );
  const [regular, bold] = await Promise.all([embedded('regular'), embedded('bold')]);
  return new FontChain(faces, { regular, bold });
}

/** The first font of the chain with a glyph for `char`. */
function fontFor(faces: Face[], char: string): number {
  return Math.max(
    faces.findIndex((face) => face.hasGlyphForCodePoint(char.codePointAt(0)!)),
    0,
  );
}

/** Splits text into runs of the first font of the chain that has each character. */
export class FontChain {
  constructor(
    private readonly faces: Record<Weight, Face[]>,
    private readonly fonts: Record<Weight, PDFFont[]>,
  ) {}

  /** The runs `text` is drawn as (already printable: see printable()). */
  runs(text: string, weight: Weight): Run[] {
    const runs: Run[] = [];
    for (const char of text) {
      const last = runs.at(-1);
      // A space stays in the run it follows (every subset has one), so the words of one script make one run.
      const font = char === ' ' && last ? last.font : this.fonts[weight][fontFor(this.faces[weight], char)]!;
      if (last?.font === font) last.text += char;
      else runs.push({ font, text: char });
    }
    return runs;
  }

  width(text: string, weight: Weight, size: number): number {
    return this.runs(text, weight).reduce((total, run) => total + run.font.widthOfTextAtSize(run.text, size), 0);
  }
}
