import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { Prisma, type Contact, type Job, type PrismaClient } from '../../generated/prisma/client.js';
import { requireFeature, type AuthContext } from '../../auth/context.js';
import {
  changeEvent,
  contactColumns,
  CONTACTS_FEATURE,
  CreateContactInput,
  duplicateContact,
  newContact,
  toColumns,
  type ParsedContact,
} from './service.js';
import { contactResource } from './resource.js';
import { contactsMatching, insertContacts } from './sql.js';
import type { FieldError } from '../../core/errors.js';
import { recordEvents, writeWithEvents, type NewEvent } from '../events/service.js';
import type { JobState } from '../jobs/job.js';
import type { JobService, Progress } from '../jobs/service.js';
import { CONTACTS_IMPORT_JOB } from './import-job.js';
import { isUniqueViolation } from '../../db/prisma-errors.js';
import { fieldErrors, parseInput } from '../../core/validation.js';

export const IMPORT_MAX_CONTACTS = 100_000;
/** Rows written per transaction; progress is reported after each. */
const CHUNK = 500;

export const ImportContactsInput = z.strictObject({
  contacts: z
    .array(z.unknown())
    .min(1, 'must contain at least one contact')
    .max(IMPORT_MAX_CONTACTS, `may contain at most ${IMPORT_MAX_CONTACTS} contacts; split larger imports`),
});

export type ImportResult = {
  created: number;
  updated: number;
  unchanged: number;
  failed: number;
  errors: { index: number; field: string; message: string }[];
};

type Writer = Pick<AuthContext, 'tenantId' | 'correlationId'>;
type Row = { index: number; data: ParsedContact };

/**
 * contacts.import: upserts many contacts, matching by externalId when given, then by email. A
 * bad row is reported (index, field, message) and never stops the others; a row equal to what is
 * stored changes nothing, so running an import again is harmless.
 */
export function contactImportService(prisma: PrismaClient, jobs: JobService) {
  return {
    /** Checks the envelope and queues the job; rows are checked when it runs. */
    start(auth: AuthContext, input: unknown): Promise<JobState> {
      requireFeature(auth, CONTACTS_FEATURE);
      const { contacts } = parseInput(ImportContactsInput, input);
      return jobs.enqueue(auth, {
        resourceType: CONTACTS_IMPORT_JOB,
        input: { contacts } as Prisma.InputJsonObject,
        progress: { total: contacts.length, message: rowsDone(0, contacts.length) },
      });
    },

    /**
     * Runs the import. `progress` records, inside a chunk's transaction, how many rows are done,
     * and returns its event: a chunk's rows and the progress that counts them commit together.
     */
    async run(
      job: Job,
      progress: (tx: Prisma.TransactionClient, progress: Progress) => Promise<NewEvent>,
    ): Promise<ImportResult> {
      const writer: Writer = { tenantId: job.tenantId, correlationId: job.correlationId };
      const rows = (job.input as { contacts: unknown[] }).contacts;
      const result: ImportResult = { created: 0, updated: 0, unchanged: 0, failed: 0, errors: [] };
      for (let start = 0; start < rows.length; start += CHUNK) {
        const valid: Row[] = [];
        rows.slice(start, start + CHUNK).forEach((row, offset) => {
          const parsed = CreateContactInput.safeParse(row);
          if (parsed.success) valid.push({ index: start + offset, data: parsed.data });
          else reject(result, start + offset, fieldErrors(parsed.error));
        });
        const done = Math.min(start + CHUNK, rows.length);
        const step = (tx: Prisma.TransactionClient) =>
          progress(tx, { completed: done, total: rows.length, message: rowsDone(done, rows.length) });
        try {
          await prisma.$transaction((tx) => upsertChunk(tx, writer, valid, result, step));
        } catch (error) {
          if (!isUniqueViolation(error)) throw error;
          // A concurrent writer took an email or externalId: row by row, so only that row fails.
          for (const row of valid) {
            await prisma
              .$transaction((tx) => upsertChunk(tx, writer, [row], result))
              .catch((rowError) => {
                if (!isUniqueViolation(rowError)) throw rowError;
                reject(result, row.index, duplicateContact(rowError).errors!);
              });
          }
          await prisma.$transaction(async (tx) => recordEvents(tx, writer, [await step(tx)]));
        }
        // Embedded PGlite answers without I/O: without this, a long import would keep HTTP waiting.
        await new Promise((resolve) => setImmediate(resolve));
      }
      return result;
    },
  };
}

export type ContactImportService = ReturnType<typeof contactImportService>;

const rowsDone = (completed: number, total: number) => `${completed} of ${total} rows`;

function reject(result: ImportResult, index: number, errors: FieldError[]): void {
  result.failed++;
  for (const error of errors) result.errors.push({ index, field: error.path, message: error.message });
}

/**
 * Writes one chunk: updates of what differs, then creates and every event (one statement), with the
 * job's progress (`step`, first: it takes the job's row before the events take the tenant's). Counts
 * into `result` only once all of it is written.
 */
async function upsertChunk(
  tx: Prisma.TransactionClient,
  writer: Writer,
  rows: Row[],
  result: ImportResult,
  step?: (tx: Prisma.TransactionClient) => Promise<NewEvent>,
): Promise<void> {
  const progressed = step ? [await step(tx)] : [];
  const externalIds = rows.map((r) => r.data.externalId).filter((v): v is string => Boolean(v));
  const emails = rows.map((r) => r.data.email?.toLowerCase()).filter((v): v is string => Boolean(v));
  const existing = await tx.$queryRaw<Contact[]>(contactsMatching(writer.tenantId, externalIds, emails));
  type Known = { stored?: Contact; pending?: Contact };
  const byExternalId = new Map<string, Known>();
  const byEmail = new Map<string, Known>();
  const remember = (known: Known, externalId?: string | null, email?: string | null) => {
    if (externalId) byExternalId.set(externalId, known);
    if (email) byEmail.set(email, known);
  };
  for (const contact of existing) remember({ stored: contact }, contact.externalId, contact.emailNormalized);

  const counts = { created: 0, updated: 0, unchanged: 0, failed: 0 };
  const errors: ImportResult['errors'] = [];
  const creates: Contact[] = [];
  const now = new Date();
  const updated = new Map<string, Contact>();
  for (const { index, data } of rows) {
    const byId = data.externalId ? byExternalId.get(data.externalId) : undefined;
    const byMail = data.email ? byEmail.get(data.email.toLowerCase()) : undefined;
    const otherExternalId = byMail && (byMail.stored?.externalId ?? byMail.pending?.externalId);
    if (!byId && data.externalId && otherExternalId && otherExternalId !== data.externalId) {
      counts.failed++;
      errors.push({ index, field: 'email', message: 'belongs to a contact with another externalId' });
      continue;
    }
    const match = byId ?? byMail;
    const columns = toColumns(data);
    if (!match) {
      const pending = newContact(writer.tenantId, data, now);
      creates.push(pending);
      remember({ pending }, pending.externalId, pending.emailNormalized);
      counts.created++;
    } else if (match.pending) {
      // A later row about a contact this import creates: it wins, and the contact counts once.
      Object.assign(match.pending, contactColumns(data));
      remember(match, match.pending.externalId, match.pending.emailNormalized);
    } else if (changes(match.stored!, columns)) {
      const contact = await tx.contact.update({ where: { id: match.stored!.id }, data: columns });
      if (!updated.has(contact.id)) counts.updated++;
      updated.set(contact.id, contact);
      match.stored = contact;
      remember(match, contact.externalId, contact.emailNormalized);
    } else {
      counts.unchanged++;
    }
  }
  const events = [
    ...creates.map((c) => changeEvent('communication.contact.created', c)),
    ...[...updated.values()].map((c) => changeEvent('communication.contact.updated', c)),
    ...progressed,
  ];
  // The new rows and every event in one statement; the rows are as built (newContact).
  if (creates.length) await writeWithEvents(tx, writer, insertContacts(creates), events);
  else await recordEvents(tx, writer, events);
  result.created += counts.created;
  result.updated += counts.updated;
  result.unchanged += counts.unchanged;
  result.failed += counts.failed;
  result.errors.push(...errors);
}

/** Whether writing `columns` would change the stored contact. */
function changes(stored: Contact, columns: Prisma.ContactUncheckedUpdateInput): boolean {
  const current = contactResource(stored) as Record<string, unknown>;
  return Object.entries(columns).some(([key, value]) => {
    if (key === 'emailNormalized') return false;
    const before = key === 'customData' ? current.customData : (stored as Record<string, unknown>)[key];
    const after = value === Prisma.DbNull ? null : value;
    return !isDeepStrictEqual(before ?? null, after ?? null);
  });
}
