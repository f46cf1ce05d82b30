// Where the migrations live, without loading the migration engine: enough to tell whether a
// database is current, which is all most starts (and every admin CLI call) need to know.
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder holding package.json: paths must not depend on the cwd of tests or the CLI. */
export const projectRoot = findProjectRoot(path.dirname(fileURLToPath(import.meta.url)));

export const DEFAULT_MIGRATIONS_DIR = 'prisma/migrations';

/** The migration folder names of `migrationsDir` (relative to the project root), in order. */
export async function migrationFolders(migrationsDir = DEFAULT_MIGRATIONS_DIR): Promise<string[]> {
  const entries = await readdir(path.resolve(projectRoot, migrationsDir), { withFileTypes: true }).catch(
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [];
      throw error;
    },
  );
  return entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

/**
 * Whether the database has finished every migration of the folder, asked with one query on
 * Prisma's `_prisma_migrations` table (`query` answers its rows). A missing table, a failed or
 * unfinished migration all count as behind: the engine then runs and applies or reports them.
 */
export async function migrationsCurrent(
  query: (sql: string) => Promise<{ migration_name: string }[]>,
): Promise<boolean> {
  const [folders, applied] = await Promise.all([
    migrationFolders(),
    query(
      'SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL',
    ).catch(() => null),
  ]);
  if (!applied) return false;
  const names = new Set(applied.map((row) => row.migration_name));
  return folders.every((folder) => names.has(folder));
}

function findProjectRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`No package.json above ${start}`);
  }
}
