import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';

/** Counts the SQL statements the driver runs in this process (PGlite or node-postgres) until stopped. */
export function recordSql() {
  const statements: string[] = [];
  const proto: any = process.env.DATABASE_URL ? pg.Client.prototype : PGlite.prototype;
  const original = proto.query;
  proto.query = function (this: unknown, ...args: any[]) {
    statements.push(typeof args[0] === 'string' ? args[0] : String(args[0]?.text));
    return original.apply(this, args);
  };
  return { statements, stop: () => void (proto.query = original) };
}

/** The tables each statement reads, in order. */
export function tablesRead(statements: string[]): string[] {
  return statements.flatMap((sql) => [...sql.matchAll(/FROM "(?:public"\.")?(\w+)"/g)].map((m) => m[1]!));
}
