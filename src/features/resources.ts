import { z } from 'zod';
import { INVOICE_STATUSES } from './invoices/service.js';
import { JOB_STATUSES } from './jobs/job.js';

// The resources as REST answers them, webhooks carry them and events store them in `data`
// (contactResource, invoiceResource, jobResource build them). One definition for the event-type
// catalog's JSON Schemas and the REST response schemas (src/features/*/rest.ts give them component names
// with `.meta({ id })`). Strict: a field the builders add and these do not list fails the tests.

const text = z.string().nullable();
const timestamp = z.iso.datetime();
const jsonObject = z.record(z.string(), z.unknown());

export const ContactResource = z.strictObject({
  contactId: z.string().describe('contact_ followed by a ULID'),
  email: text,
  fullName: text.describe('firstName and lastName joined'),
  firstName: text,
  lastName: text,
  phone: text,
  company: text,
  streetAddress: text,
  city: text,
  state: text,
  postalCode: text,
  country: text,
  tag: text,
  preferredLanguage: text.describe('Lower-case language tag, e.g. en-us'),
  formality: text,
  preferredTone: text,
  salutation: text,
  addressingNotes: text,
  note: text,
  customData: jsonObject.nullable().describe("The application's own JSON object, returned unchanged"),
  externalId: text.describe("The contact's id in the application's own system, unique per tenant"),
  createdAt: timestamp,
  updatedAt: timestamp,
});

const amount = z
  .number()
  .describe(
    'A decimal amount with at most 2 decimal places (line amounts rounded half-up to cents; totals are their sums)',
  );
const lineInput = z.number().describe('At most 4 decimal places');

export const InvoiceLineResource = z.strictObject({
  description: z.string(),
  quantity: lineInput,
  price: lineInput,
  taxRate: lineInput.describe('Percent, at most 4 decimal places, e.g. 8.5'),
  net: amount,
  tax: amount,
  gross: amount,
});

export const InvoiceResource = z.strictObject({
  invoiceId: z.string().describe('inv_ followed by a ULID'),
  invoiceNumber: z.string().describe('INV-<year>-<5 digits>, gapless per tenant and year'),
  status: z.enum(INVOICE_STATUSES),
  customer: z.string(),
  customerContactId: text,
  customerCompany: text,
  customerAddress: text,
  customerVatId: text,
  reference: text,
  paymentInstructions: text,
  note: text,
  issuedDate: z.iso.date(),
  paymentTermsDays: z.int(),
  dueDate: z.iso.date(),
  items: z.array(InvoiceLineResource),
  netTotal: amount,
  taxTotal: amount,
  grossTotal: amount,
  applicationId: z.string().describe('The application that created the invoice'),
  applicationName: z.string(),
  createdAt: timestamp,
  updatedAt: timestamp,
  issuedAt: timestamp.nullable(),
  paidAt: timestamp.nullable(),
  voidedAt: timestamp.nullable(),
});

export const JobResource = z.strictObject({
  jobId: z.string().describe('job_ followed by a ULID'),
  status: z.enum(JOB_STATUSES),
  resourceType: z.string().describe("The job type, e.g. contacts.import, invoices.pdf, or a runner's type"),
  pollPath: z.string().describe('GET it to follow the job'),
  progress: z.strictObject({ completed: z.int().nullable(), total: z.int().nullable(), message: text }),
  result: jsonObject.nullable().describe('What the job produced, once it succeeded'),
  error: z.strictObject({ code: z.string(), message: z.string() }).nullable().describe('Why the last attempt failed'),
  attempts: z.int(),
  maxAttempts: z.int(),
  applicationId: text,
  runnerId: text.describe("The runner holding or having run it; null for the gateway's own workers"),
  createdAt: timestamp,
  updatedAt: timestamp,
  startedAt: timestamp.nullable(),
  finishedAt: timestamp.nullable(),
});
