import { describe, expect, it, jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { QueueConnection } from '../../src/database/queue-connection.js';
import { QueueValidationError, type QueueService } from '../../src/index.js';
import { MessageStore } from '../../src/store/message-store.js';
import { useQueueFixture } from '../support/queue-fixture.js';

const ctx = useQueueFixture('service', { shared: {} });

/** Records the statements the service sends until `stop()`. */
function countStatements(): { stop(): string[] } {
  const spy = jest.spyOn(ctx.app.moduleRef.get(QueueConnection), 'query');
  return {
    stop: () => {
      const operations = spy.mock.calls.map(([operation]) => operation);
      spy.mockRestore();
      return operations;
    },
  };
}

/** Moves the stored clock of a message, so tests need not sleep through whole seconds. */
async function shiftSeconds(id: string, column: 'available_at' | 'lease_until', by: number) {
  await ctx.db.query(`UPDATE messages SET ${column} = ${column} + $2 WHERE id = $1`, [id, by]);
}

describe('enqueue and lease', () => {
  it('round-trips a JSON body and returns a lease with a token', async () => {
    const body = { url: 'https://example.com/a', tags: ['x', 'y'], n: 1.5, ok: true, none: null };
    const id = await ctx.queue.enqueue('ingest.main', body);
    expect(typeof id).toBe('string');

    const leased = await ctx.queue.leaseNext<typeof body>('ingest.main', { leaseSeconds: 30 });
    expect(leased).not.toBeNull();
    expect(leased!.id).toBe(id);
    expect(leased!.queue).toBe('ingest.main');
    expect(leased!.body).toEqual(body);
    expect(leased!.state).toBe('leased');
    expect(leased!.attempts).toBe(1);
    expect(leased!.leaseToken).toMatch(/^[0-9a-f-]{36}$/);
    const { rows } = await ctx.db.query<{ now: string }>(
      'SELECT floor(extract(epoch from now()))::bigint AS now',
    );
    const now = Number(rows[0]!.now);
    // Rounded up: never shorter than asked, at most one second longer.
    expect(leased!.leaseUntil.getTime() / 1000).toBeGreaterThanOrEqual(now + 30);
    expect(leased!.leaseUntil.getTime() / 1000).toBeLessThanOrEqual(now + 31);
    expect(leased!.createdAt.getTime() / 1000).toBeLessThanOrEqual(now);
    expect(leased!.availableAt.getTime()).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it('accepts every kind of JSON value as a body', async () => {
    const bodies = [
      null,
      0,
      -1.25,
      'text ✓ 𝄞',
      true,
      [],
      {},
      [1, [2, [3]]],
      { a: { b: { c: 'd' } } },
    ];
    for (const body of bodies) await ctx.queue.enqueue('kinds', body);
    const leased = await ctx.queue.leaseMany('kinds', 100);
    expect(leased.map((message) => message.body)).toEqual(bodies);
  });

  it('stores Dates as ISO strings and drops undefined properties, as JSON does', async () => {
    await ctx.queue.enqueue('json', { at: new Date('2026-01-02T03:04:05.000Z'), gone: undefined });
    const leased = await ctx.queue.leaseNext('json');
    expect(leased!.body).toEqual({ at: '2026-01-02T03:04:05.000Z' });
  });

  it('returns null when the queue is empty, and only leases its own queue', async () => {
    await ctx.queue.enqueue('other', { n: 1 });
    expect(await ctx.queue.leaseNext('empty')).toBeNull();
    expect(await ctx.queue.leaseMany('empty', 10)).toEqual([]);
  });

  it('leases in FIFO order of enqueue among messages due now', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push(await ctx.queue.enqueue('fifo', { i }));
    const first = await ctx.queue.leaseMany<{ i: number }>('fifo', 5);
    expect(first.map((m) => m.body.i)).toEqual([0, 1, 2, 3, 4]);
    const rest: number[] = [];
    for (;;) {
      const next = await ctx.queue.leaseNext<{ i: number }>('fifo');
      if (next === null) break;
      rest.push(next.body.i);
    }
    expect(rest).toEqual(Array.from({ length: 15 }, (_, i) => i + 5));
  });

  it('keeps enqueueMany order, in ids and in leasing, even within one second', async () => {
    const bodies = Array.from({ length: 1_000 }, (_, i) => ({ i }));
    const ids = await ctx.queue.enqueueMany('batch', bodies);
    expect(ids).toHaveLength(1_000);
    expect(new Set(ids).size).toBe(1_000);
    const leased = await ctx.queue.leaseMany<{ i: number }>('batch', 1_000);
    expect(leased.map((m) => m.id)).toEqual(ids);
    expect(leased.map((m) => m.body.i)).toEqual(bodies.map((b) => b.i));
  });

  it('enqueueMany of an empty array writes nothing and sends nothing', async () => {
    expect(await ctx.queue.enqueueMany('batch', [])).toEqual([]);
    expect((await ctx.queue.getStats()).totalMessages).toBe(0);
  });

  it('enqueues 10,000 bodies in one statement', async () => {
    const bodies = Array.from({ length: 10_000 }, (_, i) => ({ doc: `document-${i}`, i }));
    const sent = countStatements();
    const ids = await ctx.queue.enqueueMany('bulk', bodies);
    expect(sent.stop()).toEqual(['enqueueMany']);
    expect(ids).toHaveLength(10_000);
    const { rows } = await ctx.db.query<{ count: string }>(
      "SELECT count(*) FROM messages WHERE queue = 'bulk'",
    );
    expect(Number(rows[0]!.count)).toBe(10_000);
  });

  it('leaseMany respects its limit and leases each message once', async () => {
    await ctx.queue.enqueueMany(
      'many',
      Array.from({ length: 25 }, (_, i) => ({ i })),
    );
    const a = await ctx.queue.leaseMany('many', 10);
    const b = await ctx.queue.leaseMany('many', 10);
    const c = await ctx.queue.leaseMany('many', 10);
    expect([a.length, b.length, c.length]).toEqual([10, 10, 5]);
    expect(new Set([...a, ...b, ...c].map((m) => m.id)).size).toBe(25);
  });
});

describe('delays', () => {
  it('keeps a delayed message invisible until it is due', async () => {
    const id = await ctx.queue.enqueue('delayed', { n: 1 }, { delaySeconds: 3600 });
    expect(await ctx.queue.leaseNext('delayed')).toBeNull();
    const { rows } = await ctx.db.query<{ due_in: string }>(
      'SELECT available_at - floor(extract(epoch from now()))::bigint AS due_in FROM messages WHERE id = $1',
      [id],
    );
    expect(Number(rows[0]!.due_in)).toBeGreaterThanOrEqual(3600);
    expect(Number(rows[0]!.due_in)).toBeLessThanOrEqual(3601);
    await shiftSeconds(id, 'available_at', -3601);
    expect((await ctx.queue.leaseNext('delayed'))?.id).toBe(id);
  });

  it('makes a one-second delay due after one real second', async () => {
    const id = await ctx.queue.enqueue('delayed', { n: 2 }, { delaySeconds: 1 });
    expect(await ctx.queue.leaseNext('delayed')).toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    expect((await ctx.queue.leaseNext('delayed'))?.id).toBe(id);
  });

  it('orders by due time: a matured delayed message goes before later immediate ones', async () => {
    const delayed = await ctx.queue.enqueue('order', { n: 'delayed' }, { delaySeconds: 60 });
    await shiftSeconds(delayed, 'available_at', -120);
    await ctx.queue.enqueue('order', { n: 'now' });
    expect((await ctx.queue.leaseNext('order'))?.id).toBe(delayed);
  });

  it('delays a whole enqueueMany batch', async () => {
    await ctx.queue.enqueueMany('delayed-batch', [{ a: 1 }, { a: 2 }], { delaySeconds: 600 });
    expect(await ctx.queue.leaseMany('delayed-batch', 10)).toEqual([]);
  });
});

describe('ack and nack', () => {
  it('ack marks the message done; a second ack is refused', async () => {
    const id = await ctx.queue.enqueue('settle', { n: 1 });
    const leased = (await ctx.queue.leaseNext('settle'))!;
    expect(await ctx.queue.ack('settle', leased)).toBe(true);
    expect(await ctx.queue.ack('settle', leased)).toBe(false);
    const { rows } = await ctx.db.query(
      'SELECT state, lease_until, lease_token FROM messages WHERE id = $1',
      [id],
    );
    expect(rows[0]).toEqual({ state: 'done', lease_until: null, lease_token: null });
    expect(await ctx.queue.leaseNext('settle')).toBeNull();
  });

  it('ack accepts a plain { id, leaseToken } object', async () => {
    await ctx.queue.enqueue('settle', { n: 1 });
    const { id, leaseToken } = (await ctx.queue.leaseNext('settle'))!;
    expect(await ctx.queue.ack('settle', { id, leaseToken })).toBe(true);
  });

  it('ack in the wrong queue is refused and changes nothing', async () => {
    await ctx.queue.enqueue('settle', { n: 1 });
    const leased = (await ctx.queue.leaseNext('settle'))!;
    expect(await ctx.queue.ack('another', leased)).toBe(false);
    expect(await ctx.queue.ack('settle', leased)).toBe(true);
  });

  it('nack requeues at once by default and keeps the attempt counted', async () => {
    await ctx.queue.enqueue('retry', { n: 1 });
    const first = (await ctx.queue.leaseNext('retry'))!;
    expect(await ctx.queue.nack('retry', first)).toBe(true);
    const second = (await ctx.queue.leaseNext('retry'))!;
    expect(second.id).toBe(first.id);
    expect(second.attempts).toBe(2);
    expect(second.leaseToken).not.toBe(first.leaseToken);
  });

  it('nack with requeueDelaySeconds hides the message until then', async () => {
    const id = await ctx.queue.enqueue('retry', { n: 1 });
    const leased = (await ctx.queue.leaseNext('retry'))!;
    expect(await ctx.queue.nack('retry', leased, { requeueDelaySeconds: 5 })).toBe(true);
    expect(await ctx.queue.leaseNext('retry')).toBeNull();
    await shiftSeconds(id, 'available_at', -6);
    expect((await ctx.queue.leaseNext('retry'))?.id).toBe(id);
  });

  it('a message that was never leased cannot be acked or nacked', async () => {
    const id = await ctx.queue.enqueue('settle', { n: 1 });
    const fake = { id, leaseToken: '00000000-0000-4000-8000-000000000000' };
    expect(await ctx.queue.ack('settle', fake)).toBe(false);
    expect(await ctx.queue.nack('settle', fake)).toBe(false);
    expect((await ctx.queue.getStats()).byState.ready).toBe(1);
  });
});

describe("ack and nack by id (the Python backend's calls)", () => {
  it('ack(queue, id) marks the leased message done; only a leased message, only in its queue', async () => {
    const id = await ctx.queue.enqueue('by-id', { n: 1 });
    expect(await ctx.queue.ack('by-id', id)).toBe(false); // ready: not leased
    const leased = (await ctx.queue.leaseNext('by-id'))!;
    expect(await ctx.queue.ack('another', leased.id)).toBe(false);
    expect(await ctx.queue.ack('by-id', leased.id)).toBe(true);
    expect(await ctx.queue.ack('by-id', leased.id)).toBe(false); // done already
    expect(await ctx.queue.nack('by-id', leased.id)).toBe(false); // done stays done
    const { rows } = await ctx.db.query(
      'SELECT state, lease_until, lease_token FROM messages WHERE id = $1',
      [id],
    );
    expect(rows[0]).toEqual({ state: 'done', lease_until: null, lease_token: null });
  });

  it('nack(queue, id, { requeueDelaySeconds }) gives the message back after the delay', async () => {
    const id = await ctx.queue.enqueue('by-id', { n: 1 });
    const leased = (await ctx.queue.leaseNext('by-id'))!;
    expect(await ctx.queue.nack('by-id', leased.id, { requeueDelaySeconds: 5 })).toBe(true);
    expect(await ctx.queue.leaseNext('by-id')).toBeNull();
    await shiftSeconds(id, 'available_at', -6);
    const again = (await ctx.queue.leaseNext('by-id'))!;
    expect(again.id).toBe(id);
    expect(again.attempts).toBe(2);
    expect(await ctx.queue.nack('by-id', id)).toBe(true);
    expect((await ctx.queue.getStats('by-id')).ready.due).toBe(1);
  });

  it('by id is not fenced: it settles the lease another worker took after the caller expired', async () => {
    const id = await ctx.queue.enqueue('by-id', { n: 1 });
    const slow = (await ctx.queue.leaseNext('by-id'))!;
    await shiftSeconds(id, 'lease_until', -61);
    await ctx.queue.reapExpiredLeases();
    const fast = (await ctx.queue.leaseNext('by-id'))!;
    // The message form stays fenced; the id form settles fast's lease.
    expect(await ctx.queue.ack('by-id', slow)).toBe(false);
    expect(await ctx.queue.ack('by-id', slow.id)).toBe(true);
    expect(await ctx.queue.ack('by-id', fast)).toBe(false);
  });
});

describe('lease expiry and fencing', () => {
  it('reaps an expired lease; the message is leased again with a new token', async () => {
    const id = await ctx.queue.enqueue('reap', { n: 1 });
    const first = (await ctx.queue.leaseNext('reap', { leaseSeconds: 60 }))!;
    expect(await ctx.queue.reapExpiredLeases()).toBe(0);
    await shiftSeconds(id, 'lease_until', -61);
    expect(await ctx.queue.reapExpiredLeases()).toBe(1);
    const second = (await ctx.queue.leaseNext('reap'))!;
    expect(second.id).toBe(id);
    expect(second.attempts).toBe(2);
    expect(second.leaseToken).not.toBe(first.leaseToken);
  });

  it('refuses the stale ack and nack of a worker whose lease expired and was taken over', async () => {
    const id = await ctx.queue.enqueue('fence', { n: 1 });
    const slow = (await ctx.queue.leaseNext('fence'))!;
    await shiftSeconds(id, 'lease_until', -61);
    await ctx.queue.reapExpiredLeases();
    const fast = (await ctx.queue.leaseNext('fence'))!;

    expect(await ctx.queue.ack('fence', slow)).toBe(false);
    expect(await ctx.queue.nack('fence', slow)).toBe(false);
    const { rows } = await ctx.db.query('SELECT state, lease_token FROM messages WHERE id = $1', [
      id,
    ]);
    expect(rows[0]).toEqual({ state: 'leased', lease_token: fast.leaseToken });

    expect(await ctx.queue.ack('fence', fast)).toBe(true);
  });

  it('refuses a late ack after the reaper returned the message, even before anyone re-leased it', async () => {
    const id = await ctx.queue.enqueue('fence', { n: 1 });
    const slow = (await ctx.queue.leaseNext('fence'))!;
    await shiftSeconds(id, 'lease_until', -61);
    expect(await ctx.queue.reapExpiredLeases()).toBe(1);
    expect(await ctx.queue.ack('fence', slow)).toBe(false);
    expect((await ctx.queue.getStats()).byState.ready).toBe(1);
  });

  it('accepts an ack after expiry while nobody else has taken the message', async () => {
    const id = await ctx.queue.enqueue('fence', { n: 1 });
    const leased = (await ctx.queue.leaseNext('fence'))!;
    await shiftSeconds(id, 'lease_until', -61);
    expect(await ctx.queue.ack('fence', leased)).toBe(true);
  });

  it('does not reap a lease that is still running, and a real two-second lease expires', async () => {
    const id = await ctx.queue.enqueue('reap', { n: 1 });
    await ctx.queue.leaseNext('reap', { leaseSeconds: 2 });
    // At least two seconds left, whatever the fraction of the current second.
    expect(await ctx.queue.reapExpiredLeases()).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 3_100));
    expect(await ctx.queue.reapExpiredLeases()).toBe(1);
    expect((await ctx.queue.leaseNext('reap'))?.id).toBe(id);
  });

  it('reapExpiredLeases honours its limit', async () => {
    const ids = await ctx.queue.enqueueMany('reap', [{ a: 1 }, { a: 2 }, { a: 3 }]);
    await ctx.queue.leaseMany('reap', 3);
    for (const id of ids) await shiftSeconds(id, 'lease_until', -61);
    expect(await ctx.queue.reapExpiredLeases({ limit: 2 })).toBe(2);
    expect(await ctx.queue.reapExpiredLeases({ limit: 2 })).toBe(1);
    expect(await ctx.queue.reapExpiredLeases()).toBe(0);
  });
});

describe('stats, clearQueue, deleteMessage', () => {
  it('reports the seed shape: total, by state, by queue and state, failed', async () => {
    await ctx.queue.enqueueMany('a', [{ n: 1 }, { n: 2 }, { n: 3 }]);
    await ctx.queue.enqueue('b', { n: 4 });
    const leased = (await ctx.queue.leaseNext('a'))!;
    await ctx.queue.ack('a', leased);
    await ctx.queue.leaseNext('a');
    await ctx.db.query("UPDATE messages SET state = 'failed' WHERE queue = 'b'");

    expect(await ctx.queue.getStats()).toEqual({
      totalMessages: 4,
      byState: { ready: 1, leased: 1, done: 1, failed: 1, cancelled: 0, waiting_children: 0 },
      byQueue: {
        a: { ready: 1, leased: 1, done: 1, failed: 0, cancelled: 0, waiting_children: 0 },
        b: { ready: 0, leased: 0, done: 0, failed: 1, cancelled: 0, waiting_children: 0 },
      },
      failedMessages: 1,
      ready: { due: 1, delayed: 0 },
      readyByQueue: { a: { due: 1, delayed: 0 }, b: { due: 0, delayed: 0 } },
    });
  });

  it('reports zeros for an empty table', async () => {
    expect(await ctx.queue.getStats()).toEqual({
      totalMessages: 0,
      byState: { ready: 0, leased: 0, done: 0, failed: 0, cancelled: 0, waiting_children: 0 },
      byQueue: {},
      failedMessages: 0,
      ready: { due: 0, delayed: 0 },
      readyByQueue: {},
    });
  });

  it('splits ready into due and delayed (a delay, a backoff), in total and per queue', async () => {
    await ctx.queue.enqueueMany('a', [{ n: 1 }, { n: 2 }, { n: 3 }]);
    await ctx.queue.enqueue('a', { n: 4 }, { delaySeconds: 60 });
    await ctx.queue.enqueue('b', { n: 5 }, { delaySeconds: 3_600 });
    // A failed attempt waiting out its backoff is ready, but not due.
    await ctx.queue.nack('a', (await ctx.queue.leaseNext('a'))!, { requeueDelaySeconds: 30 });

    const stats = await ctx.queue.getStats();
    expect(stats.byState.ready).toBe(5);
    expect(stats.ready).toEqual({ due: 2, delayed: 3 });
    expect(stats.readyByQueue).toEqual({ a: { due: 2, delayed: 2 }, b: { due: 0, delayed: 1 } });
    expect(stats.byQueue['a']?.ready).toBe(4);
  });

  it('getStats(queue) is the same shape restricted to one queue, in one statement', async () => {
    await ctx.queue.enqueueMany('ingest.main', [{ n: 1 }, { n: 2 }]);
    await ctx.queue.enqueue('ingest.main', { n: 3 }, { delaySeconds: 60 });
    await ctx.queue.enqueue('other', { n: 4 });
    await ctx.queue.ack('ingest.main', (await ctx.queue.leaseNext('ingest.main'))!);

    const sent = countStatements();
    const stats = await ctx.queue.getStats('ingest.main');
    expect(sent.stop()).toEqual(['getStats']);
    expect(stats).toEqual({
      totalMessages: 3,
      byState: { ready: 2, leased: 0, done: 1, failed: 0, cancelled: 0, waiting_children: 0 },
      byQueue: {
        'ingest.main': {
          ready: 2,
          leased: 0,
          done: 1,
          failed: 0,
          cancelled: 0,
          waiting_children: 0,
        },
      },
      failedMessages: 0,
      ready: { due: 1, delayed: 1 },
      readyByQueue: { 'ingest.main': { due: 1, delayed: 1 } },
    });
    expect(await ctx.queue.getStats('nothing.here')).toEqual({
      totalMessages: 0,
      byState: { ready: 0, leased: 0, done: 0, failed: 0, cancelled: 0, waiting_children: 0 },
      byQueue: {},
      failedMessages: 0,
      ready: { due: 0, delayed: 0 },
      readyByQueue: {},
    });
    await expect(ctx.queue.getStats('')).rejects.toBeInstanceOf(QueueValidationError);
    await expect(ctx.queue.getStats(42 as unknown as string)).rejects.toBeInstanceOf(
      QueueValidationError,
    );
  });

  it('handles a queue called __proto__ without touching prototypes', async () => {
    await ctx.queue.enqueue('__proto__', { n: 1 });
    const stats = await ctx.queue.getStats();
    expect(Object.keys(stats.byQueue)).toEqual(['__proto__']);
    expect(stats.byQueue['__proto__']?.ready).toBe(1);
  });

  it('clears a whole queue, or only one state of it', async () => {
    await ctx.queue.enqueueMany('ingest.error', [{ n: 1 }, { n: 2 }, { n: 3 }]);
    await ctx.queue.enqueue('ingest.main', { n: 4 });
    const leased = (await ctx.queue.leaseNext('ingest.error'))!;
    await ctx.queue.ack('ingest.error', leased);

    expect(await ctx.queue.clearQueue('ingest.error', 'done')).toBe(1);
    expect((await ctx.queue.getStats()).byQueue['ingest.error']).toEqual({
      ready: 2,
      leased: 0,
      done: 0,
      failed: 0,
      cancelled: 0,
      waiting_children: 0,
    });
    expect(await ctx.queue.clearQueue('ingest.error')).toBe(2);
    expect(await ctx.queue.clearQueue('ingest.error')).toBe(0);
    expect((await ctx.queue.getStats()).totalMessages).toBe(1);
  });

  it('deletes one message by id, whatever its state', async () => {
    const id = await ctx.queue.enqueue('del', { n: 1 });
    await ctx.queue.leaseNext('del');
    expect(await ctx.queue.deleteMessage(id)).toBe(true);
    expect(await ctx.queue.deleteMessage(id)).toBe(false);
    expect(await ctx.queue.deleteMessage('message-id-123')).toBe(false);
  });
});

describe('dead letters by either name', () => {
  /**
   * A processor on `main` with `deadLetterQueue: 'dlq'`, its rows written by hand: one failed in
   * place, four moved to the dead-letter queue (waiting, handled, failed again there, held by
   * its processor right now), a message sent to `dlq` directly and a failure elsewhere.
   */
  async function deadLetters() {
    const [inPlace, waiting, handled, failedAgain, held] = await ctx.queue.enqueueMany(
      'main',
      [1, 2, 3, 4, 5].map((n) => ({ n })),
    );
    const direct = await ctx.queue.enqueue('dlq', { n: 6 });
    const elsewhere = await ctx.queue.enqueue('other', { n: 7 });
    const set = (ids: Array<string | undefined>, assignments: string) =>
      ctx.db.query(`UPDATE messages SET ${assignments} WHERE id = ANY ($1)`, [ids]);
    await set([inPlace, elsewhere], `state = 'failed', attempts = 3`);
    await set([waiting, handled, failedAgain, held], `queue = 'dlq', origin_queue = 'main'`);
    await set([handled], `state = 'done'`);
    await set([failedAgain], `state = 'failed', attempts = 5`);
    await set(
      [held],
      `state = 'leased', lease_until = floor(extract(epoch from now()))::bigint + 60, lease_token = gen_random_uuid()`,
    );
    return { inPlace, waiting, handled, failedAgain, held, direct, elsewhere };
  }

  async function rowsOf(ids: Array<string | undefined>) {
    const { rows } = await ctx.db.query<{
      id: string;
      queue: string;
      origin_queue: string | null;
      state: string;
      attempts: number;
    }>(
      'SELECT id, queue, origin_queue, state, attempts FROM messages WHERE id = ANY ($1) ORDER BY seq',
      [ids],
    );
    return rows;
  }

  it("listFailed answers by the dead-letter queue's own name with what arrived there, and by the origin as before", async () => {
    const m = await deadLetters();
    const byDlq = await ctx.queue.listFailed('dlq');
    expect(
      byDlq.map(({ id, queue, originQueue, state }) => ({ id, queue, originQueue, state })),
    ).toEqual([
      { id: m.waiting, queue: 'dlq', originQueue: 'main', state: 'ready' },
      { id: m.handled, queue: 'dlq', originQueue: 'main', state: 'done' },
      { id: m.failedAgain, queue: 'dlq', originQueue: 'main', state: 'failed' },
      { id: m.held, queue: 'dlq', originQueue: 'main', state: 'leased' },
    ]);
    expect((await ctx.queue.listFailed('main')).map((message) => message.id)).toEqual([
      m.inPlace,
      m.waiting,
      m.handled,
      m.failedAgain,
      m.held,
    ]);
    expect((await ctx.queue.listFailed('other')).map((message) => message.id)).toEqual([
      m.elsewhere,
    ]);
    expect(await ctx.queue.listFailed('dlq', { limit: 1 })).toHaveLength(1);
  });

  it('getStats(queue).failedMessages counts what listFailed(queue) lists that is not dealt with', async () => {
    await deadLetters();
    // main: failed in place, plus moved out and not done (waiting, held).
    expect((await ctx.queue.getStats('main')).failedMessages).toBe(3);
    // dlq: failed again there, plus moved in and not done (waiting, held).
    expect((await ctx.queue.getStats('dlq')).failedMessages).toBe(3);
    expect((await ctx.queue.getStats('other')).failedMessages).toBe(1);
    // The moved-out rows are counted as dead letters of main, not as its messages.
    expect((await ctx.queue.getStats('main')).totalMessages).toBe(1);
    expect((await ctx.queue.getStats()).failedMessages).toBe(5);
  });

  it("retryFailed by the dead-letter queue's name sends what arrived there back where it failed", async () => {
    const m = await deadLetters();
    expect(await ctx.queue.retryFailed('dlq')).toBe(3);
    expect(await rowsOf(Object.values(m))).toEqual([
      { id: m.inPlace, queue: 'main', origin_queue: null, state: 'failed', attempts: 3 },
      { id: m.waiting, queue: 'main', origin_queue: null, state: 'ready', attempts: 0 },
      { id: m.handled, queue: 'main', origin_queue: null, state: 'ready', attempts: 0 },
      // It failed in the dead-letter queue itself: it runs there again, still knowing its origin.
      { id: m.failedAgain, queue: 'dlq', origin_queue: 'main', state: 'ready', attempts: 0 },
      { id: m.held, queue: 'dlq', origin_queue: 'main', state: 'leased', attempts: 0 },
      { id: m.direct, queue: 'dlq', origin_queue: null, state: 'ready', attempts: 0 },
      { id: m.elsewhere, queue: 'other', origin_queue: null, state: 'failed', attempts: 3 },
    ]);
    // What it did not take is still listed; what it put back in main is no longer a dead letter.
    expect((await ctx.queue.listFailed('dlq')).map((message) => message.id)).toEqual([
      m.failedAgain,
      m.held,
    ]);
    expect((await ctx.queue.leaseMany('main', 10)).map((message) => message.id).sort()).toEqual(
      [m.waiting, m.handled].sort(),
    );
  });

  it("retryFailed by the origin's name brings every dead letter back to it, as before", async () => {
    const m = await deadLetters();
    expect(await ctx.queue.retryFailed('main', [m.inPlace!, m.failedAgain!, m.held!])).toBe(2);
    expect(await ctx.queue.retryFailed('main')).toBe(2);
    const rows = await rowsOf([m.inPlace, m.waiting, m.handled, m.failedAgain, m.held]);
    expect(rows.map(({ queue, origin_queue, state }) => [queue, origin_queue, state])).toEqual([
      ['main', null, 'ready'],
      ['main', null, 'ready'],
      ['main', null, 'ready'],
      ['main', null, 'ready'],
      ['dlq', 'main', 'leased'],
    ]);
    expect((await ctx.queue.listFailed('main')).map((message) => message.id)).toEqual([m.held]);
  });
});

describe("the seed's Manual Lease Management example", () => {
  function process(body: { fail?: boolean }): void {
    if (body.fail) throw new Error('processing failed');
  }

  /** The seed's example; `by: 'id'` settles with `msg.id`, word for word as the seed does. */
  async function manualLease(
    q: QueueService,
    by: 'message' | 'id',
  ): Promise<'acked' | 'nacked' | 'empty'> {
    const msg = await q.leaseNext<{ fail?: boolean }>('ingest.main', { leaseSeconds: 60 });
    if (!msg) return 'empty';
    try {
      process(msg.body);
      expect(await q.ack('ingest.main', by === 'id' ? msg.id : msg)).toBe(true);
      return 'acked';
    } catch {
      const settle = by === 'id' ? msg.id : msg;
      expect(await q.nack('ingest.main', settle, { requeueDelaySeconds: 5 })).toBe(true);
      return 'nacked';
    }
  }

  it.each(['message', 'id'] as const)(
    'acks a message that processes and nacks with a 5 s delay one that throws (settled by %s)',
    async (by) => {
      await ctx.db.query('TRUNCATE messages');
      const good = await ctx.queue.enqueue('ingest.main', { fail: false });
      expect(await manualLease(ctx.queue, by)).toBe('acked');
      const bad = await ctx.queue.enqueue('ingest.main', { fail: true });
      expect(await manualLease(ctx.queue, by)).toBe('nacked');
      expect(await manualLease(ctx.queue, by)).toBe('empty');

      const { rows } = await ctx.db.query<{
        id: string;
        state: string;
        attempts: number;
        wait: string;
      }>(
        `SELECT id, state, attempts, available_at - floor(extract(epoch from now()))::bigint AS wait
       FROM messages ORDER BY seq`,
      );
      expect(rows.map((r) => [r.id, r.state, r.attempts])).toEqual([
        [good, 'done', 1],
        [bad, 'ready', 1],
      ]);
      expect(Number(rows[1]!.wait)).toBeGreaterThanOrEqual(5);
    },
  );
});

describe('no hidden round trips', () => {
  it('sends exactly one statement per enqueue, lease, ack, nack and admin call', async () => {
    const sent = countStatements();
    await ctx.queue.enqueue('trips', { n: 1 });
    await ctx.queue.enqueueMany('trips', [{ n: 2 }, { n: 3 }]);
    const one = (await ctx.queue.leaseNext('trips'))!;
    const two = await ctx.queue.leaseMany('trips', 2);
    await ctx.queue.ack('trips', one);
    await ctx.queue.nack('trips', two[0]!);
    await ctx.queue.reapExpiredLeases();
    await ctx.queue.getStats();
    await ctx.queue.clearQueue('trips', 'done');
    await ctx.queue.deleteMessage(two[1]!.id);
    expect(sent.stop()).toEqual([
      'enqueue',
      'enqueueMany',
      'leaseNext',
      'leaseMany',
      'ack',
      'nack',
      'reapExpiredLeases',
      'getStats',
      'clearQueue',
      'deleteMessage',
    ]);
  });
});

describe('leases bounded in bytes', () => {
  it('stops a batch at its byte budget, oldest first, and always leases at least one', async () => {
    // Random bodies, so that TOAST compression leaves their stored sizes alike.
    await ctx.queue.enqueueMany(
      'bytes',
      Array.from({ length: 8 }, (_, i) => ({ i, blob: randomBytes(60_000).toString('base64') })),
    );
    const store = ctx.app.moduleRef.get(MessageStore);
    const policy = { leaseSeconds: 30 };
    const one = await store.lease<{ i: number }>('bytes', 10, policy, 1);
    expect(one.messages.map((m) => m.body.i)).toEqual([0]);
    const size = one.bodyBytes[0]!;
    expect(size).toBeGreaterThan(60_000);

    // Three fit under 2.5 bodies: the budget counts the bodies before a candidate.
    const batch = await store.lease<{ i: number }>('bytes', 10, policy, Math.floor(size * 2.5));
    expect(batch.messages.map((m) => m.body.i)).toEqual([1, 2, 3]);
    expect(batch.bodyBytes).toHaveLength(3);

    // The rows past the budget were not leased: they are still ready, in order.
    const rest = await ctx.queue.leaseMany<{ i: number }>('bytes', 10);
    expect(rest.map((m) => m.body.i)).toEqual([4, 5, 6, 7]);
  });
});
