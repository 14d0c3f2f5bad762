import { describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { Processor, queueTableNames, type ProcessorMessage } from '../../../src/index.js';
import { useQueueFixture } from '../../support/queue-fixture.js';
import { MessageStore } from '../../../src/store/message-store.js';
import { sleep, waitFor } from '../../support/boot.js';

@Injectable()
class Stamps {
  readonly started: number[] = [];
  @Processor('wake')
  handle(): void {
    this.started.push(performance.now());
  }
}

/** Fails each message's first attempt, to be retried at once (a fixed backoff of 0 s). */
@Injectable()
class FailsOnce {
  readonly attempts = new Map<string, number[]>();
  @Processor('wake.retry', { backoff: { type: 'fixed', delaySeconds: 0 } })
  handle(message: ProcessorMessage): void {
    const seen = this.attempts.get(message.id) ?? [];
    seen.push(performance.now());
    this.attempts.set(message.id, seen);
    if (message.attempts === 1) throw new Error('first attempt fails');
  }
}

// A 10 s poll: anything faster than that below came from a notification.
const fixture = useQueueFixture('wakeup', {
  shared: { pollIntervalMs: 10_000 },
  sharedProviders: [Stamps, FailsOnce],
  reset: 'none',
});
const { db } = fixture;

async function listenBackends(): Promise<number[]> {
  const { rows } = await db.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'fetchcraft-queue:listen'",
    [db.name],
  );
  return rows.map((row) => row.pid);
}

/** Enqueues one message to the idle queue and returns ms until its handler started. */
async function wakeLatency(): Promise<number> {
  const stamps = fixture.app.get(Stamps);
  const before = stamps.started.length;
  await sleep(50); // the worker is idle, waiting on its 10 s poll
  const sent = performance.now();
  await fixture.app.queue.enqueue('wake', { at: sent });
  await waitFor(() => stamps.started.length > before, 9_000, 'the handler to start');
  return stamps.started[before]! - sent;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

describe('NOTIFY wake-ups', () => {
  it('starts a message enqueued to an idle queue within 200 ms, with a 10 s poll interval', async () => {
    await waitFor(
      async () => (await listenBackends()).length === 1,
      5_000,
      'the LISTEN connection',
    );
    const latencies: number[] = [];
    for (let i = 0; i < 10; i++) latencies.push(await wakeLatency());
    process.stdout.write(
      `wake-up latency (enqueue call to handler start), 10 samples: median ${median(latencies).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms\n`,
    );
    expect(median(latencies)).toBeLessThan(200);
    expect(Math.max(...latencies)).toBeLessThan(1_000);
  });

  it('re-subscribes after pg_terminate_backend of the LISTEN connection', async () => {
    const [old] = await listenBackends();
    expect(old).toBeDefined();
    await db.query('SELECT pg_terminate_backend($1)', [old]);
    await waitFor(
      async () => {
        const pids = await listenBackends();
        return pids.length === 1 && pids[0] !== old;
      },
      5_000,
      'a new LISTEN connection',
    );
    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) latencies.push(await wakeLatency());
    process.stdout.write(
      `wake-up latency after the LISTEN connection was killed: median ${median(latencies).toFixed(1)} ms\n`,
    );
    expect(median(latencies)).toBeLessThan(200);
  });

  it('does not lose a message enqueued while the LISTEN connection is down', async () => {
    const stamps = fixture.app.get(Stamps);
    const before = stamps.started.length;
    const [old] = await listenBackends();
    await db.query('SELECT pg_terminate_backend($1)', [old]);
    await fixture.app.queue.enqueue('wake', { during: 'outage' });
    // The reconnect pokes every worker, since notifications sent meanwhile are gone.
    await waitFor(
      () => stamps.started.length > before,
      5_000,
      'the message sent during the outage',
    );
  });
});

describe('the lease that wakes an idle worker', () => {
  it('is the prepared idle lease, up to concurrency; a burst behind it goes to the planned lease', async () => {
    const stamps = fixture.app.get(Stamps);
    const store = fixture.app.get(MessageStore);
    const lease = store.lease.bind(store);
    const calls: { scanLimit: number | undefined; limit: number; got: number }[] = [];
    store.lease = (async (...args: Parameters<MessageStore['lease']>) => {
      const batch = await lease(...args);
      if (args[0] === 'wake')
        calls.push({ limit: args[1], scanLimit: args[6], got: batch.messages.length });
      return batch;
    }) as MessageStore['lease'];
    try {
      await sleep(50);
      const before = stamps.started.length;
      await fixture.app.queue.enqueue('wake', { alone: true });
      await waitFor(() => stamps.started.length === before + 1, 5_000, 'the single message');
      // The worker (concurrency 1) had drained its queue: the message was leased by the idle lease.
      const single = calls.find((call) => call.got === 1)!;
      expect(single).toEqual({ scanLimit: 1, limit: 1, got: 1 });
      await sleep(50);
      calls.length = 0;
      await fixture.app.queue.enqueueMany(
        'wake',
        Array.from({ length: 30 }, (_, i) => ({ i })),
      );
      await waitFor(() => stamps.started.length === before + 31, 5_000, 'the burst');
      // The idle lease came back full, so the next lease was planned for its values and took
      // the rest of the burst ahead of the free slot.
      const first = calls.findIndex((call) => call.got > 0);
      expect(calls[first]).toEqual({ scanLimit: 1, limit: 1, got: 1 });
      expect(calls[first + 1]!.scanLimit).toBeUndefined();
      expect(calls[first + 1]!.got).toBeGreaterThan(1);
    } finally {
      store.lease = lease;
    }
  });
});

describe('a notification heard while a lease is in flight', () => {
  it('is not lost when that lease comes back empty: the worker leases again at once', async () => {
    const stamps = fixture.app.get(Stamps);
    const store = fixture.app.get(MessageStore);
    const lease = store.lease.bind(store);
    let gate: Promise<void> | undefined;
    let entered: () => void = () => undefined;
    const inFlight = new Promise<void>((resolve) => (entered = resolve));
    // The next lease of 'wake' finds nothing, then stays "in flight" until the gate opens.
    store.lease = (async (...args: Parameters<MessageStore['lease']>) => {
      const batch = await lease(...args);
      if (args[0] === 'wake' && gate !== undefined) {
        const held = gate;
        gate = undefined;
        entered();
        await held;
      }
      return batch;
    }) as MessageStore['lease'];
    try {
      let open: () => void = () => undefined;
      gate = new Promise<void>((resolve) => (open = resolve));
      const before = stamps.started.length;
      await sleep(50);
      // A notification with nothing behind it makes the idle worker lease; that lease is empty.
      await db.query('SELECT pg_notify($1, $2)', [
        queueTableNames('public', 'messages').channel,
        'wake',
      ]);
      await inFlight;
      // While it is in flight, a message arrives and its NOTIFY pokes the worker.
      const sent = performance.now();
      await fixture.app.queue.enqueue('wake', { during: 'lease' });
      await sleep(200);
      open();
      await waitFor(() => stamps.started.length > before, 9_000, 'the handler to start');
      const latency = stamps.started[before]! - sent;
      process.stdout.write(
        `wake-up with the NOTIFY during an empty lease: ${latency.toFixed(0)} ms\n`,
      );
      // The poll is 10 s: well under it, the poke was kept.
      expect(latency).toBeLessThan(3_000);
    } finally {
      store.lease = lease;
    }
  });
});

describe('lost database connections', () => {
  it('keeps processing after every connection of the app is terminated', async () => {
    const stamps = fixture.app.get(Stamps);
    const before = stamps.started.length;
    const { rows } = await db.query<{ n: number }>(
      `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
       WHERE datname = $1 AND application_name LIKE 'fetchcraft-queue%'`,
      [db.name],
    );
    expect(rows[0]!.n).toBeGreaterThanOrEqual(2); // the pool and the LISTEN connection
    // A statement on a connection killed under it fails with a typed error, and that connection
    // is gone: at most one failure per connection killed, then a fresh one works.
    let sent = false;
    for (let attempt = 0; attempt <= rows[0]!.n && !sent; attempt++) {
      sent = await fixture.app.queue.enqueue('wake', { after: 'terminate' }).then(
        () => true,
        () => false,
      );
    }
    expect(sent).toBe(true);
    await waitFor(
      () => stamps.started.length === before + 1,
      8_000,
      'the message after the outage',
    );
  });

  it('runs a retry due at once on the idle worker that leased it, woken by its NOTIFY (not the 10 s poll)', async () => {
    const handlers = fixture.app.get(FailsOnce);
    for (let round = 0; round < 3; round++) {
      await sleep(50); // idle again, past its last lease's position
      const id = await fixture.app.queue.enqueue('wake.retry', { round });
      await waitFor(() => (handlers.attempts.get(id) ?? []).length === 2, 5_000, 'the retry');
      const [first, second] = handlers.attempts.get(id)!;
      // Given back within the second it first became due, the retry sits behind the scan's
      // position: a lease from there alone found nothing, and the worker slept until its poll.
      expect(second! - first!).toBeLessThan(2_000);
    }
  });
});
