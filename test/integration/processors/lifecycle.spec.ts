import { describe, expect, it, jest } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { Processor, type ProcessorMessage } from '../../../src/index.js';
import { bootApp, RecordingLogger, sleep, waitFor } from '../../support/boot.js';
import { MessageStore } from '../../../src/store/message-store.js';
import { useQueueFixture } from '../../support/queue-fixture.js';

const { db, boot } = useQueueFixture('lifecycle');

async function row(id: string) {
  const { rows } = await db.query<{
    state: string;
    attempts: number;
    lease_until: string | null;
    lease_token: string | null;
  }>('SELECT state, attempts, lease_until, lease_token FROM messages WHERE id = $1', [id]);
  return rows[0]!;
}

describe('heartbeats', () => {
  it('a handler running 3x its lease is never handed to a second worker', async () => {
    const calls: string[] = [];
    @Injectable()
    class SlowA {
      @Processor('slow', { leaseSeconds: 2 })
      async handle(): Promise<void> {
        calls.push('A');
        await sleep(6_500);
      }
    }
    @Injectable()
    class SlowB {
      @Processor('slow', { leaseSeconds: 2 })
      handle(): void {
        calls.push('B');
      }
    }
    const first = await boot({ connectionString: db.url }, [SlowA]);
    const id = await first.queue.enqueue('slow', { n: 1 });
    await waitFor(() => calls.length === 1);
    // A second worker process, and a reaper running far more often than any real one.
    const second = await boot({ connectionString: db.url }, [SlowB]);
    const reaped: number[] = [];
    const reaper = setInterval(() => {
      void second.queue.reapExpiredLeases().then((count) => reaped.push(count));
    }, 200);
    try {
      await waitFor(async () => (await row(id)).state === 'done', 10_000, 'the slow handler');
    } finally {
      clearInterval(reaper);
    }
    expect(calls).toEqual(['A']);
    expect(reaped.reduce((a, b) => a + b, 0)).toBe(0);
    expect((await row(id)).attempts).toBe(1);
  });

  it('aborts the signal when the lease is lost, and does not record the result', async () => {
    let seen: ProcessorMessage | undefined;
    @Injectable()
    class Loser {
      @Processor('lost', { leaseSeconds: 1 })
      async handle(message: ProcessorMessage): Promise<void> {
        seen = message;
        await new Promise((resolve) => message.signal.addEventListener('abort', resolve));
      }
    }
    const app = await boot({ connectionString: db.url }, [Loser]);
    const id = await app.queue.enqueue('lost', { n: 1 });
    await waitFor(() => seen !== undefined);
    // Another worker took the message over (as after a reap and a new lease).
    await db.query('UPDATE messages SET lease_token = gen_random_uuid() WHERE id = $1', [id]);
    await waitFor(() => seen!.signal.aborted, 3_000, 'the abort');
    expect((seen!.signal.reason as Error).name).toBe('LeaseLostError');
    await sleep(100);
    expect((await row(id)).state).toBe('leased');
  });
});

describe('graceful shutdown', () => {
  it('stops fetching at once and lets in-flight handlers finish', async () => {
    const finished: number[] = [];
    @Injectable()
    class Busy {
      started = 0;
      @Processor('busy', { concurrency: 2 })
      async handle(message: ProcessorMessage<{ i: number }>): Promise<void> {
        this.started += 1;
        await sleep(500);
        finished.push(message.body.i);
      }
    }
    const app = await bootApp({ connectionString: db.url }, [Busy]);
    await app.queue.enqueueMany('busy', [{ i: 1 }, { i: 2 }, { i: 3 }, { i: 4 }]);
    await waitFor(() => app.get(Busy).started === 2);
    await app.close();
    expect(finished.sort()).toEqual([1, 2]);
    expect(app.get(Busy).started).toBe(2);
    const { rows } = await db.query<{ state: string; n: string }>(
      'SELECT state, count(*) AS n FROM messages GROUP BY state ORDER BY state',
    );
    expect(rows).toEqual([
      { state: 'done', n: '2' },
      { state: 'ready', n: '2' },
    ]);
  });

  it('aborts a handler past the deadline and returns its message to ready at once', async () => {
    let signal: AbortSignal | undefined;
    @Injectable()
    class Stuck {
      @Processor('stuck', { leaseSeconds: 300 })
      async handle(message: ProcessorMessage): Promise<void> {
        signal = message.signal;
        await sleep(3_000); // ignores its signal, as badly behaved code does
      }
    }
    const app = await bootApp({ connectionString: db.url, shutdownTimeoutMs: 300 }, [Stuck]);
    const id = await app.queue.enqueue('stuck', { n: 1 });
    await waitFor(() => signal !== undefined);
    const started = performance.now();
    await app.close();
    const took = performance.now() - started;
    expect(took).toBeLessThan(2_500);
    expect(signal!.aborted).toBe(true);
    expect((signal!.reason as Error).name).toBe('ShutdownError');
    expect(await row(id)).toEqual({
      state: 'ready',
      attempts: 1,
      lease_until: null,
      lease_token: null,
    });
    await sleep(3_000); // the straggler finishes; its late result must change nothing
    expect((await row(id)).state).toBe('ready');
  });

  it('shutdown ends within shutdownTimeoutMs plus a grace even when the database stops answering', async () => {
    let started = false;
    @Injectable()
    class Hung {
      @Processor('hung', { leaseSeconds: 300 })
      async handle(): Promise<void> {
        started = true;
        await new Promise(() => undefined); // never settles
      }
    }
    const logger = new RecordingLogger();
    const app = await bootApp({ connectionString: db.url, shutdownTimeoutMs: 200 }, [Hung], {
      logger,
    });
    await app.queue.enqueue('hung', { n: 1 });
    await waitFor(() => started);
    // Returning the message to ready is the statement that no longer comes back.
    jest
      .spyOn(app.get(MessageStore), 'release')
      .mockImplementation(() => new Promise(() => undefined));
    const closing = performance.now();
    await app.close();
    // Without the bound, close() waits on that statement for ever; the test would time out.
    expect(performance.now() - closing).toBeLessThan(10_000);
    expect(logger.lines.join('\n')).toMatch(/Workers did not stop within 5200 ms/);
  });
});
