import { describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import {
  migrateQueue,
  Processor,
  QueueDatabaseError,
  QueueHealthIndicator,
  type ProcessorMessage,
} from '../../src/index.js';
import { DataSource } from 'typeorm';
import { queueTableNames } from '../../src/config/identifier-rules.js';
import { runQueueMigrations } from '../../src/database/migration-runner.js';
import { type AdoptionStep } from '../../src/migrations/adopt-python-table.js';
import { waitFor } from '../support/boot.js';
import { PythonBackendClient } from '../support/python-backend-client.js';
import { useQueueFixture } from '../support/queue-fixture.js';
import { MIGRATION_NAMES } from '../support/queue-migrations.js';

/*
 * The Python backend (AsyncPostgresQueue) and this module on one table: adopting the table it
 * created and filled, either side first, and both consuming one queue. The Python side is the
 * backend's own SQL, issued by test/support/python-backend-client.ts.
 */
const { db, boot } = useQueueFixture('python_table', { reset: 'drop' });

/** Every column the Python backend has, with the body as its text and its stored bytes. */
async function pythonColumns(): Promise<Record<string, unknown>[]> {
  const { rows } = await db.query(
    `SELECT id, queue, body::text AS body, encode(jsonb_send(body), 'hex') AS bytes,
       available_at, lease_until, attempts, state, created_at
     FROM messages ORDER BY id`,
  );
  return rows;
}

/**
 * The table's shape as the catalog describes it, with the schema's name taken out: columns
 * (type, NOT NULL, default, identity), constraints and indexes.
 */
async function shapeOf(schema: string): Promise<Record<string, unknown>> {
  const strip = (text: string | null) => text?.replaceAll(`${schema}.`, '') ?? null;
  const columns = await db.query<Record<string, string | null>>(
    `SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull::text AS not_null,
       pg_get_expr(d.adbin, d.adrelid) AS default, a.attidentity::text AS identity
     FROM pg_attribute AS a LEFT JOIN pg_attrdef AS d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [`${schema}.messages`],
  );
  const constraints = await db.query<{ conname: string; def: string; convalidated: boolean }>(
    `SELECT conname, pg_get_constraintdef(oid) AS def, convalidated FROM pg_constraint
     WHERE conrelid = $1::regclass ORDER BY conname`,
    [`${schema}.messages`],
  );
  const indexes = await db.query<{ indexname: string; indexdef: string }>(
    'SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname',
    [schema],
  );
  const tables = await db.query<{ tablename: string }>(
    'SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY 1',
    [schema],
  );
  return {
    columns: columns.rows.map((row) => ({ ...row, default: strip(row.default ?? null) })),
    constraints: constraints.rows,
    indexes: indexes.rows.map((row) => ({ ...row, indexdef: strip(row.indexdef) })),
    tables: tables.rows.map((row) => row.tablename),
    sequences: (
      await db.query<{ relname: string }>(
        `SELECT relname FROM pg_class WHERE relkind = 'S' AND relnamespace = $1::regnamespace ORDER BY 1`,
        [schema],
      )
    ).rows.map((row) => row.relname),
  };
}

/** Fills the Python backend's table through its own calls, with messages in every state. */
async function fillAsPython(python: PythonBackendClient): Promise<Record<string, string[]>> {
  await python.initDb();
  const ids: Record<string, string[]> = { due: [], delayed: [], leased: [], expired: [], done: [] };
  for (let i = 0; i < 200; i++) {
    ids.due!.push(await python.enqueue('ingest.main', { i, text: `document ${i} ü 🙂` }));
  }
  for (let i = 0; i < 10; i++) {
    ids.delayed!.push(await python.enqueue('ingest.main', { delayed: i }, 3_600));
  }
  // JSON the way Python's json.dumps writes it, bytes JavaScript would not produce.
  await db.query(
    `INSERT INTO messages (id, queue, body, available_at, attempts, state, created_at)
     VALUES ($1, $2, $3::jsonb, $4, 0, 'ready', $5)`,
    [
      'py-raw-json',
      'ingest.main',
      '{"price": 1.50, "big": 12345678901234567890123, "e": 1e-7, "s": "\\u00fc\\ud83d\\ude42"}',
      Math.floor(Date.now() / 1000) - 100,
      Math.floor(Date.now() / 1000) - 100,
    ],
  );
  ids.due!.push('py-raw-json');
  for (let i = 0; i < 6; i++) {
    const leased = (await python.leaseNext('ingest.main', 3_600))!;
    ids.done!.push(leased.id);
    await python.ack('ingest.main', leased.id);
  }
  for (let i = 0; i < 4; i++) ids.leased!.push((await python.leaseNext('ingest.main', 3_600))!.id);
  for (let i = 0; i < 3; i++) ids.expired!.push((await python.leaseNext('ingest.main', 60))!.id);
  // A nacked one keeps its attempt, and three attempts make it "failed" in get_stats.
  const nacked = (await python.leaseNext('ingest.main', 60))!.id;
  await python.nack('ingest.main', nacked);
  await db.query('UPDATE messages SET attempts = 3 WHERE id = $1', [nacked]);
  await db.query('UPDATE messages SET lease_until = lease_until - 120 WHERE id = ANY ($1)', [
    ids.expired,
  ]);
  // What is still due: the nacked one included, the leased and done ones not.
  const taken = new Set([...ids.done!, ...ids.leased!, ...ids.expired!]);
  ids.due = ids.due!.filter((id) => !taken.has(id));
  return ids;
}

describe("adopting the Python backend's table", () => {
  it('upgrades its filled table in place at boot: nothing lost or changed, seq in due order, then drains it', async () => {
    const python = new PythonBackendClient(db.url);
    try {
      const ids = await fillAsPython(python);
      const before = await pythonColumns();
      const pythonStats = await python.getStats();

      @Injectable()
      class Ingest {
        readonly handled: string[] = [];
        @Processor('ingest.main', { concurrency: 4 })
        handle(message: ProcessorMessage<unknown>): void {
          this.handled.push(message.id);
        }
      }
      // The module's boot adopts it (workers off for now, so every column can be compared).
      const booted = await boot({ connectionString: db.url, workers: false });
      const { rows: names } = await db.query<{ name: string }>(
        'SELECT name FROM messages_migrations ORDER BY id',
      );
      expect(names.map((row) => row.name)).toEqual(MIGRATION_NAMES);
      // Every row as it was, byte for byte, none lost or added.
      expect(await pythonColumns()).toEqual(before);
      expect((await pythonColumns()).find((row) => row.id === 'py-raw-json')!.body).toBe(
        '{"e": 0.0000001, "s": "ü🙂", "big": 12345678901234567890123, "price": 1.50}',
      );
      await booted.close();

      // seq: set on every row, unique, and in due order (available_at, created_at, id).
      const { rows: order } = await db.query<{ id: string; seq: string }>(
        'SELECT id, seq FROM messages ORDER BY seq',
      );
      expect(order.every((row) => row.seq !== null)).toBe(true);
      expect(new Set(order.map((row) => row.seq)).size).toBe(before.length);
      const { rows: collated } = await db.query<{ id: string }>(
        'SELECT id FROM messages ORDER BY available_at, created_at, id',
      );
      expect(order.map((row) => row.id)).toEqual(collated.map((row) => row.id));

      // The same shape as a table we create (the Python backend's created_at default kept).
      await migrateQueue({ connectionString: db.url, schema: 'fresh' });
      const adopted = await shapeOf('public');
      const fresh = await shapeOf('fresh');
      const withoutCreatedAtDefault = (shape: Record<string, unknown>) => ({
        ...shape,
        columns: (shape.columns as Array<Record<string, unknown>>).map((column) =>
          column.attname === 'created_at' ? { ...column, default: null } : column,
        ),
      });
      expect(withoutCreatedAtDefault(adopted)).toEqual(fresh);

      const app = await boot({ connectionString: db.url }, [Ingest]);
      // The drain: every due message handled once; the expired Python leases (no token) reaped
      // by our reaper and handled too; its live leases and delayed messages left alone.
      expect(await app.queue.reapExpiredLeases()).toBe(3);
      const expected = [...ids.due!, ...ids.expired!];
      await waitFor(() => app.get(Ingest).handled.length >= expected.length, 20_000, 'the drain');
      expect([...app.get(Ingest).handled].sort()).toEqual([...new Set(expected)].sort());
      // Handled is not yet acked: the workers ack in batches.
      await waitFor(
        async () => (await app.queue.getStats('ingest.main')).byState.done === expected.length + 6,
        20_000,
        'the acks',
      );
      const stats = await app.queue.getStats('ingest.main');
      expect(stats.byState).toEqual({
        ready: 10,
        leased: 4,
        done: expected.length + 6,
        failed: 0,
        cancelled: 0,
        waiting_children: 0,
      });
      expect(stats.totalMessages).toBe(pythonStats.total_messages);
    } finally {
      await python.close();
    }
  });

  it("adopts while the Python backend's workers keep enqueueing, leasing and acking", async () => {
    const python = new PythonBackendClient(db.url, 6);
    try {
      await python.initDb();
      const batch = Array.from({ length: 20_000 }, (_, i) => JSON.stringify({ i }));
      await db.query(
        `INSERT INTO messages (id, queue, body, available_at, attempts, state, created_at)
         SELECT gen_random_uuid()::text, 'ingest.main', b::jsonb, extract(epoch from now())::bigint - 10,
           0, 'ready', extract(epoch from now())::bigint - 10
         FROM unnest($1::text[]) AS b`,
        [batch],
      );
      let running = true;
      const errors: unknown[] = [];
      const enqueued: string[] = [];
      const acked: string[] = [];
      let slowest = 0;
      const timed = async <T>(work: () => Promise<T>): Promise<T> => {
        const started = performance.now();
        try {
          return await work();
        } finally {
          slowest = Math.max(slowest, performance.now() - started);
        }
      };
      const loops = [
        (async () => {
          while (running)
            enqueued.push(await timed(() => python.enqueue('ingest.main', { late: true })));
        })(),
        ...[1, 2, 3].map(async () => {
          while (running) {
            const message = await timed(() => python.leaseNext('ingest.main', 600));
            if (message === null) continue;
            await timed(() => python.ack('ingest.main', message.id));
            acked.push(message.id);
          }
        }),
      ].map((loop) => loop.catch((error: unknown) => errors.push(error)));

      await new Promise((resolve) => setTimeout(resolve, 200));
      const result = await migrateQueue({ connectionString: db.url });
      await new Promise((resolve) => setTimeout(resolve, 200));
      running = false;
      await Promise.all(loops);

      expect(errors).toEqual([]);
      expect(result.applied).toEqual(MIGRATION_NAMES);
      expect(acked.length).toBeGreaterThan(0);
      expect(enqueued.length).toBeGreaterThan(0);
      const { rows } = await db.query<{
        total: string;
        ids: string;
        nulls: string;
        seqs: string;
        done: string;
      }>(
        `SELECT count(*) AS total, count(DISTINCT id) AS ids, count(*) FILTER (WHERE seq IS NULL) AS nulls,
           count(DISTINCT seq) AS seqs, count(*) FILTER (WHERE state = 'done') AS done FROM messages`,
      );
      expect(rows[0]).toEqual({
        total: String(20_000 + enqueued.length),
        ids: String(20_000 + enqueued.length),
        nulls: '0',
        seqs: String(20_000 + enqueued.length),
        done: String(new Set(acked).size),
      });
      expect(new Set(acked).size).toBe(acked.length);
      // Rows the Python side inserted during the adoption sort after the ones that were there.
      const { rows: late } = await db.query<{ bad: string }>(
        `SELECT count(*) AS bad FROM messages AS a, LATERAL (SELECT max(seq) AS seq FROM messages WHERE NOT body ? 'late') AS old
         WHERE a.body ? 'late' AND a.seq < old.seq`,
      );
      expect(late[0]!.bad).toBe('0');
      process.stdout.write(
        `adopting 20,000 rows under load: ${acked.length} Python acks and ${enqueued.length} enqueues meanwhile, slowest Python statement ${slowest.toFixed(0)} ms\n`,
      );
    } finally {
      await python.close();
    }
  });

  it.each(['prepare (locks)', 'backfill', 'validate', 'index'] as AdoptionStep[])(
    'resumes an adoption that died after its %s step, while the Python side kept writing',
    async (crashAfter) => {
      const python = new PythonBackendClient(db.url);
      const dataSource = new DataSource({ type: 'postgres', url: db.url, extra: { max: 2 } });
      await dataSource.initialize();
      try {
        await python.initDb();
        for (let i = 0; i < 50; i++) await python.enqueue('q', { i });
        const crash = new Error(`died after ${crashAfter}`);
        await expect(
          runQueueMigrations(dataSource, queueTableNames('public', 'messages'), {
            lockTimeoutMs: 5_000,
            onAdoptionStep: (step) => {
              if (step === crashAfter) throw crash;
            },
          }),
        ).rejects.toBe(crash);
        // Meanwhile the Python side works on: a new message, a lease, a deletion.
        const late = await python.enqueue('q', { late: true });
        await python.leaseNext('q', 600);
        await python.deleteMessage((await python.leaseNext('q', 600))!.id);
        const before = await pythonColumns();

        expect((await migrateQueue({ connectionString: db.url })).applied).toEqual(MIGRATION_NAMES);
        expect(await pythonColumns()).toEqual(before);
        const { rows } = await db.query<{ id: string }>('SELECT id FROM messages ORDER BY seq');
        const { rows: due } = await db.query<{ id: string }>(
          'SELECT id FROM messages WHERE id <> $1 ORDER BY available_at, created_at, id',
          [late],
        );
        // The message enqueued after the first try began sorts after every older one.
        expect(rows.map((row) => row.id)).toEqual([...due.map((row) => row.id), late]);
        await migrateQueue({ connectionString: db.url, schema: 'fresh' });
        const adopted = await shapeOf('public');
        const fresh = await shapeOf('fresh');
        expect({ ...adopted, columns: undefined }).toEqual({ ...fresh, columns: undefined });
        await db.query('DROP SCHEMA fresh CASCADE');
      } finally {
        await dataSource.destroy();
        await python.close();
      }
    },
  );

  it('several processes booting at once on its table adopt it once', async () => {
    const python = new PythonBackendClient(db.url);
    try {
      await python.initDb();
      for (let i = 0; i < 100; i++) await python.enqueue('q', { i });
      const results = await Promise.all(
        Array.from({ length: 4 }, () => migrateQueue({ connectionString: db.url })),
      );
      expect(results.filter((result) => result.applied.length > 0)).toHaveLength(1);
      expect(results.flatMap((result) => result.applied)).toEqual(MIGRATION_NAMES);
      const { rows } = await db.query('SELECT count(DISTINCT seq)::int AS n FROM messages');
      expect(rows).toEqual([{ n: 100 }]);
    } finally {
      await python.close();
    }
  });

  const PYTHON_COLUMNS = {
    id: 'TEXT PRIMARY KEY',
    queue: 'TEXT NOT NULL',
    body: 'JSONB NOT NULL',
    available_at: 'BIGINT NOT NULL',
    lease_until: 'BIGINT',
    attempts: 'INTEGER NOT NULL DEFAULT 0',
    state: "TEXT NOT NULL DEFAULT 'ready'",
    created_at: 'BIGINT NOT NULL',
  };
  it.each([
    [
      'a column of another type',
      { ...PYTHON_COLUMNS, available_at: 'TEXT NOT NULL' },
      'column "available_at" is text, expected bigint',
    ],
    [
      'a column of neither',
      { ...PYTHON_COLUMNS, priority: 'INTEGER' },
      `column "priority" is neither the Python backend's nor ours`,
    ],
    [
      'a nullable queue',
      { ...PYTHON_COLUMNS, queue: 'TEXT' },
      'column "queue" allows NULL, expected NOT NULL',
    ],
    [
      'no primary key',
      { ...PYTHON_COLUMNS, id: 'TEXT NOT NULL' },
      'column "id" is not the primary key',
    ],
    [
      'a seq of another type',
      { ...PYTHON_COLUMNS, seq: 'INTEGER' },
      'column "seq" is integer, expected bigint',
    ],
  ])(
    'stops on a table like the Python one but with %s, naming it, and changes nothing',
    async (_, columns, what) => {
      await db.query(
        `CREATE TABLE messages (${Object.entries(columns)
          .map(([name, type]) => `${name} ${type}`)
          .join(', ')})`,
      );
      await db.query(
        "INSERT INTO messages (id, queue, body, available_at, created_at) VALUES ('a', 'q', '{}', '1', 1)",
      );
      const before = await shapeOf('public');
      const error = await migrateQueue({ connectionString: db.url }).then(
        () => undefined,
        (failure: unknown) => failure,
      );
      expect(error).toBeInstanceOf(QueueDatabaseError);
      expect((error as Error).message).toBe(
        `Queue migrate failed: public.messages looks like the Python backend's table but cannot be adopted: ${what}${what.endsWith('key') ? ', expected PRIMARY KEY (id)' : ''}; nothing was changed (code 42804)`,
      );
      expect(await shapeOf('public')).toEqual(before);
      expect((await db.query('SELECT id FROM messages')).rows).toEqual([{ id: 'a' }]);
    },
  );

  it('still refuses a table that is not the Python one at all (42P07)', async () => {
    await db.query(
      'CREATE TABLE messages (id TEXT PRIMARY KEY, queue TEXT NOT NULL, payload JSONB)',
    );
    await expect(migrateQueue({ connectionString: db.url })).rejects.toMatchObject({
      code: '42P07',
      message: expect.stringContaining('already exists but was not created by @fetchcraft/queue'),
    });
  });

  it('stops on rows our constraints would refuse, naming them, and changes nothing', async () => {
    const python = new PythonBackendClient(db.url);
    try {
      await python.initDb();
      await python.enqueue('q', { n: 1 });
      await db.query("UPDATE messages SET state = 'archived'");
      const before = await shapeOf('public');
      await expect(migrateQueue({ connectionString: db.url })).rejects.toThrow(
        /1 rows have a state other than ready, leased, done or failed; nothing was changed/,
      );
      expect(await shapeOf('public')).toEqual(before);
    } finally {
      await python.close();
    }
  });
});

describe('our table first, then the Python backend on it', () => {
  it("its CREATE TABLE/INDEX IF NOT EXISTS and inserts succeed, and each side's calls work on the other's rows", async () => {
    const app = await boot({ connectionString: db.url, workers: false });
    const python = new PythonBackendClient(db.url);
    try {
      const ours = await app.queue.enqueue('shared', { from: 'ts' });
      await python.initDb();
      const theirs = await python.enqueue('shared', { from: 'python' });
      await app.queue.enqueue('shared', { from: 'ts', n: 2 });
      // Its row got a seq and no lease token; ours lease it like our own, in order.
      const { rows } = await db.query<{ id: string; lease_token: string | null }>(
        'SELECT id, lease_token FROM messages ORDER BY seq',
      );
      expect(rows.map((row) => row.id).slice(0, 2)).toEqual([ours, theirs]);
      expect(await python.hasPending('shared')).toBe(true);

      // The Python worker leases our message, we lease its message: both ack.
      await db.query('UPDATE messages SET available_at = available_at - 1 WHERE id = ANY ($1)', [
        [ours, theirs],
      ]);
      const leasedByPython = (await python.leaseNext('shared', 60))!;
      const leasedByUs = (await app.queue.leaseNext('shared'))!;
      expect([leasedByPython.id, leasedByUs.id].sort()).toEqual([ours, theirs].sort());
      const bodies = { [ours]: { from: 'ts' }, [theirs]: { from: 'python' } };
      expect(leasedByPython.body).toEqual(bodies[leasedByPython.id]);
      expect(leasedByUs.body).toEqual(bodies[leasedByUs.id]);
      expect(leasedByUs.leaseToken).toMatch(/^[0-9a-f-]{36}$/);
      await python.ack('shared', leasedByPython.id);
      expect(await app.queue.ack('shared', leasedByUs)).toBe(true);

      // Its get_stats keys on our rows, and ours on its rows.
      expect(await python.getStats()).toEqual({
        total_messages: 3,
        by_state: { done: 2, ready: 1 },
        by_queue: { shared: 3 },
        failed_messages: 0,
      });
      const stats = await app.queue.getStats();
      expect(stats.totalMessages).toBe(3);
      expect(stats.byState).toMatchObject({ done: 2, ready: 1 });
      expect((await app.get(QueueHealthIndicator).depths()).shared).toMatchObject({ ready: 1 });

      // Our cleanup treats its old done rows like ours.
      await db.query('UPDATE messages SET created_at = created_at - 8 * 86400');
      expect(await app.queue.cleanup({ doneRetentionDays: 7, failedRetentionDays: false })).toEqual(
        {
          deleted: 2,
          archived: 0,
        },
      );

      // Its clear_queue(queue, state) and delete_message on our rows.
      const a = await app.queue.enqueue('shared', { n: 'a' });
      expect(await python.deleteMessage(a)).toBe(true);
      expect(await python.clearQueue('shared', 'ready')).toBe(1);
      expect(await python.hasPending('shared')).toBe(false);

      // A Python worker's lease (no token) that expires is reaped by our reaper.
      await python.enqueue('shared', { n: 'b' });
      const stuck = (await python.leaseNext('shared', 60))!;
      await db.query('UPDATE messages SET lease_until = lease_until - 120 WHERE id = $1', [
        stuck.id,
      ]);
      expect(await app.queue.reapExpiredLeases()).toBe(1);
      expect((await app.queue.leaseNext('shared'))?.id).toBe(stuck.id);

      // The limit of mixed fleets: its ack checks no token, so it settles our lease.
      await python.ack('shared', stuck.id);
      const { rows: settled } = await db.query('SELECT state FROM messages WHERE id = $1', [
        stuck.id,
      ]);
      expect(settled).toEqual([{ state: 'done' }]);
    } finally {
      await python.close();
    }
  });

  it('the Python DDL on a table migrated by migrateQueue changes nothing of ours', async () => {
    await migrateQueue({ connectionString: db.url });
    const before = await shapeOf('public');
    const python = new PythonBackendClient(db.url);
    try {
      await python.initDb();
      await python.initDb();
    } finally {
      await python.close();
    }
    expect(await shapeOf('public')).toEqual(before);
  });
});

describe('the limits of a mixed fleet, as the README states them', () => {
  it("the Python backend's unfenced, state-blind settles and its own reaper", async () => {
    const app = await boot({ connectionString: db.url, workers: false });
    const python = new PythonBackendClient(db.url);
    const expire = (id: string) =>
      db.query('UPDATE messages SET lease_until = lease_until - 120 WHERE id = $1', [id]);
    const stateOf = async (id: string) =>
      (await db.query<{ state: string }>('SELECT state FROM messages WHERE id = $1', [id])).rows[0]
        ?.state;
    try {
      await python.initDb();

      // 1. A Python worker whose lease expired acks the message one of ours leased since.
      const a = await python.enqueue('q', { n: 'a' });
      await python.leaseNext('q', 60);
      await expire(a);
      expect(await app.queue.reapExpiredLeases()).toBe(1);
      const ours = (await app.queue.leaseNext('q'))!;
      await python.ack('q', a);
      expect(await stateOf(a)).toBe('done');
      expect(await app.queue.ack('q', ours)).toBe(false);

      // 2. Its nack takes no state into account: a done message is ready again.
      await python.nack('q', a);
      expect(await stateOf(a)).toBe('ready');
      await python.clearQueue('q');

      // 3. Its reaper ignores maxAttempts and dead-letter queues: a last attempt of ours that it
      //    reaps first goes back to ready, where our reaper would have dead-lettered it.
      const b = await app.queue.enqueue('q', { n: 'b' });
      await app.queue.leaseNext('q', { maxAttempts: 1, deadLetterQueue: 'q.dead' });
      await expire(b);
      expect(await python.reapExpired()).toBe(1);
      expect(await stateOf(b)).toBe('ready');
      await python.clearQueue('q');

      // 4. Its reap leaves our lease token on the row; once a Python worker leases the message
      //    again, our worker whose lease expired can still settle that Python lease.
      const c = await app.queue.enqueue('q', { n: 'c' });
      const stale = (await app.queue.leaseNext('q'))!;
      await expire(c);
      expect(await python.reapExpired()).toBe(1);
      expect((await python.leaseNext('q', 60))!.id).toBe(c);
      expect(await app.queue.ack('q', stale)).toBe(true);
      expect(await stateOf(c)).toBe('done');
    } finally {
      await python.close();
    }
  });
});

describe('a mixed fleet on one queue', () => {
  it("the Python backend's workers and ours consume one queue together: every message done, each handled once", async () => {
    const python = new PythonBackendClient(db.url, 6);
    const handlings = new Map<string, string[]>();
    const record = (id: string, by: string) =>
      handlings.set(id, [...(handlings.get(id) ?? []), by]);
    try {
      await python.initDb();
      const app0 = await boot({ connectionString: db.url, workers: false });
      const ids = await app0.queue.enqueueMany(
        'ingest.main',
        Array.from({ length: 1_500 }, (_, i) => ({ from: 'ts', i })),
      );
      await app0.close();
      for (let i = 0; i < 500; i++)
        ids.push(await python.enqueue('ingest.main', { from: 'python', i }));

      @Injectable()
      class Ours {
        @Processor('ingest.main', { concurrency: 8 })
        async handle(message: ProcessorMessage<unknown>): Promise<void> {
          record(message.id, 'ts');
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
      }
      let running = true;
      const errors: unknown[] = [];
      const pythonWorkers = [1, 2, 3].map(async (worker) => {
        while (running) {
          const message = await python.leaseNext('ingest.main', 60);
          if (message === null) {
            await new Promise((resolve) => setTimeout(resolve, 20));
            continue;
          }
          record(message.id, `python-${worker}`);
          await new Promise((resolve) => setTimeout(resolve, 1));
          await python.ack('ingest.main', message.id);
        }
      });
      const app = await boot({ connectionString: db.url }, [Ours]);
      await waitFor(
        async () =>
          Number(
            (await db.query("SELECT count(*) AS n FROM messages WHERE state = 'done'")).rows[0]!.n,
          ) === ids.length,
        60_000,
        'every message done',
      );
      running = false;
      await Promise.all(
        pythonWorkers.map((loop) => loop.catch((error: unknown) => errors.push(error))),
      );
      await app.close();

      expect(errors).toEqual([]);
      expect([...handlings.keys()].sort()).toEqual([...ids].sort());
      const twice = [...handlings].filter(([, by]) => by.length > 1);
      expect(twice).toEqual([]);
      const bySide = [...handlings.values()].flat().reduce<Record<string, number>>((counts, by) => {
        const side = by.startsWith('python') ? 'python' : 'ts';
        return { ...counts, [side]: (counts[side] ?? 0) + 1 };
      }, {});
      expect(bySide.python).toBeGreaterThan(0);
      expect(bySide.ts).toBeGreaterThan(0);
      const { rows } = await db.query("SELECT count(*) AS n FROM messages WHERE state <> 'done'");
      expect(rows[0]!.n).toBe('0');
    } finally {
      await python.close();
    }
  });

  it('our scheduled reaper returns an expired Python lease, which our worker then handles', async () => {
    const python = new PythonBackendClient(db.url);
    try {
      await python.initDb();
      const id = await python.enqueue('ingest.main', { n: 1 });
      await python.leaseNext('ingest.main', 1); // its worker dies holding it
      @Injectable()
      class Ours {
        readonly handled: string[] = [];
        @Processor('ingest.main')
        handle(message: ProcessorMessage<unknown>): void {
          this.handled.push(message.id);
        }
      }
      const app = await boot({ connectionString: db.url, reaper: { intervalMs: 200 } }, [Ours]);
      await waitFor(() => app.get(Ours).handled.length === 1, 10_000, 'the reaped message');
      expect(app.get(Ours).handled).toEqual([id]);
      const settled = async () =>
        (await db.query('SELECT state, attempts FROM messages WHERE id = $1', [id])).rows;
      await waitFor(async () => (await settled())[0]?.state === 'done', 10_000, 'the ack');
      expect(await settled()).toEqual([{ state: 'done', attempts: 2 }]);
    } finally {
      await python.close();
    }
  });
});
