import pg from 'pg';

/** One statement on its own connection, for what cannot run in a transaction (CREATE/DROP DATABASE). */
export async function runOnServer(serverUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
