import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from '@jest/globals';
import { sleep, waitFor } from '../support/boot.js';
import { stopProcess } from '../support/flow-workers.js';
import { useQueueFixture } from '../support/queue-fixture.js';
import { tsChildArgs } from '../support/ts-child.js';

/*
 * Six handler slots sleeping 20 to 60 ms inside most transactions drain at most ~200 messages a
 * second however fast the machine, so the drain lasts long enough for the kills.
 *
 * Exactly-once effects with `transaction: true`: worker processes whose handlers insert each
 * message's effect through `message.manager` are SIGKILLed again and again while they drain the
 * queue, and restarted; the reaper returns the killed leases. Whatever a killed transaction
 * wrote died with it, and an effect is kept only with its message's ack, so at the end every
 * message is done and its effect is there exactly once.
 */
const full = process.env.FAULT_SCALE === 'full';
const scale = (ci: number, long: number) => (full ? long : ci);

const fixture = useQueueFixture('fault_exactly_once', { shared: { workers: false } });
const running: ChildProcess[] = [];

afterAll(async () => {
  await Promise.all(running.splice(0).map(stopProcess));
});

interface Worker {
  readonly child: ChildProcess;
  /** Handlers it began. */
  began: number;
  ready: boolean;
}

/** Starts one worker process; `ready` turns true once it is. */
function startWorker(url: string): Worker {
  const child = spawn('node', tsChildArgs('test/support/exactly-once-worker.ts'), {
    env: { ...process.env, DATABASE_URL: url },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  running.push(child);
  const worker: Worker = { child, began: 0, ready: false };
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line === 'ready') worker.ready = true;
    else if (line.startsWith('begin ')) worker.began += 1;
  });
  return worker;
}

describe('exactly-once effects under SIGKILL (transaction: true)', () => {
  it('keeps every message’s effect exactly once while workers are killed mid-transaction', async () => {
    const { db } = fixture;
    const total = scale(1_500, 10_000);
    const killsWanted = scale(8, 40);
    await db.query('CREATE TABLE effects (message_id text NOT NULL)');
    const ids: string[] = [];
    for (let start = 0; start < total; start += 500) {
      const count = Math.min(500, total - start);
      ids.push(
        ...(await fixture.queue.enqueueMany(
          'exactly.once',
          Array.from({ length: count }, (_, index) => ({ n: start + index })),
        )),
      );
    }
    const started = Date.now();
    const workers = [0, 1, 2].map(() => startWorker(db.url));
    await waitFor(() => workers.every((worker) => worker.ready), 60_000, 'the worker processes');
    const doneCount = async () => {
      const { rows } = await db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM messages WHERE queue = 'exactly.once' AND state = 'done'",
      );
      return rows[0]!.n;
    };

    // Every second or so, SIGKILL a worker that is running handlers (its transactions are open)
    // and start another in its place, without waiting for it: the others drain meanwhile.
    let kills = 0;
    const seen = workers.map((worker) => worker.began);
    while (kills < killsWanted && (await doneCount()) < total) {
      await sleep(700 + Math.floor(Math.random() * 600));
      const busy = workers
        .map((worker, index) => ({ worker, index }))
        .filter(({ worker, index }) => worker.ready && worker.began > seen[index]!);
      workers.forEach((worker, index) => (seen[index] = worker.began));
      const victim = busy[Math.floor(Math.random() * busy.length)];
      if (victim === undefined) continue;
      victim.worker.child.kill('SIGKILL');
      kills += 1;
      workers[victim.index] = startWorker(db.url);
      seen[victim.index] = 0;
    }
    await waitFor(async () => (await doneCount()) === total, 60_000, 'every message to be done');
    const drainedMs = Date.now() - started;

    const { rows: effects } = await db.query<{ rows: number; distinct: number }>(
      'SELECT count(*)::int AS rows, count(DISTINCT message_id)::int AS distinct FROM effects',
    );
    const { rows: missing } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM messages m
       WHERE m.queue = 'exactly.once' AND NOT EXISTS (SELECT 1 FROM effects e WHERE e.message_id = m.id)`,
    );
    const { rows: twice } = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM (SELECT message_id FROM effects GROUP BY message_id HAVING count(*) > 1) d',
    );
    const { rows: redelivered } = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM messages WHERE queue = 'exactly.once' AND attempts > 1",
    );
    process.stdout.write(
      `[fault] ${JSON.stringify({ fault: 'exactly-once-sigkill', messages: total, kills, drainedMs, effects: effects[0], missing: missing[0]!.n, twice: twice[0]!.n, redelivered: redelivered[0]!.n })}\n`,
    );
    expect(kills).toBeGreaterThanOrEqual(3);
    // The kills hit open transactions: some messages ran again after their lease came back.
    expect(redelivered[0]!.n).toBeGreaterThan(0);
    expect(effects[0]).toEqual({ rows: total, distinct: total });
    expect(missing[0]!.n).toBe(0);
    expect(twice[0]!.n).toBe(0);
  }, 180_000);
});
