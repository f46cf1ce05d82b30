import type { Scenario } from '../lib/types.js';
import { filtersFanout } from './filters-fanout.js';
import { filtersWebhooks } from './filters-webhooks.js';
import { footprint } from './footprint.js';
import { graphqlAbuse } from './graphql-abuse.js';
import { graphqlContactsCreate } from './graphql-contacts-create.js';
import { graphqlContactsList } from './graphql-contacts-list.js';
import { jobsImport } from './jobs-import.js';
import { jobsQueue } from './jobs-queue.js';
import { jobsRunImport, jobsRunNoop } from './jobs-run.js';
import { restContactsCreate } from './rest-contacts-create.js';
import { subscriptionsFanout } from './subscriptions-fanout.js';
import { webhooksDelivery } from './webhooks-delivery.js';
import { webhooksFairness } from './webhooks-fairness.js';

/**
 * Every scenario, in run order. A new one (subscription fan-out, webhook delivery, job throughput)
 * is one module exporting defineScenario({...}) plus one line here; the baseline server mounts its
 * route by id. BENCH_ONLY=<id,id> picks a subset.
 */
export const scenarios: Scenario<any>[] = [
  restContactsCreate,
  graphqlContactsCreate,
  graphqlContactsList,
  subscriptionsFanout,
  filtersFanout,
  webhooksDelivery,
  filtersWebhooks,
  webhooksFairness,
  jobsQueue,
  jobsRunNoop,
  jobsRunImport,
  jobsImport,
  graphqlAbuse,
  footprint,
];
