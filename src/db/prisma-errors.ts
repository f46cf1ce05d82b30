import { Prisma } from '../generated/prisma/client.js';

type DriverAdapterMeta = {
  target?: string[] | string;
  driverAdapterError?: { cause?: { kind?: string; constraint?: { fields?: string[]; index?: string } } };
};

/**
 * A unique constraint rejected the write: Prisma's P2002, a raw query's P2010 that says so, or
 * the driver's own error (SQLSTATE 23505) for a statement run on it (Database.query).
 */
export function isUniqueViolation(error: unknown): boolean {
  if (!(error instanceof Prisma.PrismaClientKnownRequestError)) return (error as { code?: unknown })?.code === '23505';
  const cause = (error.meta as DriverAdapterMeta | undefined)?.driverAdapterError?.cause;
  return error.code === 'P2002' || (error.code === 'P2010' && cause?.kind === 'UniqueConstraintViolation');
}

/** The columns of the unique constraint a P2002 names (driver adapters report them in meta.driverAdapterError). */
export function uniqueViolationFields(error: unknown): string[] {
  if (!isUniqueViolation(error)) return [];
  const meta = (error as Prisma.PrismaClientKnownRequestError).meta as DriverAdapterMeta | undefined;
  const constraint = meta?.driverAdapterError?.cause?.constraint;
  const named = [meta?.target, constraint?.fields, constraint?.index]
    .flat()
    .filter((v): v is string => typeof v === 'string');
  return named.map((name) => name.replace(/"/g, ''));
}

/** A foreign key rejected the write (Prisma's P2003), e.g. a referenced row was deleted concurrently. */
export function isForeignKeyViolation(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2003';
}

/** The row an update or delete targets is gone (Prisma's P2025), e.g. deleted concurrently. */
export function isRecordNotFound(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2025';
}
