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
import { contactsMatching, insertContacts, insertNewContactsWithProgress } from './sql.js';
import type { FieldError } from '../../core/errors.js';
import { eventsWithChange, recordEvents, writeWithEvents, type NewEvent } from '../events/service.js';
import type { Query } from '../../db/database.js';
import type { JobContext } from '../jobs/handler.js';
import type { JobState } from '../jobs/job.js';
import type { JobService, Progress } from '../jobs/service.js';
import { CONTACTS_IMPORT_JOB } from './import-job.js';
import { isUniqueViolation } from '../../db/prisma-errors.js';
import { fieldErrors, parseInput } from '../../core/validation.js';

export const IMPORT_MAX_CONTACTS = 100_000;
/** Rows written per statement (or transaction); progress is reported after each. */
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
type Counts = Omit<ImportResult, 'errors'>;
/** What the job's handler gives the import to report its progress with (see JobContext). */
type Reports = Pick<JobContext<unknown>, 'progressWithin' | 'progressUpdate' | 'stopped'>;

/** What a chunk's rows come to against the stored contacts they match and each other. */
type Plan = {
  counts: Counts;
  errors: ImportResult['errors'];
  creates: Contact[];
  /** The stored contacts that change, with the columns to write to each. */
  updates: Map<string, Prisma.ContactUncheckedUpdateInput>;
};

/**
 * A chunk checked and planned as if none of its rows matched a stored contact, ahead of its
 * turn: its bad rows, its valid ones, and (`statement`) all of it in one statement with its events
 * and the job's progress, which writes nothing if a row does match one.
 */
type Chunk = { rejected: ImportResult; valid: Row[]; progress: Progress; plan: Plan; statement: Prisma.Sql };

/**
 * contacts.import: upserts many contacts, matching by externalId when given, then by email. A
 * bad row is reported (index, field, message) and never stops the others; a row equal to what is
 * stored changes nothing, so running an import again is harmless. `query` runs a chunk of new
 * rows on the driver: Prisma would re-serialize its JSON parameters.
 */
export function contactImportService(prisma: PrismaClient, query: Query, jobs: JobService) {
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
     * Runs the import, a chunk at a time; each chunk's rows commit with the job's progress that
     * counts them. A chunk of new rows is one statement (the next chunk is planned meanwhile);
     * a chunk that updates stored contacts is a transaction.
     */
    async run(job: Job, reports: Reports): Promise<ImportResult> {
      const writer: Writer = { tenantId: job.tenantId, correlationId: job.correlationId };
      const rows = (job.input as { contacts: unknown[] }).contacts;
      const result: ImportResult = { created: 0, updated: 0, unchanged: 0, failed: 0, errors: [] };

      const prepare = (start: number): Chunk => {
        const rejected: ImportResult = { created: 0, updated: 0, unchanged: 0, failed: 0, errors: [] };
        const valid: Row[] = [];
        rows.slice(start, start + CHUNK).forEach((row, offset) => {
          const parsed = CreateContactInput.safeParse(row);
          if (parsed.success) valid.push({ index: start + offset, data: parsed.data });
          else reject(rejected, start + offset, fieldErrors(parsed.error));
        });
        const done = Math.min(start + CHUNK, rows.length);
        const progress = { completed: done, total: rows.length, message: rowsDone(done, rows.length) };
        const plan = planChunk(writer, valid, [], new Date());
        const events = plan.creates.map((c) => changeEvent('communication.contact.created', c));
        const statement = insertNewContactsWithProgress(
          writer.tenantId,
          plan.creates,
          (onlyIf) => reports.progressUpdate(progress, onlyIf),
          eventsWithChange(writer, events),
        );
        return { rejected, valid, progress, plan, statement };
      };

      /** Writes a chunk planned as new in one statement; false (nothing written) when a row matches a stored contact. */
      const writeNew = async (chunk: Chunk): Promise<boolean> => {
        const [answer] = await query<{ matched: number; changed: number }>(chunk.statement);
        if (answer!.matched) return false;
        if (!answer!.changed) await reports.stopped();
        return true;
      };

      /** Whether every chunk so far was all new: then the next one is tried as new too. */
      let allNew = true;
      let next = prepare(0);
      for (let start = 0; start < rows.length; start += CHUNK) {
        const chunk = next;
        add(result, chunk.rejected);
        const step = (tx: Prisma.TransactionClient) => reports.progressWithin(tx, chunk.progress);
        const more = start + CHUNK < rows.length;
        try {
          // While the database writes this chunk, the next one is checked and planned.
          const [written] = await Promise.all([
            allNew && writeNew(chunk),
            more && nextTurn().then(() => (next = prepare(start + CHUNK))),
          ]);
          if (written) add(result, { ...chunk.plan.counts, errors: chunk.plan.errors });
          else {
            allNew = false;
            await prisma.$transaction((tx) => upsertChunk(tx, writer, chunk.valid, result, step));
          }
        } catch (error) {
          if (!isUniqueViolation(error)) throw error;
          // A concurrent writer took an email or externalId: row by row, so only that row fails.
          for (const row of chunk.valid) {
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
        if (!more) await nextTurn();
      }
      return result;
    },
  };
}

export type ContactImportService = ReturnType<typeof contactImportService>;

const rowsDone = (completed: number, total: number) => `${completed} of ${total} rows`;

/** After the I/O that is due (a statement just sent) and what else waits to run. */
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

function reject(result: ImportResult, index: number, errors: FieldError[]): void {
  result.failed++;
  for (const error of errors) result.errors.push({ index, field: error.path, message: error.message });
}

function add(result: ImportResult, more: ImportResult): void {
  result.created += more.created;
  result.updated += more.updated;
  result.unchanged += more.unchanged;
  result.failed += more.failed;
  result.errors.push(...more.errors);
}

/**
 * Writes one chunk in the caller's transaction: the job's progress (`step`, first: it takes the
 * job's row before the events take the tenant's), the updates of what differs, then the creates
 * and every event (one statement). Counts into `result` only once all of it is written.
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
  const plan = planChunk(writer, rows, existing, new Date());
  const updated: Contact[] = [];
  for (const [id, data] of plan.updates) updated.push(await tx.contact.update({ where: { id }, data }));
  const events = [
    ...plan.creates.map((c) => changeEvent('communication.contact.created', c)),
    ...updated.map((c) => changeEvent('communication.contact.updated', c)),
    ...progressed,
  ];
  // The new rows and every event in one statement; the rows are as built (newContact).
  if (plan.creates.length) await writeWithEvents(tx, writer, insertContacts(plan.creates), events);
  else await recordEvents(tx, writer, events);
  add(result, { ...plan.counts, errors: plan.errors });
}

/**
 * Matches a chunk's rows against the stored contacts they may match (`existing`) and each other:
 * a row matches by externalId, else by email; a later row about the same contact applies over
 * the earlier one, and the contact counts once.
 */
function planChunk(writer: Writer, rows: Row[], existing: Contact[], now: Date): Plan {
  type Known = { stored?: Contact; pending?: Contact };
  const byExternalId = new Map<string, Known>();
  const byEmail = new Map<string, Known>();
  const remember = (known: Known, externalId?: string | null, email?: string | null) => {
    if (externalId) byExternalId.set(externalId, known);
    if (email) byEmail.set(email, known);
  };
  for (const contact of existing) remember({ stored: contact }, contact.externalId, contact.emailNormalized);

  const plan: Plan = {
    counts: { created: 0, updated: 0, unchanged: 0, failed: 0 },
    errors: [],
    creates: [],
    updates: new Map(),
  };
  for (const { index, data } of rows) {
    const byId = data.externalId ? byExternalId.get(data.externalId) : undefined;
    const byMail = data.email ? byEmail.get(data.email.toLowerCase()) : undefined;
    const otherExternalId = byMail && (byMail.stored?.externalId ?? byMail.pending?.externalId);
    if (!byId && data.externalId && otherExternalId && otherExternalId !== data.externalId) {
      plan.counts.failed++;
      plan.errors.push({ index, field: 'email', message: 'belongs to a contact with another externalId' });
      continue;
    }
    const match = byId ?? byMail;
    if (!match) {
      const pending = newContact(writer.tenantId, data, now);
      plan.creates.push(pending);
      remember({ pending }, pending.externalId, pending.emailNormalized);
      plan.counts.created++;
    } else if (match.pending) {
      // A later row about a contact this import creates: it wins, and the contact counts once.
      Object.assign(match.pending, contactColumns(data));
      remember(match, match.pending.externalId, match.pending.emailNormalized);
    } else {
      const columns = toColumns(data);
      const stored = match.stored!;
      if (!changes(stored, columns)) {
        plan.counts.unchanged++;
        continue;
      }
      if (!plan.updates.has(stored.id)) plan.counts.updated++;
      // A later row that matches the contact again compares with, and writes over, this one.
      plan.updates.set(stored.id, { ...plan.updates.get(stored.id), ...columns });
      match.stored = { ...stored, ...contactColumns(data) } as Contact;
      remember(match, match.stored.externalId, match.stored.emailNormalized);
    }
  }
  return plan;
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
