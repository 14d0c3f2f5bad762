import { createServer, type Socket } from 'node:net';
import { inspect } from 'node:util';
import { describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { DataSource } from 'typeorm';
import {
  migrateQueue,
  queueMigrationStatus,
  QueueDatabaseError,
  QueueOptionsError,
  type QueueError,
  type QueueMigrationOptions,
} from '../../src/index.js';
import { bootApp, waitFor } from '../support/boot.js';
import { eventually } from '../support/eventually.js';
import { useQueueFixture } from '../support/queue-fixture.js';
import { createTestDatabase } from '../support/test-database.js';
import { MIGRATION_NAMES } from '../support/queue-migrations.js';

const { db } = useQueueFixture('migrate', { reset: 'none' });

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

describe('migrateQueue', () => {
  it('creates a new schema and the table, then finds nothing to do; the status follows', async () => {
    const options = { connectionString: db.url, schema: 'jobs_fresh', applicationName: 'mq-fresh' };
    expect(await queueMigrationStatus(options)).toEqual({
      schema: 'jobs_fresh',
      table: 'messages',
      applied: [],
      pending: MIGRATION_NAMES,
      unknown: [],
    });
    // The status changed nothing, not even the schema.
    const { rows: none } = await db.query(
      "SELECT 1 FROM pg_namespace WHERE nspname = 'jobs_fresh'",
    );
    expect(none).toHaveLength(0);

    expect(await migrateQueue(options)).toEqual({
      schema: 'jobs_fresh',
      table: 'messages',
      applied: MIGRATION_NAMES,
    });
    expect(await migrateQueue(options)).toEqual({
      schema: 'jobs_fresh',
      table: 'messages',
      applied: [],
    });
    expect(await queueMigrationStatus(options)).toEqual({
      schema: 'jobs_fresh',
      table: 'messages',
      applied: MIGRATION_NAMES,
      pending: [],
      unknown: [],
    });
    // Every connection it opened is closed.
    expect(await eventually(() => db.connectionsOf('mq-fresh'), 0)).toBe(0);

    // The module boots on the table without migrating again, and works.
    const booted = await bootApp({ connectionString: db.url, schema: 'jobs_fresh' });
    try {
      await booted.queue.enqueue('migrated', { n: 1 });
      expect((await booted.queue.leaseNext('migrated'))?.body).toEqual({ n: 1 });
    } finally {
      await booted.close();
    }
    const { rows } = await db.query('SELECT name FROM jobs_fresh.messages_migrations ORDER BY id');
    expect(rows).toEqual(MIGRATION_NAMES.map((name) => ({ name })));
  });

  it('sees what the module applied at boot, and names migrations of a newer release', async () => {
    const booted = await bootApp({ connectionString: db.url, schema: 'by_module', table: 'jobs' });
    await booted.close();
    await db.query(
      "INSERT INTO by_module.jobs_migrations (timestamp, name) VALUES (1899999999999, 'FromTheFuture1899999999999')",
    );
    const target = { connectionString: db.url, schema: 'by_module', table: 'jobs' };
    expect(await migrateQueue(target)).toMatchObject({ applied: [] });
    expect(await queueMigrationStatus(target)).toEqual({
      schema: 'by_module',
      table: 'jobs',
      applied: [...MIGRATION_NAMES, 'FromTheFuture1899999999999'],
      pending: [],
      unknown: ['FromTheFuture1899999999999'],
    });
  });

  it('several runs at once: one schema, each migration applied once', async () => {
    const fresh = await createTestDatabase('migrate_race');
    try {
      const results = await Promise.all(
        Array.from({ length: 6 }, () =>
          migrateQueue({ connectionString: fresh.url, schema: 'raced' }),
        ),
      );
      expect(results.flatMap((result) => result.applied).sort()).toEqual(
        [...MIGRATION_NAMES].sort(),
      );
      expect(results.filter((result) => result.applied.length > 0)).toHaveLength(1);
      const { rows } = await fresh.query('SELECT name FROM raced.messages_migrations ORDER BY id');
      expect(rows).toEqual(MIGRATION_NAMES.map((name) => ({ name })));
    } finally {
      await fresh.drop();
    }
  });

  it('refuses a table of the same name it did not create, as the module does, and closes', async () => {
    await db.query('CREATE SCHEMA foreign_owner');
    await db.query('CREATE TABLE foreign_owner.messages (id int)');
    const error = await rejection(
      migrateQueue({
        connectionString: db.url,
        schema: 'foreign_owner',
        applicationName: 'mq-foreign',
      }),
    );
    expect(error).toBeInstanceOf(QueueDatabaseError);
    expect((error as QueueDatabaseError).code).toBe('42P07');
    expect((error as QueueDatabaseError).operation).toBe('migrate');
    expect((error as Error).message).toBe(
      'Queue migrate failed: foreign_owner.messages already exists but was not created by @fetchcraft/queue (no record in messages_migrations); choose another table or schema option (code 42P07)',
    );
    expect(await eventually(() => db.connectionsOf('mq-foreign'), 0)).toBe(0);
    // Nothing of the failed try stayed: its transaction was rolled back.
    const { rows } = await db.query(
      "SELECT tablename FROM pg_tables WHERE schemaname = 'foreign_owner' ORDER BY 1",
    );
    expect(rows).toEqual([{ tablename: 'messages' }]);
  });

  it('refuses a bad option before opening any connection', async () => {
    // A server that only counts who knocks.
    const sockets: Socket[] = [];
    const server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const url = `postgres://u:Secret-pw-1@127.0.0.1:${port}/db`;
    try {
      const cases: Array<[QueueMigrationOptions, string]> = [
        [{ connectionString: url, table: 'Bad-Name' }, 'table'],
        [{ connectionString: url, schema: '' }, 'schema'],
        [{ connectionString: url, migrationLockTimeoutMs: -1 }, 'migrationLockTimeoutMs'],
        [{ connectionString: 'mysql://u:Secret-pw-1@h/db' }, 'connectionString'],
        [{ connectionString: url, onRetry: 'log' as unknown as () => void }, 'onRetry'],
        [{ connectionString: url, workerz: true } as QueueMigrationOptions, 'workerz'],
        [{ dataSource: {} as DataSource }, 'dataSource'],
        [{ connectionString: url, dataSource: {} as DataSource }, 'connectionString'],
      ];
      for (const [options, option] of cases) {
        const error = await rejection(migrateQueue(options));
        expect(error).toBeInstanceOf(QueueOptionsError);
        expect((error as QueueOptionsError).option).toBe(option);
        expect(inspect(error)).not.toContain('Secret-pw-1');
        expect(await rejection(queueMigrationStatus(options))).toBeInstanceOf(QueueOptionsError);
      }
      expect(sockets).toHaveLength(0);
    } finally {
      sockets.forEach((socket) => socket.destroy());
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('a wrong password fails with the code and a redacted URL, never the password', async () => {
    const url = new URL(db.url);
    url.password = 'Wr0ng-Secret-pw';
    const error = await rejection(migrateQueue({ connectionString: url.toString() }));
    expect(error).toBeInstanceOf(QueueDatabaseError);
    expect((error as QueueDatabaseError).code).toBe('28P01');
    expect((error as Error).message).toMatch(
      /^Queue connect failed: could not connect to postgres:\/\/postgres:\*\*\*@.*password authentication failed.*\(code 28P01\)$/,
    );
    expect((error as Error).message.split('(code 28P01)')).toHaveLength(2);
    for (const text of [String(error), JSON.stringify(error), inspect(error, { depth: 10 })]) {
      expect(text).not.toContain('Wr0ng-Secret-pw');
    }
  });

  it("borrows a shared DataSource's pool and leaves it open", async () => {
    const dataSource = new DataSource({ type: 'postgres', url: db.url, extra: { max: 2 } });
    await dataSource.initialize();
    try {
      expect(await migrateQueue({ dataSource, schema: 'shared_ds' })).toMatchObject({
        applied: MIGRATION_NAMES,
      });
      expect(dataSource.isInitialized).toBe(true);
      expect(await queueMigrationStatus({ dataSource, schema: 'shared_ds' })).toMatchObject({
        pending: [],
      });
      expect(await dataSource.query('SELECT 1 AS ok')).toEqual([{ ok: 1 }]);
    } finally {
      await dataSource.destroy();
    }
  });

  it('waits for another migration however long it takes, past the statement and lock timeouts', async () => {
    // Another process migrating this schema holds the advisory lock for longer than this run's
    // statement timeout.
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query('SELECT pg_advisory_xact_lock($1::integer, hashtext($2::text))', [
      0x71756575,
      'schema:jobs_behind',
    ]);
    const started = Date.now();
    const run = migrateQueue({
      connectionString: db.url,
      schema: 'jobs_behind',
      statementTimeoutMs: 1_000,
    });
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    await holder.query('COMMIT');
    await holder.end();
    expect((await run).applied).toEqual(MIGRATION_NAMES);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_400);
  });

  it('gives up on a table lock held elsewhere, says so through onRetry, and tries again', async () => {
    await migrateQueue({ connectionString: db.url, schema: 'lock_held' });
    await db.query(
      "DELETE FROM lock_held.messages_migrations WHERE name = 'TimeOrderedIds1795567200000'",
    );
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT count(*) FROM lock_held.messages'); // ACCESS SHARE until COMMIT
      const retries: Array<[QueueError, number]> = [];
      const migrating = migrateQueue({
        connectionString: db.url,
        schema: 'lock_held',
        migrationLockTimeoutMs: 200,
        onRetry: (error, delayMs) => retries.push([error, delayMs]),
      });
      await waitFor(() => retries.length > 0, 10_000, 'the migration to give up once');
      await holder.query('COMMIT');
      expect(await migrating).toMatchObject({ applied: ['TimeOrderedIds1795567200000'] });
      const [error, delayMs] = retries[0]!;
      expect(error).toBeInstanceOf(QueueDatabaseError);
      expect((error as QueueDatabaseError).code).toBe('55P03');
      expect(delayMs).toBe(1_000);
    } finally {
      await holder.end();
    }
  });
});
