import { Prisma } from '../generated/prisma/client.js';

/** A unique constraint rejected the write (Prisma's P2002). */
export function isUniqueViolation(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002';
}

/** A foreign key rejected the write (Prisma's P2003), e.g. a referenced row was deleted concurrently. */
export function isForeignKeyViolation(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2003';
}

/** The row an update or delete targets is gone (Prisma's P2025), e.g. deleted concurrently. */
export function isRecordNotFound(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2025';
}
