import path from 'node:path';
import { buildApp } from './app.js';
import { loadConfig, type Config } from './config.js';
import { prettyLogs } from './logging.js';

/** Replaces a lost demo key, the gateway running or not. */
const DEMO_KEY_COMMAND = 'npm run --silent admin -- demo-key';
const config = loadConfig();
const app = await buildApp(config);
// Ready (for /ready and for the people reading the start output) once the first start's tenant exists.
const started = app.start({ beforeReady: firstRun });

// Installed before the start finishes: a signal while it runs (the port already answers /health)
// stops the gateway once it has started, instead of killing it half-way.
let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    app.http.log.info({ signal }, 'shutting down');
    started
      .then(() => app.stop())
      .then(
        () => process.exit(0),
        (err) => {
          app.http.log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
  });
}
await started;

/** Says where everything is; on an empty database, creates the demo tenant (embedded development) or says how to create one. */
async function firstRun(baseUrl: string) {
  announce(baseUrl);
  const embeddedDevelopment = !config.production && app.database.kind === 'pglite';
  if ((await app.services.admin.countTenants()) > 0) {
    if (embeddedDevelopment && (await app.services.admin.hasDemo()))
      process.stdout.write(
        `  Lost the demo key? ${DEMO_KEY_COMMAND} prints a new one (the gateway keeps running).\n\n`,
      );
    return;
  }
  if (embeddedDevelopment) await printDemoCredentials(baseUrl);
  else printFirstTenantHowTo();
}

/** The mode, the database and data folder, the event bus, and the URLs: a banner on a terminal, one log line otherwise. */
function announce(baseUrl: string) {
  const database = config.databaseUrl
    ? `PostgreSQL ${withoutPassword(config.databaseUrl)}`
    : `PGlite (embedded PostgreSQL) in ${path.resolve(config.dataDir)}`;
  const events = config.redisUrl
    ? `Redis ${withoutPassword(config.redisUrl)}`
    : 'in-process (one gateway; set REDIS_URL to run several)';
  const urls = {
    graphiql: `${baseUrl}/graphql`,
    docs: `${baseUrl}/docs`,
    openapi: `${baseUrl}/openapi.json`,
    metrics: `${baseUrl}/metrics`,
  };
  if (!prettyLogs(config)) {
    app.http.log.info({ mode: mode(config), database, events, ...urls }, `Nilo gateway ready at ${baseUrl}`);
    return;
  }
  process.stdout.write(`
  Nilo gateway ready at ${baseUrl}

    Database   ${database}
    Events     ${events}
    GraphiQL   ${urls.graphiql}
    REST docs  ${urls.docs}
    OpenAPI    ${urls.openapi}
    Metrics    ${urls.metrics}

`);
}

function mode(config: Config): string {
  return `${config.databaseUrl ? 'postgresql' : 'pglite'}+${config.redisUrl ? 'redis' : 'in-process'}`;
}

/** A connection URL as it may be printed: the password left out. */
function withoutPassword(text: string): string {
  const url = new URL(text);
  url.password = '';
  return url.toString();
}

/** First start on an empty embedded data folder: a demo tenant, so the README's curl works at once. */
async function printDemoCredentials(baseUrl: string) {
  const demo = await app.services.admin.createDemo();
  process.stdout.write(`
  Created a demo tenant (${demo.tenantId}) and application (${demo.applicationId}).
  Its API key is shown only this once:

    ${demo.apiKey}

  Try it:
    curl ${baseUrl}/api/v1/hello -H "Authorization: Bearer ${demo.apiKey}"
  GraphiQL: open ${baseUrl}/graphql and add the header {"Authorization": "Bearer ${demo.apiKey}"}
  Lost the key? ${DEMO_KEY_COMMAND} prints a new one, the gateway running or not.

`);
}

/** First start on an empty PostgreSQL database (or a production data folder): no demo tenant, so how to create the first. */
function printFirstTenantHowTo() {
  const steps = [
    'npm run --silent admin -- create-tenant --name Acme --features accounting,communication',
    'npm run --silent admin -- create-app --tenant ten_… --name "My app"   # prints the API key once',
  ];
  if (!prettyLogs(config)) {
    app.http.log.warn(
      { steps, inContainer: 'node dist/cli/admin.js create-tenant …' },
      'The database has no tenant yet: create the first with the admin CLI',
    );
    return;
  }
  process.stdout.write(`
  The database has no tenant yet. Create the first with the admin CLI (same DATABASE_URL):

    ${steps.join('\n    ')}

  (In the container image: node dist/cli/admin.js create-tenant …)

`);
}
