import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** A database of its own for one test file, dropped when the file is done. */
export interface TestDatabase {
  readonly url: string;
  readonly name: string;
  /** Runs one statement as the superuser, in this database. */
  query<Row extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<Row>>;
  /** How many connections of this database carry `application_name` right now. */
  connectionsOf(applicationName: string): Promise<number>;
  drop(): Promise<void>;
}

export function adminUrl(): string {
  const url = process.env.QUEUE_TEST_ADMIN_URL;
  if (url === undefined)
    throw new Error('QUEUE_TEST_ADMIN_URL is not set: run the tests with npm test');
  return url;
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const name = `t_${label.replace(/[^a-z0-9]+/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(adminUrl(), name);
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on('error', () => {});
  return {
    url,
    name,
    query: (text, values) => pool.query(text, values),
    connectionsOf: async (applicationName) => {
      const { rows } = await pool.query<{ count: string }>(
        'SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = $2',
        [name, applicationName],
      );
      return Number(rows[0]!.count);
    },
    drop: async () => {
      await pool.end();
      const client = new pg.Client({ connectionString: adminUrl() });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
