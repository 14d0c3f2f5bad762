import { describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { Processor, SnoozeError, type ProcessorMessage } from '../../../src/index.js';
import { useQueueFixture } from '../../support/queue-fixture.js';
import { RecordingLogger, sleep, waitFor } from '../../support/boot.js';

const { db, boot } = useQueueFixture('failure-log');

async function count(where: string): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM messages WHERE ${where}`,
  );
  return Number(rows[0]!.n);
}

describe('what a failed attempt logs', () => {
  it('one warn line per failed attempt: queue, message, attempt, error, and what happens next', async () => {
    @Injectable()
    class Fails {
      @Processor('ingest.main', {
        maxAttempts: 3,
        backoff: { type: 'fixed', delaySeconds: 0 },
        deadLetterQueue: 'ingest.error',
      })
      handle(): void {
        throw new RangeError('cannot reach postgres://app:hunter22@db:5432/app');
      }
    }
    const logger = new RecordingLogger();
    const app = await boot({ connectionString: db.url }, [Fails], { logger });
    const id = await app.queue.enqueue('ingest.main', { doc: 1 });
    await waitFor(async () => (await count("queue = 'ingest.error'")) === 1);
    // The line is written once the dead-letter statement has returned to the worker, which may be
    // after the row is visible here.
    const failures = () => logger.lines.filter((line) => line.includes(`message ${id}`));
    await waitFor(() => failures().length >= 3);
    const error = 'RangeError: cannot reach postgres://app:***@db:5432/app';
    expect(failures()).toEqual([
      `warn Queue "ingest.main": message ${id} attempt 1 of 3 failed (${error}); retry in 0 s`,
      `warn Queue "ingest.main": message ${id} attempt 2 of 3 failed (${error}); retry in 0 s`,
      `warn Queue "ingest.main": message ${id} attempt 3 of 3 failed (${error}); dead-lettered to "ingest.error"`,
    ]);
    expect(logger.lines.join('\n')).not.toContain('hunter22');
  });

  it('a queue failing every message writes 5 lines, then counts the rest in one summary line', async () => {
    @Injectable()
    class AlwaysFails {
      @Processor('broken', { maxAttempts: 1, concurrency: 4 })
      handle(message: ProcessorMessage<{ n: number }>): void {
        throw new Error(`bad document ${message.body.n}`);
      }
    }
    const logger = new RecordingLogger();
    const app = await boot({ connectionString: db.url }, [AlwaysFails], { logger });
    await app.queue.enqueueMany(
      'broken',
      Array.from({ length: 40 }, (_, n) => ({ n })),
    );
    await waitFor(async () => (await count("state = 'failed'")) === 40);
    await sleep(200); // the last settle's line is written after its statement returns
    const failureLines = () => logger.lines.filter((line) => line.includes('failed'));
    expect(failureLines()).toHaveLength(5);
    expect(
      failureLines().every((line) =>
        line.endsWith('failed for good (state failed: see listFailed, retryFailed)'),
      ),
    ).toBe(true);

    await app.close(); // a stopping worker writes what its window held back
    expect(failureLines().slice(5)).toEqual([
      expect.stringMatching(
        /^warn 35 more failed attempts on queue "broken" in the last \d+ s \(at most 5 are logged per 30 s\)$/,
      ),
    ]);
  });

  it('a snooze writes no line, a failure one, a success none', async () => {
    @Injectable()
    class Snoozes {
      calls = 0;
      @Processor('later', { backoff: { type: 'fixed', delaySeconds: 0 } })
      handle(): void {
        this.calls += 1;
        if (this.calls === 1) throw new SnoozeError(1);
        if (this.calls === 2) throw new Error('flaky');
      }
    }
    const logger = new RecordingLogger();
    const app = await boot({ connectionString: db.url }, [Snoozes], { logger });
    const id = await app.queue.enqueue('later', {});
    await waitFor(async () => (await count("state = 'done'")) === 1);
    expect(app.get(Snoozes).calls).toBe(3);
    // The snooze spent no attempt: the failure was attempt 1.
    expect(logger.lines.filter((line) => line.includes(id))).toEqual([
      `warn Queue "later": message ${id} attempt 1 of 5 failed (Error: flaky); retry in 0 s`,
    ]);
  });
});

describe('what an intended shutdown logs', () => {
  it('a straggler returned to the queue at shutdown finishes with an info line, not a warning', async () => {
    let started = false;
    let finished = false;
    @Injectable()
    class Slow {
      @Processor('slow', { leaseSeconds: 300 })
      async handle(): Promise<void> {
        started = true;
        await sleep(1_000); // ignores its signal
        finished = true;
      }
    }
    const logger = new RecordingLogger();
    const app = await boot({ connectionString: db.url, shutdownTimeoutMs: 100 }, [Slow], {
      logger,
    });
    const id = await app.queue.enqueue('slow', {});
    await waitFor(() => started);
    await app.close();
    await waitFor(() => finished);
    await sleep(50);
    const lines = logger.lines.filter((line) => line.includes(`message ${id}`));
    expect(lines).toEqual([
      `warn Queue "slow": message ${id} was still running at the shutdown deadline (shutdownTimeoutMs); returned to ready, it will run again`,
      `log Queue "slow": message ${id} finished after shutdown had returned it to the queue; it will run again, this result is not recorded`,
    ]);
  });
});
