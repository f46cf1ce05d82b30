import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import type { PrismaClient } from '../../generated/prisma/client.js';

// Files of the transfer feature (an export's NDJSON, an uploaded import) live in the database as
// numbered chunks: any gateway process can serve or read a file another one wrote, in both modes,
// and neither side ever holds more than a chunk of it. Chunks are stored gzipped: NDJSON shrinks
// five- to tenfold, and moving bytes through Prisma is what costs (about 0.1 s per MB).

/** Bytes per stored chunk, before compression. */
const CHUNK_BYTES = 1024 * 1024;

const compress = promisify(gzip);
const decompress = promisify(gunzip);

/** How long a file is kept: an export's download, or an import's upload once its job is over. */
export const FILE_RETENTION_MS = 7 * 24 * 3_600_000;

/** Appends text to a file, a chunk at a time. */
export type FileWriter = { write(data: string | Uint8Array): Promise<void>; end(): Promise<number> };

export function fileStore(prisma: PrismaClient) {
  const put = async (fileId: string, tenantId: string, seq: number, content: Uint8Array<ArrayBuffer>) => {
    const packed = await compress(content, { level: 1 });
    await prisma.transferChunk.create({ data: { fileId, seq, tenantId, content: new Uint8Array(packed) } });
  };

  return {
    put,

    /** Appends from chunk `firstSeq` on (an export keeps chunk 0 for its header, written last); end() answers the bytes written. */
    writer(fileId: string, tenantId: string, firstSeq = 1): FileWriter {
      let parts: Buffer[] = [];
      let size = 0;
      let total = 0;
      let seq = firstSeq;
      const flush = async () => {
        if (!size) return;
        const content = Buffer.concat(parts, size);
        parts = [];
        size = 0;
        await put(fileId, tenantId, seq++, new Uint8Array(content));
      };
      return {
        async write(data: string | Uint8Array) {
          const bytes =
            typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
          parts.push(bytes);
          size += bytes.length;
          total += bytes.length;
          if (size >= CHUNK_BYTES) await flush();
        },
        async end() {
          await flush();
          return total;
        },
      };
    },

    /** The file's bytes in order, one chunk read at a time. */
    async *read(fileId: string): AsyncGenerator<Uint8Array> {
      for (let after = -1; ; ) {
        const chunk = await prisma.transferChunk.findFirst({
          where: { fileId, seq: { gt: after } },
          orderBy: { seq: 'asc' },
          select: { seq: true, content: true },
        });
        if (!chunk) return;
        after = chunk.seq;
        yield new Uint8Array(await decompress(chunk.content));
      }
    },

    async exists(fileId: string, tenantId: string): Promise<boolean> {
      return Boolean(await prisma.transferChunk.findFirst({ where: { fileId, tenantId }, select: { seq: true } }));
    },

    async remove(fileId: string): Promise<void> {
      await prisma.transferChunk.deleteMany({ where: { fileId } });
    },

    /** Drops files older than FILE_RETENTION_MS (called whenever a transfer starts: no timer of its own). */
    async removeExpired(): Promise<void> {
      await prisma.transferChunk.deleteMany({ where: { createdAt: { lt: new Date(Date.now() - FILE_RETENTION_MS) } } });
    },
  };
}

export type FileStore = ReturnType<typeof fileStore>;
