import { type ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from '@jest/globals';
import { sleep } from '../support/boot.js';
import { startFlowWorkers, stopProcess } from '../support/flow-workers.js';
import { useQueueFixture } from '../support/queue-fixture.js';

/*
 * A rate limit held for a whole minute by three worker processes: the starts the database
 * stamped stay within the limit in every one-second window, and their count over the minute is
 * within 10% of the target. (The integration tests check the same over five seconds.)
 */
const fixture = useQueueFixture('fault_rate', { shared: { workers: false } });
const running: ChildProcess[] = [];

afterAll(async () => {
  await Promise.all(running.splice(0).map(stopProcess));
});

describe('rate limit over a minute, three processes', () => {
  it('starts max per second across the processes, within 10% over 60 s', async () => {
    const queue = 'rated.minute';
    const max = 40;
    const seconds = 60;
    await fixture.queue.enqueueMany(
      queue,
      Array.from({ length: max * (seconds + 15) }, () => ({})),
    );
    const workers = await startFlowWorkers(
      fixture.db,
      running,
      3,
      { concurrency: 8, rateLimit: { max, perSeconds: 1 } },
      queue,
    );
    await sleep((seconds + 3) * 1_000);
    const { rows } = await fixture.db.query<{ at: number }>(
      `SELECT extract(epoch FROM leased_at)::float8 * 1000 AS at FROM messages
       WHERE queue = $1 AND leased_at IS NOT NULL ORDER BY leased_at`,
      [queue],
    );
    const starts = rows.map((row) => row.at);
    let tightest = Number.POSITIVE_INFINITY;
    for (let i = 0; i + max < starts.length; i++) {
      tightest = Math.min(tightest, starts[i + max]! - starts[i]!);
    }
    expect(tightest).toBeGreaterThanOrEqual(1_000 - 0.01);
    const first = starts[0]!;
    const inMinute = starts.filter((at) => at < first + seconds * 1_000).length;
    const target = max * seconds;
    process.stdout.write(
      `[fault] ${JSON.stringify({ fault: 'rate-limit-minute', target, started: inMinute, ratio: inMinute / target, processes: new Set(workers.events.map((e) => e.worker)).size })}\n`,
    );
    expect(inMinute).toBeGreaterThanOrEqual(target * 0.9);
    expect(inMinute).toBeLessThanOrEqual(target * 1.1);
    const { rows: attempts } = await fixture.db.query<{ n: number }>(
      'SELECT max(attempts)::int AS n FROM messages WHERE queue = $1',
      [queue],
    );
    expect(attempts[0]!.n).toBe(1);
  }, 180_000);
});
