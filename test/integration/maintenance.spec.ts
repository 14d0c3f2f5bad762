import { describe, expect, it, jest } from '@jest/globals';
import { ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { QueueModule, QueueOptionsError } from '../../src/index.js';
import { QueueConnection } from '../../src/database/queue-connection.js';
import { MaintenanceScheduler } from '../../src/maintenance/maintenance.scheduler.js';
import { RecordingLogger, waitFor, type BootedApp, bootError } from '../support/boot.js';
import { useQueueFixture } from '../support/queue-fixture.js';
import { ARCHIVE_COLUMNS } from '../../src/sql/cleanup.sql.js';

const { db, boot } = useQueueFixture('maintenance');

async function rows(sql: string, values: unknown[] = []) {
  return (await db.query(sql, values)).rows;
}

/** Makes every leased message's lease run out a minute ago. */
async function expireLeases(): Promise<void> {
  await db.query("UPDATE messages SET lease_until = lease_until - 120 WHERE state = 'leased'");
}

describe('the scheduled reaper', () => {
  it('returns expired leases to ready on its interval and logs what it moved', async () => {
    const logger = new RecordingLogger();
    const app = await boot({ connectionString: db.url, reaper: { intervalMs: 200 } }, [], {
      logger,
    });
    const id = await app.queue.enqueue('reaped', { n: 1 });
    await app.queue.leaseNext('reaped', { maxAttempts: 3 });
    await expireLeases();
    await waitFor(async () => (await rows('SELECT state FROM messages'))[0]?.state === 'ready');
    expect(await rows('SELECT id, attempts, lease_token FROM messages')).toEqual([
      { id, attempts: 1, lease_token: null },
    ]);
    await waitFor(() => logger.lines.some((line) => line.includes('Reaped expired leases')));
    expect(logger.lines).toContain('log Reaped expired leases: 1 of "reaped" back to ready');
  });

  it('dead-letters an expired last attempt: in place, or to the dead-letter queue', async () => {
    const app = await boot({ connectionString: db.url, reaper: { intervalMs: 200 } });
    const [inPlace, moved] = await app.queue.enqueueMany('exhausted', [{ a: 1 }, { a: 2 }]);
    await app.queue.leaseNext('exhausted', { maxAttempts: 1 });
    await app.queue.leaseNext('exhausted', { maxAttempts: 1, deadLetterQueue: 'exhausted.dead' });
    await expireLeases();
    await waitFor(
      async () => (await rows("SELECT 1 FROM messages WHERE state = 'leased'")).length === 0,
    );
    expect(
      await rows('SELECT id, queue, state, attempts, origin_queue FROM messages ORDER BY seq'),
    ).toEqual([
      { id: inPlace, queue: 'exhausted', state: 'failed', attempts: 1, origin_queue: null },
      {
        id: moved,
        queue: 'exhausted.dead',
        state: 'ready',
        attempts: 0,
        origin_queue: 'exhausted',
      },
    ]);
    const [failed] = await app.queue.listFailed('exhausted');
    expect(failed!.lastError).toMatchObject({ name: 'AttemptsExhaustedError', attempt: 1 });
    expect((await app.queue.getStats()).failedMessages).toBe(2);
  });

  it('settles at most batchSize leases per run: one bounded statement', async () => {
    const app = await boot({
      connectionString: db.url,
      reaper: { intervalMs: 3_600_000, batchSize: 10 },
    });
    await app.queue.enqueueMany(
      'batch',
      Array.from({ length: 25 }, (_, i) => ({ i })),
    );
    await app.queue.leaseMany('batch', 25);
    await expireLeases();
    const spy = jest.spyOn(app.get(QueueConnection), 'query');
    await app.get(MaintenanceScheduler).reap();
    expect(spy.mock.calls.map(([operation]) => operation)).toEqual(['reapExpiredLeases']);
    spy.mockRestore();
    expect(await rows("SELECT count(*)::int AS n FROM messages WHERE state = 'ready'")).toEqual([
      { n: 10 },
    ]);
  });

  it('two replicas reaping at once settle each lease exactly once', async () => {
    const logs = [new RecordingLogger(), new RecordingLogger()];
    const [first, second] = [
      await boot({ connectionString: db.url, reaper: false }, [], { logger: logs[0] }),
      await boot({ connectionString: db.url, reaper: false }, [], { logger: logs[1] }),
    ] as [BootedApp, BootedApp];
    await first.queue.enqueueMany(
      'race',
      Array.from({ length: 400 }, (_, i) => ({ i })),
    );
    await first.queue.leaseMany('race', 400, { maxAttempts: 5 });
    await expireLeases();
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        (i % 2 === 0 ? first : second).get(MaintenanceScheduler).reap(),
      ),
    );
    const reaped = logs
      .flatMap((logger) => logger.lines)
      .map((line) => Number(/Reaped expired leases: (\d+) of/.exec(line)?.[1] ?? 0))
      .reduce((a, b) => a + b, 0);
    expect(reaped).toBe(400);
    expect(
      await rows('SELECT state, attempts, count(*)::int AS n FROM messages GROUP BY 1, 2'),
    ).toEqual([{ state: 'ready', attempts: 1, n: 400 }]);
  });

  it('registers in the application’s SchedulerRegistry when it imports ScheduleModule', async () => {
    const app = await boot(
      {
        connectionString: db.url,
        reaper: { intervalMs: 60_000 },
        cleanup: { cron: '*/5 * * * *' },
      },
      [],
      { imports: [ScheduleModule.forRoot()] },
    );
    const registry = app.get(SchedulerRegistry);
    expect(registry.getIntervals()).toContain('queue-reaper:public.messages');
    expect([...registry.getCronJobs().keys()]).toContain('queue-cleanup:public.messages');
  });

  it('runs neither job when both are turned off', async () => {
    const app = await boot(
      { connectionString: db.url, reaper: false, cleanup: false, heartbeat: { enabled: false } },
      [],
      { imports: [ScheduleModule.forRoot()] },
    );
    const registry = app.get(SchedulerRegistry);
    expect(registry.getIntervals()).toEqual([]);
    expect([...registry.getCronJobs().keys()]).toEqual([]);
  });

  it('refuses bad maintenance options at boot', async () => {
    for (const [options, option] of [
      [{ reaper: { intervalMs: 5 } }, 'reaper.intervalMs'],
      [{ cleanup: { cron: 'every hour' } }, 'cleanup.cron'],
      [{ cleanup: { doneRetentionDays: -1 } }, 'cleanup.doneRetentionDays'],
      [{ health: { maxReadyDepth: -5 } }, 'health.maxReadyDepth'],
      [
        { health: { queues: { 'ingest.main': { maxFailed: 1.5 } } } },
        'health.queues.ingest.main.maxFailed',
      ],
    ] as const) {
      const error = await bootError({
        imports: [QueueModule.forRoot({ connectionString: db.url, ...options })],
      });
      expect(error).toBeInstanceOf(QueueOptionsError);
      expect((error as QueueOptionsError).option).toBe(option);
    }
  });
});

describe('cleanup', () => {
  async function age(where: string, days: number): Promise<void> {
    await db.query(`UPDATE messages SET created_at = created_at - $1::bigint WHERE ${where}`, [
      Math.round(days * 86_400),
    ]);
  }

  it('deletes old done messages in batches, keeps recent ones and unfinished ones', async () => {
    const app = await boot({ connectionString: db.url });
    await app.queue.enqueueMany(
      'clean',
      Array.from({ length: 250 }, (_, i) => ({ i })),
    );
    for (const message of await app.queue.leaseMany('clean', 250)) {
      await app.queue.ack('clean', message);
    }
    await app.queue.enqueueMany('clean', [{ old: 'ready' }, { recent: 'ready' }]);
    await age("state = 'done' OR body ? 'old'", 8);
    // A recent done message: only old done ones go.
    await app.queue.enqueue('recent', { recent: 'done' });
    await app.queue.ack('recent', (await app.queue.leaseNext('recent'))!);

    const spy = jest.spyOn(app.get(QueueConnection), 'query');
    const result = await app.queue.cleanup({ batchSize: 100 });
    const statements = spy.mock.calls.map(([operation]) => operation);
    spy.mockRestore();
    expect(result).toEqual({ deleted: 250, archived: 0 });
    // 100 + 100 + 50 for done rows, then one archive statement that found nothing.
    expect(statements).toEqual(['cleanup', 'cleanup', 'cleanup', 'cleanup']);
    expect(
      await rows('SELECT state, count(*)::int AS n FROM messages GROUP BY state ORDER BY state'),
    ).toEqual([
      { state: 'done', n: 1 },
      { state: 'ready', n: 2 },
    ]);
  });

  it('archives old dead letters and deletes them in the same statement', async () => {
    const app = await boot({ connectionString: db.url });
    const [failed, moved, young] = await app.queue.enqueueMany('arch', [
      { k: 'failed' },
      { k: 'moved' },
      { k: 'young' },
    ]);
    await db.query("UPDATE messages SET state = 'failed' WHERE id = ANY($1)", [[failed, young]]);
    await db.query(
      "UPDATE messages SET state = 'done', queue = 'arch.dead', origin_queue = 'arch' WHERE id = $1",
      [moved],
    );
    await age('id <> $2', 31).catch(async () => {
      await db.query('UPDATE messages SET created_at = created_at - 31 * 86400 WHERE id <> $1', [
        young,
      ]);
    });
    const result = await app.queue.cleanup({ doneRetentionDays: 7, failedRetentionDays: 30 });
    expect(result).toEqual({ deleted: 0, archived: 2 });
    expect(await rows('SELECT id FROM messages')).toEqual([{ id: young }]);
    const archived = await rows(
      'SELECT id, state, body, origin_queue, archived_at > 0 AS stamped FROM messages_archive ORDER BY seq',
    );
    expect(archived).toEqual([
      { id: failed, state: 'failed', body: { k: 'failed' }, origin_queue: null, stamped: true },
      { id: moved, state: 'done', body: { k: 'moved' }, origin_queue: 'arch', stamped: true },
    ]);
  });

  it('names every column of the archive, in order, where the cleanup replaces an archived row', async () => {
    await boot({ connectionString: db.url });
    const columns = await rows(
      `SELECT column_name FROM information_schema.columns
       WHERE table_schema = 'public' AND table_name = 'messages_archive' ORDER BY ordinal_position`,
    );
    expect(columns.map((c) => (c as { column_name: string }).column_name)).toEqual([
      'id',
      ...ARCHIVE_COLUMNS,
    ]);
  });

  it('archives a dead letter whose id is already in the archive: the newer row wins, archiving goes on', async () => {
    const app = await boot({ connectionString: db.url });
    const [first] = await app.queue.enqueueMany('dup', [{ v: 1 }]);
    await db.query("UPDATE messages SET state = 'failed', created_at = created_at - 40 * 86400");
    expect(await app.queue.cleanup({ failedRetentionDays: 30 })).toMatchObject({ archived: 1 });
    // The same id again (a message imported twice, an operator's insert), and another dead letter.
    await db.query(
      `INSERT INTO messages (id, queue, body, available_at, created_at, state)
       VALUES ($1, 'dup', '{"v": 2}', 0, floor(extract(epoch from now()))::bigint - 40 * 86400, 'failed')`,
      [first],
    );
    const [other] = await app.queue.enqueueMany('dup', [{ v: 3 }]);
    await db.query(
      "UPDATE messages SET state = 'failed', created_at = created_at - 40 * 86400 WHERE id = $1",
      [other],
    );
    expect(await app.queue.cleanup({ failedRetentionDays: 30 })).toMatchObject({ archived: 2 });
    expect(await rows('SELECT id FROM messages')).toEqual([]);
    expect(await rows("SELECT id, body FROM messages_archive ORDER BY body->>'v'")).toEqual([
      { id: first, body: { v: 2 } },
      { id: other, body: { v: 3 } },
    ]);
  });

  it('a cleanup in progress stops after its current batch when the application shuts down', async () => {
    const app = await boot(
      { connectionString: db.url, cleanup: { batchSize: 1, cron: '0 0 1 1 *' } },
      [],
      { imports: [ScheduleModule.forRoot()] },
    );
    await app.queue.enqueueMany(
      'stop',
      Array.from({ length: 200 }, (_, i) => ({ i })),
    );
    await db.query("UPDATE messages SET state = 'done'");
    await age('true', 8);
    // The scheduled job's own tick, which the shutdown waits for.
    await app.get(SchedulerRegistry).getCronJob('queue-cleanup:public.messages').fireOnTick();
    await app.close();
    const { rows: left } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM messages');
    // One statement per row: all 200 would take 200 round trips; the shutdown cut it short.
    expect(left[0]!.n).toBeGreaterThan(0);
  });

  it('skips a part whose retention is false, and the scheduled job uses the module options', async () => {
    const app = await boot({
      connectionString: db.url,
      cleanup: { doneRetentionDays: false, failedRetentionDays: 0, cron: '0 0 1 1 *' },
    });
    const [done, failed] = await app.queue.enqueueMany('skip', [{ n: 1 }, { n: 2 }]);
    await db.query("UPDATE messages SET state = 'done' WHERE id = $1", [done]);
    await db.query("UPDATE messages SET state = 'failed' WHERE id = $1", [failed]);
    await age('true', 400);
    await app.get(MaintenanceScheduler).cleanup();
    expect(await rows('SELECT id FROM messages')).toEqual([{ id: done }]);
    expect(await rows('SELECT id FROM messages_archive')).toEqual([{ id: failed }]);
  });
});
