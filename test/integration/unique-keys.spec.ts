import { describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { queueTableNames } from '../../src/index.js';
import { enqueueManySql } from '../../src/sql/enqueue.sql.js';
import { eventually } from '../support/eventually.js';
import { PythonBackendClient } from '../support/python-backend-client.js';
import { useQueueFixture } from '../support/queue-fixture.js';

// A pool wider than the 16 concurrent producers, so they do race in 16 sessions.
const ctx = useQueueFixture('unique_keys', { shared: { poolMaxSize: 20 } });

interface KeyRow {
  id: string;
  queue: string;
  state: string;
  body: unknown;
  priority: number;
  unique_key: string | null;
  unique_scope: string | null;
  unique_window: string | null;
  group_key: string | null;
}

async function rows(where = 'true', values: unknown[] = []): Promise<KeyRow[]> {
  const { rows } = await ctx.db.query<KeyRow>(
    `SELECT id, queue, state, body, priority, unique_key, unique_scope, unique_window, group_key
     FROM messages WHERE ${where} ORDER BY seq`,
    values,
  );
  return rows;
}

async function count(): Promise<number> {
  return (await rows()).length;
}

/** Turns a leased or ready message into a dead letter in place, as a processor's last failure. */
async function failInPlace(id: string): Promise<void> {
  await ctx.db.query(
    `UPDATE messages SET state = 'failed', lease_token = NULL, lease_until = NULL WHERE id = $1`,
    [id],
  );
}

async function ackById(queue: string, id: string): Promise<void> {
  const leased = await ctx.queue.leaseNext(queue);
  expect(leased?.id).toBe(id);
  expect(await ctx.queue.ack(queue, leased!)).toBe(true);
}

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const copy = [...items];
  let state = seed;
  for (let i = copy.length - 1; i > 0; i--) {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    const j = state % (i + 1);
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

describe('uniqueKey on enqueue', () => {
  it('returns the holder’s id for a second enqueue and inserts nothing', async () => {
    const first = await ctx.queue.enqueue('u', { n: 1 }, { uniqueKey: 'doc-1' });
    const second = await ctx.queue.enqueue('u', { n: 2 }, { uniqueKey: 'doc-1' });
    expect(second).toBe(first);
    expect(await rows()).toEqual([
      expect.objectContaining({
        id: first,
        body: { n: 1 },
        unique_key: 'doc-1',
        unique_scope: 'active',
        unique_window: null,
      }),
    ]);
    // Another key, another queue: separate.
    const other = await ctx.queue.enqueue('u', { n: 3 }, { uniqueKey: 'doc-2' });
    const elsewhere = await ctx.queue.enqueue('v', { n: 4 }, { uniqueKey: 'doc-1' });
    expect(new Set([first, other, elsewhere]).size).toBe(3);
    expect(await count()).toBe(3);
  });

  it('holds the key while leased, frees it once done', async () => {
    const first = await ctx.queue.enqueue('u', { n: 1 }, { uniqueKey: 'k' });
    const leased = await ctx.queue.leaseNext('u');
    expect(leased?.id).toBe(first);
    expect(await ctx.queue.enqueue('u', { n: 2 }, { uniqueKey: 'k' })).toBe(first);
    expect(await ctx.queue.ack('u', leased!)).toBe(true);
    const next = await ctx.queue.enqueue('u', { n: 3 }, { uniqueKey: 'k' });
    expect(next).not.toBe(first);
    expect((await rows()).map((row) => [row.id, row.state])).toEqual([
      [first, 'done'],
      [next, 'ready'],
    ]);
  });

  it("'active' frees the key when the message becomes a dead letter; 'activeOrFailed' keeps it", async () => {
    const active = await ctx.queue.enqueue('u', { n: 1 }, { uniqueKey: 'a' });
    const kept = await ctx.queue.enqueue(
      'u',
      { n: 2 },
      { uniqueKey: 'b', uniqueWhile: 'activeOrFailed' },
    );
    await failInPlace(active);
    await failInPlace(kept);
    const replaced = await ctx.queue.enqueue('u', { n: 3 }, { uniqueKey: 'a' });
    expect(replaced).not.toBe(active);
    // An 'active' enqueue is blocked by an 'activeOrFailed' holder too: one index, one key space.
    expect(await ctx.queue.enqueue('u', { n: 4 }, { uniqueKey: 'b' })).toBe(kept);
    expect(
      await ctx.queue.enqueue('u', { n: 5 }, { uniqueKey: 'b', uniqueWhile: 'activeOrFailed' }),
    ).toBe(kept);
    expect((await rows('unique_key = $1', ['b'])).map((row) => row.unique_scope)).toEqual([
      'active_or_failed',
    ]);
    // Once the dead letter is dealt with (deleted here), the key is free.
    expect(await ctx.queue.deleteMessage(kept)).toBe(true);
    expect(await ctx.queue.enqueue('u', { n: 6 }, { uniqueKey: 'b' })).not.toBe(kept);
  });

  it('with uniqueWindowSeconds: one message per key per window, whatever its state', async () => {
    const { rows: clock } = await ctx.db.query<{ start: string }>(
      'SELECT (floor(extract(epoch from now()) / 3600) * 3600)::bigint AS start',
    );
    const first = await ctx.queue.enqueue(
      'w',
      { n: 1 },
      { uniqueKey: 'w', uniqueWindowSeconds: 3600 },
    );
    const [row] = await rows();
    expect(row).toMatchObject({ unique_scope: 'window', unique_window: clock[0]!.start });
    await ackById('w', first);
    // Done, and still holding its window.
    expect(
      await ctx.queue.enqueue('w', { n: 2 }, { uniqueKey: 'w', uniqueWindowSeconds: 3600 }),
    ).toBe(first);
    // A window key and an 'active' key of the same text are separate.
    const active = await ctx.queue.enqueue('w', { n: 3 }, { uniqueKey: 'w' });
    expect(active).not.toBe(first);
    // The window that started an hour earlier no longer blocks.
    await ctx.db.query('UPDATE messages SET unique_window = unique_window - 3600 WHERE id = $1', [
      first,
    ]);
    const next = await ctx.queue.enqueue(
      'w',
      { n: 4 },
      { uniqueKey: 'w', uniqueWindowSeconds: 3600 },
    );
    expect(next).not.toBe(first);
    expect(await count()).toBe(3);
  });

  it('moves to the next window as the clock does (a 1 s window)', async () => {
    const first = await ctx.queue.enqueue(
      'w',
      { n: 1 },
      { uniqueKey: 'tick', uniqueWindowSeconds: 1 },
    );
    // Enqueue until the database's clock crosses a second: at most a little over a second.
    let next = first;
    const deadline = Date.now() + 3_000;
    while (next === first && Date.now() < deadline) {
      next = await ctx.queue.enqueue('w', { n: 2 }, { uniqueKey: 'tick', uniqueWindowSeconds: 1 });
    }
    expect(next).not.toBe(first);
    const windows = (await rows()).map((row) => Number(row.unique_window));
    expect(windows).toHaveLength(2);
    expect(windows[1]! - windows[0]!).toBeGreaterThanOrEqual(1);
  });

  it('wakes workers only when a message was inserted', async () => {
    const listener = new pg.Client({ connectionString: ctx.db.url });
    await listener.connect();
    try {
      const heard: string[] = [];
      listener.on('notification', (message) => heard.push(message.payload ?? ''));
      await listener.query('LISTEN "public.messages"');
      await ctx.queue.enqueue('n', { n: 1 }, { uniqueKey: 'x' });
      await ctx.queue.enqueue('n', { n: 2 }, { uniqueKey: 'x' });
      await ctx.queue.enqueueMany('n', [{ n: 3 }], { uniqueKey: 'x' });
      await ctx.queue.enqueue('n', { n: 4 }, { uniqueKey: 'y' });
      // A round trip on the listener after the others: their notifications arrived before it.
      await listener.query('SELECT 1');
      expect(heard).toEqual(['n', 'n']);
    } finally {
      await listener.end();
    }
  });
});

describe('concurrent producers', () => {
  it('16 producers racing on one key: one row, and every caller got its id', async () => {
    for (let round = 0; round < 40; round++) {
      const key = `race-${round}`;
      const ids = await Promise.all(
        Array.from({ length: 16 }, (_, producer) =>
          ctx.queue.enqueue(
            'race',
            { producer },
            round % 2 === 0 ? { uniqueKey: key } : { uniqueKey: key, uniqueWindowSeconds: 3600 },
          ),
        ),
      );
      const held = await rows('unique_key = $1', [key]);
      expect(held).toHaveLength(1);
      expect(new Set(ids)).toEqual(new Set([held[0]!.id]));
    }
    expect(await count()).toBe(40);
  });

  it('16 batches sharing keys in different orders: one row per key, no deadlock', async () => {
    for (let round = 0; round < 8; round++) {
      const keys = Array.from({ length: 20 }, (_, i) => `r${round}-k${i}`);
      const batches = Array.from({ length: 16 }, (_, producer) => [
        ...shuffled(keys, round * 100 + producer + 1).map((key) => ({ key, producer })),
        { key: undefined, producer },
      ]);
      const results = await Promise.all(
        batches.map((bodies) =>
          ctx.queue.enqueueMany('batch', bodies, { uniqueKey: (body) => body.key }),
        ),
      );
      const byKey = new Map(
        (await rows(`unique_key LIKE $1`, [`r${round}-%`])).map((row) => [row.unique_key, row.id]),
      );
      expect(byKey.size).toBe(20);
      batches.forEach((bodies, producer) => {
        const ids = results[producer]!;
        expect(ids).toHaveLength(21);
        bodies
          .slice(0, 20)
          .forEach((body, index) => expect(ids[index]).toBe(byKey.get(body.key ?? null)));
      });
      // Each batch's message without a key is its own.
      const keyless = results.map((ids) => ids[20]!);
      expect(new Set(keyless).size).toBe(16);
      expect((await rows('id = ANY ($1)', [keyless])).every((row) => row.unique_key === null)).toBe(
        true,
      );
    }
    expect(await count()).toBe(8 * (20 + 16));
  });
});

describe('uniqueKey on enqueueMany', () => {
  it('collapses duplicates of the batch to the first and returns ids in caller order', async () => {
    const existing = await ctx.queue.enqueue('m', { name: 'old' }, { uniqueKey: 'b' });
    const bodies = [
      { name: 'a1', key: 'a' },
      { name: 'b1', key: 'b' },
      { name: 'plain1' },
      { name: 'a2', key: 'a' },
      { name: 'c1', key: 'c' },
      { name: 'plain2' },
      { name: 'c2', key: 'c' },
    ];
    const ids = await ctx.queue.enqueueMany('m', bodies, {
      uniqueKey: (body) => body.key,
    });
    const stored = await rows();
    const idOf = (name: string) =>
      stored.find((row) => (row.body as { name: string }).name === name)?.id;
    expect(stored.map((row) => (row.body as { name: string }).name)).toEqual([
      'old',
      'a1',
      'plain1',
      'c1',
      'plain2',
    ]);
    expect(ids).toEqual([
      idOf('a1'),
      existing,
      idOf('plain1'),
      idOf('a1'),
      idOf('c1'),
      idOf('plain2'),
      idOf('c1'),
    ]);
    // Leased in the caller's order, although inserted in key order.
    const leased = await ctx.queue.leaseMany('m', 10);
    expect(leased.map((message) => (message.body as { name: string }).name)).toEqual([
      'old',
      'a1',
      'plain1',
      'c1',
      'plain2',
    ]);
  });

  it('a batch of keys all held inserts nothing and returns the holders', async () => {
    const a = await ctx.queue.enqueue('m', { n: 1 }, { uniqueKey: 'a' });
    const b = await ctx.queue.enqueue('m', { n: 2 }, { uniqueKey: 'b' });
    expect(await ctx.queue.enqueueMany('m', ['b', 'a', 'b'], { uniqueKey: (key) => key })).toEqual([
      b,
      a,
      b,
    ]);
    expect(await count()).toBe(2);
  });

  it('one key for the whole batch: a single message', async () => {
    const ids = await ctx.queue.enqueueMany('m', [{ n: 1 }, { n: 2 }, { n: 3 }], {
      uniqueKey: 'all',
      uniqueWhile: 'activeOrFailed',
    });
    expect(new Set(ids).size).toBe(1);
    expect(await rows()).toEqual([
      expect.objectContaining({ id: ids[0], body: { n: 1 }, unique_scope: 'active_or_failed' }),
    ]);
  });

  it('window keys in a batch', async () => {
    const first = await ctx.queue.enqueueMany('m', ['x', 'y'], {
      uniqueKey: (key) => key,
      uniqueWindowSeconds: 3600,
    });
    const second = await ctx.queue.enqueueMany('m', ['y', 'z', 'x'], {
      uniqueKey: (key) => key,
      uniqueWindowSeconds: 3600,
    });
    expect(second[0]).toBe(first[1]);
    expect(second[2]).toBe(first[0]);
    expect(await count()).toBe(3);
    expect(new Set((await rows()).map((row) => row.unique_window)).size).toBe(1);
  });
});

describe('the keyed batch statement', () => {
  it('matches rows without joins the planner could run as nested loops', async () => {
    // A CTE's rows are estimated, not known: joins of them were planned as nested loops,
    // quadratic in the batch (23 s for 10,000 new keys).
    const keys = Array.from({ length: 1_000 }, (_, i) => `k${i}`);
    const statement = enqueueManySql(
      queueTableNames('public', 'messages'),
      'plan',
      JSON.stringify(keys),
      0,
      { priority: keys.map(() => 1), unique: { key: keys, rule: { scope: 'active' } } },
    );
    const { rows: plan } = await ctx.db.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN ${statement.text}`,
      [...statement.values],
    );
    const text = plan.map((line) => line['QUERY PLAN']).join('\n');
    expect(text).toContain('Insert on messages');
    expect(text).not.toContain('Nested Loop');
    expect(text).not.toMatch(/Hash Join|Merge Join/);
  });
});

describe('priority and groupKey', () => {
  it('are stored and read back; messages without them have 0 and null', async () => {
    const id = await ctx.queue.enqueue('p', { n: 1 }, { priority: 7, groupKey: 'tenant-1' });
    const plain = await ctx.queue.enqueue('p', { n: 2 });
    expect(await rows()).toEqual([
      expect.objectContaining({ id, priority: 7, group_key: 'tenant-1', unique_key: null }),
      expect.objectContaining({ id: plain, priority: 0, group_key: null, unique_key: null }),
    ]);
    const leased = await ctx.queue.leaseMany('p', 2);
    const byId = new Map(leased.map((message) => [message.id, message]));
    expect(byId.get(id)).toMatchObject({ priority: 7, groupKey: 'tenant-1', uniqueKey: null });
    expect(byId.get(plain)).toMatchObject({ priority: 0, groupKey: null, uniqueKey: null });
  });

  it('per message in enqueueMany, with keys, in caller order', async () => {
    const bodies = [
      { p: 3, g: 'a', k: 'one' },
      { p: undefined, g: undefined, k: undefined },
      { p: 1_000_000, g: 'b', k: 'two' },
    ];
    const ids = await ctx.queue.enqueueMany('p', bodies, {
      priority: (body) => body.p,
      groupKey: (body) => body.g,
      uniqueKey: (body) => body.k,
    });
    const stored = await rows();
    expect(stored.map((row) => [row.id, row.priority, row.group_key, row.unique_key])).toEqual([
      [ids[0], 3, 'a', 'one'],
      [ids[1], 0, null, null],
      [ids[2], 1_000_000, 'b', 'two'],
    ]);
    // One value for all, without keys.
    const grouped = await ctx.queue.enqueueMany('p', [{ n: 1 }, { n: 2 }], {
      priority: 2,
      groupKey: 'g',
    });
    expect(
      (await rows('id = ANY ($1)', [grouped])).map((row) => [row.id, row.priority, row.group_key]),
    ).toEqual([
      [grouped[0], 2, 'g'],
      [grouped[1], 2, 'g'],
    ]);
    // The listing reads them too.
    await failInPlace(ids[2]!);
    expect(await ctx.queue.listFailed('p')).toEqual([
      expect.objectContaining({ id: ids[2], priority: 1_000_000, groupKey: 'b', uniqueKey: 'two' }),
    ]);
  });

  it("the Python backend's INSERT still works, and its messages have priority 0", async () => {
    const python = new PythonBackendClient(ctx.db.url);
    try {
      const id = await python.enqueue('py', { from: 'python' });
      expect(await rows()).toEqual([
        expect.objectContaining({
          id,
          priority: 0,
          unique_key: null,
          unique_scope: null,
          group_key: null,
        }),
      ]);
      const leased = await ctx.queue.leaseNext('py');
      expect(leased).toMatchObject({ id, priority: 0, uniqueKey: null, groupKey: null });
      // Keyed messages live beside it.
      const keyed = await ctx.queue.enqueue('py', { n: 1 }, { uniqueKey: 'k' });
      expect(keyed).not.toBe(id);
    } finally {
      await python.close();
    }
  });
});

describe('retryFailed and unique keys', () => {
  it('leaves a dead letter whose key another message took meanwhile', async () => {
    const dead = await ctx.queue.enqueue('r', { n: 1 }, { uniqueKey: 'k' });
    await failInPlace(dead);
    const taker = await ctx.queue.enqueue('r', { n: 2 }, { uniqueKey: 'k' });
    expect(taker).not.toBe(dead);
    const other = await ctx.queue.enqueue('r', { n: 3 }, { uniqueKey: 'free' });
    await failInPlace(other);

    expect(await ctx.queue.retryFailed('r')).toBe(1);
    expect(await ctx.queue.retryFailed('r', [dead])).toBe(0);
    expect((await rows()).map((row) => [row.id, row.state])).toEqual([
      [dead, 'failed'],
      [taker, 'ready'],
      [other, 'ready'],
    ]);
    expect((await ctx.queue.listFailed('r')).map((message) => message.id)).toEqual([dead]);

    // Once the key is free again, it comes back.
    expect(await ctx.queue.deleteMessage(taker)).toBe(true);
    expect(await ctx.queue.retryFailed('r', [dead])).toBe(1);
    expect((await rows('id = $1', [dead]))[0]!.state).toBe('ready');
  });

  it('is sent again when a key is taken while it runs, and leaves that dead letter', async () => {
    const dead = await ctx.queue.enqueue('r', { n: 1 }, { uniqueKey: 'k' });
    await failInPlace(dead);
    const producer = new pg.Client({ connectionString: ctx.db.url });
    await producer.connect();
    try {
      // A key taken by a transaction retryFailed's snapshot cannot see: only the index can.
      await producer.query('BEGIN');
      await producer.query(
        `INSERT INTO messages (queue, body, available_at, created_at, unique_key, unique_scope)
         VALUES ('r', '{}', 0, 0, 'k', 'active')`,
      );
      const retrying = ctx.queue.retryFailed('r');
      const waiting = () =>
        ctx.db
          .query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'`,
          )
          .then(({ rows }) => rows[0]!.n);
      expect(await eventually(waiting, 1)).toBe(1);
      await producer.query('COMMIT');
      expect(await retrying).toBe(0);
    } finally {
      await producer.end();
    }
    expect((await rows('id = $1', [dead]))[0]!.state).toBe('failed');
  });

  it('puts back one of two dead letters sharing a key, the one enqueued first', async () => {
    const older = await ctx.queue.enqueue('r', { n: 1 }, { uniqueKey: 'k' });
    await failInPlace(older);
    const newer = await ctx.queue.enqueue('r', { n: 2 }, { uniqueKey: 'k' });
    await failInPlace(newer);
    expect(await ctx.queue.retryFailed('r')).toBe(1);
    expect((await rows()).map((row) => [row.id, row.state])).toEqual([
      [older, 'ready'],
      [newer, 'failed'],
    ]);
  });

  it("puts back an 'activeOrFailed' dead letter that holds its own key", async () => {
    const kept = await ctx.queue.enqueue(
      'r',
      { n: 1 },
      { uniqueKey: 'k', uniqueWhile: 'activeOrFailed' },
    );
    await failInPlace(kept);
    // An 'active' dead letter of the same key could not be enqueued while it held it; write one.
    await ctx.db.query(
      `INSERT INTO messages (queue, body, available_at, created_at, state, unique_key, unique_scope)
       VALUES ('r', '{}', 0, 0, 'failed', 'k', 'active')`,
    );
    expect(await ctx.queue.retryFailed('r')).toBe(1);
    expect((await rows()).map((row) => [row.id === kept, row.state])).toEqual([
      [true, 'ready'],
      [false, 'failed'],
    ]);
  });

  it('leaves a window dead letter moved to its dead-letter queue when its window is taken', async () => {
    const moved = await ctx.queue.enqueue(
      'r',
      { n: 1 },
      { uniqueKey: 'k', uniqueWindowSeconds: 3600 },
    );
    // As a processor's moveToDeadLetterQueue leaves it: in the DLQ, holding no key.
    await ctx.db.query(
      `UPDATE messages SET queue = 'r.dlq', origin_queue = 'r', state = 'ready' WHERE id = $1`,
      [moved],
    );
    const taker = await ctx.queue.enqueue(
      'r',
      { n: 2 },
      { uniqueKey: 'k', uniqueWindowSeconds: 3600 },
    );
    expect(taker).not.toBe(moved);
    expect(await ctx.queue.retryFailed('r')).toBe(0);
    expect(await ctx.queue.retryFailed('r.dlq')).toBe(0);
    expect((await rows('id = $1', [moved]))[0]).toMatchObject({ queue: 'r.dlq', state: 'ready' });
    // In another window it may come back.
    await ctx.db.query('UPDATE messages SET unique_window = unique_window - 3600 WHERE id = $1', [
      taker,
    ]);
    expect(await ctx.queue.retryFailed('r')).toBe(1);
    expect((await rows('id = $1', [moved]))[0]).toMatchObject({ queue: 'r', state: 'ready' });
  });
});
