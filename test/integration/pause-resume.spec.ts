import { describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { Processor, type ProcessorMessage } from '../../src/index.js';
import { sleep, waitFor } from '../support/boot.js';
import { useControlChildren, type ControlChild } from '../support/control-child.js';
import { useQueueFixture } from '../support/queue-fixture.js';

// The shared app pauses and resumes; the workers run in other processes (or other apps).
const fixture = useQueueFixture('pause_resume', { shared: { workers: false }, reset: 'none' });
const { db } = fixture;

const start = useControlChildren(() => db.url);

async function countOf(queue: string, state: string): Promise<number> {
  const { rows } = await db.query<{ count: number }>(
    'SELECT count(*)::integer AS count FROM messages WHERE queue = $1 AND state = $2',
    [queue, state],
  );
  return rows[0]!.count;
}

/** Milliseconds until `predicate` holds, polling. */
async function msUntil(predicate: () => Promise<boolean> | boolean, what: string): Promise<number> {
  const began = performance.now();
  await waitFor(predicate, 10_000, what);
  return performance.now() - began;
}

function startedLines(child: ControlChild): string[] {
  return child.lines.filter((line) => line.startsWith('started '));
}

describe('QueueService.pause across replicas', () => {
  it('validates the queue name before sending anything, and needs no processor for it', async () => {
    for (const call of [
      () => fixture.queue.pause(''),
      () => fixture.queue.resume(' q'),
      () => fixture.queue.isPaused(7 as unknown as string),
    ]) {
      await expect(call()).rejects.toMatchObject({ field: 'queue' });
    }
    expect(await fixture.queue.isPaused('pr.never')).toBe(false);
    await fixture.queue.pause('pr.never');
    await fixture.queue.pause('pr.never');
    expect(await fixture.queue.isPaused('pr.never')).toBe(true);
    await fixture.queue.resume('pr.never');
    expect(await fixture.queue.isPaused('pr.never')).toBe(false);
  });

  it('once pause resolves, no lease hands out a message of the queue, leaseNext and leaseMany included', async () => {
    const queue = 'pr.lease';
    await fixture.queue.enqueueMany(queue, [1, 2, 3]);
    await fixture.queue.pause(queue);
    expect(await fixture.queue.leaseNext(queue)).toBeNull();
    expect(await fixture.queue.leaseMany(queue, 10)).toEqual([]);
    await fixture.queue.resume(queue);
    expect(await fixture.queue.leaseMany(queue, 10)).toHaveLength(3);
  });

  it('stops the workers of another process within a second; they give back what they leased ahead', async () => {
    const queue = 'pr.notify';
    const child = await start({ QUEUE: queue, CONCURRENCY: '1', PREFETCH: '3' });
    const [first] = await fixture.queue.enqueueMany(queue, [1, 2, 3, 4]);
    await child.printed(`started ${first} 1`);
    await waitFor(async () => (await countOf(queue, 'leased')) >= 2, 5_000, 'a prefetch');

    await fixture.queue.pause(queue);
    const took = await msUntil(async () => {
      const info = await child.info();
      return info.pausedEverywhere && info.state === 'paused';
    }, 'the other process to pause');
    process.stdout.write(`pause seen by another process (NOTIFY) after ${took.toFixed(0)} ms\n`);
    expect(took).toBeLessThan(1_000);
    // The prefetched messages went back; the running handler goes on.
    await waitFor(async () => (await countOf(queue, 'leased')) === 1, 2_000, 'the buffer back');
    expect(await countOf(queue, 'ready')).toBe(3);
    const info = await child.info();
    expect(info).toMatchObject({ paused: false, pausedEverywhere: true, inFlight: 1 });
    expect(await fixture.queue.isPaused(queue)).toBe(true);

    await fixture.queue.enqueue(queue, 5);
    await sleep(500);
    expect(startedLines(child)).toEqual([`started ${first} 1`]);
    expect(await countOf(queue, 'ready')).toBe(4);
  });

  it('resume restarts processing in the other process at once', async () => {
    const queue = 'pr.resume';
    const child = await start({ QUEUE: queue, MODE: 'quick', CONCURRENCY: '4' });
    await fixture.queue.pause(queue);
    await waitFor(async () => (await child.info()).pausedEverywhere, 2_000, 'the pause');
    const ids = await fixture.queue.enqueueMany(queue, [1, 2, 3]);
    await sleep(400);
    expect(startedLines(child)).toEqual([]);
    expect(await countOf(queue, 'ready')).toBe(3);

    await fixture.queue.resume(queue);
    const took = await msUntil(
      async () => (await countOf(queue, 'done')) === 3,
      'the messages handled after the resume',
    );
    process.stdout.write(`resume to 3 messages done in another process: ${took.toFixed(0)} ms\n`);
    expect(took).toBeLessThan(1_000);
    expect(startedLines(child).sort()).toEqual(ids.map((id) => `started ${id} 1`).sort());
    expect(await fixture.queue.isPaused(queue)).toBe(false);
    expect((await child.info()).pausedEverywhere).toBe(false);
  });

  it('survives a restart: a process that starts while the queue is paused starts paused', async () => {
    const queue = 'pr.restart';
    await fixture.queue.pause(queue);
    const id = await fixture.queue.enqueue(queue, 'waits');
    const first = await start({ QUEUE: queue, MODE: 'quick' });
    expect(await first.info()).toMatchObject({ pausedEverywhere: true, state: 'paused' });
    await first.stop();

    // The whole fleet restarted: the pause is in the database, not in a process.
    const second = await start({ QUEUE: queue, MODE: 'quick' });
    expect(await second.info()).toMatchObject({ pausedEverywhere: true, state: 'paused' });
    await sleep(400);
    expect(startedLines(second)).toEqual([]);
    expect(await countOf(queue, 'ready')).toBe(1);

    await fixture.queue.resume(queue);
    await second.printed(`started ${id} 1`, 2_000);
    expect(startedLines(first)).toEqual([]);
  });

  it('without NOTIFY (listen: false), the poll pauses and resumes the workers within about a second', async () => {
    const queue = 'pr.poll';
    const child = await start({ QUEUE: queue, MODE: 'quick', LISTEN: 'false' });
    await fixture.queue.pause(queue);
    const paused = await msUntil(
      async () => (await child.info()).pausedEverywhere,
      'the poll to see the pause',
    );
    const id = await fixture.queue.enqueue(queue, 'after the pause');
    await sleep(400);
    expect(startedLines(child)).toEqual([]);

    await fixture.queue.resume(queue);
    const resumed = await msUntil(
      () => child.lines.includes(`started ${id} 1`),
      'the poll to see the resume',
    );
    process.stdout.write(
      `without NOTIFY: pause seen after ${paused.toFixed(0)} ms, resume to handler start ${resumed.toFixed(0)} ms (1 s poll)\n`,
    );
    // A poll a second, plus its statement and the round trip of asking the process.
    expect(paused).toBeLessThan(1_800);
    expect(resumed).toBeLessThan(1_800);
  });
});

describe('pause and resume in quick succession', () => {
  it('end in the last state asked for, in every process, and lose or repeat no message', async () => {
    const queue = 'pr.flap';
    const child = await start({ QUEUE: queue, MODE: 'quick', CONCURRENCY: '4', PREFETCH: '8' });
    const ids = await fixture.queue.enqueueMany(
      queue,
      Array.from({ length: 1_000 }, (_, i) => i),
    );
    for (let i = 0; i < 20; i++) {
      await fixture.queue.pause(queue);
      await sleep(10);
      await fixture.queue.resume(queue);
      await sleep(10);
    }
    await fixture.queue.pause(queue);
    await waitFor(async () => (await child.info()).pausedEverywhere, 2_000, 'the last pause');
    // Polls come and go: none of them undoes the last pause.
    await sleep(1_500);
    expect(await child.info()).toMatchObject({ pausedEverywhere: true, state: 'paused' });
    expect(await countOf(queue, 'leased')).toBe(0);
    const doneWhilePaused = await countOf(queue, 'done');
    await sleep(300);
    expect(await countOf(queue, 'done')).toBe(doneWhilePaused);

    // The messages given back at each pause are behind the position the leases reached: they
    // must not wait for the once-a-second scans from the head.
    await fixture.queue.resume(queue);
    const drained = await msUntil(
      async () => (await countOf(queue, 'done')) === 1_000,
      'all handled after the last resume',
    );
    process.stdout.write(
      `flapping pause: ${doneWhilePaused} of 1000 done before the last pause, the rest ${drained.toFixed(0)} ms after the resume\n`,
    );
    expect(drained).toBeLessThan(3_000);
    const started = startedLines(child);
    expect(new Set(started).size).toBe(started.length);
    expect(started.sort()).toEqual(ids.map((id) => `started ${id} 1`).sort());
  });
});

describe('the per-process pause (ProcessorRegistry) beside the shared one', () => {
  it('still pauses this process only, and a worker runs only while neither pause is set', async () => {
    const handled: string[] = [];
    @Injectable()
    class Local {
      @Processor('pr.local')
      handle(message: ProcessorMessage): void {
        handled.push(message.id);
      }
    }
    const app = await fixture.boot({ connectionString: db.url }, [Local]);
    const processor = () => app.registry.getProcessors()[0]!;

    app.registry.pause('pr.local');
    expect(processor()).toMatchObject({ paused: true, pausedEverywhere: false });
    expect(await app.queue.isPaused('pr.local')).toBe(false);
    const one = await app.queue.enqueue('pr.local', 1);
    await sleep(300);
    expect(handled).toEqual([]);
    app.registry.resume('pr.local');
    await waitFor(() => handled.includes(one), 2_000, 'the local resume');

    // Shared pause: resuming locally does not lift it.
    await fixture.queue.pause('pr.local');
    await waitFor(() => processor().pausedEverywhere, 2_000, 'the shared pause');
    expect(processor()).toMatchObject({ paused: false, state: 'paused' });
    app.registry.pause('pr.local');
    app.registry.resume('pr.local');
    const two = await app.queue.enqueue('pr.local', 2);
    await sleep(300);
    expect(handled).toEqual([one]);

    // Both set: lifting the shared one leaves the local one.
    app.registry.pause('pr.local');
    await fixture.queue.resume('pr.local');
    await waitFor(() => !processor().pausedEverywhere, 2_000, 'the shared resume');
    await sleep(300);
    expect(handled).toEqual([one]);
    app.registry.resume('pr.local');
    await waitFor(() => handled.includes(two), 2_000, 'both pauses lifted');
  });
});
