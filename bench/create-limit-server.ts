// The limit of the create path: a bare node:http + pg server doing exactly the work the gateway's
// idempotent create must do, on the gateway's own tables, the best way we could write it. Per
// request: the API key (active, its tenant has `communication`), the Idempotency-Key (replay,
// reuse with another body → 409), the contact insert (a duplicate email → 409, stored like any
// answer), the tenant's event counter and the `communication.contact.created` event. All of it is
// one statement, and concurrent requests with the same API key share that statement (group
// commit): the tenant's counter row is locked once per batch, not once per request.
//
// Routes: POST /contacts (REST: 201 + the contact) and POST /graphql (the body's
// `variables.input`; the query text is not parsed: a bare server has no schema to run it
// against). Env: PORT, DATABASE_URL, BENCH_POOL_SIZE (10, the gateway's),
// BENCH_CREATE_GROUP (default on; `0`: one statement per request, no batching),
// BENCH_CREATE_WRITERS (1: statements in flight per API key).
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import pg from 'pg';
import { serveUntilSignalled } from './lib/http.js';

const port = Number(process.env.PORT ?? 0);
const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) throw new Error('DATABASE_URL is required');
const grouped = process.env.BENCH_CREATE_GROUP !== '0';
const writersPerKey = Math.max(1, Number(process.env.BENCH_CREATE_WRITERS ?? 1));
/** The gateway's IDEMPOTENCY_TTL default: 24 h. */
const TTL_MS = 24 * 3600_000;
const MAX_BATCH = 500;

const pool = new pg.Pool({ connectionString: databaseUrl, max: Number(process.env.BENCH_POOL_SIZE ?? 10) });

/** The contact as the gateway answers it (every field, nulls included), so rows and events are as large. */
type ContactBody = Record<string, unknown> & { contactId: string };
type Route = 'rest' | 'graphql';
type Answer = { status: number; headers: Record<string, string>; body: string };

type Pending = {
  key: string | null;
  requestHash: string;
  contact: ContactBody;
  row: { email: string | null; firstName: string | null; lastName: string | null; customData: unknown };
  eventId: string;
  correlationId: string;
  /** What this request answers when its contact is created, and when its email is taken. */
  created: Answer;
  taken: Answer;
  route: Route;
  settle: (answer: Answer) => void;
};

/**
 * One statement for a batch of one API key's creates. `prior`: live idempotency records of the
 * batch's keys (replays and reuse); `fresh`: the others, inserted (ON CONFLICT DO NOTHING: a taken
 * email skips its row); `claimed`: their records, storing the answer each gets (201 or 409), or
 * taking over a lapsed record. A record another transaction claimed in the meantime makes
 * `lost` true, and abort() rolls the whole statement back (the batch is then retried one by one,
 * each seeing that record). The counter is bumped by the rows written and their events numbered
 * from it, so tenantSequence stays gapless and in commit order.
 */
const BATCH_STATEMENT = `
WITH input AS (
  SELECT * FROM jsonb_to_recordset($2::jsonb) AS i(
    n int, key text, "requestHash" text, id text, email text, "firstName" text, "lastName" text, "customData" jsonb,
    "eventId" text, "correlationId" text, contact jsonb, created jsonb, taken jsonb)
),
caller AS (
  SELECT k."applicationId", k."tenantId" FROM "ApiKey" k JOIN "Tenant" t ON t."id" = k."tenantId"
  WHERE k."hash" = $1 AND k."status" = 'active' AND 'communication' = ANY(t."features")
),
prior AS (
  SELECT i.n, r."requestHash", r."state", r."statusCode", r."headers", r."body"
  FROM input i JOIN caller c ON TRUE
  JOIN "IdempotencyRecord" r ON r."applicationId" = c."applicationId" AND r."key" = i.key AND r."expiresAt" > $3
),
fresh AS (
  SELECT i.*, c."applicationId", c."tenantId" FROM input i JOIN caller c ON TRUE
  WHERE NOT EXISTS (SELECT FROM prior p WHERE p.n = i.n)
),
written AS (
  INSERT INTO "Contact" ("id", "tenantId", "email", "emailNormalized", "firstName", "lastName", "customData", "createdAt", "updatedAt")
  SELECT id, "tenantId", email, lower(email), "firstName", "lastName", "customData", (contact->>'createdAt')::timestamptz, (contact->>'createdAt')::timestamptz
  FROM fresh ORDER BY n
  ON CONFLICT DO NOTHING
  RETURNING "id"
),
outcome AS (
  SELECT f.*, w.id IS NOT NULL AS "isCreated" FROM fresh f LEFT JOIN written w ON w.id = f.id
),
claimed AS (
  INSERT INTO "IdempotencyRecord" ("applicationId", "key", "requestHash", "state", "statusCode", "headers", "body", "createdAt", "expiresAt")
  SELECT "applicationId", key, "requestHash", 'completed', a."status", a."headers", a."body", $3, $4
  FROM outcome o, jsonb_to_record(CASE WHEN o."isCreated" THEN o.created ELSE o.taken END) AS a(status int, headers jsonb, body text)
  WHERE key IS NOT NULL
  ON CONFLICT ("applicationId", "key") DO UPDATE
    SET "requestHash" = EXCLUDED."requestHash", "state" = EXCLUDED."state", "statusCode" = EXCLUDED."statusCode",
        "headers" = EXCLUDED."headers", "body" = EXCLUDED."body", "createdAt" = EXCLUDED."createdAt", "expiresAt" = EXCLUDED."expiresAt"
    WHERE "IdempotencyRecord"."expiresAt" <= $3
  RETURNING "key"
),
next AS (
  UPDATE "Tenant" SET "eventSequence" = "eventSequence" + (SELECT count(*) FROM written)
  WHERE "id" = (SELECT "tenantId" FROM caller) AND EXISTS (SELECT FROM written)
  RETURNING "eventSequence", (SELECT count(*) FROM written) AS added
),
appended AS (
  INSERT INTO "Event" ("id", "tenantId", "tenantSequence", "type", "occurredAt", "correlationId", "resourceType", "resourceId", "data")
  SELECT o."eventId", o."tenantId", next."eventSequence" - next.added + row_number() OVER (ORDER BY o.n),
         'communication.contact.created', $3, o."correlationId", 'contact', o.id, o.contact
  FROM next, outcome o WHERE o."isCreated"
)
SELECT i.n, EXISTS (SELECT FROM caller) AS authorized,
       p."requestHash" AS "priorHash", p."state" AS "priorState", p."statusCode" AS "priorStatus", p."headers" AS "priorHeaders", p."body" AS "priorBody",
       o."isCreated",
       bench_create_limit.abort_if(o.key IS NOT NULL AND NOT EXISTS (SELECT FROM claimed c WHERE c.key = o.key),
                                   'an idempotency record was claimed concurrently') AS "checked"
FROM input i LEFT JOIN prior p ON p.n = i.n LEFT JOIN outcome o ON o.n = i.n
ORDER BY i.n`;

type BatchRow = {
  n: number;
  authorized: boolean;
  priorHash: string | null;
  priorState: string | null;
  priorStatus: number | null;
  priorHeaders: Record<string, string> | null;
  priorBody: string | null;
  isCreated: boolean | null;
};

/** What the key's hash answers: per API key, batches of its pending creates, `writersPerKey` at a time. */
const queues = new Map<string, { waiting: Pending[]; writing: number }>();

function enqueue(keyHash: string, pending: Pending): void {
  if (!grouped) {
    void writeBatch(keyHash, [pending]);
    return;
  }
  let queue = queues.get(keyHash);
  if (!queue) queues.set(keyHash, (queue = { waiting: [], writing: 0 }));
  queue.waiting.push(pending);
  if (queue.writing < writersPerKey) void drain(keyHash, queue);
}

async function drain(keyHash: string, queue: { waiting: Pending[]; writing: number }): Promise<void> {
  queue.writing++;
  while (queue.waiting.length) {
    // A key twice in one statement would claim its record twice: the second waits for the next batch.
    const keys = new Set<string>();
    const batch: Pending[] = [];
    const later: Pending[] = [];
    for (const pending of queue.waiting) {
      if (batch.length < MAX_BATCH && (pending.key === null || !keys.has(pending.key))) {
        if (pending.key !== null) keys.add(pending.key);
        batch.push(pending);
      } else later.push(pending);
    }
    queue.waiting = later;
    await writeBatch(keyHash, batch);
  }
  queue.writing--;
  if (!queue.writing && !queue.waiting.length) queues.delete(keyHash);
}

async function writeBatch(keyHash: string, batch: Pending[]): Promise<void> {
  const now = new Date();
  const input = batch.map((p, n) => ({
    n,
    key: p.key,
    requestHash: p.requestHash,
    id: p.contact.contactId,
    ...p.row,
    eventId: p.eventId,
    correlationId: p.correlationId,
    contact: p.contact,
    created: p.created,
    taken: p.taken,
  }));
  let rows: BatchRow[];
  try {
    ({ rows } = await pool.query<BatchRow>(BATCH_STATEMENT, [
      keyHash,
      JSON.stringify(input),
      now,
      new Date(now.getTime() + TTL_MS),
    ]));
  } catch (error) {
    if (batch.length > 1) {
      for (const pending of batch) await writeBatch(keyHash, [pending]);
      return;
    }
    batch[0]!.settle(problem(batch[0]!.route, 500, 'internal_error', (error as Error).message));
    return;
  }
  for (const row of rows) {
    const p = batch[row.n]!;
    if (!row.authorized) p.settle(problem(p.route, 401, 'unauthorized', 'The API key is unknown or revoked.'));
    else if (row.priorHash !== null) p.settle(replay(p, row));
    else p.settle(row.isCreated ? p.created : p.taken);
  }
}

function replay(p: Pending, row: BatchRow): Answer {
  if (row.priorHash !== p.requestHash)
    return problem(
      p.route,
      409,
      'idempotency_key_reused',
      'This Idempotency-Key was already used with a different request.',
    );
  if (row.priorState !== 'completed')
    return problem(
      p.route,
      409,
      'idempotency_key_in_flight',
      'A request with this Idempotency-Key is still being processed.',
    );
  return {
    status: row.priorStatus!,
    headers: { ...row.priorHeaders, 'idempotent-replayed': 'true' },
    body: row.priorBody ?? '',
  };
}

function problem(route: Route, status: number, code: string, detail: string): Answer {
  const headers = { 'content-type': 'application/json; charset=utf-8' };
  if (route === 'graphql')
    return {
      status: 200,
      headers,
      body: JSON.stringify({ data: null, errors: [{ message: detail, extensions: { code } }] }),
    };
  return {
    status,
    headers: { 'content-type': 'application/problem+json' },
    body: JSON.stringify({ status, code, detail }),
  };
}

// --- one request --------------------------------------------------------------------------

/** The input's fields this server stores, checked as the gateway's schema would (types, lengths, an identifying field). */
function parseContact(input: unknown): Pending['row'] | string {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return 'the body must be a JSON object';
  const c = input as Record<string, unknown>;
  for (const field of ['email', 'firstName', 'lastName'] as const) {
    const value = c[field];
    if (value !== undefined && value !== null && (typeof value !== 'string' || value.length > 254))
      return `${field} must be a string of at most 254 characters`;
  }
  if (typeof c.email === 'string' && !/^[^@\s]+@[^@\s]+$/.test(c.email)) return 'email must be a valid email address';
  const customData = c.customData ?? null;
  if (customData !== null && (typeof customData !== 'object' || Array.isArray(customData)))
    return 'customData must be a JSON object';
  const row = {
    email: (c.email as string | undefined)?.trim() ?? null,
    firstName: (c.firstName as string | undefined)?.trim() ?? null,
    lastName: (c.lastName as string | undefined)?.trim() ?? null,
    customData,
  };
  if (!row.email && !row.firstName && !row.lastName) return 'at least one of email, firstName, lastName is required';
  return row;
}

/** The contact as the gateway answers it: every field, the ones this server does not set null. */
function contactBody(id: string, row: Pending['row'], now: string): ContactBody {
  const none = null;
  return {
    contactId: id,
    email: row.email,
    fullName: [row.firstName, row.lastName].filter(Boolean).join(' ') || null,
    firstName: row.firstName,
    lastName: row.lastName,
    phone: none,
    company: none,
    streetAddress: none,
    city: none,
    state: none,
    postalCode: none,
    country: none,
    tag: none,
    preferredLanguage: none,
    formality: none,
    preferredTone: none,
    salutation: none,
    addressingNotes: none,
    note: none,
    customData: row.customData,
    externalId: none,
    createdAt: now,
    updatedAt: now,
  };
}

async function handle(route: Route, req: IncomingMessage, raw: string): Promise<Answer> {
  const presented = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
  if (!presented) return problem(route, 401, 'unauthorized', 'An API key is required.');
  const key = req.headers['idempotency-key'];
  if (key !== undefined && (typeof key !== 'string' || !/^[\x21-\x7e]{1,255}$/.test(key)))
    return problem(route, 400, 'invalid_request', 'Idempotency-Key must be 1 to 255 visible ASCII characters.');
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    return problem(route, 400, 'invalid_json', 'The body is not JSON.');
  }
  const input = route === 'graphql' ? (body as { variables?: { input?: unknown } })?.variables?.input : body;
  const row = parseContact(input);
  if (typeof row === 'string') return problem(route, 400, 'validation_failed', row);

  const id = `contact_${ulid()}`;
  const contact = contactBody(id, row, new Date().toISOString());
  const json = { 'content-type': 'application/json; charset=utf-8' };
  const created: Answer =
    route === 'rest'
      ? { status: 201, headers: { ...json, location: `/contacts/${id}` }, body: JSON.stringify(contact) }
      : { status: 200, headers: json, body: JSON.stringify({ data: { createContact: contact } }) };
  return new Promise<Answer>((settle) =>
    enqueue(createHash('sha256').update(presented).digest('hex'), {
      key: key ?? null,
      requestHash: createHash('sha256').update(route).update(raw).digest('hex'),
      contact,
      row,
      eventId: `evt_${ulid()}`,
      correlationId: randomUUID(),
      created,
      taken: problem(route, 409, 'email_taken', 'Another contact of this tenant already has this email address.'),
      route,
      settle,
    }),
  );
}

/** prefix_ULID-shaped ids: 10 characters of milliseconds, 16 random, Crockford base32. */
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
function ulid(): string {
  let time = Date.now();
  let out = '';
  for (let i = 0; i < 10; i++) {
    out = CROCKFORD[time % 32] + out;
    time = Math.floor(time / 32);
  }
  for (const byte of randomBytes(16)) out += CROCKFORD[byte % 32];
  return out;
}

const server = createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/health') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"status":"ok"}');
    return;
  }
  const route: Route | undefined =
    req.method === 'POST' && path === '/contacts'
      ? 'rest'
      : req.method === 'POST' && path === '/graphql'
        ? 'graphql'
        : undefined;
  if (!route) {
    res.writeHead(404).end();
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    void handle(route, req, Buffer.concat(chunks).toString('utf8')).then((answer) => {
      res.writeHead(answer.status, { ...answer.headers, 'content-length': Buffer.byteLength(answer.body) });
      res.end(answer.body);
    });
  });
});

// abort_if(): raises inside the statement (a volatile function, so it is not folded at plan time).
await pool.query(`
  CREATE SCHEMA IF NOT EXISTS bench_create_limit;
  CREATE OR REPLACE FUNCTION bench_create_limit.abort_if(failed boolean, message text) RETURNS boolean
  LANGUAGE plpgsql VOLATILE AS $$ BEGIN IF failed THEN RAISE EXCEPTION '%', message; END IF; RETURN true; END $$;`);
serveUntilSignalled(server, port, () => pool.end());
