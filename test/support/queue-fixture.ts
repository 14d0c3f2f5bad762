import { afterAll, afterEach, beforeAll, beforeEach } from '@jest/globals';
import { type Provider } from '@nestjs/common';
import { type QueueModuleOptions, type QueueService } from '../../src/index.js';
import { bootApp, type BootedApp } from './boot.js';
import { createTestDatabase, type TestDatabase } from './test-database.js';

export interface QueueFixtureOptions {
  /** Boot one app for the whole file, on the file's database, with these options. */
  readonly shared?: Omit<QueueModuleOptions, 'connectionString'>;
  /** Providers of the shared app (processors, say). */
  readonly sharedProviders?: Provider[];
  /**
   * Between tests: `truncate` empties the default queue table before each test, `drop` drops the
   * default table and its companions after each, `none` leaves everything. Default: `truncate`
   * with a shared app, `drop` without.
   */
  readonly reset?: 'truncate' | 'drop' | 'none';
}

export interface QueueFixture {
  /** The file's own database. */
  readonly db: TestDatabase;
  /** The file's shared app (with the `shared` option only). */
  readonly app: BootedApp;
  /** The shared app's queue. */
  readonly queue: QueueService;
  /** Boots an app that is closed after the current test (or with the file, in `beforeAll`). */
  readonly boot: (...args: Parameters<typeof bootApp>) => Promise<BootedApp>;
}

/**
 * The one fixture of the integration tests: a database of the file's own, dropped with the file;
 * optionally one app booted for the whole file; apps booted by a test closed after it. Read its
 * fields inside hooks and tests only.
 */
export function useQueueFixture(label: string, options: QueueFixtureOptions = {}): QueueFixture {
  const reset = options.reset ?? (options.shared === undefined ? 'drop' : 'truncate');
  let db: TestDatabase | undefined;
  let shared: BootedApp | undefined;
  const perTest: BootedApp[] = [];
  const perFile: BootedApp[] = [];
  let inTest = false;

  beforeAll(async () => {
    db = await createTestDatabase(label);
    if (options.shared !== undefined) {
      shared = await bootApp(
        { connectionString: db.url, ...options.shared },
        options.sharedProviders,
      );
    }
  });
  beforeEach(async () => {
    inTest = true;
    if (reset === 'truncate') await db?.query('TRUNCATE messages');
  });
  afterEach(async () => {
    inTest = false;
    for (const app of perTest.splice(0)) await app.close();
    if (reset === 'drop') {
      await db?.query(
        'DROP TABLE IF EXISTS messages, messages_migrations, messages_archive, messages_queues, messages_schedules, messages_samples, messages_sample_minutes, messages_replicas',
      );
    }
  });
  afterAll(async () => {
    for (const app of perFile) await app.close();
    await shared?.close();
    await db?.drop();
  });

  const required = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} exists inside hooks and tests only`);
    return value;
  };
  // A stable handle that forwards to the database once it exists, so a file may destructure it
  // at the top: `const { db } = useQueueFixture('label')`.
  const database: TestDatabase = {
    get url() {
      return required(db, 'the test database').url;
    },
    get name() {
      return required(db, 'the test database').name;
    },
    query: (text, values) => required(db, 'the test database').query(text, values),
    connectionsOf: (applicationName) =>
      required(db, 'the test database').connectionsOf(applicationName),
    drop: () => required(db, 'the test database').drop(),
  };
  return {
    db: database,
    get app() {
      return required(shared, 'the shared app (pass the shared option)');
    },
    get queue() {
      return required(shared, 'the shared app (pass the shared option)').queue;
    },
    boot: async (...args) => {
      const app = await bootApp(...args);
      (inTest ? perTest : perFile).push(app);
      return app;
    },
  };
}
