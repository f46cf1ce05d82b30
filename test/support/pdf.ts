import { getDocument } from 'pdfjs-dist/legacy/build/pdf.mjs';
import type { TextItem } from 'pdfjs-dist/types/src/display/api.js';

/**
 * The lines of text each page of a PDF shows, top to bottom, each line's pieces left to right
 * joined by a space: extracted by Mozilla's PDF reader through the fonts' ToUnicode maps, so what
 * a reader's copy and search see (a glyph drawn without its character would not come out).
 */
export async function pdfPages(bytes: Uint8Array): Promise<string[][]> {
  const document = await getDocument({ data: new Uint8Array(bytes), isEvalSupported: false, disableFontFace: true })
    .promise;
  try {
    const pages: string[][] = [];
    for (let number = 1; number <= document.numPages; number++) {
      const content = await (await document.getPage(number)).getTextContent();
      const baselines = new Map<number, { x: number; text: string }[]>();
      for (const item of content.items) {
        if (!('str' in item) || !(item as TextItem).str.trim()) continue;
        const { str, transform } = item as TextItem;
        const y = Math.round(transform[5] as number);
        baselines.set(y, [...(baselines.get(y) ?? []), { x: transform[4] as number, text: str.trim() }]);
      }
      pages.push(
        [...baselines]
          .sort(([a], [b]) => b - a)
          .map(([, pieces]) =>
            pieces
              .sort((a, b) => a.x - b.x)
              .map((piece) => piece.text)
              .join(' '),
          ),
      );
    }
    return pages;
  } finally {
    await document.destroy();
  }
}

/** The files a PDF carries (its EmbeddedFiles), by name. */
export async function pdfAttachments(bytes: Uint8Array): Promise<Record<string, Uint8Array>> {
  const document = await getDocument({ data: new Uint8Array(bytes), isEvalSupported: false, disableFontFace: true })
    .promise;
  try {
    const attachments = ((await document.getAttachments()) ?? {}) as Record<string, { content: Uint8Array }>;
    return Object.fromEntries(Object.entries(attachments).map(([name, file]) => [name, file.content]));
  } finally {
    await document.destroy();
  }
}
