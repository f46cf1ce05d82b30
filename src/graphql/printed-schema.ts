import path from 'node:path';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { projectRoot } from '../db/migration-folders.js';
import { schema } from './schema.js';

/** schema.graphql at the project root: printed from the Pothos schema, checked by a test. */
export const SCHEMA_FILE = path.join(projectRoot, 'schema.graphql');

export function printedSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
