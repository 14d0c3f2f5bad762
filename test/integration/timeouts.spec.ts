import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import pg from 'pg';
import { Processor, QueueDatabaseError, type ProcessorMessage } from '../../src/index.js';
import { RecordingLogger, waitFor } from '../support/boot.js';
import { MessageStore } from '../../src/store/message-store.js';
import { useQueueFixture } from '../support/queue-fixture.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

const { db, boot } = useQueueFixture('timeouts');

let proxy: TcpProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

@Injectable()
class Counter {
  readonly seen: number[] = [];
  @Processor('timeouts.count')
  handle(message: ProcessorMessage<{ n: number }>): void {
    this.seen.push(message.body.n);
  }
}

async function enqueueDirectly(queue: string, n: number): Promise<void> {
  await db.query(
    `INSERT INTO messages (queue, body, available_at, created_at)
     VALUES ($1, $2, floor(extract(epoch from now()))::bigint, floor(extract(epoch from now()))::bigint)`,
    [queue, { n }],
  );
}

describe('a half-open connection', () => {
  it('fails a statement within the statement timeout, and the worker goes on with new connections', async () => {
    // The table first, without the proxy, so the test's own inserts need no app.
    await (await boot({ connectionString: db.url, workers: false })).close();
    proxy = await startTcpProxy(db.url);
    const logger = new RecordingLogger();
    const app = await boot(
      {
        connectionString: proxy.url,
        // One connection: once it is silent, everything waits behind it unless it is given up.
        poolMinSize: 1,
        poolMaxSize: 1,
        statementTimeoutMs: 1_000,
        connectionTimeoutMs: 2_000,
        pollIntervalMs: 100,
      },
      [Counter],
      { logger },
    );
    const counter = app.get(Counter);
    await enqueueDirectly('timeouts.count', 1);
    await waitFor(() => counter.seen.length === 1, 10_000, 'the first message');

    // Every connection the app holds now (pool and LISTEN) goes silent, as after a NAT drop.
    expect(proxy.blackholeOpenConnections()).toBeGreaterThan(0);
    const stats = app.queue.getStats().then(
      () => 'answered',
      (error: unknown) => error,
    );
    await enqueueDirectly('timeouts.count', 2);
    // Without a deadline the lease statement on a silent socket waits for TCP: a quarter of an hour.
    await waitFor(() => counter.seen.length === 2, 20_000, 'the worker to recover');
    // The first statement on the silent connection failed with a timeout instead of hanging.
    const outcome = await stats;
    const leaseFailed = logger.lines.some((line) =>
      /could not lease messages.*timeout/i.test(line),
    );
    expect(outcome === 'answered' ? leaseFailed : outcome).toEqual(
      outcome === 'answered' ? true : expect.any(QueueDatabaseError),
    );
  }, 60_000);
});

describe('an ack blocked by a row lock held elsewhere', () => {
  it('times out, is retried, and lands once the lock is gone: the message runs once', async () => {
    const handled: string[] = [];
    const started: Array<() => void> = [];
    @Injectable()
    class Blocked {
      @Processor('timeouts.blocked')
      async handle(message: ProcessorMessage): Promise<void> {
        await new Promise<void>((resolve) => started.push(resolve));
        handled.push(message.id);
      }
    }
    const logger = new RecordingLogger();
    const app = await boot({ connectionString: db.url, lockTimeoutMs: 200 }, [Blocked], {
      logger,
    });
    const store = app.get(MessageStore);
    const ackMany = store.ackMany.bind(store);
    const ackErrors: unknown[] = [];
    jest.spyOn(store, 'ackMany').mockImplementation((queue, leases) =>
      ackMany(queue, leases).catch((error: unknown) => {
        ackErrors.push(error);
        throw error;
      }),
    );
    const id = await app.queue.enqueue('timeouts.blocked', { n: 1 });
    await waitFor(() => started.length === 1, 10_000, 'the handler to start');
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM messages WHERE id = $1 FOR UPDATE', [id]);
      started[0]!();
      await waitFor(() => handled.length === 1, 5_000, 'the handler to finish');
      // The ack waits 200 ms for the row, gives up, and is sent again after 200 ms, then 1 s.
      await new Promise((resolve) => setTimeout(resolve, 700));
      const { rows } = await db.query<{ state: string }>(
        'SELECT state FROM messages WHERE id = $1',
        [id],
      );
      expect(rows).toEqual([{ state: 'leased' }]);
    } finally {
      await holder.query('COMMIT');
      await holder.end();
    }
    await waitFor(
      async () =>
        (await db.query('SELECT 1 FROM messages WHERE id = $1 AND state = $2', [id, 'done']))
          .rowCount === 1,
      10_000,
      'the retried ack to land',
    );
    expect(handled).toEqual([id]);
    // It did not just wait for the lock: it gave up after lock_timeout (55P03) and was sent again.
    expect(ackErrors.length).toBeGreaterThan(0);
    expect(ackErrors[0]).toMatchObject({ code: '55P03' });
    expect(logger.lines.join('\n')).not.toMatch(/ack of \d+ message\(s\) failed/);
  }, 60_000);
});
