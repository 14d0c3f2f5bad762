import { describe, expect, it, jest } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import pg from 'pg';
import {
  OnQueueEvent,
  Processor,
  type ProcessorMessage,
  type QueueCompletedEvent,
  type TransactionalMessage,
} from '../../src/index.js';
import { MessageStore } from '../../src/store/message-store.js';
import { waitFor } from '../support/boot.js';
import { useQueueFixture } from '../support/queue-fixture.js';

const { db, boot } = useQueueFixture('remove_on_complete');

const completed: string[] = [];
let releaseBlocked: () => void = () => undefined;
const blocked = new Promise<void>((resolve) => (releaseBlocked = resolve));

@Injectable()
class Handlers {
  @Processor('roc.plain', { removeOnComplete: true, concurrency: 4 })
  plain(message: ProcessorMessage<{ n: number }>): { n: number } {
    return { n: message.body.n };
  }

  @Processor('roc.kept')
  kept(): void {}

  @Processor('roc.child', { removeOnComplete: true })
  child(): string {
    return 'child result';
  }

  @Processor('roc.parent', { removeOnComplete: true })
  async parent(message: ProcessorMessage): Promise<number> {
    return (await message.children()).length;
  }

  @Processor('roc.tx', { removeOnComplete: true, transaction: true })
  async tx(message: TransactionalMessage<{ note: string }>): Promise<void> {
    await message.manager.query('INSERT INTO roc_effects (id, note) VALUES ($1, $2)', [
      message.id,
      message.body.note,
    ]);
  }

  @Processor('roc.blocked', { removeOnComplete: true, concurrency: 2 })
  async blocked(): Promise<void> {
    await blocked;
  }

  @OnQueueEvent('completed')
  heard(event: QueueCompletedEvent): void {
    completed.push(event.id);
  }
}

async function rowsOf(ids: readonly string[]): Promise<Array<{ id: string; state: string }>> {
  const { rows } = await db.query<{ id: string; state: string }>(
    'SELECT id, state FROM messages WHERE id = ANY ($1::text[]) ORDER BY id',
    [ids],
  );
  return rows;
}

describe('removeOnComplete', () => {
  it('deletes each completed message, and still tells its completion', async () => {
    const app = await boot({ connectionString: db.url }, [Handlers]);
    const ids = await app.queue.enqueueMany(
      'roc.plain',
      Array.from({ length: 200 }, (_, n) => ({ n })),
    );
    const keptId = await app.queue.enqueue('roc.kept', {});
    await waitFor(async () => (await rowsOf(ids)).length === 0, 15_000, 'the messages to go');
    await waitFor(() => ids.every((id) => completed.includes(id)), 5_000, 'every completion');
    // A processor without the option keeps its done messages.
    await waitFor(
      async () => (await rowsOf([keptId]))[0]?.state === 'done',
      5_000,
      'the kept message',
    );
    const stats = await app.queue.getStats('roc.plain');
    expect(stats.byState).toMatchObject({ ready: 0, leased: 0 });
    await app.close();
  }, 60_000);

  it('keeps a message something waits for, with its result: an awaited one and a flow', async () => {
    const app = await boot({ connectionString: db.url }, [Handlers]);
    // Awaited before it can run: the processor is paused until waitFor has marked it.
    await app.queue.pause('roc.plain');
    const awaitedId = await app.queue.enqueue('roc.plain', { n: 7 });
    const awaited = app.queue.waitFor<{ n: number }>(awaitedId, { timeoutMs: 15_000 });
    await waitFor(
      async () =>
        (await db.query('SELECT 1 FROM messages WHERE id = $1 AND awaited', [awaitedId]))
          .rowCount === 1,
      5_000,
      'the wait to be registered',
    );
    await app.queue.resume('roc.plain');
    expect(await awaited).toEqual({ n: 7 });
    expect(await rowsOf([awaitedId])).toEqual([{ id: awaitedId, state: 'done' }]);

    const tree = await app.queue.enqueueFlow({
      queue: 'roc.parent',
      body: {},
      children: [
        { queue: 'roc.child', body: {} },
        { queue: 'roc.child', body: {} },
      ],
    });
    // The parent saw both children done with their results; the children are kept (they have
    // a parent), the parent itself, with no parent and not awaited, is deleted.
    await waitFor(async () => (await rowsOf([tree.id])).length === 0, 15_000, 'the parent');
    const children = tree.children.map((child) => child.id);
    expect((await rowsOf(children)).map((row) => row.state)).toEqual(['done', 'done']);
    const { rows } = await db.query<{ result: unknown }>(
      'SELECT result FROM messages WHERE id = ANY ($1::text[])',
      [children],
    );
    expect(rows.map((row) => row.result)).toEqual(['child result', 'child result']);
    expect(completed).toContain(tree.id);
    await app.close();
  }, 60_000);

  it('deletes the message in the handler transaction, with the handler work', async () => {
    await db.query('CREATE TABLE IF NOT EXISTS roc_effects (id text PRIMARY KEY, note text)');
    const app = await boot({ connectionString: db.url }, [Handlers]);
    const id = await app.queue.enqueue('roc.tx', { note: 'written' });
    await waitFor(async () => (await rowsOf([id])).length === 0, 10_000, 'the message to go');
    const { rows } = await db.query('SELECT note FROM roc_effects WHERE id = $1', [id]);
    expect(rows).toEqual([{ note: 'written' }]);
    await app.close();
  }, 60_000);

  it('skips a row locked elsewhere and deletes it once the lock is gone; a stale lease deletes nothing', async () => {
    const app = await boot({ connectionString: db.url }, [Handlers]);
    const store = app.get(MessageStore);
    const ackBatch = store.ackBatch.bind(store);
    const busy: string[] = [];
    jest.spyOn(store, 'ackBatch').mockImplementation(async (...args) => {
      const result = await ackBatch(...args);
      busy.push(...result.busy);
      return result;
    });
    const [locked, free] = await app.queue.enqueueMany('roc.blocked', [{ n: 1 }, { n: 2 }]);
    await waitFor(
      async () => (await rowsOf([locked!, free!])).every((row) => row.state === 'leased'),
      10_000,
      'both to be leased',
    );
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM messages WHERE id = $1 FOR UPDATE', [locked]);
      releaseBlocked();
      await waitFor(async () => (await rowsOf([free!])).length === 0, 5_000, 'the free ack');
      await waitFor(() => busy.includes(locked!), 5_000, 'the locked ack to be reported busy');
      expect(await rowsOf([locked!])).toEqual([{ id: locked, state: 'leased' }]);
    } finally {
      await holder.query('COMMIT');
      await holder.end();
    }
    await waitFor(async () => (await rowsOf([locked!])).length === 0, 5_000, 'the busy ack');

    // A lease that is no longer held (another token) is not deleted by the removing ack.
    const [stale] = await app.queue.enqueueMany('roc.stale', [{}]);
    const lease = await app.queue.leaseNext('roc.stale');
    await db.query('UPDATE messages SET lease_token = gen_random_uuid() WHERE id = $1', [stale]);
    const result = await ackBatch(
      'roc.stale',
      [{ id: lease!.id, leaseToken: lease!.leaseToken }],
      undefined,
      true,
    );
    expect(result).toEqual({ acked: [], busy: [] });
    expect(await rowsOf([stale!])).toEqual([{ id: stale, state: 'leased' }]);
    await app.close();
  }, 60_000);
});
