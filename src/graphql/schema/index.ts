import { builder } from '../builder.js';
import './viewer.js';
import './contacts.js';
import './invoices.js';
import './events.js';
import './webhooks.js';
import './jobs.js';

export const schema = builder.toSchema();
