// Database admin commands (npm run db:migrate, npm run db:migration:create -- <name>):
//   tsx src/db/cli.ts migrate                    apply pending migrations to DATABASE_URL or the DATA_DIR PGlite
//   tsx src/db/cli.ts create-migration <name>    write the next migration from prisma/schema.prisma
import { loadConfig } from '../config.js';
import { openDatabase } from './database.js';
import { createMigration } from './migrate.js';

const USAGE = 'Usage: tsx src/db/cli.ts migrate | create-migration <name>';

async function main(args: string[]): Promise<void> {
  const [command, ...rest] = args;
  switch (command) {
    case 'migrate': {
      // openDatabase migrates, and refuses a PGlite folder that a running gateway holds.
      const db = await openDatabase(loadConfig(), {
        onMigrationsApplied: (names) =>
          console.log(names.length ? `Applied ${names.join(', ')}` : 'No pending migrations'),
      });
      await db.close();
      return;
    }
    case 'create-migration': {
      if (rest.length !== 1) throw new Error(USAGE);
      await createMigration(rest[0]);
      return;
    }
    default:
      throw new Error(USAGE);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
