import { builder } from './builder.js';
import '../features/viewer/graphql.js';
import '../features/contacts/graphql.js';
import '../features/invoices/graphql.js';
import '../features/events/graphql.js';
import '../features/event-types/graphql.js';
import '../features/webhooks/graphql.js';
import '../features/jobs/graphql.js';

export const schema = builder.toSchema();
