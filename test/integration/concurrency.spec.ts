import { beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { type QueueService } from '../../src/index.js';
import { queueTableNames } from '../../src/config/identifier-rules.js';
import { ackBatchSql, heartbeatManySql } from '../../src/sql/settle.sql.js';
import { MessageStore } from '../../src/store/message-store.js';
import { useQueueFixture } from '../support/queue-fixture.js';
import { type BootedApp } from '../support/boot.js';

const fixture = useQueueFixture('concurrency', { reset: 'none' });
const { db } = fixture;
const modules: BootedApp[] = [];

beforeAll(async () => {
  // Two modules with separate pools, as two worker processes would have.
  for (let i = 0; i < 2; i++) {
    modules.push(await fixture.boot({ connectionString: db.url, poolMinSize: 4, poolMaxSize: 4 }));
  }
});

/** Leases until the queue is empty, recording every id it got and the largest batch. */
async function leaser(
  queue: QueueService,
  name: string,
  batch: number,
  seen: string[],
): Promise<number> {
  let largest = 0;
  for (;;) {
    const leased =
      batch === 1
        ? [await queue.leaseNext(name)].filter((m) => m !== null)
        : await queue.leaseMany(name, batch);
    if (leased.length === 0) return largest;
    largest = Math.max(largest, leased.length);
    for (const message of leased) {
      seen.push(message.id);
      expect(await queue.ack(name, message)).toBe(true);
    }
  }
}

describe('SKIP LOCKED under concurrency', () => {
  it('8 concurrent leasers drain 5,000 messages, each leased exactly once, none left', async () => {
    const [first, second] = modules.map((m) => m.queue) as [QueueService, QueueService];
    const ids = await first.enqueueMany(
      'drain',
      Array.from({ length: 5_000 }, (_, i) => ({ i })),
    );
    const seen: string[] = [];
    // Half lease one at a time, half in batches of 7: LIMIT must hold under contention.
    const largest = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        leaser(i % 2 === 0 ? first : second, 'drain', i < 4 ? 1 : 7, seen),
      ),
    );
    expect(seen).toHaveLength(5_000);
    expect(new Set(seen).size).toBe(5_000);
    expect(new Set(seen)).toEqual(new Set(ids));
    expect(Math.max(...largest)).toBeLessThanOrEqual(7);

    const { rows } = await db.query<{ state: string; attempts: number; count: string }>(
      `SELECT state, attempts, count(*) FROM messages WHERE queue = 'drain' GROUP BY 1, 2`,
    );
    expect(rows).toEqual([{ state: 'done', attempts: 1, count: '5000' }]);
  });

  it('concurrent reapers return each expired lease once', async () => {
    const queue = modules[0]!.queue;
    await queue.enqueueMany(
      'reap',
      Array.from({ length: 300 }, (_, i) => ({ i })),
    );
    await queue.leaseMany('reap', 300);
    await db.query(`UPDATE messages SET lease_until = lease_until - 120 WHERE queue = 'reap'`);
    const counts = await Promise.all(
      Array.from({ length: 6 }, (_, i) => modules[i % 2]!.queue.reapExpiredLeases({ limit: 50 })),
    );
    const more = await queue.reapExpiredLeases();
    expect(counts.reduce((a, b) => a + b, 0) + more).toBe(300);
    expect((await queue.getStats()).byQueue['reap']).toMatchObject({ ready: 300, leased: 0 });
  });
});

describe('batch statements lock rows in one order', () => {
  it('an ack batch and a clearQueue over the same rows never deadlock', async () => {
    const [first, second] = modules.map((m) => m.queue) as [QueueService, QueueService];
    const deadlocksBefore = await deadlockCount();
    const failures: unknown[] = [];
    for (let round = 0; round < 15; round++) {
      await first.enqueueMany(
        'deadlock',
        Array.from({ length: 300 }, (_, i) => ({ i })),
      );
      const leases = await first.leaseMany('deadlock', 300);
      // New row versions in descending id order: a scan of the table meets the rows in the
      // opposite order from the primary key, as on a table whose rows were updated over time.
      await db.query(`DO $$ DECLARE r record; BEGIN
        FOR r IN SELECT id FROM messages WHERE queue = 'deadlock' ORDER BY id DESC LOOP
          UPDATE messages SET body = body WHERE id = r.id;
        END LOOP; END $$`);
      const results = await Promise.allSettled([
        first.ackMany('deadlock', leases),
        second.clearQueue('deadlock'),
      ]);
      for (const result of results) if (result.status === 'rejected') failures.push(result.reason);
      await db.query(`DELETE FROM messages WHERE queue = 'deadlock'`);
    }
    expect(failures).toEqual([]);
    expect(await deadlockCount()).toBe(deadlocksBefore);
  });
});

/** Deadlocks the server detected in this database so far. */
async function deadlockCount(): Promise<number> {
  await db.query('SELECT pg_stat_force_next_flush()');
  const { rows } = await db.query<{ deadlocks: string }>(
    'SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()',
  );
  return Number(rows[0]!.deadlocks);
}

describe('batch statements find their rows by primary key', () => {
  it('whatever the statistics say about leased rows', async () => {
    const [queue] = modules.map((m) => m.queue) as [QueueService];
    await queue.enqueueMany(
      'by-key',
      Array.from({ length: 20_000 }, (_, i) => ({ i })),
    );
    // Statistics taken while nothing is leased, then 1,000 leases: the planner believes there
    // are almost no leased rows, as it does after a burst (or under a pinned horizon, where the
    // state index also keeps an entry for every version ever leased).
    await db.query(`ANALYZE messages`);
    const leases = await queue.leaseMany('by-key', 1_000);
    const store = modules[0]!.get(MessageStore);
    const names = queueTableNames('public', 'messages');
    for (const { text, values } of [
      ackBatchSql(names, 'by-key', leases),
      heartbeatManySql(names, 'by-key', leases, 60),
    ]) {
      const plan = (
        await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${text}`, values as unknown[])
      ).rows
        .map((row) => row['QUERY PLAN'])
        .join('\n');
      expect(plan).toMatch(/messages_pkey/);
      expect(plan).not.toMatch(/idx_messages_state|idx_messages_lease/);
    }
    expect((await store.ackBatch('by-key', leases)).acked).toHaveLength(1_000);
  });
});

describe('a row updated while a batch statement waited for its lock', () => {
  /**
   * Holds a row lock in another transaction that updates the row, starts `run` (which waits for
   * the lock), then commits: the statement must act on the row's new version, not skip it.
   */
  async function afterConcurrentUpdate<T>(id: string, run: () => Promise<T>): Promise<T> {
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('UPDATE messages SET body = body WHERE id = $1', [id]);
      const running = run();
      await waitForLockWaiter();
      await holder.query('COMMIT');
      return await running;
    } finally {
      await holder.end();
    }
  }

  async function waitForLockWaiter(): Promise<void> {
    for (let tries = 0; tries < 200; tries++) {
      const { rows } = await db.query<{ n: string }>(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
      );
      if (Number(rows[0]!.n) > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error('the statement never waited for the row lock');
  }

  it('ackMany, retryFailed and clearQueue act on it (they found nothing by ctid)', async () => {
    const [queue] = modules.map((m) => m.queue) as [QueueService];
    await queue.enqueue('updated', { n: 1 });
    const [lease] = await queue.leaseMany('updated', 1);
    expect(
      await afterConcurrentUpdate(lease!.id, () => queue.ackMany('updated', [lease!])),
    ).toEqual([lease!.id]);

    const failed = await queue.enqueue('updated.failed', { n: 2 });
    await db.query(`UPDATE messages SET state = 'failed' WHERE id = $1`, [failed]);
    expect(await afterConcurrentUpdate(failed, () => queue.retryFailed('updated.failed'))).toBe(1);

    const cleared = await queue.enqueue('updated.clear', { n: 3 });
    expect(await afterConcurrentUpdate(cleared, () => queue.clearQueue('updated.clear'))).toBe(1);
  });
});
