import { describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import {
  MessageCancelledError,
  Processor,
  getQueueToken,
  QueueModule,
  type QueueProducer,
  type ProcessorMessage,
} from '../../src/index.js';
import { MessageStore } from '../../src/store/message-store.js';
import { sleep, waitFor } from '../support/boot.js';
import { useControlChildren } from '../support/control-child.js';
import { useQueueFixture } from '../support/queue-fixture.js';

// The shared app cancels; the handlers run in other processes (or other apps).
const fixture = useQueueFixture('cancel', { shared: { workers: false }, reset: 'none' });
const { db } = fixture;

const start = useControlChildren(() => db.url);

interface Row {
  state: string;
  attempts: number;
  last_error: unknown;
  lease_token: string | null;
  cancel_requested_at: string | null;
}

async function rowOf(id: string): Promise<Row> {
  const { rows } = await db.query<Row>(
    'SELECT state, attempts, last_error, lease_token, cancel_requested_at FROM messages WHERE id = $1',
    [id],
  );
  return rows[0]!;
}

const stateOf = async (id: string) => (await rowOf(id)).state;

describe('QueueService.cancel', () => {
  it('validates its arguments before sending anything', async () => {
    await expect(fixture.queue.cancel('')).rejects.toMatchObject({ field: 'id' });
    await expect(fixture.queue.cancel(42 as unknown as string)).rejects.toMatchObject({
      field: 'id',
    });
    await expect(fixture.queue.cancel('m', { queue: ' q' })).rejects.toMatchObject({
      field: 'queue',
    });
    await expect(
      fixture.queue.cancel('m', 'q' as unknown as { queue?: string }),
    ).rejects.toMatchObject({ field: 'options' });
  });

  it('cancels a waiting message at once: it never runs', async () => {
    const due = await fixture.queue.enqueue('cancel.ready', 'due');
    const delayed = await fixture.queue.enqueue('cancel.ready', 'later', { delaySeconds: 60 });
    expect(await fixture.queue.cancel(due)).toBe('cancelled');
    expect(await fixture.queue.cancel(delayed)).toBe('cancelled');
    expect(await rowOf(due)).toMatchObject({ state: 'cancelled', attempts: 0, last_error: null });
    expect((await rowOf(delayed)).cancel_requested_at).not.toBeNull();

    const handled: string[] = [];
    @Injectable()
    class Never {
      @Processor('cancel.ready')
      handle(message: ProcessorMessage): void {
        handled.push(message.id);
      }
    }
    const app = await fixture.boot({ connectionString: db.url }, [Never]);
    const control = await app.queue.enqueue('cancel.ready', 'control');
    await waitFor(() => handled.includes(control), 5_000, 'a message that was not cancelled');
    expect(handled).toEqual([control]);
    expect(await stateOf(due)).toBe('cancelled');
    expect(await fixture.queue.leaseNext('cancel.ready')).toBeNull();
  });

  it('says finished for a message already done, failed or cancelled, and leaves it alone', async () => {
    const [done, failed, cancelled] = await fixture.queue.enqueueMany('cancel.finished', [1, 2, 3]);
    await db.query(`UPDATE messages SET state = 'done' WHERE id = $1`, [done]);
    await db.query(`UPDATE messages SET state = 'failed' WHERE id = $1`, [failed]);
    expect(await fixture.queue.cancel(cancelled!)).toBe('cancelled');
    for (const id of [done!, failed!, cancelled!]) {
      expect(await fixture.queue.cancel(id)).toBe('finished');
    }
    expect(await stateOf(done!)).toBe('done');
    expect(await stateOf(failed!)).toBe('failed');
    expect((await rowOf(done!)).cancel_requested_at).toBeNull();
    expect(await fixture.queue.cancel('no-such-message')).toBe('notFound');
  });

  it("a producer cancels its own queue's messages only", async () => {
    const app = await fixture.boot({ connectionString: db.url, workers: false }, [], {
      imports: [QueueModule.forFeature(['cancel.mine'])],
    });
    const producer = app.moduleRef.get<QueueProducer>(getQueueToken('cancel.mine'));
    const other = await app.queue.enqueue('cancel.other', 1);
    const mine = await producer.enqueue(2);
    expect(await producer.cancel(other)).toBe('notFound');
    expect(await stateOf(other)).toBe('ready');
    expect(await producer.cancel(mine)).toBe('cancelled');
  });

  it('aborts a handler running in another process: the row ends cancelled, not retried', async () => {
    const child = await start({ QUEUE: 'cancel.running' });
    const id = await fixture.queue.enqueue('cancel.running', 'long');
    await child.printed(`started ${id} 1`);

    const sent = performance.now();
    expect(await fixture.queue.cancel(id)).toBe('requested');
    await child.printed(`aborted ${id} MessageCancelledError`, 2_000);
    await waitFor(async () => (await stateOf(id)) === 'cancelled', 2_000, 'the cancelled state');
    process.stdout.write(
      `cancel to row cancelled in another process (NOTIFY): ${(performance.now() - sent).toFixed(0)} ms\n`,
    );
    expect(await rowOf(id)).toMatchObject({ attempts: 1, last_error: null, lease_token: null });
    await sleep(500);
    expect(child.lines.filter((line) => line.startsWith('started '))).toEqual([`started ${id} 1`]);
    expect(await fixture.queue.cancel(id)).toBe('finished');
  });

  it('frees the slot of a handler that ignores its signal, and still ends cancelled', async () => {
    const child = await start({ QUEUE: 'cancel.stubborn', IGNORE_SIGNAL: '1', CONCURRENCY: '1' });
    const [stubborn, next] = await fixture.queue.enqueueMany('cancel.stubborn', [1, 2]);
    await child.printed(`started ${stubborn} 1`);
    expect(await fixture.queue.cancel(stubborn!)).toBe('requested');
    await child.printed(`aborted ${stubborn} MessageCancelledError`, 2_000);
    await waitFor(async () => (await stateOf(stubborn!)) === 'cancelled', 2_000, 'cancelled');
    // Its one slot is free although the handler never returned.
    await child.printed(`started ${next} 1`, 2_000);
  });

  it('drops a prefetched message that has not started, and settles it cancelled', async () => {
    const child = await start({ QUEUE: 'cancel.buffered', CONCURRENCY: '1', PREFETCH: '2' });
    const [running, buffered] = await fixture.queue.enqueueMany('cancel.buffered', [1, 2]);
    await child.printed(`started ${running} 1`);
    await waitFor(async () => (await stateOf(buffered!)) === 'leased', 5_000, 'the prefetch');

    expect(await fixture.queue.cancel(buffered!)).toBe('requested');
    await waitFor(async () => (await stateOf(buffered!)) === 'cancelled', 2_000, 'cancelled');
    // The running one goes on; once it is cancelled too, the slot is free and nothing else runs.
    expect(await fixture.queue.cancel(running!)).toBe('requested');
    await child.printed(`aborted ${running} MessageCancelledError`, 2_000);
    await sleep(300);
    expect(child.lines.some((line) => line.startsWith(`started ${buffered}`))).toBe(false);
  });

  it('without NOTIFY (listen: false), the heartbeat carries the cancel to the worker', async () => {
    // A 2 s lease: a heartbeat every second.
    const child = await start({ QUEUE: 'cancel.beat', LISTEN: 'false', LEASE_SECONDS: '2' });
    const id = await fixture.queue.enqueue('cancel.beat', 'long');
    await child.printed(`started ${id} 1`);
    const sent = performance.now();
    expect(await fixture.queue.cancel(id)).toBe('requested');
    await child.printed(`aborted ${id} MessageCancelledError`, 3_000);
    const took = performance.now() - sent;
    process.stdout.write(`cancel heard through the heartbeat after ${took.toFixed(0)} ms\n`);
    await waitFor(async () => (await stateOf(id)) === 'cancelled', 2_000, 'cancelled');
    expect(took).toBeLessThan(2_000);
  });

  it("the reaper settles a crashed worker's cancel-requested lease as cancelled", async () => {
    // A lease long enough that the kill and the cancel land inside it on a loaded machine.
    const child = await start({ QUEUE: 'cancel.crash', LEASE_SECONDS: '3' });
    const id = await fixture.queue.enqueue('cancel.crash', 'doomed');
    await child.printed(`started ${id} 1`);
    await child.kill();
    expect(await fixture.queue.cancel(id)).toBe('requested');
    expect(await stateOf(id)).toBe('leased');
    // Reaped here, or by the shared app's own reaper if it gets there first: either way by a
    // reaper, the only thing left to settle the row.
    await waitFor(
      async () => {
        await fixture.queue.reapExpiredLeases();
        return (await stateOf(id)) !== 'leased';
      },
      10_000,
      'the lease to expire and be reaped',
    );
    expect(await rowOf(id)).toMatchObject({ state: 'cancelled', attempts: 1, lease_token: null });
  });

  it('a cancel request turns a requeue (a nack, as a retry or snooze would) into cancelled; an ack still wins', async () => {
    // A leaseNext consumer never hears of the cancel; what it does next cannot bring the message back.
    const [retried, nacked, acked] = await fixture.queue.enqueueMany('cancel.manual', [1, 2, 3]);
    const leases = await fixture.queue.leaseMany('cancel.manual', 3);
    expect(leases.map((lease) => lease.id)).toEqual([retried, nacked, acked]);
    for (const id of [retried!, nacked!, acked!]) {
      expect(await fixture.queue.cancel(id)).toBe('requested');
    }
    expect(await fixture.queue.nack('cancel.manual', leases[0]!, { requeueDelaySeconds: 5 })).toBe(
      true,
    );
    expect(await fixture.queue.nack('cancel.manual', leases[1]!)).toBe(true);
    // The race: a consumer that finished before it heard ends done.
    expect(await fixture.queue.ack('cancel.manual', leases[2]!)).toBe(true);
    expect(await stateOf(retried!)).toBe('cancelled');
    expect(await stateOf(nacked!)).toBe('cancelled');
    expect(await stateOf(acked!)).toBe('done');
  });

  it('every settle of a cancel-requested lease but an ack ends cancelled: retry, snooze, release, dead letter in place or moved', async () => {
    const store = fixture.app.get(MessageStore);
    const ids = await fixture.queue.enqueueMany('cancel.settle', [1, 2, 3, 4, 5, 6]);
    const leases = await fixture.queue.leaseMany('cancel.settle', 6);
    for (const id of ids) expect(await fixture.queue.cancel(id)).toBe('requested');
    const ref = (index: number) => leases[index]!;
    // A failure's settle says the cancel won: the message ended `cancelled`, not retried.
    expect(await store.retry(ref(0), 0, '{"name":"Error","message":"x","attempt":1}')).toBe(
      'cancelled',
    );
    expect(await store.snooze(ref(1), 5)).toBe(true);
    expect(await store.release(ref(2))).toBe(true);
    expect(
      await store.deadLetter(ref(3), '{"name":"Error","message":"x","attempt":1}', undefined),
    ).toBe('cancelled');
    expect(
      await store.deadLetter(ref(4), '{"name":"Error","message":"x","attempt":1}', 'cancel.dlq'),
    ).toBe('cancelled');
    expect(await store.releaseUnstarted('cancel.settle', [leases[5]!])).toBe(1);
    const { rows } = await db.query<{
      id: string;
      state: string;
      queue: string;
      lease_token: null;
    }>('SELECT id, state, queue, lease_token FROM messages WHERE id = ANY ($1) ORDER BY seq', [
      ids,
    ]);
    expect(rows).toEqual(
      ids.map((id) => ({ id, state: 'cancelled', queue: 'cancel.settle', lease_token: null })),
    );
    // The failure is still recorded where one happened.
    expect((await rowOf(ids[3]!)).last_error).toMatchObject({ name: 'Error' });
  });

  it('retryFailed of a dead letter cancelled in its dead-letter queue runs it again, its cancel forgotten', async () => {
    const store = fixture.app.get(MessageStore);
    const id = await fixture.queue.enqueue('cancel.origin', 'fails');
    const [lease] = await fixture.queue.leaseMany('cancel.origin', 1);
    expect(
      await store.deadLetter(
        lease!,
        '{"name":"Error","message":"x","attempt":1}',
        'cancel.origin.dlq',
      ),
    ).toBe('recorded');
    expect(await fixture.queue.cancel(id)).toBe('cancelled');
    expect(await fixture.queue.retryFailed('cancel.origin')).toBe(1);
    expect(await rowOf(id)).toMatchObject({ state: 'ready', cancel_requested_at: null });
    // It runs as any message: a nack sends it back to ready, not to cancelled.
    const again = await fixture.queue.leaseNext('cancel.origin');
    expect(again?.id).toBe(id);
    expect(await fixture.queue.nack('cancel.origin', again!)).toBe(true);
    expect(await stateOf(id)).toBe('ready');
  });

  it('a handler may throw MessageCancelledError itself: cancelled, not a failure', async () => {
    @Injectable()
    class GivesUp {
      @Processor('cancel.self', { maxAttempts: 3 })
      handle(message: ProcessorMessage): void {
        throw new MessageCancelledError(message.id);
      }
    }
    const app = await fixture.boot({ connectionString: db.url }, [GivesUp]);
    const id = await app.queue.enqueue('cancel.self', 'no');
    await waitFor(async () => (await stateOf(id)) === 'cancelled', 5_000, 'cancelled');
    expect(await rowOf(id)).toMatchObject({ attempts: 1, last_error: null });
  });

  it('under a stream of cancels racing running handlers, every message ends done or cancelled as its result says', async () => {
    const results = new Map<string, string>();
    /** Messages started after `cancel` had answered 'cancelled' for them: must stay empty. */
    const startedAfterCancel: string[] = [];
    @Injectable()
    class Busy {
      @Processor('cancel.race', { concurrency: 8, prefetch: 8, maxAttempts: 5 })
      async handle(message: ProcessorMessage<number>): Promise<void> {
        if (results.get(message.id) === 'cancelled') startedAfterCancel.push(message.id);
        const ms = (message.body % 7) * 4;
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(resolve, ms);
          message.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            reject(message.signal.reason as Error);
          });
        });
        // Some handlers fail: a retry must not bring a cancelled message back.
        if (message.body % 5 === 0 && message.attempts === 1) throw new Error('transient');
      }
    }
    const app = await fixture.boot({ connectionString: db.url }, [Busy]);
    const ids = await app.queue.enqueueMany(
      'cancel.race',
      Array.from({ length: 300 }, (_, i) => i),
    );
    // Every other message, ten cancels at a time, while the worker runs them.
    const chosen = ids.filter((_, index) => index % 2 === 0);
    for (let at = 0; at < chosen.length; at += 10) {
      await Promise.all(
        chosen
          .slice(at, at + 10)
          .map(async (id) => results.set(id, await fixture.queue.cancel(id))),
      );
      await sleep(10);
    }
    await waitFor(
      async () => {
        const { rows } = await db.query<{ count: number }>(
          `SELECT count(*)::integer AS count FROM messages WHERE queue = 'cancel.race' AND state IN ('ready', 'leased')`,
        );
        return rows[0]!.count === 0;
      },
      20_000,
      'every message settled',
    );
    const { rows } = await db.query<{ id: string; state: string }>(
      `SELECT id, state FROM messages WHERE queue = 'cancel.race'`,
    );
    const states = new Map(rows.map((row) => [row.id, row.state]));
    const tally: Record<string, number> = {};
    for (const id of ids) {
      const result = results.get(id);
      const state = states.get(id)!;
      tally[`${result ?? 'not cancelled'} -> ${state}`] =
        (tally[`${result ?? 'not cancelled'} -> ${state}`] ?? 0) + 1;
      if (result === undefined) expect(state).toBe('done');
      // 'cancelled': it was waiting, maybe for a retry after a first attempt had run.
      if (result === 'cancelled') expect(state).toBe('cancelled');
      if (result === 'requested') expect(['done', 'cancelled']).toContain(state);
      if (result === 'finished') expect(state).toBe('done');
      expect(result).not.toBe('notFound');
    }
    expect(startedAfterCancel).toEqual([]);
    process.stdout.write(`cancel race, 150 of 300 cancelled: ${JSON.stringify(tally)}\n`);
  });

  it('the cleanup deletes old cancelled messages like done ones', async () => {
    const [cancelled, ready] = await fixture.queue.enqueueMany('cancel.cleanup', [1, 2]);
    expect(await fixture.queue.cancel(cancelled!)).toBe('cancelled');
    await db.query(`UPDATE messages SET created_at = created_at - 10 * 86400 WHERE queue = $1`, [
      'cancel.cleanup',
    ]);
    const result = await fixture.queue.cleanup({
      doneRetentionDays: 1,
      failedRetentionDays: false,
    });
    expect(result.deleted).toBeGreaterThanOrEqual(1);
    const { rows } = await db.query<{ id: string }>('SELECT id FROM messages WHERE queue = $1', [
      'cancel.cleanup',
    ]);
    expect(rows.map((row) => row.id)).toEqual([ready]);
  });
});
