// Jest runs globalSetup outside its module system (no moduleNameMapper, no ESM transform), so this
// file is plain JavaScript and loads the TypeScript provider through tsx.
import pg from 'pg';
import { tsImport } from 'tsx/esm/api';

/** Starts one Postgres for the whole run; every test file then creates its own database in it. */
export default async function globalSetup() {
  const started = Date.now();
  const { startTestPostgres } = await tsImport('./postgres-provider.ts', import.meta.url);
  const postgres = await startTestPostgres();
  globalThis.__queueTestPostgres = postgres;
  process.env.QUEUE_TEST_ADMIN_URL = postgres.url;
  process.env.QUEUE_TEST_PROVIDER = postgres.provider;
  if (postgres.sslRootCert !== undefined) {
    process.env.QUEUE_TEST_SSL_ROOT_CERT = postgres.sslRootCert;
  }
  const client = new pg.Client({ connectionString: postgres.url });
  await client.connect();
  const { rows } = await client.query('SHOW server_version');
  await client.end();
  process.stdout.write(
    `\n[test postgres] ${postgres.provider}, PostgreSQL ${rows[0]?.server_version ?? '?'}` +
      `${postgres.sslRootCert ? ', TLS on' : ''}, ready in ${Date.now() - started} ms\n`,
  );
}
