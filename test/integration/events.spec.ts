import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, expect, it } from '@jest/globals';
import { Injectable, Scope } from '@nestjs/common';
import {
  OnQueueEvent,
  Processor,
  QueueEventListenerError,
  QueueModule,
  UnrecoverableError,
  type ProcessorMessage,
  type QueueCancelledEvent,
  type QueueCompletedEvent,
  type QueueDeadLetteredEvent,
  type QueueEventMap,
  type QueueEventName,
  type QueueFailedEvent,
  type QueueProgressEvent,
  type QueueStalledEvent,
} from '../../src/index.js';
import { QueueEvents } from '../../src/events/queue-events.js';
import { MaintenanceScheduler } from '../../src/maintenance/maintenance.scheduler.js';
import { bootError, RecordingLogger, sleep, waitFor } from '../support/boot.js';
import { useQueueFixture } from '../support/queue-fixture.js';
import { tsChildArgs } from '../support/ts-child.js';

const fixture = useQueueFixture('events');
const { db } = fixture;

type Heard = { [E in QueueEventName]: { event: E; payload: QueueEventMap[E] } }[QueueEventName];

/**
 * Hears every event of every queue, in order. Its subclass below is what the tests provide, so
 * inherited listener methods are discovered too.
 */
class EveryEvent {
  readonly heard: Heard[] = [];

  of(id: string): Heard[] {
    return this.heard.filter((entry) => entry.payload.id === id);
  }

  names(id: string): QueueEventName[] {
    return this.of(id).map((entry) => entry.event);
  }

  @OnQueueEvent('completed')
  completed(payload: QueueCompletedEvent): void {
    this.heard.push({ event: 'completed', payload });
  }

  @OnQueueEvent('failed')
  failed(payload: QueueFailedEvent): void {
    this.heard.push({ event: 'failed', payload });
  }

  @OnQueueEvent('dead-lettered')
  deadLettered(payload: QueueDeadLetteredEvent): void {
    this.heard.push({ event: 'dead-lettered', payload });
  }

  @OnQueueEvent('cancelled')
  cancelled(payload: QueueCancelledEvent): void {
    this.heard.push({ event: 'cancelled', payload });
  }

  @OnQueueEvent('stalled')
  stalled(payload: QueueStalledEvent): void {
    this.heard.push({ event: 'stalled', payload });
  }

  @OnQueueEvent('progress')
  progress(payload: QueueProgressEvent): void {
    this.heard.push({ event: 'progress', payload });
  }
}

@Injectable()
class Listener extends EveryEvent {}

async function stateOf(id: string): Promise<string | undefined> {
  const { rows } = await db.query<{ state: string }>('SELECT state FROM messages WHERE id = $1', [
    id,
  ]);
  return rows[0]?.state;
}

describe('events of messages a worker settles', () => {
  it('completed: after the ack landed, with the message', async () => {
    const statesSeen: (string | undefined)[] = [];
    @Injectable()
    class Ok {
      @Processor('ev.ok')
      handle(): void {}
    }
    @Injectable()
    class StateProbe {
      @OnQueueEvent('completed', 'ev.ok')
      async completed(event: QueueCompletedEvent): Promise<void> {
        statesSeen.push(await stateOf(event.id));
      }
    }
    const app = await fixture.boot({ connectionString: db.url }, [Ok, Listener, StateProbe]);
    const listener = app.get(Listener);
    const id = await app.queue.enqueue('ev.ok', { n: 1 });
    await waitFor(() => statesSeen.length === 1, 10_000, 'the completed event');
    expect(statesSeen).toEqual(['done']);
    expect(listener.names(id)).toEqual(['completed']);
    const [completed] = listener.of(id);
    expect(completed!.payload).toMatchObject({
      id,
      queue: 'ev.ok',
      message: { id, queue: 'ev.ok', body: { n: 1 }, attempts: 1 },
    });
    expect((completed!.payload as QueueCompletedEvent).result).toBeUndefined();
  });

  it('failed, failed, completed across retries, in order, with attempt and delay', async () => {
    @Injectable()
    class Flaky {
      @Processor('ev.flaky', { maxAttempts: 3, backoff: { type: 'fixed', delaySeconds: 0 } })
      handle(message: ProcessorMessage): void {
        if (message.attempts < 3) throw new Error(`boom ${message.attempts}`);
      }
    }
    const app = await fixture.boot({ connectionString: db.url }, [Flaky, Listener]);
    const listener = app.get(Listener);
    const id = await app.queue.enqueue('ev.flaky', 'x');
    await waitFor(() => listener.names(id).includes('completed'), 15_000, 'the completion');
    expect(listener.names(id)).toEqual(['failed', 'failed', 'completed']);
    const failures = listener.of(id).slice(0, 2);
    failures.forEach((entry, index) => {
      expect(entry.payload).toMatchObject({
        id,
        queue: 'ev.flaky',
        attempt: index + 1,
        maxAttempts: 3,
        delaySeconds: 0,
        message: { id, attempts: index + 1 },
      });
      expect((entry.payload as QueueFailedEvent).error).toEqual(new Error(`boom ${index + 1}`));
    });
  });

  it('dead-lettered: in place after the last attempt, and moved to a dead-letter queue', async () => {
    @Injectable()
    class Fails {
      @Processor('ev.dead', { maxAttempts: 1 })
      inPlace(): void {
        throw new Error('for good');
      }

      @Processor('ev.moves', { deadLetterQueue: 'ev.dlq' })
      moves(): void {
        throw new UnrecoverableError('never');
      }
    }
    const app = await fixture.boot({ connectionString: db.url }, [Fails, Listener]);
    const listener = app.get(Listener);
    const inPlace = await app.queue.enqueue('ev.dead', 1);
    const moved = await app.queue.enqueue('ev.moves', 2);
    await waitFor(
      () => listener.of(inPlace).length + listener.of(moved).length === 2,
      10_000,
      'both dead letters',
    );
    expect(listener.names(inPlace)).toEqual(['dead-lettered']);
    expect(listener.of(inPlace)[0]!.payload).toMatchObject({
      id: inPlace,
      queue: 'ev.dead',
      deadLetterQueue: null,
      by: 'worker',
      attempt: 1,
      error: new Error('for good'),
      message: { id: inPlace, body: 1 },
    });
    expect(await stateOf(inPlace)).toBe('failed');
    expect(listener.names(moved)).toEqual(['dead-lettered']);
    expect(listener.of(moved)[0]!.payload).toMatchObject({
      id: moved,
      queue: 'ev.moves',
      deadLetterQueue: 'ev.dlq',
      by: 'worker',
      attempt: 1,
    });
    expect((listener.of(moved)[0]!.payload as { error: unknown }).error).toBeInstanceOf(
      UnrecoverableError,
    );
  });

  it('cancelled: while running, leased ahead before it started, and waiting', async () => {
    const started: string[] = [];
    @Injectable()
    class Waits {
      @Processor('ev.cancel', { concurrency: 1, prefetch: 2 })
      async handle(message: ProcessorMessage): Promise<void> {
        started.push(message.id);
        await new Promise((resolve) => message.signal.addEventListener('abort', resolve));
      }
    }
    const app = await fixture.boot({ connectionString: db.url }, [Waits, Listener]);
    const listener = app.get(Listener);
    const [running, buffered] = await app.queue.enqueueMany('ev.cancel', [1, 2]);
    await waitFor(() => started.length === 1, 10_000, 'the first handler');
    await waitFor(async () => (await stateOf(buffered!)) === 'leased', 10_000, 'the prefetch');
    expect(started).toEqual([running]);

    expect(await app.queue.cancel(buffered!)).toBe('requested');
    await waitFor(() => listener.of(buffered!).length === 1, 10_000, 'the buffered cancel');
    expect(listener.of(buffered!)[0]!.payload).toMatchObject({
      id: buffered,
      queue: 'ev.cancel',
      when: 'beforeStart',
      message: { id: buffered },
    });

    expect(await app.queue.cancel(running!)).toBe('requested');
    await waitFor(() => listener.of(running!).length === 1, 10_000, 'the running cancel');
    expect(listener.of(running!)[0]!.payload).toMatchObject({
      id: running,
      queue: 'ev.cancel',
      when: 'running',
      message: { id: running },
    });
    expect(await stateOf(running!)).toBe('cancelled');

    const waiting = await app.queue.enqueue('ev.cancel', 3, { delaySeconds: 60 });
    expect(await app.queue.cancel(waiting)).toBe('cancelled');
    await waitFor(() => listener.of(waiting).length === 1, 5_000, 'the waiting cancel');
    expect(listener.of(waiting)[0]!.payload).toEqual({
      id: waiting,
      queue: 'ev.cancel',
      when: 'waiting',
    });
    // Already finished: nothing changed, nothing heard.
    expect(await app.queue.cancel(waiting)).toBe('finished');
    await sleep(100);
    expect(listener.names(waiting)).toEqual(['cancelled']);
    expect(started).toEqual([running]);
  });

  it('cancelled, not failed, when a cancel lands after the handler failed and before its worker heard of it', async () => {
    @Injectable()
    class FailsAfterCancel {
      @Processor('ev.late-cancel', { maxAttempts: 3 })
      async handle(message: ProcessorMessage): Promise<void> {
        // The cancel request as another process records it, without the NOTIFY that would
        // reach this worker first: the retry statement is what finds it.
        await db.query('UPDATE messages SET cancel_requested_at = 1 WHERE id = $1', [message.id]);
        throw new Error('failed after the cancel');
      }
    }
    const app = await fixture.boot({ connectionString: db.url }, [FailsAfterCancel, Listener]);
    const listener = app.get(Listener);
    const id = await app.queue.enqueue('ev.late-cancel', 'x');
    await waitFor(() => listener.names(id).length > 0, 10_000, 'an event of the message');
    expect(listener.names(id)).toEqual(['cancelled']);
    expect(listener.of(id)[0]!.payload).toMatchObject({
      id,
      queue: 'ev.late-cancel',
      when: 'running',
    });
    expect(await stateOf(id)).toBe('cancelled');
  });

  it('progress events come before the completion of their message', async () => {
    const seam: { events?: QueueEvents } = {};
    @Injectable()
    class Reports {
      @Processor('ev.progress')
      async handle(message: ProcessorMessage): Promise<void> {
        // The seam a handler's `message.progress(value)` calls.
        seam.events!.progress(message, 10);
        await sleep(5);
        seam.events!.progress(message, { done: 2, of: 2 });
      }
    }
    const worker = await fixture.boot({ connectionString: db.url }, [Reports, Listener]);
    seam.events = worker.get(QueueEvents);
    const listener = worker.get(Listener);
    const id = await worker.queue.enqueue('ev.progress', 'p');
    await waitFor(() => listener.names(id).includes('completed'), 10_000, 'the completion');
    expect(listener.names(id)).toEqual(['progress', 'progress', 'completed']);
    expect(listener.of(id).map((entry) => (entry.payload as { value?: unknown }).value)).toEqual([
      10,
      { done: 2, of: 2 },
      undefined,
    ]);
  });
});

describe('a listener', () => {
  it('filtered by queue hears that queue only; one without a queue hears every queue', async () => {
    const onlyA: string[] = [];
    @Injectable()
    class Both {
      @Processor('ev.a')
      a(): void {}

      @Processor('ev.b')
      b(): void {}
    }
    @Injectable()
    class OnlyA {
      @OnQueueEvent('completed', 'ev.a')
      completed(event: QueueCompletedEvent): void {
        onlyA.push(event.queue);
      }
    }
    const app = await fixture.boot({ connectionString: db.url }, [Both, OnlyA, Listener]);
    const listener = app.get(Listener);
    const a = await app.queue.enqueue('ev.a', 1);
    const b = await app.queue.enqueue('ev.b', 2);
    await waitFor(
      () => listener.names(a).length === 1 && listener.names(b).length === 1,
      10_000,
      'both completions',
    );
    await sleep(100);
    expect(onlyA).toEqual(['ev.a']);
    expect(app.get(QueueEvents).interest('ev.b').completed).toBe(true);
    expect(app.get(QueueEvents).interest('ev.b').failed).toBe(true);
  });

  it('that throws or rejects is logged; the message is done and the other listeners hear it', async () => {
    const logger = new RecordingLogger();
    @Injectable()
    class Ok {
      @Processor('ev.throws')
      handle(): void {}
    }
    @Injectable()
    class Broken {
      @OnQueueEvent('completed')
      throws(): void {
        throw new Error('listener broke');
      }

      @OnQueueEvent('completed', 'ev.throws')
      async rejects(): Promise<void> {
        await sleep(1);
        throw new Error('listener rejected');
      }
    }
    const app = await fixture.boot({ connectionString: db.url }, [Ok, Broken, Listener], {
      logger,
    });
    const listener = app.get(Listener);
    const ids = await app.queue.enqueueMany('ev.throws', [1, 2]);
    await waitFor(
      () => ids.every((id) => listener.names(id).includes('completed')),
      10_000,
      'the completions',
    );
    await waitFor(
      () => logger.lines.filter((line) => line.includes('listener rejected')).length === 2,
      5_000,
      'the rejection lines',
    );
    for (const id of ids) expect(await stateOf(id)).toBe('done');
    const lines = logger.lines.filter((line) => line.includes('@OnQueueEvent'));
    expect(lines).toHaveLength(4);
    expect(lines).toContain(
      `error @OnQueueEvent("completed") listener Broken.throws failed for message ${ids[0]} of "ev.throws" (Error: listener broke); the message is not affected`,
    );
    expect(lines).toContain(
      `error @OnQueueEvent("completed") listener Broken.rejects failed for message ${ids[1]} of "ev.throws" (Error: listener rejected); the message is not affected`,
    );
  });
});

describe('stalled messages, reaped', () => {
  async function expireLeases(): Promise<void> {
    await db.query("UPDATE messages SET lease_until = lease_until - 120 WHERE state = 'leased'");
  }

  it('stalled for each, then dead-lettered or cancelled for those the reaper settled so', async () => {
    const app = await fixture.boot({ connectionString: db.url, workers: false }, [Listener]);
    const listener = app.get(Listener);
    await app.queue.enqueueMany('ev.stall', [1, 2, 3, 4]);
    const leased = async (options: Parameters<typeof app.queue.leaseNext>[1]) =>
      (await app.queue.leaseNext('ev.stall', options))!.id;
    const back = await leased({ maxAttempts: 3 });
    const inPlace = await leased({ maxAttempts: 1 });
    const moved = await leased({ maxAttempts: 1, deadLetterQueue: 'ev.stall.dlq' });
    const cancelled = await leased({ maxAttempts: 3 });
    expect(await app.queue.cancel(cancelled)).toBe('requested');
    await expireLeases();

    await app.get(MaintenanceScheduler).reap();
    await waitFor(() => listener.heard.length === 7, 5_000, 'the reaped events');
    expect(listener.of(back).map((entry) => entry.payload)).toEqual([
      { id: back, queue: 'ev.stall', outcome: 'ready' },
    ]);
    expect(listener.of(inPlace).map((entry) => entry.payload)).toEqual([
      { id: inPlace, queue: 'ev.stall', outcome: 'failed' },
      { id: inPlace, queue: 'ev.stall', deadLetterQueue: null, by: 'reaper' },
    ]);
    expect(listener.of(moved).map((entry) => entry.payload)).toEqual([
      { id: moved, queue: 'ev.stall', outcome: 'moved', deadLetterQueue: 'ev.stall.dlq' },
      { id: moved, queue: 'ev.stall', deadLetterQueue: 'ev.stall.dlq', by: 'reaper' },
    ]);
    expect(listener.of(cancelled).map((entry) => entry.payload)).toEqual([
      { id: cancelled, queue: 'ev.stall', outcome: 'cancelled' },
      { id: cancelled, queue: 'ev.stall', when: 'leaseExpired' },
    ]);
    expect(listener.names(inPlace)).toEqual(['stalled', 'dead-lettered']);

    // QueueService.reapExpiredLeases, by hand, reports the same way.
    await app.queue.leaseNext('ev.stall');
    await expireLeases();
    expect(await app.queue.reapExpiredLeases()).toBe(1);
    await waitFor(() => listener.names(back).length === 2, 5_000, 'the second stall');
    expect(listener.names(back)).toEqual(['stalled', 'stalled']);
  });

  it('a worker process killed with SIGKILL mid-handler: stalled when the reaper takes it back', async () => {
    const app = await fixture.boot({ connectionString: db.url, workers: false }, [Listener]);
    const listener = app.get(Listener);
    const id = await app.queue.enqueue('crash', { n: 1 });
    const child = spawn('node', tsChildArgs('test/support/crash-worker.ts'), {
      env: { ...process.env, DATABASE_URL: db.url },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines: string[] = [];
    createInterface({ input: child.stdout }).on('line', (line) => lines.push(line));
    try {
      await waitFor(() => lines.includes(`started ${id} 1`), 30_000, 'the handler');
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    // Its lease (2 s) runs out with nobody to extend it.
    await waitFor(async () => (await app.queue.reapExpiredLeases()) > 0, 15_000, 'the reaper');
    await waitFor(() => listener.of(id).length === 1, 5_000, 'the stalled event');
    expect(listener.of(id)[0]).toEqual({
      event: 'stalled',
      payload: { id, queue: 'crash', outcome: 'ready' },
    });
  });
});

describe('wiring errors fail the boot', () => {
  const bootWith = (provider: new (...args: never[]) => unknown) =>
    bootError({
      imports: [QueueModule.forRoot({ connectionString: db.url, workers: false })],
      providers: [provider],
    });

  it('an unknown event name', async () => {
    @Injectable()
    class Misspelt {
      @OnQueueEvent('complete' as 'completed')
      done(): void {}
    }
    const error = await bootWith(Misspelt);
    expect(error).toBeInstanceOf(QueueEventListenerError);
    expect(error).toMatchObject({ event: 'complete', listener: 'Misspelt.done' });
    expect((error as Error).message).toContain('unknown event "complete"; expected one of');
  });

  it('a bad queue name', async () => {
    @Injectable()
    class BadQueue {
      @OnQueueEvent('failed', ' padded ')
      failed(): void {}
    }
    const error = await bootWith(BadQueue);
    expect(error).toBeInstanceOf(QueueEventListenerError);
    expect((error as QueueEventListenerError).rule).toBe(
      'the queue must not start or end with white space',
    );
  });

  it('a request-scoped provider', async () => {
    @Injectable({ scope: Scope.REQUEST })
    class PerRequest {
      @OnQueueEvent('completed')
      completed(): void {}
    }
    const error = await bootWith(PerRequest);
    expect(error).toBeInstanceOf(QueueEventListenerError);
    expect(error).toMatchObject({ event: 'completed', listener: 'PerRequest.completed' });
    expect((error as Error).message).toContain('request-scoped');
  });
});
