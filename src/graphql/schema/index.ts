import { builder } from '../builder.js';
import './viewer.js';
import './contacts.js';
import './invoices.js';

export const schema = builder.toSchema();
