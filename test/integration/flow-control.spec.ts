import { type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { Processor, type ProcessorMessage, type ProcessorOptions } from '../../src/index.js';
import { sleep, waitFor } from '../support/boot.js';
import { maxOverlap, sampleMax, startFlowWorkers, stopProcess } from '../support/flow-workers.js';
import { useQueueFixture } from '../support/queue-fixture.js';

const fixture = useQueueFixture('flow', { shared: { workers: false } });
const { db } = fixture;

const running: ChildProcess[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map(stopProcess));
});

const startWorkers = (count: number, options: ProcessorOptions, queue: string) =>
  startFlowWorkers(db, running, count, options, queue);

/**
 * When the rate-limited leases of `queue` (of one group) started, in ms, as the database stamped
 * them (`leased_at`, the lease statement's start), in order.
 */
async function leaseTimes(queue: string, group?: string): Promise<number[]> {
  const { rows } = await db.query<{ at: number }>(
    `SELECT extract(epoch FROM leased_at)::float8 * 1000 AS at FROM messages
     WHERE queue = $1 AND leased_at IS NOT NULL AND ($2::text IS NULL OR group_key = $2)
     ORDER BY leased_at`,
    [queue, group ?? null],
  );
  return rows.map((row) => row.at);
}

/** No `max + 1` of `times` (sorted) fall within one window of `windowMs`. */
function expectAtMostPerWindow(times: readonly number[], max: number, windowMs: number): void {
  let tightest = Number.POSITIVE_INFINITY;
  for (let i = 0; i + max < times.length; i++) {
    tightest = Math.min(tightest, times[i + max]! - times[i]!);
  }
  // Microsecond stamps, compared after a float round trip.
  expect(tightest).toBeGreaterThanOrEqual(windowMs - 0.01);
}

describe('priorities', () => {
  it('leases higher priorities first, then due order, then enqueue order; 0 is the default', async () => {
    const { queue } = fixture;
    const low = await queue.enqueue('prio', { n: 'low' });
    const high = await queue.enqueue('prio', { n: 'high' }, { priority: 10 });
    const mid = await queue.enqueue('prio', { n: 'mid' }, { priority: 5 });
    const highToo = await queue.enqueue('prio', { n: 'high too' }, { priority: 10 });
    await queue.enqueue('prio', { n: 'later' }, { priority: 99, delaySeconds: 3_600 });
    // The Python backend's insert names no priority: it gets 0.
    await db.query(
      `INSERT INTO messages (id, queue, body, available_at, created_at)
       VALUES ('python-1', 'prio', '{"n": "python"}', floor(extract(epoch from now()))::bigint, floor(extract(epoch from now()))::bigint)`,
    );
    const leased = await queue.leaseMany('prio', 10);
    expect(leased.map((message) => message.id)).toEqual([high, highToo, mid, low, 'python-1']);
    expect(leased.map((message) => message.priority)).toEqual([10, 10, 5, 0, 0]);
  });

  it('a processor drains prioritised messages before older plain ones', async () => {
    const { queue } = fixture;
    await queue.enqueueMany(
      'prio.run',
      Array.from({ length: 30 }, (_, i) => ({ i })),
    );
    await queue.enqueueMany(
      'prio.run',
      Array.from({ length: 10 }, (_, i) => ({ i: 100 + i })),
      { priority: 1 },
    );
    const seen: number[] = [];
    @Injectable()
    class Prio {
      @Processor('prio.run', { concurrency: 1, prefetch: 0 })
      handle(message: ProcessorMessage<{ i: number }>): void {
        seen.push(message.body.i);
      }
    }
    await fixture.boot({ connectionString: db.url }, [Prio]);
    await waitFor(() => seen.length === 40, 10_000, 'the drain');
    expect(seen.slice(0, 10)).toEqual(Array.from({ length: 10 }, (_, i) => 100 + i));
    expect(seen.slice(10)).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });
});

describe('global concurrency across processes', () => {
  it('never has more than globalConcurrency messages leased or running, with 4 processes of 4 slots', async () => {
    const queue = 'global';
    const total = 120;
    const workers = await startWorkers(4, { concurrency: 4, globalConcurrency: 3 }, queue);
    // Enqueued once every process is up, so that all four compete from the first message.
    await fixture.queue.enqueueMany(
      queue,
      Array.from({ length: total }, () => ({ ms: 30 })),
    );
    const ended = () => new Set(workers.events.filter((e) => e.kind === 'end').map((e) => e.id));
    const sampled = await sampleMax(
      db,
      `SELECT count(*)::int AS n FROM messages WHERE queue = $1 AND state = 'leased'`,
      [queue],
      () => ended().size === total,
    );
    expect(sampled.samples).toBeGreaterThan(50);
    expect(sampled.max).toBeLessThanOrEqual(3);
    expect(maxOverlap(workers.events)).toBeLessThanOrEqual(3);
    // The cap is used, not just respected, and by more than one process.
    expect(maxOverlap(workers.events)).toBe(3);
    expect(new Set(workers.events.map((event) => event.worker)).size).toBeGreaterThan(1);
    const starts = workers.events.filter((event) => event.kind === 'start');
    expect(starts).toHaveLength(total);
    expect(new Set(starts.map((event) => event.id)).size).toBe(total);
  }, 60_000);
});

describe('ordered groups (groupConcurrency: 1) across processes', () => {
  it('keeps each group in enqueue order, one at a time, through retries and a SIGKILL mid-message', async () => {
    const queue = 'ordered';
    const groups = 8;
    const perGroup = 6;
    const ids: string[][] = [];
    for (let index = 0; index < perGroup; index++) {
      for (let group = 0; group < groups; group++) {
        const body = {
          ms: 15,
          // Two messages fail their first attempt; one hangs its first (its process is killed).
          failFirst: (group === 1 && index === 2) || (group === 5 && index === 0),
          hang: group === 3 && index === 1,
        };
        const id = await fixture.queue.enqueue(queue, body, { groupKey: `g${group}` });
        (ids[group] ??= []).push(id);
      }
    }
    const options: ProcessorOptions = {
      concurrency: 4,
      groupConcurrency: 1,
      leaseSeconds: 2,
      backoff: { type: 'fixed', delaySeconds: 1 },
    };
    const workers = await startWorkers(3, options, queue);
    const hung = ids[3]![1]!;
    const total = groups * perGroup;
    const done = () =>
      new Set(workers.events.filter((e) => e.kind === 'end').map((e) => e.id)).size;
    const sampling = sampleMax(
      db,
      `SELECT max(n)::int AS n FROM (SELECT count(*) AS n FROM messages
       WHERE queue = $1 AND state = 'leased' GROUP BY group_key) AS per_group`,
      [queue],
      () => done() === total,
    );
    await waitFor(
      () => workers.events.some((event) => event.kind === 'start' && event.id === hung),
      20_000,
      'the hanging message',
    );
    const victim = workers.events.find((event) => event.kind === 'start' && event.id === hung)!;
    expect(workers.children[victim.worker]!.kill('SIGKILL')).toBe(true);
    const sampled = await sampling;
    expect(sampled.max).toBe(1);

    // The kill can land after a handler of the victim printed its end but before its ack
    // committed: that message is redelivered and ends again (at least once). Such an end is
    // superseded by the later one, and only the victim's ends can be.
    const superseded = new Set(
      workers.events.filter(
        (event, index, all) =>
          event.kind === 'end' &&
          event.worker === victim.worker &&
          all.slice(index + 1).some((later) => later.kind === 'end' && later.id === event.id),
      ),
    );
    for (let group = 0; group < groups; group++) {
      const events = workers.events.filter(
        (event) => event.group === `g${group}` && !superseded.has(event),
      );
      // Completed in enqueue order.
      expect(events.filter((event) => event.kind === 'end').map((event) => event.id)).toEqual(
        ids[group],
      );
      // Each message's every attempt started after the previous message of its group ended.
      for (let index = 1; index < perGroup; index++) {
        const previousEnd = events.find(
          (event) => event.kind === 'end' && event.id === ids[group]![index - 1],
        )!.at;
        const starts = events.filter(
          (event) => event.kind === 'start' && event.id === ids[group]![index],
        );
        for (const start of starts) expect(start.at).toBeGreaterThanOrEqual(previousEnd);
      }
    }
    // The retries and the killed attempt ran again, later.
    const attemptsOf = (id: string) =>
      workers.events.filter((event) => event.kind === 'start' && event.id === id).length;
    const redelivered = (id: string) => [...superseded].filter((event) => event.id === id).length;
    expect(attemptsOf(ids[1]![2]!)).toBe(2 + redelivered(ids[1]![2]!));
    expect(attemptsOf(ids[5]![0]!)).toBe(2 + redelivered(ids[5]![0]!));
    expect(attemptsOf(hung)).toBe(2);
  }, 90_000);
});

describe('group limits above 1 across processes', () => {
  it('never has more than groupConcurrency messages of one group leased or running', async () => {
    const queue = 'capped.groups';
    const workers = await startWorkers(2, { concurrency: 6, groupConcurrency: 2 }, queue);
    await fixture.queue.enqueueMany(
      queue,
      Array.from({ length: 60 }, (_, i) => ({ ms: 20, g: `g${i % 4}` })),
      { groupKey: (body) => body.g },
    );
    const ended = () => workers.events.filter((event) => event.kind === 'end').length;
    const sampled = await sampleMax(
      db,
      `SELECT max(n)::int AS n FROM (SELECT count(*) AS n FROM messages
       WHERE queue = $1 AND state = 'leased' GROUP BY group_key) AS per_group`,
      [queue],
      () => ended() === 60,
    );
    expect(sampled.max).toBe(2);
    for (let group = 0; group < 4; group++) {
      const events = workers.events.filter((event) => event.group === `g${group}`);
      expect(maxOverlap(events)).toBeLessThanOrEqual(2);
    }
    // Four groups of two: both processes' twelve slots could have run more at once.
    expect(maxOverlap(workers.events)).toBeLessThanOrEqual(8);
    expect(maxOverlap(workers.events)).toBeGreaterThan(2);
  }, 90_000);
});

describe('groups in one process', () => {
  it('a group of one message is not delayed by a group of thousands', async () => {
    const queue = 'fair';
    await fixture.queue.enqueueMany(
      queue,
      Array.from({ length: 3_000 }, (_, i) => ({ i })),
      { groupKey: 'busy' },
    );
    const lone = await fixture.queue.enqueue(queue, { i: -1 }, { groupKey: 'quiet' });
    const started: string[] = [];
    @Injectable()
    class Fair {
      @Processor(queue, { concurrency: 4, groupConcurrency: 2 })
      async handle(message: ProcessorMessage): Promise<void> {
        started.push(message.id);
        await sleep(5);
      }
    }
    await fixture.boot({ connectionString: db.url, pollIntervalMs: 100 }, [Fair]);
    await waitFor(() => started.includes(lone), 5_000, 'the quiet group');
    // Its turn came within the first round of groups, not after the busy group's backlog.
    expect(started.indexOf(lone)).toBeLessThan(4);
  }, 30_000);

  it('reaches a free group behind hundreds of busy ones, a bounded walk at a time', async () => {
    const queue = 'walk';
    // 300 groups whose message is running elsewhere (leased for an hour), each with another
    // message waiting behind it, then one free group at the end of the key order.
    await fixture.queue.enqueueMany(
      queue,
      Array.from({ length: 600 }, (_, i) => ({ g: `busy${String(i % 300).padStart(3, '0')}` })),
      { groupKey: (body) => body.g },
    );
    await db.query(
      `UPDATE messages SET state = 'leased', attempts = 1, lease_token = gen_random_uuid(),
         lease_until = floor(extract(epoch from now()))::bigint + 3600
       WHERE id IN (SELECT DISTINCT ON (group_key) id FROM messages WHERE queue = $1 ORDER BY group_key, seq)`,
      [queue],
    );
    const free = await fixture.queue.enqueue(queue, { g: 'zzz' }, { groupKey: 'zzz' });
    const seen: string[] = [];
    @Injectable()
    class Walker {
      @Processor(queue, { concurrency: 2, groupConcurrency: 1 })
      handle(message: ProcessorMessage): void {
        seen.push(message.id);
      }
    }
    await fixture.boot({ connectionString: db.url, pollIntervalMs: 100 }, [Walker]);
    await waitFor(() => seen.includes(free), 5_000, 'the free group');
    // Nothing of a busy group started: each is held by its running message.
    expect(seen).toEqual([free]);
  }, 30_000);

  it('lists a group held back by a dead letter or a waiting retry, and releases it', async () => {
    const { queue } = fixture;
    const q = 'blocked';
    const dead = await queue.enqueue(q, { n: 1 }, { groupKey: 'a' });
    const behindDead = await queue.enqueue(q, { n: 2 }, { groupKey: 'a' });
    const waiting = await queue.enqueue(q, { n: 3 }, { groupKey: 'b', delaySeconds: 600 });
    await queue.enqueue(q, { n: 4 }, { groupKey: 'c' });
    await db.query(`UPDATE messages SET state = 'failed' WHERE id = $1`, [dead]);

    const blocked = await queue.listBlockedGroups(q);
    expect(blocked).toEqual([
      { groupKey: 'a', reason: 'deadLetter', messageId: dead, at: expect.any(Date) },
      { groupKey: 'b', reason: 'waiting', messageId: waiting, at: expect.any(Date) },
    ]);

    const order: string[] = [];
    @Injectable()
    class Ordered {
      @Processor(q, { concurrency: 2, groupConcurrency: 1 })
      handle(message: ProcessorMessage): void {
        order.push(message.id);
      }
    }
    await fixture.boot({ connectionString: db.url, pollIntervalMs: 100 }, [Ordered]);
    await waitFor(() => order.length === 1, 5_000, 'the free group');
    await sleep(500);
    expect(order).not.toContain(behindDead);

    expect(await queue.releaseGroup(q, 'a')).toBe(1);
    await waitFor(() => order.includes(behindDead), 5_000, 'the released group');
    const { rows } = await db.query<{ group_key: string | null; state: string }>(
      'SELECT group_key, state FROM messages WHERE id = $1',
      [dead],
    );
    // Still a dead letter, no longer in its group.
    expect(rows).toEqual([{ group_key: null, state: 'failed' }]);
    expect(await queue.listBlockedGroups(q)).toEqual([
      { groupKey: 'b', reason: 'waiting', messageId: waiting, at: expect.any(Date) },
    ]);
  }, 30_000);
});

describe('rate limits per group', () => {
  it("limits each group's starts, not the queue's", async () => {
    const queue = 'rated.groups';
    await fixture.queue.enqueueMany(
      queue,
      Array.from({ length: 60 }, (_, i) => ({ g: i % 2 === 0 ? 'a' : 'b' })),
      { groupKey: (body) => body.g },
    );
    let handled = 0;
    @Injectable()
    class PerGroup {
      @Processor(queue, { concurrency: 8, rateLimit: { max: 4, perSeconds: 1, scope: 'group' } })
      handle(): void {
        handled += 1;
      }
    }
    await fixture.boot({ connectionString: db.url, pollIntervalMs: 100 }, [PerGroup]);
    await sleep(2_500);
    expect(handled).toBeGreaterThanOrEqual(16);
    for (const group of ['a', 'b']) {
      const times = await leaseTimes(queue, group);
      // Both groups go, each at its own pace: 4 in the first window, 4 more in the next...
      expect(times.length).toBeGreaterThanOrEqual(8);
      expect(times.length).toBeLessThanOrEqual(12);
      expectAtMostPerWindow(times, 4, 1_000);
    }
  }, 30_000);
});

describe('rate limits across processes', () => {
  it('starts at most max per window, and close to the target rate', async () => {
    const queue = 'rated';
    await fixture.queue.enqueueMany(
      queue,
      Array.from({ length: 400 }, () => ({})),
    );
    const max = 25;
    const workers = await startWorkers(
      2,
      { concurrency: 8, rateLimit: { max, perSeconds: 1 } },
      queue,
    );
    await sleep(6_000);
    const starts = await leaseTimes(queue);
    expectAtMostPerWindow(starts, max, 1_000);
    // Over the 5 seconds after the first start: within 10% of the target.
    const first = starts[0]!;
    const inFive = starts.filter((at) => at < first + 5_000).length;
    expect(inFive).toBeGreaterThanOrEqual(max * 5 * 0.9);
    expect(inFive).toBeLessThanOrEqual(max * 5 * 1.1);
    // The handlers saw the same: every started message was handled by one of the processes.
    expect(workers.events.filter((event) => event.kind === 'start').length).toBeGreaterThanOrEqual(
      inFive,
    );
    // Waiting for the limit spends no attempt.
    const { rows } = await db.query<{ n: number }>(
      `SELECT max(attempts)::int AS n FROM messages WHERE queue = $1`,
      [queue],
    );
    expect(rows[0]!.n).toBe(1);
  }, 60_000);
});
