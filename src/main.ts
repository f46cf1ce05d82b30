import { buildApp } from './app.js';
import { loadConfig } from './config.js';

const config = loadConfig();
const app = await buildApp(config);
const url = await app.start();

if (!config.production && app.database.kind === 'pglite' && (await app.services.admin.countTenants()) === 0) {
  await printDemoCredentials(url);
}

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    app.http.log.info({ signal }, 'shutting down');
    app.stop().then(
      () => process.exit(0),
      (err) => {
        app.http.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}

/** First start on an empty embedded data folder: a demo tenant, so the README's curl works at once. */
async function printDemoCredentials(baseUrl: string) {
  const tenant = await app.services.admin.createTenant({ name: 'Demo', features: ['accounting', 'communication'] });
  const demo = await app.services.admin.createApplication({ tenantId: tenant.tenantId, name: 'Demo app' });
  process.stdout.write(`
  Created a demo tenant (${tenant.tenantId}) and application (${demo.applicationId}).
  Its API key is shown only this once:

    ${demo.apiKey}

  Try it:
    curl ${baseUrl}/api/v1/hello -H "Authorization: Bearer ${demo.apiKey}"
  GraphiQL: open ${baseUrl}/graphql and add the header {"Authorization": "Bearer ${demo.apiKey}"}

`);
}
