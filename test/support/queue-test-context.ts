import { afterAll, beforeAll, beforeEach } from '@jest/globals';
import { type QueueModuleOptions, type QueueService } from '../../src/index.js';
import { bootQueue, type BootedQueue } from './boot-queue.js';
import { createTestDatabase, type TestDatabase } from './test-database.js';

export interface QueueTestContext {
  readonly db: TestDatabase;
  readonly booted: BootedQueue;
  readonly queue: QueueService;
}

/**
 * Gives a test file a database of its own with a booted QueueModule (default table), and an
 * empty table before each test unless `truncate` is false. Read the fields inside tests only.
 */
export function useQueueTestContext(
  label: string,
  options: { readonly module?: QueueModuleOptions; readonly truncate?: boolean } = {},
): QueueTestContext {
  const context = {} as { db: TestDatabase; booted: BootedQueue; queue: QueueService };
  beforeAll(async () => {
    context.db = await createTestDatabase(label);
    context.booted = await bootQueue({ connectionString: context.db.url, ...options.module });
    context.queue = context.booted.queue;
  });
  afterAll(async () => {
    await context.booted?.close();
    await context.db?.drop();
  });
  if (options.truncate !== false) {
    beforeEach(async () => {
      await context.db.query('TRUNCATE messages');
    });
  }
  return context;
}
