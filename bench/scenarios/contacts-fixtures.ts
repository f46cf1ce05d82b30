import type pg from 'pg';

/** One contact as both sides receive it: a few names, an email, a small JSON document. */
export function contactFixture(label: string) {
  return {
    email: `${label}@bench.example`,
    firstName: 'Ada',
    lastName: 'Lovelace',
    customData: { plan: 'pro', seats: 12, tags: ['bench', 'load'] },
  };
}

export type ContactFixture = ReturnType<typeof contactFixture>;

/**
 * The baseline's contacts table: the columns and indexes of the gateway's "Contact" that matter
 * here (primary key, per-tenant unique email, per-tenant listing by id).
 */
export async function ensureBaselineContacts(sql: pg.Pool, schema: string): Promise<void> {
  await sql.query(`
    CREATE SCHEMA IF NOT EXISTS "${schema}";
    CREATE TABLE IF NOT EXISTS "${schema}".contacts (
      id text PRIMARY KEY,
      tenant_id text NOT NULL,
      email text,
      email_normalized text,
      first_name text,
      last_name text,
      phone text,
      company text,
      custom_data jsonb,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (tenant_id, email_normalized)
    );
    CREATE INDEX IF NOT EXISTS contacts_tenant_id_id ON "${schema}".contacts (tenant_id, id);
  `);
}

/**
 * The baseline's contacts.import write: up to a chunk of contacts in one multi-row INSERT … ON
 * CONFLICT (upsert by tenant and email).
 */
export async function upsertBaselineContacts(
  pool: pg.Pool,
  schema: string,
  tenantId: string,
  contacts: ContactFixture[],
): Promise<void> {
  await pool.query(
    `INSERT INTO "${schema}".contacts (id, tenant_id, email, email_normalized, first_name, last_name, custom_data)
     SELECT 'contact_' || gen_random_uuid(), $1, c.email, lower(c.email), c."firstName", c."lastName", c."customData"
     FROM jsonb_to_recordset($2::jsonb) AS c(email text, "firstName" text, "lastName" text, "customData" jsonb)
     ON CONFLICT (tenant_id, email_normalized) DO UPDATE
     SET first_name = excluded.first_name, last_name = excluded.last_name, custom_data = excluded.custom_data, updated_at = now()`,
    [tenantId, JSON.stringify(contacts)],
  );
}
