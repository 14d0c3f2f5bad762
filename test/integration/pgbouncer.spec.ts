import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import {
  migrateQueue,
  Processor,
  QueueDatabaseError,
  QueueHealthIndicator,
  type ProcessorMessage,
  type TransactionalMessage,
} from '../../src/index.js';
import { queueOptions } from '../../examples/behind-pgbouncer.js';
import { MaintenanceScheduler } from '../../src/maintenance/maintenance.scheduler.js';
import { bootHttpApp, sleep, waitFor } from '../support/boot.js';
import { startPgBouncer, type RunningPgBouncer } from '../support/pgbouncer.js';
import { useQueueFixture } from '../support/queue-fixture.js';
import { adminUrl } from '../support/test-database.js';

@Injectable()
class Drain {
  readonly seen: string[] = [];
  @Processor('pgb.drain', { concurrency: 4 })
  handle(message: ProcessorMessage<{ n: number }>): { doubled: number } {
    this.seen.push(message.id);
    return { doubled: message.body.n * 2 };
  }
}

/** Fails each message's first attempt, retried at once. */
@Injectable()
class FailsOnce {
  readonly attempts: number[] = [];
  @Processor('pgb.flaky', { backoff: { type: 'fixed', delaySeconds: 0 } })
  handle(message: ProcessorMessage): void {
    this.attempts.push(message.attempts);
    if (message.attempts === 1) throw new Error('first attempt fails');
  }
}

/**
 * Writes in the handler's transaction, then outlasts its lease twice over: the lease keeper's
 * heartbeats keep it (the reaper runs every 200 ms), and the ack commits with the write.
 */
@Injectable()
class SlowTransactional {
  readonly attempts: number[] = [];
  @Processor('pgb.tx', { transaction: true, leaseSeconds: 2 })
  async handle(message: TransactionalMessage): Promise<void> {
    this.attempts.push(message.attempts);
    await message.manager.query('INSERT INTO pgb_effects (id) VALUES ($1)', [message.id]);
    await sleep(4_000);
  }
}

@Injectable()
class Stamps {
  readonly started: number[] = [];
  @Processor('pgb.wake')
  async handle(): Promise<void> {
    this.started.push(performance.now());
    // Still running when waitFor starts to wait: its end is heard, not read at once.
    await sleep(200);
  }
}

const { db, boot } = useQueueFixture('pgbouncer', { reset: 'truncate' });
let bouncer: RunningPgBouncer;
let pooledUrl: string;

beforeAll(async () => {
  // Migrations hold session locks: they run on the direct URL, before anything boots.
  await migrateQueue({ connectionString: db.url });
  await db.query('CREATE TABLE pgb_effects (id text PRIMARY KEY)');
  bouncer = await startPgBouncer(adminUrl(), { defaultPoolSize: 4 });
  pooledUrl = bouncer.urlFor(db.url);
});

afterAll(async () => {
  await bouncer?.stop();
});

/** Statements PgBouncer has carried for the test's database since it started. */
async function queriesThroughBouncer(): Promise<number> {
  const rows = await bouncer.admin<{ database: string; total_query_count: string }>('SHOW STATS');
  return Number(rows.find((row) => row.database === db.name)?.total_query_count ?? 0);
}

/**
 * The test database's backends of the app, split by whether PgBouncer opened them (their pid is
 * a `remote_pid` of `SHOW SERVERS`) or something connected directly.
 */
async function backends(): Promise<{ pooled: string[]; direct: string[] }> {
  const servers = await bouncer.admin<{ remote_pid: string }>('SHOW SERVERS');
  const pids = new Set(servers.map((server) => Number(server.remote_pid)));
  const { rows } = await db.query<{ pid: number; application_name: string }>(
    "SELECT pid, application_name FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'fetchcraft-queue%'",
    [db.name],
  );
  const split = { pooled: [] as string[], direct: [] as string[] };
  for (const row of rows)
    (pids.has(row.pid) ? split.pooled : split.direct).push(row.application_name);
  return split;
}

async function state(id: string): Promise<string | undefined> {
  const { rows } = await db.query<{ state: string }>('SELECT state FROM messages WHERE id = $1', [
    id,
  ]);
  return rows[0]?.state;
}

describe('behind PgBouncer in transaction mode', () => {
  it('drains, retries, runs a transactional handler past its lease, waits for results, pauses, reaps, cleans up and reports healthy, with LISTEN off', async () => {
    const before = await queriesThroughBouncer();
    const app = await bootHttpApp(
      {
        connectionString: pooledUrl,
        transactionPooling: true,
        preparedStatements: false,
        migrationsRun: false,
        healthEndpoints: true,
        reaper: { intervalMs: 200 },
        cleanup: { cron: '0 0 1 1 *' },
      },
      [Drain, FailsOnce, SlowTransactional],
    );
    try {
      const transactional = await app.queue.enqueue('pgb.tx', { n: 1 });
      const ids = await app.queue.enqueueMany(
        'pgb.drain',
        Array.from({ length: 30 }, (_, n) => ({ n })),
      );
      // Without LISTEN, waitFor reads the pending waits on every poll.
      await expect(app.queue.waitFor(ids[29]!, { timeoutMs: 10_000 })).resolves.toEqual({
        doubled: 58,
      });
      await waitFor(() => app.get(Drain).seen.length === 30, 10_000, 'the drain');
      const { rows: done } = await db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM messages WHERE queue = 'pgb.drain' AND state = 'done'",
      );
      expect(done[0]!.n).toBe(30);

      const flaky = await app.queue.enqueue('pgb.flaky', { n: 1 });
      await waitFor(async () => (await state(flaky)) === 'done', 10_000, 'the retry');
      expect(app.get(FailsOnce).attempts).toEqual([1, 2]);

      // The shared pause reaches the workers by the pause watcher's poll, not a NOTIFY.
      await app.queue.pause('pgb.drain');
      await sleep(1_500);
      const held = await app.queue.enqueue('pgb.drain', { n: 100 });
      await sleep(500);
      expect(await state(held)).toBe('ready');
      await app.queue.resume('pgb.drain');
      await waitFor(async () => (await state(held)) === 'done', 10_000, 'the resumed queue');

      // A lease nobody keeps: a worker that crashed. The scheduled reaper gives it back.
      const orphan = await app.queue.enqueue('pgb.orphan', { n: 1 });
      await app.queue.leaseNext('pgb.orphan');
      await db.query(
        "UPDATE messages SET lease_until = lease_until - 120 WHERE id = $1 AND state = 'leased'",
        [orphan],
      );
      await waitFor(async () => (await state(orphan)) === 'ready', 10_000, 'the reaper');

      await db.query(
        "UPDATE messages SET created_at = created_at - 30 * 86400, available_at = available_at - 30 * 86400 WHERE queue = 'pgb.drain'",
      );
      await app.get(MaintenanceScheduler).cleanup();
      const { rows: left } = await db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM messages WHERE queue = 'pgb.drain'",
      );
      expect(left[0]!.n).toBe(0);

      await waitFor(
        async () => (await state(transactional)) === 'done',
        15_000,
        'the transactional handler',
      );
      expect(app.get(SlowTransactional).attempts).toEqual([1]);
      expect((await db.query('SELECT id FROM pgb_effects')).rows).toEqual([{ id: transactional }]);

      const indicator = app.get(QueueHealthIndicator);
      await expect(indicator.pingCheck()).resolves.toEqual({ database: { status: 'up' } });
      await expect(indicator.isHealthy()).resolves.toMatchObject({ queues: { status: 'up' } });
      const ready = await fetch(`${app.url}/health/ready`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({
        status: 'ok',
        info: { database: { status: 'up' } },
      });

      // Every statement went through PgBouncer: none of the app's backends is a direct one.
      const { pooled, direct } = await backends();
      expect(direct).toEqual([]);
      expect(pooled.length).toBeGreaterThan(0);
      expect(await queriesThroughBouncer()).toBeGreaterThan(before + 30);
    } finally {
      await app.close();
    }
  });

  it('wakes an idle worker within 2 s through a direct listenConnectionString, with a 30 s poll', async () => {
    const app = await boot(
      {
        ...queueOptions({ DATABASE_URL: pooledUrl, DIRECT_DATABASE_URL: db.url }),
        pollIntervalMs: 30_000,
      },
      [Stamps],
    );
    await waitFor(
      async () => (await backends()).direct.includes('fetchcraft-queue:listen'),
      10_000,
      'the direct LISTEN connection',
    );
    const stamps = app.get(Stamps);
    const wake: number[] = [];
    const ended: number[] = [];
    for (let i = 0; i < 3; i++) {
      await sleep(300); // the worker is idle, waiting on its 30 s poll
      const sent = performance.now();
      const id = await app.queue.enqueue('pgb.wake', { i });
      // waitFor hears the end on its own direct LISTEN connection, not on a 30 s poll.
      await app.queue.waitFor(id, { timeoutMs: 10_000 }).catch(async (error: unknown) => {
        // Where it stopped, for the failure's message: the row, the handler, the connections.
        const seen = {
          row: await state(id),
          started: stamps.started.length,
          ...(await backends()),
        };
        throw new Error(`message ${i} not seen to end: ${JSON.stringify(seen)}`, { cause: error });
      });
      ended.push(performance.now() - sent);
      wake.push(stamps.started[i]! - sent);
    }
    process.stdout.write(
      `behind PgBouncer, LISTEN direct: enqueue to handler start ${wake.map((ms) => ms.toFixed(0)).join(', ')} ms; to waitFor resolved ${ended.map((ms) => ms.toFixed(0)).join(', ')} ms (handler 200 ms)\n`,
    );
    for (const ms of [...wake, ...ended]) expect(ms).toBeLessThan(2_000);
    const { pooled, direct } = await backends();
    expect(pooled.length).toBeGreaterThan(0);
    // Only the LISTEN connections are direct; the statements all went through PgBouncer.
    expect(new Set(direct)).toEqual(new Set(['fetchcraft-queue:listen', 'fetchcraft-queue:wait']));
  });

  it('says what to set when the timeouts sent at connect are refused, to the module and to migrations', async () => {
    const error = await boot({ connectionString: pooledUrl, migrationsRun: false }).then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(error).toBeInstanceOf(QueueDatabaseError);
    expect((error as Error).message).toContain('unsupported startup parameter');
    expect((error as Error).message).toContain('transactionPooling: true');
    expect((error as Error).message).not.toContain(':postgres@');
    // Nor do migrations go through it: they need a direct URL, and the same error says so.
    const migration = await migrateQueue({ connectionString: pooledUrl }).then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(migration).toBeInstanceOf(QueueDatabaseError);
    expect((migration as Error).message).toContain('migrations need a direct URL');
  });
});
