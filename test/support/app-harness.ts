import { afterAll, afterEach, beforeAll } from '@jest/globals';
import { bootApp, type BootedApp } from './boot-app.js';
import { createTestDatabase, type TestDatabase } from './test-database.js';

export interface AppHarness {
  /** The file's own database; read it inside tests only. */
  readonly db: TestDatabase;
  /** Boots an app that is closed after the current test. */
  readonly boot: (...args: Parameters<typeof bootApp>) => Promise<BootedApp>;
}

/**
 * A database for one test file; apps booted through the harness are closed, and the queue's
 * tables dropped, after each test, so every test starts from an empty schema.
 */
export function useAppHarness(label: string): AppHarness {
  const apps: BootedApp[] = [];
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    db = await createTestDatabase(label);
  });
  afterEach(async () => {
    for (const app of apps.splice(0)) await app.close();
    await db?.query('DROP TABLE IF EXISTS messages, messages_migrations, messages_archive');
  });
  afterAll(async () => {
    await db?.drop();
  });
  return {
    get db() {
      if (db === undefined) throw new Error('the test database exists inside tests only');
      return db;
    },
    boot: async (...args) => {
      const app = await bootApp(...args);
      apps.push(app);
      return app;
    },
  };
}
