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
