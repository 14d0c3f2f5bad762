import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { type TestingModule } from '@nestjs/testing';
import pg from 'pg';
import { Processor, QueueDatabaseError, type ProcessorMessage } from '../../src/index.js';
import { RecordingLogger, waitFor } from '../support/boot.js';
import { MessageStore } from '../../src/store/message-store.js';
import { AUTO_PREFETCH_MAX } from '../../src/config/defaults.js';
import { MAX_UNSETTLED_ACKS } from '../../src/workers/fetch-loop.js';
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

describe('a pool of half-open connections', () => {
  it('pays one deadline, not one per silent connection: the idle ones are closed too', async () => {
    await (await boot({ connectionString: db.url, workers: false })).close();
    proxy = await startTcpProxy(db.url);
    const app = await boot({
      connectionString: proxy.url,
      workers: false,
      // Three connections open and idle when they all go silent.
      poolMinSize: 3,
      poolMaxSize: 3,
      statementTimeoutMs: 1_000,
      connectionTimeoutMs: 2_000,
    });
    expect(proxy.blackholeOpenConnections()).toBeGreaterThanOrEqual(3);
    // The first statement waits its deadline (1 s statement timeout plus 2 s) and fails.
    await expect(app.queue.getStats()).rejects.toBeInstanceOf(QueueDatabaseError);
    // The next ones go out on new connections at once, not on the two silent idle ones.
    const started = performance.now();
    await app.queue.enqueue('timeouts.fresh', { n: 1 });
    await app.queue.enqueue('timeouts.fresh', { n: 2 });
    expect(performance.now() - started).toBeLessThan(1_500);
  }, 60_000);
});

describe('an ack whose row is locked elsewhere', () => {
  it('is skipped and sent again until the lock is gone, without holding up the acks behind it', async () => {
    const handled: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    @Injectable()
    class Blocked {
      @Processor('timeouts.blocked', { concurrency: 2 })
      async handle(message: ProcessorMessage<{ n: number }>): Promise<void> {
        await gate;
        handled.push(message.body.n);
      }
    }
    const app = await boot({ connectionString: db.url }, [Blocked]);
    const store = app.get(MessageStore);
    const ackBatch = store.ackBatch.bind(store);
    const busyReported: string[] = [];
    jest.spyOn(store, 'ackBatch').mockImplementation(async (queue, leases) => {
      const result = await ackBatch(queue, leases);
      busyReported.push(...result.busy);
      return result;
    });
    const [locked, free] = await app.queue.enqueueMany('timeouts.blocked', [{ n: 1 }, { n: 2 }]);
    const stateOf = async (id: string) =>
      (await db.query<{ state: string }>('SELECT state FROM messages WHERE id = $1', [id])).rows[0]!
        .state;
    await waitFor(async () => (await stateOf(free!)) === 'leased', 10_000, 'both to be leased');
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM messages WHERE id = $1 FOR UPDATE', [locked]);
      release();
      // The other message's ack lands at once, although it went out with the locked one.
      await waitFor(async () => (await stateOf(free!)) === 'done', 5_000, 'the free ack');
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(await stateOf(locked!)).toBe('leased');
      expect(busyReported).toContain(locked);
    } finally {
      await holder.query('COMMIT');
      await holder.end();
    }
    await waitFor(async () => (await stateOf(locked!)) === 'done', 5_000, 'the busy ack to land');
    expect(handled.sort()).toEqual([1, 2]);
    await app.close();
  }, 60_000);
});

describe('acks that lag', () => {
  it('hold the worker back from leasing more, and all land once the database keeps up', async () => {
    const total = 8_000;
    const runs = new Map<number, number>();
    @Injectable()
    class Fast {
      @Processor('timeouts.lagging', { concurrency: 16 })
      handle(message: ProcessorMessage<{ n: number }>): void {
        runs.set(message.body.n, (runs.get(message.body.n) ?? 0) + 1);
      }
    }
    const setup = await boot({ connectionString: db.url, workers: false });
    await setup.queue.enqueueMany(
      'timeouts.lagging',
      Array.from({ length: total }, (_, n) => ({ n })),
    );
    await setup.close();
    const app = await boot({ connectionString: db.url }, [Fast], { beforeInit: lagAcks });
    const leasedNow = async () =>
      Number(
        (
          await db.query<{ n: string }>(
            `SELECT count(*) AS n FROM messages WHERE queue = 'timeouts.lagging' AND state = 'leased'`,
          )
        ).rows[0]!.n,
      );
    try {
      // Acks do not land for 3 s: the worker stops leasing at its bound instead of taking all.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      const leased = await leasedNow();
      expect(leased).toBeGreaterThanOrEqual(MAX_UNSETTLED_ACKS);
      expect(leased).toBeLessThanOrEqual(MAX_UNSETTLED_ACKS + 16 + AUTO_PREFETCH_MAX + 16);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(await leasedNow()).toBe(leased);
    } finally {
      openAcks();
    }
    await waitFor(
      async () =>
        (
          await db.query(
            `SELECT 1 FROM messages WHERE queue = 'timeouts.lagging' AND state = 'done'`,
          )
        ).rowCount === total,
      60_000,
      'every message to be done',
    );
    expect(runs.size).toBe(total);
    expect([...runs.values()].every((count) => count === 1)).toBe(true);
    await app.close();
  }, 120_000);
});

let openAcks: () => void = () => undefined;

/** Makes every ack statement of the app wait until `openAcks()`, as a database that lags would. */
function lagAcks(moduleRef: TestingModule): void {
  const store = moduleRef.get(MessageStore);
  const gate = new Promise<void>((resolve) => (openAcks = resolve));
  const ackBatch = store.ackBatch.bind(store);
  jest.spyOn(store, 'ackBatch').mockImplementation(async (queue, leases) => {
    await gate;
    return ackBatch(queue, leases);
  });
}
