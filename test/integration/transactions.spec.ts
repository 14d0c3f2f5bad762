import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import pg from 'pg';
import { DataSource, type EntityManager } from 'typeorm';
import {
  Processor,
  QueueModule,
  QueueProcessorError,
  QueueValidationError,
  queueTableNames,
  type ProcessorMessage,
  type TransactionalMessage,
} from '../../src/index.js';
import { bootError, RecordingLogger, sleep, waitFor, type BootedApp } from '../support/boot.js';
import { useQueueFixture } from '../support/queue-fixture.js';
import { adminUrl, withDatabase } from '../support/test-database.js';
import { Order, OrdersService } from '../../examples/enqueue-in-transaction.js';
import { Invoice, InvoiceProcessor } from '../../examples/transactional-processor.js';

/** Handlers waiting for the test to let them return, by message id. */
const gates = new Map<string, () => void>();
const started: string[] = [];
const woken: { id: string; at: number }[] = [];
/** What a handler's write after its timeout did: its error's name, or `written`. */
const lateWrites: string[] = [];

interface EffectBody {
  readonly note: string;
  /** Throw after writing, on attempts up to this one. */
  readonly failUntilAttempt?: number;
}

@Injectable()
class WakeHandler {
  @Processor('tx.wake')
  wake(message: ProcessorMessage): void {
    woken.push({ id: message.id, at: performance.now() });
  }
}

@Injectable()
class TransactionalHandlers {
  @Processor('tx.effects', {
    transaction: true,
    concurrency: 2,
    backoff: { type: 'fixed', delaySeconds: 0 },
  })
  async effects(message: TransactionalMessage<EffectBody>): Promise<void> {
    await writeEffect(message.manager, message.id, message.body.note);
    if ((message.body.failUntilAttempt ?? 0) >= message.attempts) {
      throw new Error(`attempt ${message.attempts} fails after writing`);
    }
  }

  /** Writes, then waits for the test (which steals the lease meanwhile) before returning. */
  @Processor('tx.steal', { transaction: true, leaseSeconds: 60 })
  async steal(message: TransactionalMessage<EffectBody>): Promise<void> {
    await writeEffect(message.manager, message.id, message.body.note);
    started.push(message.id);
    await new Promise<void>((resolve) => gates.set(message.id, resolve));
  }

  /** Attempt 1 writes, outlives its timeout, then tries to write again; attempt 2 writes. */
  @Processor('tx.slow', {
    transaction: true,
    timeoutMs: 300,
    backoff: { type: 'fixed', delaySeconds: 0 },
  })
  async slow(message: TransactionalMessage<EffectBody>): Promise<void> {
    await writeEffect(message.manager, message.id, `${message.body.note} ${message.attempts}`);
    if (message.attempts > 1) return;
    await sleep(1_500);
    try {
      await writeEffect(message.manager, message.id, 'after the timeout');
      lateWrites.push('written');
    } catch (error) {
      lateWrites.push((error as Error).name);
    }
  }

  /** Writes, then returns once the heartbeat aborted its signal (its lease was stolen). */
  @Processor('tx.beat', { transaction: true, leaseSeconds: 2 })
  async beat(message: TransactionalMessage<EffectBody>): Promise<void> {
    await writeEffect(message.manager, message.id, message.body.note);
    started.push(message.id);
    await new Promise<void>((resolve) => message.signal.addEventListener('abort', () => resolve()));
  }
}

async function writeEffect(manager: EntityManager, id: string, note: string): Promise<void> {
  await manager.query('INSERT INTO effects (message_id, note) VALUES ($1, $2)', [id, note]);
}

const fixture = useQueueFixture('transactions', { reset: 'none' });
const { db } = fixture;
const names = queueTableNames('public', 'messages');
const logger = new RecordingLogger();

let appDataSource: DataSource;
let own: BootedApp;
let shared: BootedApp;
let listener: pg.Client;
const heard: { queue: string; at: number }[] = [];

describe('transactions', () => {
  beforeAll(async () => {
    appDataSource = new DataSource({ type: 'postgres', url: db.url, extra: { max: 6 } });
    await appDataSource.initialize();
    // The module on its own pool runs the wake-up worker with a poll of a minute, so a start
    // within a second came from a notification; another app on the table runs the
    // transactional processors with the tests' usual quick poll.
    own = await fixture.boot({ connectionString: db.url, pollIntervalMs: 60_000 }, [WakeHandler], {
      logger,
    });
    await fixture.boot({ connectionString: db.url }, [TransactionalHandlers], { logger });
    shared = await fixture.boot({ dataSource: appDataSource, workers: false }, [], { logger });
    await db.query('CREATE TABLE IF NOT EXISTS effects (message_id text NOT NULL, note text)');
    listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    listener.on('notification', (notification) => {
      heard.push({ queue: notification.payload ?? '', at: performance.now() });
    });
    await listener.query(`LISTEN "${names.channel}"`);
    await waitFor(
      async () => (await db.connectionsOf('fetchcraft-queue:listen')) === 2,
      10_000,
      'the workers’ LISTEN connection',
    );
  });

  afterAll(async () => {
    if (process.env.TX_DEBUG) console.log(logger.lines.join('\n'));
    // Before the fixture drops the database (its hooks run after these, outer ones).
    await listener?.end();
    await own?.close();
    await shared?.close();
    await appDataSource?.destroy();
  });

  async function rowsOf(id: string): Promise<number> {
    const { rows } = await db.query<{ count: string }>(
      'SELECT count(*) FROM messages WHERE id = $1',
      [id],
    );
    return Number(rows[0]!.count);
  }

  async function queueRows(queue: string): Promise<number> {
    const { rows } = await db.query<{ count: string }>(
      'SELECT count(*) FROM messages WHERE queue = $1',
      [queue],
    );
    return Number(rows[0]!.count);
  }

  async function effectsOf(id: string): Promise<string[]> {
    const { rows } = await db.query<{ note: string }>(
      'SELECT note FROM effects WHERE message_id = $1',
      [id],
    );
    return rows.map((row) => row.note);
  }

  async function stateOf(
    id: string,
  ): Promise<{ state: string; attempts: number; lease_token: string | null }> {
    const { rows } = await db.query<{
      state: string;
      attempts: number;
      lease_token: string | null;
    }>('SELECT state, attempts, lease_token FROM messages WHERE id = $1', [id]);
    return rows[0]!;
  }

  class Rollback extends Error {}

  /** Runs `work` in a transaction of the application's DataSource, then rolls it back. */
  async function rolledBack(work: (manager: EntityManager) => Promise<void>): Promise<void> {
    await expect(
      appDataSource.transaction(async (manager) => {
        await work(manager);
        throw new Rollback('roll back');
      }),
    ).rejects.toBeInstanceOf(Rollback);
  }

  describe('enqueue inside the caller’s transaction', () => {
    for (const [label, app] of [
      ['the module’s own pool', () => own],
      ['the application’s DataSource (shared)', () => shared],
    ] as const) {
      it(`on ${label}: the message exists only once the transaction commits`, async () => {
        let id = '';
        await appDataSource.transaction(async (manager) => {
          id = await app().queue.enqueue('tx.plain', { n: 1 }, { manager });
          // Written in the caller's transaction: visible in it, not outside it yet.
          expect(await rowsOf(id)).toBe(0);
          const inside = await manager.query<{ n: number }[]>(
            'SELECT count(*)::int AS n FROM messages WHERE id = $1',
            [id],
          );
          expect(inside[0]!.n).toBe(1);
        });
        expect(await rowsOf(id)).toBe(1);

        let gone = '';
        await rolledBack(async (manager) => {
          gone = await app().queue.enqueue('tx.plain', { n: 2 }, { manager });
        });
        expect(gone).not.toBe('');
        expect(await rowsOf(gone)).toBe(0);
      });
    }

    it('takes the manager of a QueryRunner whose transaction was started', async () => {
      const runner = appDataSource.createQueryRunner();
      await runner.connect();
      try {
        await runner.startTransaction();
        const id = await own.queue.enqueue(
          'tx.plain',
          { runner: true },
          { manager: runner.manager },
        );
        expect(await rowsOf(id)).toBe(0);
        await runner.rollbackTransaction();
        expect(await rowsOf(id)).toBe(0);
        await runner.startTransaction();
        const kept = await own.queue.enqueue(
          'tx.plain',
          { runner: true },
          { manager: runner.manager },
        );
        await runner.commitTransaction();
        expect(await rowsOf(kept)).toBe(1);
      } finally {
        await runner.release();
      }
    });

    it('sends the statement alone through a manager without a transaction', async () => {
      const id = await own.queue.enqueue(
        'tx.plain',
        { alone: true },
        { manager: appDataSource.manager },
      );
      expect(await rowsOf(id)).toBe(1);
    });

    it('wakes nobody and leaves nothing on rollback', async () => {
      const heardBefore = heard.length;
      const wokenBefore = woken.length;
      let id = '';
      await rolledBack(async (manager) => {
        id = await own.queue.enqueue('tx.wake', { rollback: true }, { manager });
      });
      await sleep(1_500);
      expect(await rowsOf(id)).toBe(0);
      expect(heard.slice(heardBefore).filter((note) => note.queue === 'tx.wake')).toEqual([]);
      expect(woken.length).toBe(wokenBefore);
    });

    it('wakes an idle worker at commit, not before, within a second (60 s poll)', async () => {
      const heardBefore = heard.length;
      let id = '';
      let committedAt = 0;
      await appDataSource.transaction(async (manager) => {
        id = await own.queue.enqueue('tx.wake', { commit: true }, { manager });
        await sleep(500);
        // Not before the commit: no notification, no handler.
        expect(heard.slice(heardBefore).filter((note) => note.queue === 'tx.wake')).toEqual([]);
        expect(woken.some((entry) => entry.id === id)).toBe(false);
        committedAt = performance.now();
      });
      await waitFor(() => woken.some((entry) => entry.id === id), 5_000, 'the handler to start');
      const startedAt = woken.find((entry) => entry.id === id)!.at;
      expect(startedAt).toBeGreaterThan(committedAt);
      expect(startedAt - committedAt).toBeLessThan(1_000);
      const notified = heard.slice(heardBefore).find((note) => note.queue === 'tx.wake');
      expect(notified).toBeDefined();
      expect(notified!.at).toBeGreaterThan(committedAt);
    });

    it('refuses a manager on another database before writing anything', async () => {
      const otherName = `${db.name}_other`;
      const admin = new pg.Client({ connectionString: adminUrl() });
      await admin.connect();
      await admin.query(`CREATE DATABASE "${otherName}"`);
      const other = new DataSource({ type: 'postgres', url: withDatabase(adminUrl(), otherName) });
      await other.initialize();
      try {
        await other.query('CREATE TABLE messages (id text)');
        const before = await queueRows('tx.elsewhere');
        for (const app of [own, shared]) {
          const error = await other
            .transaction((manager) => app.queue.enqueue('tx.elsewhere', { x: 1 }, { manager }))
            .catch((caught: unknown) => caught);
          expect(error).toBeInstanceOf(QueueValidationError);
          expect((error as QueueValidationError).field).toBe('options.manager');
          expect((error as Error).message).toMatch(/queue's database/);
          const many = await other
            .transaction((manager) =>
              app.queue.enqueueMany('tx.elsewhere', [{ x: 1 }, { x: 2 }], { manager }),
            )
            .catch((caught: unknown) => caught);
          expect((many as QueueValidationError).field).toBe('options.manager');
        }
        expect(await queueRows('tx.elsewhere')).toBe(before);
        const left = await other.query<{ n: number }[]>('SELECT count(*)::int AS n FROM messages');
        expect(left[0]!.n).toBe(0);
      } finally {
        await other.destroy();
        await admin.query(`DROP DATABASE IF EXISTS "${otherName}" WITH (FORCE)`);
        await admin.end();
      }
    });

    it('refuses what is not a postgres EntityManager, naming options.manager', async () => {
      const mysql = {
        transaction: () => undefined,
        connection: { options: { type: 'mysql' }, createQueryRunner: () => undefined },
      } as unknown as EntityManager;
      for (const manager of [mysql, {} as EntityManager, null as unknown as EntityManager]) {
        const error = await own.queue
          .enqueue('tx.plain', { x: 1 }, { manager })
          .catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(QueueValidationError);
        expect((error as QueueValidationError).field).toBe('options.manager');
      }
    });

    it('enqueueMany, plain and with unique keys, commits and rolls back with the caller', async () => {
      let plain: string[] = [];
      let keyed: string[] = [];
      await appDataSource.transaction(async (manager) => {
        plain = await own.queue.enqueueMany('tx.many', [{ n: 1 }, { n: 2 }, { n: 3 }], { manager });
        keyed = await shared.queue.enqueueMany('tx.many', [{ k: 'a' }, { k: 'b' }, { k: 'a' }], {
          manager,
          uniqueKey: (body) => body.k,
        });
        expect(await queueRows('tx.many')).toBe(0);
      });
      expect(plain).toHaveLength(3);
      expect(keyed[0]).toBe(keyed[2]);
      expect(await queueRows('tx.many')).toBe(5);

      // A key held by a committed message gives its id inside another transaction too.
      let again: string[] = [];
      await rolledBack(async (manager) => {
        again = await own.queue.enqueueMany('tx.many', [{ k: 'a' }, { k: 'c' }], {
          manager,
          uniqueKey: (body) => body.k,
        });
        await own.queue.enqueueMany('tx.many', [{ n: 4 }], { manager });
      });
      expect(again[0]).toBe(keyed[0]);
      expect(await rowsOf(again[1]!)).toBe(0);
      expect(await queueRows('tx.many')).toBe(5);

      // A manager without a transaction: the keyed batch runs in one begun on it.
      const alone = await own.queue.enqueueMany('tx.many', [{ k: 'd' }, { k: 'd' }], {
        manager: appDataSource.manager,
        uniqueKey: (body) => body.k,
      });
      expect(alone[0]).toBe(alone[1]);
      expect(await queueRows('tx.many')).toBe(6);
    });

    it('enqueueFlow writes the whole flow in the caller’s transaction, or nothing', async () => {
      const flow = {
        queue: 'tx.flow.parent',
        body: { order: 1 },
        children: [
          { queue: 'tx.flow.child', body: { line: 1 } },
          { queue: 'tx.flow.child', body: { line: 2 } },
        ],
      };
      await rolledBack(async (manager) => {
        await own.queue.enqueueFlow(flow, { manager });
      });
      expect(await queueRows('tx.flow.parent')).toBe(0);
      expect(await queueRows('tx.flow.child')).toBe(0);
      const tree = await appDataSource.transaction(async (manager) => {
        const written = await shared.queue.enqueueFlow(flow, { manager });
        expect(await queueRows('tx.flow.child')).toBe(0);
        return written;
      });
      expect(await queueRows('tx.flow.child')).toBe(2);
      expect((await own.queue.getMessage(tree.id))?.state).toBe('waiting_children');
      expect((await own.queue.getChildren(tree.id)).map((child) => child.id)).toEqual(
        tree.children.map((child) => child.id),
      );
    });
  });

  describe('completing inside the handler’s transaction (transaction: true)', () => {
    it('commits the handler’s writes with the ack', async () => {
      const id = await own.queue.enqueue('tx.effects', { note: 'once' });
      await waitFor(
        async () => (await stateOf(id)).state === 'done',
        10_000,
        'the message to be done',
      );
      expect(await effectsOf(id)).toEqual(['once']);
    });

    it('rolls back the writes of a handler that throws, then retries it', async () => {
      const id = await own.queue.enqueue('tx.effects', { note: 'retried', failUntilAttempt: 2 });
      await waitFor(
        async () => (await stateOf(id)).state === 'done',
        15_000,
        'the message to be done',
      );
      expect((await stateOf(id)).attempts).toBe(3);
      // Three attempts wrote; only the one that committed with its ack is kept.
      expect(await effectsOf(id)).toEqual(['retried']);
    });

    it('discards the transaction of a handler past its timeout, then retries it', async () => {
      const id = await own.queue.enqueue('tx.slow', { note: 'slow' });
      await waitFor(
        async () => (await stateOf(id)).state === 'done',
        15_000,
        'the message to be done',
      );
      expect((await stateOf(id)).attempts).toBe(2);
      expect(await effectsOf(id)).toEqual(['slow 2']);
      await waitFor(() => lateWrites.length === 1, 5_000, 'the late write of attempt 1');
      // The connection was closed at the timeout: the handler's late write went nowhere.
      expect(lateWrites[0]).not.toBe('written');
      expect(await effectsOf(id)).toEqual(['slow 2']);
    });

    it('rolls back when the fenced ack finds the lease lost', async () => {
      const id = await own.queue.enqueue('tx.steal', { note: 'stolen' });
      await waitFor(() => started.includes(id), 10_000, 'the handler to start');
      // Another worker took it (as after a reap): the lease token changed under the handler.
      const { rows } = await db.query<{ lease_token: string }>(
        'UPDATE messages SET lease_token = gen_random_uuid() WHERE id = $1 RETURNING lease_token::text',
        [id],
      );
      gates.get(id)!();
      await waitFor(
        () => logger.lines.some((line) => line.includes(id) && line.includes('lease was lost')),
        10_000,
        'the lost lease to be logged',
      );
      expect(await effectsOf(id)).toEqual([]);
      const after = await stateOf(id);
      expect(after.state).toBe('leased');
      expect(after.lease_token).toBe(rows[0]!.lease_token);
    });

    it('rolls back when the heartbeat hears the lease was lost and the handler returns', async () => {
      const id = await own.queue.enqueue('tx.beat', { note: 'beaten' });
      await waitFor(() => started.includes(id), 10_000, 'the handler to start');
      await db.query('UPDATE messages SET lease_token = gen_random_uuid() WHERE id = $1', [id]);
      // The heartbeat (every second with a 2 s lease) finds the token gone and aborts the signal.
      await waitFor(
        () => logger.lines.some((line) => line.includes(id) && line.includes('lease was lost')),
        10_000,
        'the lost lease to be logged',
      );
      await sleep(200);
      expect(await effectsOf(id)).toEqual([]);
      expect((await stateOf(id)).state).toBe('leased');
    });

    it('fails boot when transactional concurrency leaves the pool too few connections', async () => {
      @Injectable()
      class Greedy {
        @Processor('tx.greedy', { transaction: true, concurrency: 3 })
        handle(): void {}
      }
      const error = await bootError({
        imports: [
          QueueModule.forRoot({
            connectionString: db.url,
            poolMaxSize: 4,
            reaper: false,
            cleanup: false,
          }),
        ],
        providers: [Greedy],
      });
      expect(error).toBeInstanceOf(QueueProcessorError);
      expect((error as Error).message).toMatch(/pool of 4 leaves room for 2/);
    });
  });

  describe('the README examples', () => {
    it('an order and its message commit together; its invoice commits with the ack', async () => {
      const dataSource = new DataSource({
        type: 'postgres',
        url: db.url,
        entities: [Order, Invoice],
        synchronize: true,
        extra: { max: 8 },
      });
      await dataSource.initialize();
      try {
        const app = await fixture.boot(
          { dataSource },
          [OrdersService, InvoiceProcessor, { provide: DataSource, useValue: dataSource }],
          { imports: [QueueModule.forFeature(['orders.placed'])], logger },
        );
        const order = await app.get(OrdersService).placeOrder('ada', 4_200);
        await waitFor(
          async () =>
            (await dataSource.getRepository(Invoice).countBy({ orderId: order.id })) === 1,
          10_000,
          'the invoice',
        );
        const { rows } = await db.query<{ state: string }>(
          "SELECT state FROM messages WHERE queue = 'orders.placed' AND body->>'orderId' = $1",
          [order.id],
        );
        expect(rows).toEqual([{ state: 'done' }]);
        await app.close();
      } finally {
        await dataSource.destroy();
      }
    });
  });
});
