import { describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { IsInt, IsString, Min } from 'class-validator';
import {
  HandlerTimeoutError,
  Processor,
  SnoozeError,
  UnrecoverableError,
  type ProcessorMessage,
  type QueueErrorRecord,
} from '../../../src/index.js';
import { useQueueFixture } from '../../support/queue-fixture.js';
import { waitFor, type BootedApp } from '../../support/boot.js';

const { db, boot } = useQueueFixture('workers');
let app: BootedApp;

async function count(where: string): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM messages WHERE ${where}`,
  );
  return Number(rows[0]!.n);
}

async function dbNowMs(): Promise<number> {
  const { rows } = await db.query<{ ms: string }>(
    'SELECT floor(extract(epoch from clock_timestamp()) * 1000)::bigint AS ms',
  );
  return Number(rows[0]!.ms);
}

describe('throughput and exactly-once handling', () => {
  it('handles 10,000 messages through concurrency 8, each exactly once, nothing left', async () => {
    @Injectable()
    class Counter {
      readonly seen = new Map<number, number>();
      maxInFlight = 0;
      private running = 0;
      @Processor('drain', { concurrency: 8 })
      async handle(message: ProcessorMessage<{ i: number }>): Promise<void> {
        this.running += 1;
        this.maxInFlight = Math.max(this.maxInFlight, this.running);
        this.seen.set(message.body.i, (this.seen.get(message.body.i) ?? 0) + 1);
        await new Promise((resolve) => setImmediate(resolve));
        this.running -= 1;
      }
    }
    app = await boot({ connectionString: db.url, workers: false }, []);
    await app.queue.enqueueMany(
      'drain',
      Array.from({ length: 10_000 }, (_, i) => ({ i })),
    );
    await app.close();

    const started = performance.now();
    app = await boot({ connectionString: db.url }, [Counter]);
    const counter = app.get(Counter);
    await waitFor(async () => (await count("state = 'done'")) === 10_000, 120_000, 'the drain');
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(
      `drained 10,000 messages at concurrency 8 in ${seconds.toFixed(2)} s (${Math.round(10_000 / seconds)} messages/s, boot included)\n`,
    );
    expect(counter.seen.size).toBe(10_000);
    expect([...counter.seen.values()].every((times) => times === 1)).toBe(true);
    expect(counter.maxInFlight).toBeLessThanOrEqual(8);
    expect(counter.maxInFlight).toBeGreaterThan(1);
    expect(await count("state <> 'done'")).toBe(0);
  });
});

describe('failures', () => {
  it('retries after a failure and then succeeds, recording the failure', async () => {
    @Injectable()
    class Flaky {
      attempts: number[] = [];
      @Processor('flaky', { maxAttempts: 3, backoff: { type: 'fixed', delaySeconds: 0 } })
      handle(message: ProcessorMessage): void {
        this.attempts.push(message.attempts);
        if (message.attempts < 2) throw new TypeError('transient failure');
      }
    }
    app = await boot({ connectionString: db.url }, [Flaky]);
    const id = await app.queue.enqueue('flaky', { n: 1 });
    await waitFor(async () => (await count("state = 'done'")) === 1);
    expect(app.get(Flaky).attempts).toEqual([1, 2]);
    const { rows } = await db.query<{ last_error: QueueErrorRecord; attempts: number }>(
      'SELECT last_error, attempts FROM messages WHERE id = $1',
      [id],
    );
    expect(rows[0]!.attempts).toBe(2);
    expect(rows[0]!.last_error).toMatchObject({
      name: 'TypeError',
      message: 'transient failure',
      attempt: 1,
    });
    expect(rows[0]!.last_error.stack).toMatch(/transient failure/);
    expect(typeof rows[0]!.last_error.failedAt).toBe('number');
  });

  it('spaces retries by the exponential backoff, measured with the database clock', async () => {
    @Injectable()
    class AlwaysFails {
      readonly startedAt: number[] = [];
      @Processor('backoff', {
        maxAttempts: 3,
        backoff: { type: 'exponential', baseSeconds: 1, maxSeconds: 60, jitter: false },
      })
      async handle(): Promise<void> {
        this.startedAt.push(await dbNowMs());
        throw new Error('nope');
      }
    }
    app = await boot({ connectionString: db.url }, [AlwaysFails]);
    await app.queue.enqueue('backoff', { n: 1 });
    const handler = app.get(AlwaysFails);
    await waitFor(async () => (await count("state = 'failed'")) === 1, 15_000, 'dead letter');
    const [first, second, third] = handler.startedAt as [number, number, number];
    // Attempt 1 fails -> 1 s, attempt 2 fails -> 2 s; whole seconds, rounded up, plus polling.
    expect(second - first).toBeGreaterThanOrEqual(1_000);
    expect(second - first).toBeLessThan(2_600);
    expect(third - second).toBeGreaterThanOrEqual(2_000);
    expect(third - second).toBeLessThan(3_600);
    process.stdout.write(`backoff gaps (db clock): ${second - first} ms, ${third - second} ms\n`);
  });

  it('dead-letters an exhausted message in place with last_error, and retryFailed brings it back', async () => {
    @Injectable()
    class Exhausts {
      fail = true;
      calls = 0;
      @Processor('exhaust', { maxAttempts: 2, backoff: { type: 'fixed', delaySeconds: 0 } })
      handle(): void {
        this.calls += 1;
        if (this.fail) throw new Error(`failure ${this.calls}`);
      }
    }
    app = await boot({ connectionString: db.url }, [Exhausts]);
    const id = await app.queue.enqueue('exhaust', { n: 1 });
    await waitFor(async () => (await count("state = 'failed'")) === 1);
    const handler = app.get(Exhausts);
    expect(handler.calls).toBe(2);

    const [failed] = await app.queue.listFailed('exhaust');
    expect(failed).toMatchObject({ id, state: 'failed', attempts: 2, originQueue: null });
    expect(failed!.lastError).toMatchObject({ name: 'Error', message: 'failure 2', attempt: 2 });
    const stats = await app.queue.getStats();
    expect(stats.failedMessages).toBe(1);
    expect(stats.byQueue['exhaust']?.failed).toBe(1);

    handler.fail = false;
    expect(await app.queue.retryFailed('exhaust', [id])).toBe(1);
    await waitFor(async () => (await count("state = 'done'")) === 1);
    expect(handler.calls).toBe(3);
    expect((await app.queue.getStats()).failedMessages).toBe(0);
    expect(await app.queue.retryFailed('exhaust')).toBe(0);
  });

  it('moves exhausted messages to the deadLetterQueue, where another processor handles them', async () => {
    @Injectable()
    class Pipeline {
      readonly errors: Array<{ origin: string | null; message: string | undefined }> = [];
      @Processor('ingest.main', {
        maxAttempts: 1,
        deadLetterQueue: 'ingest.error',
      })
      ingest(): void {
        throw new Error('cannot parse');
      }

      @Processor('ingest.error')
      recordFailure(message: ProcessorMessage): void {
        this.errors.push({ origin: message.originQueue, message: message.lastError?.message });
      }
    }
    app = await boot({ connectionString: db.url }, [Pipeline]);
    const id = await app.queue.enqueue('ingest.main', { doc: 'broken.pdf' });
    const pipeline = app.get(Pipeline);
    await waitFor(() => pipeline.errors.length === 1);
    expect(pipeline.errors).toEqual([{ origin: 'ingest.main', message: 'cannot parse' }]);
    await waitFor(async () => (await count("state = 'done'")) === 1);
    const { rows } = await db.query(
      'SELECT queue, origin_queue, state FROM messages WHERE id = $1',
      [id],
    );
    expect(rows[0]).toEqual({ queue: 'ingest.error', origin_queue: 'ingest.main', state: 'done' });
    expect((await app.queue.listFailed('ingest.main')).map((m) => m.id)).toEqual([id]);
    // By the dead-letter queue's own name too, with its state there: handled.
    const arrived = await app.queue.listFailed('ingest.error');
    expect(arrived.map((m) => [m.id, m.state, m.originQueue])).toEqual([
      [id, 'done', 'ingest.main'],
    ]);

    // Put it back where it failed: it runs in ingest.main again with fresh attempts.
    expect(await app.queue.retryFailed('ingest.main')).toBe(1);
    await waitFor(() => pipeline.errors.length === 2);
    expect(pipeline.errors[1]).toEqual({ origin: 'ingest.main', message: 'cannot parse' });
  });

  it('dead-letters a body that fails its DTO at once, with the validation errors, no retries', async () => {
    class Ingest {
      @IsString()
      url!: string;

      @IsInt()
      @Min(1)
      pages!: number;
    }
    @Injectable()
    class Typed {
      readonly bodies: unknown[] = [];
      @Processor('typed', { body: Ingest, maxAttempts: 5 })
      handle(message: ProcessorMessage<Ingest>): void {
        this.bodies.push(message.body);
      }
    }
    app = await boot({ connectionString: db.url }, [Typed]);
    const bad = await app.queue.enqueue('typed', { url: 42, pages: 0 });
    await app.queue.enqueue('typed', { url: 'https://x/y.pdf', pages: 3 });
    await waitFor(async () => (await count("state IN ('done', 'failed')")) === 2);
    const typed = app.get(Typed);
    expect(typed.bodies).toHaveLength(1);
    expect(typed.bodies[0]).toBeInstanceOf(Ingest);
    expect(typed.bodies[0]).toEqual(
      Object.assign(new Ingest(), { url: 'https://x/y.pdf', pages: 3 }),
    );

    const [poison] = await app.queue.listFailed('typed');
    expect(poison).toMatchObject({ id: bad, attempts: 1 });
    expect(poison!.lastError).toMatchObject({
      name: 'BodyValidationError',
      details: [
        { property: 'url', constraints: { isString: 'url must be a string' } },
        { property: 'pages', constraints: { min: 'pages must not be less than 1' } },
      ],
    });
  });

  it('UnrecoverableError dead-letters at once; SnoozeError retries later without spending an attempt', async () => {
    @Injectable()
    class Control {
      snoozes = 0;
      readonly attemptsSeen: number[] = [];
      @Processor('unrecoverable', { maxAttempts: 5 })
      refuse(): void {
        throw new UnrecoverableError('this document can never be parsed');
      }

      @Processor('snooze', { maxAttempts: 1 })
      later(message: ProcessorMessage): void {
        this.attemptsSeen.push(message.attempts);
        if (this.snoozes < 3) {
          this.snoozes += 1;
          throw new SnoozeError(0);
        }
      }
    }
    app = await boot({ connectionString: db.url }, [Control]);
    const refused = await app.queue.enqueue('unrecoverable', { n: 1 });
    await app.queue.enqueue('snooze', { n: 2 });
    await waitFor(async () => (await count("state IN ('done', 'failed')")) === 2);
    const [dead] = await app.queue.listFailed('unrecoverable');
    expect(dead).toMatchObject({ id: refused, attempts: 1 });
    expect(dead!.lastError).toMatchObject({
      name: 'UnrecoverableError',
      message: 'this document can never be parsed',
    });
    // maxAttempts 1, yet snoozed three times and then done: snoozes spend no attempt.
    expect(app.get(Control).attemptsSeen).toEqual([1, 1, 1, 1]);
    expect(await count("queue = 'snooze' AND state = 'done'")).toBe(1);
  });

  it('a snooze delays the message by its seconds', async () => {
    @Injectable()
    class Sleepy {
      calls = 0;
      @Processor('sleepy')
      handle(): void {
        this.calls += 1;
        if (this.calls === 1) throw new SnoozeError(3600);
      }
    }
    app = await boot({ connectionString: db.url }, [Sleepy]);
    const id = await app.queue.enqueue('sleepy', { n: 1 });
    await waitFor(
      async () =>
        app!.get(Sleepy).calls === 1 && (await count("state = 'ready' AND attempts = 0")) === 1,
    );
    const { rows } = await db.query<{ wait: string }>(
      'SELECT available_at - floor(extract(epoch from now()))::bigint AS wait FROM messages WHERE id = $1',
      [id],
    );
    expect(Number(rows[0]!.wait)).toBeGreaterThanOrEqual(3599);
  });

  it('dead-letters without running a message leased beyond maxAttempts', async () => {
    @Injectable()
    class Strict {
      calls = 0;
      @Processor('strict', { maxAttempts: 2 })
      handle(): void {
        this.calls += 1;
      }
    }
    app = await boot({ connectionString: db.url, workers: false }, []);
    const id = await app.queue.enqueue('strict', { n: 1 });
    // Leased and lost twice already, by leasers whose leases carried no limit.
    await db.query('UPDATE messages SET attempts = 2 WHERE id = $1', [id]);
    await app.close();
    app = await boot({ connectionString: db.url }, [Strict]);
    await waitFor(async () => (await count("state = 'failed'")) === 1);
    expect(app.get(Strict).calls).toBe(0);
    const [dead] = await app.queue.listFailed('strict');
    expect(dead!.lastError).toMatchObject({ name: 'AttemptsExhaustedError', attempt: 3 });
  });

  it('timeoutMs aborts a handler, fails its attempt and frees its slot, even if the handler ignores the signal', async () => {
    @Injectable()
    class Stuck {
      readonly reasons: unknown[] = [];
      readonly done: number[] = [];
      @Processor('stuck', {
        concurrency: 1,
        timeoutMs: 300,
        maxAttempts: 2,
        backoff: { type: 'fixed', delaySeconds: 0 },
      })
      async handle(message: ProcessorMessage<{ n: number; hang: boolean }>): Promise<void> {
        if (!message.body.hang) {
          this.done.push(message.body.n);
          return;
        }
        message.signal.addEventListener('abort', () => this.reasons.push(message.signal.reason));
        await new Promise(() => undefined); // ignores its signal, never settles
      }
    }
    app = await boot({ connectionString: db.url }, [Stuck]);
    await app.queue.enqueue('stuck', { n: 1, hang: true });
    await app.queue.enqueue('stuck', { n: 2, hang: false });
    await waitFor(async () => (await count("state = 'failed'")) === 1, 15_000);
    const stuck = app.get(Stuck);
    // One slot: the second message ran only because the stuck handler's slot was freed.
    await waitFor(() => stuck.done.length === 1);
    expect(stuck.reasons).toHaveLength(2);
    expect(stuck.reasons[0]).toBeInstanceOf(HandlerTimeoutError);
    expect(stuck.reasons[0]).toMatchObject({ timeoutMs: 300 });
    const [dead] = await app.queue.listFailed('stuck');
    expect(dead!.body).toEqual({ n: 1, hang: true });
    expect(dead!.lastError).toMatchObject({ name: 'HandlerTimeoutError', attempt: 2 });
    expect(app.registry.getProcessors()[0]!.options.timeoutMs).toBe(300);
  });

  it('a handler failure never stops the loop, and a non-Error throw is recorded', async () => {
    @Injectable()
    class Weird {
      handled = 0;
      @Processor('weird', { maxAttempts: 1 })
      handle(message: ProcessorMessage<{ n: number }>): void {
        /* eslint-disable @typescript-eslint/only-throw-error -- JavaScript lets handlers throw anything */
        if (message.body.n === 1) throw 'a bare string with \u0000 inside';
        if (message.body.n === 2) throw null;
        /* eslint-enable @typescript-eslint/only-throw-error */
        this.handled += 1;
      }
    }
    app = await boot({ connectionString: db.url }, [Weird]);
    await app.queue.enqueueMany('weird', [{ n: 1 }, { n: 2 }, { n: 3 }]);
    await waitFor(async () => (await count("state IN ('done', 'failed')")) === 3);
    expect(app.get(Weird).handled).toBe(1);
    const failed = await app.queue.listFailed('weird');
    expect(failed.map((m) => m.lastError?.name).sort()).toEqual(['null', 'string']);
    expect(failed.map((m) => m.lastError?.message)).toContain('a bare string with \\u0000 inside');
  });
});

describe('leasing past the last position', () => {
  it('still finds a message that became due behind it, within about a second', async () => {
    const seen: number[] = [];
    @Injectable()
    class Behind {
      @Processor('behind', { concurrency: 4 })
      handle(message: ProcessorMessage<{ i: number }>): void {
        seen.push(message.body.i);
      }
    }
    app = await boot({ connectionString: db.url, pollIntervalMs: 100 }, [Behind]);
    await app.queue.enqueueMany(
      'behind',
      Array.from({ length: 500 }, (_, i) => ({ i })),
    );
    await waitFor(() => seen.length === 500, 10_000, 'the first 500');
    // Due an hour ago: its place in lease order is before every message leased so far, where a
    // lease that starts past the last position does not look.
    await db.query(
      `INSERT INTO messages (queue, body, available_at, created_at)
       VALUES ('behind', '{"i": 500}', floor(extract(epoch from now()))::bigint - 3600,
               floor(extract(epoch from now()))::bigint)`,
    );
    await app.queue.enqueue('behind', { i: 501 });
    await waitFor(() => seen.includes(500) && seen.includes(501), 5_000, 'both late messages');
    expect(seen).toHaveLength(502);
  });

  it('drains many messages behind it at full speed, not one batch per head scan', async () => {
    const seen: number[] = [];
    @Injectable()
    class Stragglers {
      @Processor('stragglers', { concurrency: 4, prefetch: 0 })
      handle(message: ProcessorMessage<{ i: number }>): void {
        seen.push(message.body.i);
      }
    }
    app = await boot({ connectionString: db.url, pollIntervalMs: 100 }, [Stragglers]);
    await app.queue.enqueueMany(
      'stragglers',
      Array.from({ length: 100 }, (_, i) => ({ i })),
    );
    await waitFor(() => seen.length === 100, 10_000, 'the first 100');
    // As the reaper returns a crashed worker's leases: all due long ago, behind the position.
    await db.query(
      `UPDATE messages SET state = 'ready', available_at = available_at - 100 WHERE queue = 'stragglers'`,
    );
    await app.queue.enqueue('stragglers', { i: 100 });
    // Four at a time, one head scan a second, took 25 s; they now drain as fast as any backlog.
    await waitFor(() => seen.length === 201, 10_000, 'the 101 behind and after');
    expect(new Set(seen).size).toBe(101);
  });
});
