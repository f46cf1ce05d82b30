import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';
import { projectRoot } from '../src/db/migrate.js';
import { printedSchema, SCHEMA_FILE } from '../src/graphql/printed-schema.js';

test('schema.graphql is the schema the code builds', () => {
  expect(SCHEMA_FILE).toBe(path.join(projectRoot, 'schema.graphql'));
  const committed = readFileSync(SCHEMA_FILE, 'utf8');
  expect(committed, 'schema.graphql is stale: run `npm run schema:print` and commit the result').toBe(printedSchema());
});
