import { describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import pg from 'pg';
import { Processor, QueueValidationError, type ProcessorMessage } from '../../src/index.js';
import { SampleRecorder } from '../../src/maintenance/sample-recorder.js';
import { ReplicaHeartbeat } from '../../src/workers/replica-heartbeat.js';
import { RecordingLogger, waitFor, type BootedApp } from '../support/boot.js';
import { useQueueFixture } from '../support/queue-fixture.js';

const { db, boot } = useQueueFixture('dashboard_data', { reset: 'none' });

async function rows<T = Record<string, unknown>>(sql: string, values: unknown[] = []) {
  return (await db.query(sql, values)).rows as T[];
}

/** The timers off: tests call the writers themselves. */
const quiet = { workers: false, samples: { enabled: false } } as const;

describe('per-minute samples', () => {
  it('count what the table holds, once per minute for the cluster, and expire past retention', async () => {
    const [first, second] = await Promise.all([
      boot({ connectionString: db.url, ...quiet }),
      boot({ connectionString: db.url, ...quiet }),
    ]);
    await first.queue.enqueueMany(
      'ds.a',
      Array.from({ length: 10 }, (_, n) => ({ n })),
    );
    await first.queue.enqueueMany('ds.b', [1, 2, 3]);
    // States and times set by hand, relative to the minute the sample will close.
    const ids = (
      await rows<{ id: string }>("SELECT id FROM messages WHERE queue = 'ds.a' ORDER BY seq")
    ).map((row) => row.id);
    const setState = (index: number, state: string) =>
      db.query(
        `UPDATE messages SET state = $2, lease_until = CASE WHEN $2 = 'leased' THEN 9999999999 END WHERE id = $1`,
        [ids[index], state],
      );
    for (const [index, state] of [
      [0, 'leased'],
      [1, 'leased'],
      [2, 'done'],
      [3, 'done'],
      [4, 'failed'],
      [5, 'cancelled'],
    ] as const) {
      await setState(index, state);
    }

    let recorded: Array<Awaited<ReturnType<SampleRecorder['recordNow']>>> = [];
    let minute: Date | undefined;
    // A minute that turns between the set-up and the sample moves the window: set up again.
    for (let attempt = 0; attempt < 3; attempt++) {
      await db.query('DELETE FROM messages_samples');
      await db.query('DELETE FROM messages_sample_minutes');
      minute = (await rows<{ m: Date }>("SELECT date_trunc('minute', now()) AS m"))[0]!.m;
      const inside = minute.getTime() / 1000 - 30;
      await db.query('UPDATE messages SET created_at = $1, leased_at = NULL', [
        Math.floor(minute.getTime() / 1000) + 1,
      ]);
      // Enqueued during the closing minute: three of ds.a; ds.b before it.
      await db.query('UPDATE messages SET created_at = $1 WHERE id = ANY ($2)', [
        inside,
        ids.slice(6, 9),
      ]);
      await db.query("UPDATE messages SET created_at = $1 WHERE queue = 'ds.b'", [inside - 60]);
      // Ended during it: one done, the failed and the cancelled one; the other done one before.
      await db.query(
        "UPDATE messages SET leased_at = to_timestamp($1) WHERE id = ANY ($2) AND state <> 'leased'",
        [inside, [ids[2], ids[4], ids[5]]],
      );
      await db.query('UPDATE messages SET leased_at = to_timestamp($1) WHERE id = $2', [
        inside - 60,
        ids[3],
      ]);
      await db.query('UPDATE messages SET leased_at = to_timestamp($1) WHERE id = $2', [
        inside,
        ids[0],
      ]);
      recorded = await Promise.all(
        [first, second].map((app) => app.get(SampleRecorder).recordNow()),
      );
      const sampled = recorded.find((r) => r?.minute !== null)?.minute;
      if (sampled?.getTime() === minute.getTime()) break;
    }

    // One replica sampled the minute, the other found it taken.
    expect(recorded.map((r) => r?.minute === null).sort()).toEqual([false, true]);
    expect(recorded.find((r) => r?.minute !== null)).toMatchObject({ queues: 2 });
    expect(await rows('SELECT count(*)::integer AS n FROM messages_samples')).toEqual([{ n: 2 }]);

    const samples = await second.queue.listSamples();
    expect(samples).toEqual([
      {
        queue: 'ds.a',
        minute,
        ready: 4,
        leased: 2,
        failed: 1,
        done: 2,
        cancelled: 1,
        enqueued: 3,
        completed: 3,
      },
      {
        queue: 'ds.b',
        minute,
        ready: 3,
        leased: 0,
        failed: 0,
        done: 0,
        cancelled: 0,
        enqueued: 0,
        completed: 0,
      },
    ]);
    // The state counts are the database's.
    const counts = await rows<{ state: string; n: number }>(
      "SELECT state, count(*)::integer AS n FROM messages WHERE queue = 'ds.a' GROUP BY state",
    );
    for (const { state, n } of counts) {
      expect(samples[0]![state as 'ready']).toBe(n);
    }
    expect(await first.queue.listSamples({ queue: 'ds.b', sinceMinutes: 5 })).toEqual([samples[1]]);

    // Retention (48 hours by default): older minutes go, with their claims, when a minute is sampled.
    await db.query(
      `INSERT INTO messages_sample_minutes (minute) VALUES (date_trunc('minute', now()) - interval '49 hours'), (date_trunc('minute', now()) - interval '47 hours')`,
    );
    await db.query(
      `INSERT INTO messages_samples SELECT minute, 'ds.old', 1, 0, 0, 0, 0, 0, 0 FROM messages_sample_minutes WHERE minute < now() - interval '1 hour'`,
    );
    expect(await first.queue.listSamples({ sinceMinutes: 10_080 })).toHaveLength(4);
    for (const table of ['messages_samples', 'messages_sample_minutes']) {
      await db.query(`DELETE FROM ${table} WHERE minute > now() - interval '1 hour'`);
    }
    const expiring = await first.get(SampleRecorder).recordNow();
    expect(expiring).toMatchObject({ expiredMinutes: 1 });
    expect(
      await rows(
        "SELECT (extract(epoch FROM date_trunc('minute', now()) - minute) / 3600)::integer AS h FROM messages_samples WHERE queue = 'ds.old'",
      ),
    ).toEqual([{ h: 47 }]);
    expect(
      await rows(
        "SELECT count(*)::integer AS n FROM messages_sample_minutes WHERE minute < now() - interval '48 hours'",
      ),
    ).toEqual([{ n: 0 }]);

    // A sample that fails gives its minute back, for another replica to sample.
    for (const table of ['messages_samples', 'messages_sample_minutes']) {
      await db.query(`DELETE FROM ${table} WHERE minute > now() - interval '1 hour'`);
    }
    const [{ taken }] = (
      await db.query(
        `INSERT INTO messages_samples VALUES (date_trunc('minute', now()), 'ds.a', 0, 0, 0, 0, 0, 0, 0) RETURNING minute AS taken`,
      )
    ).rows as [{ taken: Date }];
    const failed = await first.get(SampleRecorder).recordNow();
    // Unless the minute turned in between, and the sample went to the next one.
    if (failed?.minute?.getTime() !== taken.getTime() + 60_000) {
      expect(failed).toBeUndefined();
      expect(
        await rows('SELECT 1 FROM messages_sample_minutes WHERE minute = $1', [taken]),
      ).toEqual([]);
    }
    await db.query("DELETE FROM messages WHERE queue LIKE 'ds.%'");
  });

  it('an unmigrated table (migrationsRun: false) is told once by each writer, and the app runs on', async () => {
    const logger = new RecordingLogger();
    const app = await boot(
      { connectionString: db.url, schema: 'unmigrated', migrationsRun: false, ...quiet },
      [],
      { logger },
    );
    const heartbeat = app.get(ReplicaHeartbeat);
    const recorder = app.get(SampleRecorder);
    expect(await recorder.recordNow()).toBeUndefined();
    expect(await recorder.recordNow()).toBeUndefined();
    expect(await heartbeat.beatNow()).toBe(false);
    expect(await heartbeat.beatNow()).toBe(false);
    const warnings = logger.lines.filter((line) => /messages_(replicas|samples)/.test(line));
    expect(warnings.sort()).toEqual([
      'warn "unmigrated"."messages_replicas" does not exist (migrations not applied): this replica is not listed until it does',
      'warn "unmigrated"."messages_samples" does not exist (migrations not applied): no samples until it does',
    ]);
    await app.close();
  });
});

describe('the writers’ timers', () => {
  it('are registered in the application’s SchedulerRegistry, and removed at shutdown', async () => {
    const app = await boot({ connectionString: db.url, workers: false }, [], {
      imports: [ScheduleModule.forRoot()],
    });
    const registry = app.get(SchedulerRegistry);
    const id = app.get(ReplicaHeartbeat).id;
    expect(registry.getIntervals()).toContain(`queue-heartbeat:public.messages:${id}`);
    expect(registry.getTimeouts().filter((name) => name.startsWith('queue-samples:'))).toEqual([
      expect.stringMatching(/^queue-samples:public\.messages:[0-9a-f]{8}$/),
    ]);
    await app.close();
    expect(registry.getIntervals()).toEqual([]);
    expect(registry.getTimeouts()).toEqual([]);
    // Its row left with it.
    expect(await rows('SELECT 1 FROM messages_replicas WHERE id = $1', [id])).toEqual([]);
  });
});

/** A processor whose handlers wait until released. */
let release: () => void = () => undefined;
let gate = new Promise<void>((resolve) => (release = resolve));

@Injectable()
class Holding {
  @Processor('hb.work', { concurrency: 3 })
  async handle(_message: ProcessorMessage): Promise<void> {
    await gate;
  }
}

describe('replica heartbeats', () => {
  it('list every replica with its processors; a closed one leaves, a dead one is forgotten', async () => {
    gate = new Promise<void>((resolve) => (release = resolve));
    await db.query('DELETE FROM messages_replicas');
    const worker = await boot(
      { connectionString: db.url, applicationName: 'hb-worker', samples: { enabled: false } },
      [Holding],
    );
    const dashboard = await boot({
      connectionString: db.url,
      applicationName: 'hb-dashboard',
      ...quiet,
    });
    try {
      await worker.queue.enqueueMany('hb.work', [1, 2]);
      await waitFor(
        () => worker.registry.getProcessors()[0]?.inFlight === 2,
        10_000,
        'two running',
      );
      await worker.get(ReplicaHeartbeat).beatNow();
      await dashboard.get(ReplicaHeartbeat).beatNow();
      const replicas = await dashboard.queue.listReplicas();
      expect(replicas).toEqual([
        expect.objectContaining({
          id: dashboard.get(ReplicaHeartbeat).id,
          applicationName: 'hb-dashboard',
          pid: process.pid,
          processors: [],
        }),
        expect.objectContaining({
          id: worker.get(ReplicaHeartbeat).id,
          applicationName: 'hb-worker',
          processors: [{ queue: 'hb.work', concurrency: 3, running: 2, paused: false }],
        }),
      ]);
      expect(replicas[1]!.lastSeenAt.getTime()).toBeGreaterThanOrEqual(
        replicas[1]!.startedAt.getTime(),
      );

      worker.registry.pause('hb.work');
      await worker.get(ReplicaHeartbeat).beatNow();
      expect((await dashboard.queue.listReplicas())[1]!.processors).toEqual([
        { queue: 'hb.work', concurrency: 3, running: 2, paused: true },
      ]);

      // A replica three intervals late is not listed; one an hour late is deleted at a beat.
      await db.query(
        `INSERT INTO messages_replicas (id, application_name, hostname, pid, started_at, last_seen_at, heartbeat_seconds)
         VALUES (gen_random_uuid(), 'late', 'h', 1, now() - interval '2 minutes', now() - interval '31 seconds', 10),
                (gen_random_uuid(), 'dead', 'h', 2, now() - interval '3 hours', now() - interval '61 minutes', 10)`,
      );
      expect((await dashboard.queue.listReplicas()).map((r) => r.applicationName)).toEqual([
        'hb-dashboard',
        'hb-worker',
      ]);
      await dashboard.get(ReplicaHeartbeat).beatNow();
      expect(
        (
          await rows<{ a: string }>(
            'SELECT application_name AS a FROM messages_replicas ORDER BY 1',
          )
        ).map((row) => row.a),
      ).toEqual(['hb-dashboard', 'hb-worker', 'late']);

      release();
      await worker.close();
      expect((await dashboard.queue.listReplicas()).map((r) => r.applicationName)).toEqual([
        'hb-dashboard',
      ]);
    } finally {
      release();
    }
  });
});

describe('retryFailedInBatches', () => {
  let app: BootedApp;

  async function deadLetters(queue: string, count: number): Promise<void> {
    await db.query(
      `INSERT INTO messages (queue, body, available_at, state, created_at, attempts)
       SELECT $1, jsonb_build_object('n', n), 0, 'failed', 0, 5 FROM generate_series(1, $2::integer) AS n`,
      [queue, count],
    );
  }

  it('puts back every dead letter in short batches, telling the total after each', async () => {
    app = await boot({ connectionString: db.url, ...quiet });
    await deadLetters('rb.many', 5_000);
    await deadLetters('rb.other', 1);
    const totals: number[] = [];
    expect(
      await app.queue.retryFailedInBatches('rb.many', { onBatch: (n) => totals.push(n) }),
    ).toBe(5_000);
    expect(totals).toEqual([1_000, 2_000, 3_000, 4_000, 5_000]);
    expect(
      await rows(
        "SELECT queue, state, attempts, count(*)::integer AS n FROM messages WHERE queue LIKE 'rb.%' GROUP BY 1, 2, 3 ORDER BY 1",
      ),
    ).toEqual([
      { queue: 'rb.many', state: 'ready', attempts: 0, n: 5_000 },
      { queue: 'rb.other', state: 'failed', attempts: 5, n: 1 },
    ]);

    // Again, while a writer keeps updating dead letters of the same queue, spread over the run:
    // it is never held for long, and a row it held as its batch passed stays a dead letter.
    await db.query("UPDATE messages SET state = 'failed' WHERE queue = 'rb.many'");
    const touched = (
      await rows<{ id: string }>(
        "SELECT id FROM messages WHERE queue = 'rb.many' AND seq % 250 = 0 ORDER BY id",
      )
    ).map((row) => row.id);
    const writer = new pg.Client({ connectionString: db.url });
    await writer.connect();
    try {
      const during: number[] = [];
      let done = false;
      const retried = app.queue
        .retryFailedInBatches('rb.many', { onBatch: (n) => during.push(n) })
        .finally(() => (done = true));
      let slowest = 0;
      for (let n = 0; !done; n++) {
        const began = performance.now();
        await writer.query(`UPDATE messages SET body = body || '{"touched": true}' WHERE id = $1`, [
          touched[n % touched.length],
        ]);
        slowest = Math.max(slowest, performance.now() - began);
      }
      const total = await retried;
      expect(slowest).toBeLessThan(3_000);
      const [{ left }] = (await rows<{ left: number }>(
        "SELECT count(*)::integer AS left FROM messages WHERE queue = 'rb.many' AND state = 'failed'",
      )) as [{ left: number }];
      expect(total + left).toBe(5_000);
      expect(total).toBeGreaterThan(5_000 - touched.length - 1);
      expect(during.at(-1)).toBe(total);
      expect(during).toEqual([...during].sort((a, b) => a - b));
      expect(await app.queue.retryFailedInBatches('rb.many')).toBe(left);
    } finally {
      await writer.end();
    }
  });

  it('skips a dead letter locked elsewhere instead of waiting, and keeps retryFailed’s destinations', async () => {
    app = await boot({ connectionString: db.url, ...quiet });
    await db.query("DELETE FROM messages WHERE queue LIKE 'rb.%'");
    await deadLetters('rb.few', 5);
    // One moved to its dead-letter queue, one that failed in the dead-letter queue itself.
    await db.query(
      `INSERT INTO messages (queue, body, available_at, state, created_at, attempts, origin_queue)
       VALUES ('rb.dead', '{}', 0, 'ready', 0, 0, 'rb.src'), ('rb.dead', '{}', 0, 'failed', 0, 1, 'rb.src')`,
    );
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      const held = (
        await holder.query<{ id: string }>(
          // Not `LIMIT … OFFSET … FOR UPDATE`, which locks the rows it skips too.
          "SELECT id FROM messages WHERE id = (SELECT id FROM messages WHERE queue = 'rb.few' ORDER BY id LIMIT 1 OFFSET 2) FOR UPDATE",
        )
      ).rows[0]!.id;
      const totals: number[] = [];
      expect(
        await app.queue.retryFailedInBatches('rb.few', {
          batchSize: 2,
          onBatch: (n) => totals.push(n),
        }),
      ).toBe(4);
      expect(totals).toEqual([2, 3, 4]);
      expect(
        await rows("SELECT id FROM messages WHERE queue = 'rb.few' AND state = 'failed'"),
      ).toEqual([{ id: held }]);
      await holder.query('COMMIT');
      expect(await app.queue.retryFailedInBatches('rb.few')).toBe(1);

      // Each dead letter once, though the one put back in its dead-letter queue matches again.
      expect(await app.queue.retryFailedInBatches('rb.dead', { batchSize: 1 })).toBe(2);
      expect(
        await rows(
          "SELECT queue, state, origin_queue FROM messages WHERE origin_queue = 'rb.src' OR queue = 'rb.src' ORDER BY queue",
        ),
      ).toEqual([
        { queue: 'rb.dead', state: 'ready', origin_queue: 'rb.src' },
        { queue: 'rb.src', state: 'ready', origin_queue: null },
      ]);
    } finally {
      await holder.end();
    }
  });

  it('refuses bad arguments with a QueueValidationError naming the field', async () => {
    app = await boot({ connectionString: db.url, ...quiet });
    const cases: Array<[() => Promise<unknown>, string]> = [
      [() => app.queue.retryFailedInBatches(''), 'queue'],
      [() => app.queue.retryFailedInBatches('q', null as never), 'options'],
      [() => app.queue.retryFailedInBatches('q', { batchSize: 0 }), 'options.batchSize'],
      [() => app.queue.retryFailedInBatches('q', { batchSize: 10_001 }), 'options.batchSize'],
      [() => app.queue.retryFailedInBatches('q', { batchSize: 1.5 }), 'options.batchSize'],
      [() => app.queue.retryFailedInBatches('q', { onBatch: 'x' as never }), 'options.onBatch'],
      [() => app.queue.listSamples({ sinceMinutes: 0 }), 'options.sinceMinutes'],
      [() => app.queue.listSamples({ sinceMinutes: 10_081 }), 'options.sinceMinutes'],
      [() => app.queue.listSamples({ queue: ' q' }), 'options.queue'],
      [() => app.queue.listSamples([] as never), 'options'],
    ];
    for (const [call, field] of cases) {
      const error = await call().catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(QueueValidationError);
      expect(error).toMatchObject({ field });
    }
  });
});
