import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it, jest } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import {
  MessageCancelledError,
  MessageDeletedError,
  MessageFailedError,
  Processor,
  QueueValidationError,
  ResultValidationError,
  ShutdownError,
  UnrecoverableError,
  WaitTimeoutError,
  type ProcessorMessage,
} from '../../src/index.js';
import { MessageStore } from '../../src/store/message-store.js';
import { waitFor } from '../support/boot.js';
import { stopProcess } from '../support/flow-workers.js';
import { useQueueFixture } from '../support/queue-fixture.js';
import { tsChildArgs } from '../support/ts-child.js';

/** Gates the tests open by hand, by message id. */
const gates = new Map<string, () => void>();
const gate = (id: string) => new Promise<void>((resolve) => gates.set(id, resolve));
const open = async (id: string) => {
  await waitFor(() => gates.has(id), 10_000, `the handler of ${id}`);
  gates.get(id)!();
};
/** What `message.progress()` resolved to, by message id, in the lease-loss test. */
const progressAnswers = new Map<string, boolean[]>();

@Injectable()
class Handlers {
  @Processor('results.basic')
  basic(message: ProcessorMessage<{ n?: number; none?: boolean; nil?: boolean }>): unknown {
    if (message.body.none === true) return undefined;
    if (message.body.nil === true) return null;
    return { doubled: (message.body.n ?? 0) * 2, at: new Date(0) };
  }

  @Processor('results.bad', { maxAttempts: 3 })
  bad(message: ProcessorMessage<{ kind: string }>): unknown {
    switch (message.body.kind) {
      case 'bigint':
        return { total: 10n };
      case 'function':
        return () => 1;
      default:
        return { text: 'x'.repeat(5_000) };
    }
  }

  @Processor('results.progress')
  async progress(message: ProcessorMessage): Promise<string> {
    await message.progress({ step: 1 });
    // Not awaited, in a burst: coalesced, the last one wins.
    for (let step = 2; step <= 50; step++) void message.progress({ step });
    await message.progress({ step: 51, of: 51 });
    await gate(message.id);
    return 'finished';
  }

  @Processor('results.lost')
  async lost(message: ProcessorMessage): Promise<string> {
    const answers: boolean[] = [await message.progress('before')];
    progressAnswers.set(message.id, answers);
    await gate(message.id);
    answers.push(await message.progress('after'));
    return 'late';
  }

  @Processor('results.fail')
  fail(message: ProcessorMessage<{ why: string }>): void {
    throw new UnrecoverableError(message.body.why);
  }

  @Processor('results.dlq', { maxAttempts: 1, deadLetterQueue: 'results.dlq.dead' })
  dlq(): void {
    throw new Error('to the dead-letter queue');
  }
}

const fixture = useQueueFixture('results', {
  shared: { maxBodyBytes: 4_096 },
  sharedProviders: [Handlers],
});

const children: ChildProcess[] = [];
afterAll(async () => {
  for (const child of children) await stopProcess(child);
});

/** Starts a worker process (test/support/result-worker.ts); resolves once it is ready. */
async function startResultWorker(env: Record<string, string> = {}): Promise<ChildProcess> {
  const child = spawn('node', tsChildArgs('test/support/result-worker.ts'), {
    env: { ...process.env, DATABASE_URL: fixture.db.url, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => lines.push(line));
  await waitFor(() => lines.includes('ready'), 60_000, 'the result worker process');
  return child;
}

async function stateOf(id: string): Promise<string | undefined> {
  const { rows } = await fixture.db.query<{ state: string }>(
    'SELECT state FROM messages WHERE id = $1',
    [id],
  );
  return rows[0]?.state;
}

describe('results', () => {
  it('stores what the handler returned, read back by id with getMessage and waitFor', async () => {
    const { queue } = fixture;
    const id = await queue.enqueue('results.basic', { n: 21 });
    await expect(queue.waitFor(id, { timeoutMs: 10_000 })).resolves.toEqual({
      doubled: 42,
      at: '1970-01-01T00:00:00.000Z',
    });
    const message = await queue.getMessage<{ n: number }, { doubled: number }>(id);
    expect(message).toMatchObject({ id, state: 'done', body: { n: 21 }, progress: null });
    expect(message!.result).toEqual({ doubled: 42, at: '1970-01-01T00:00:00.000Z' });
    expect(await queue.getMessage('no-such-message')).toBeNull();
  });

  it('stores NULL when the handler returns undefined, JSON null when it returns null', async () => {
    const { queue, db } = fixture;
    const [none, nil] = await queue.enqueueMany('results.basic', [{ none: true }, { nil: true }]);
    await expect(queue.waitFor(none!)).resolves.toBeNull();
    await expect(queue.waitFor(nil!)).resolves.toBeNull();
    const { rows } = await db.query<{ id: string; is_null: boolean; type: string | null }>(
      'SELECT id, result IS NULL AS is_null, jsonb_typeof(result) AS type FROM messages WHERE id = ANY ($1)',
      [[none, nil]],
    );
    const byId = new Map(rows.map((row) => [row.id, row]));
    expect(byId.get(none!)).toMatchObject({ is_null: true, type: null });
    expect(byId.get(nil!)).toMatchObject({ is_null: false, type: 'null' });
    expect((await queue.getMessage(none!))!.result).toBeNull();
  });

  it('a batch of acks mixing results and undefined stores each result with its own message', async () => {
    const { queue } = fixture;
    const bodies = Array.from({ length: 60 }, (_, n) => (n % 3 === 0 ? { none: true } : { n }));
    const ids = await queue.enqueueMany('results.basic', bodies);
    const results = await Promise.all(ids.map((id) => queue.waitFor(id)));
    results.forEach((result, n) =>
      expect(result).toEqual(
        n % 3 === 0 ? null : { doubled: n * 2, at: '1970-01-01T00:00:00.000Z' },
      ),
    );
  });

  it('dead-letters an attempt whose result cannot be stored, with a ResultValidationError naming result and the rule', async () => {
    const { queue } = fixture;
    const ids = await queue.enqueueMany('results.bad', [
      { kind: 'bigint' },
      { kind: 'function' },
      { kind: 'oversize' },
    ]);
    const errors = await Promise.all(
      ids.map((id) =>
        queue.waitFor(id).then(
          () => undefined,
          (error: unknown) => error,
        ),
      ),
    );
    for (const error of errors) expect(error).toBeInstanceOf(MessageFailedError);
    const records = errors.map((error) => (error as MessageFailedError).lastError!);
    // Not retried: the same code would return the same value again.
    expect(records.map((record) => [record.name, record.attempt])).toEqual([
      ['ResultValidationError', 1],
      ['ResultValidationError', 1],
      ['ResultValidationError', 1],
    ]);
    expect(records[0]!.message).toContain('result.total must be JSON data, not a bigint');
    expect(records[1]!.message).toContain('result must be JSON data, not a function');
    expect(records[2]!.message).toMatch(/result must be at most 4096 bytes as JSON \(got \d+\)/);
    const stored = await queue.getMessage(ids[0]!);
    expect(stored).toMatchObject({ state: 'failed', result: null, attempts: 1 });
    expect(ResultValidationError.name).toBe('ResultValidationError');
  });
});

describe('progress', () => {
  it('records the last value reported, readable by id while the handler runs', async () => {
    const { queue } = fixture;
    const id = await queue.enqueue('results.progress', {});
    await waitFor(() => gates.has(id), 10_000, 'the handler');
    expect((await queue.getMessage(id))!.progress).toEqual({ step: 51, of: 51 });
    expect(await stateOf(id)).toBe('leased');
    await open(id);
    await expect(queue.waitFor(id)).resolves.toBe('finished');
    expect(await queue.getMessage(id)).toMatchObject({
      state: 'done',
      result: 'finished',
      progress: { step: 51, of: 51 },
    });
  });

  it('resolves false once the lease is lost, and changes nothing', async () => {
    const { queue, db } = fixture;
    const id = await queue.enqueue('results.lost', {});
    await waitFor(() => gates.has(id), 10_000, 'the handler');
    expect(progressAnswers.get(id)).toEqual([true]);
    // Another worker took the message: the lease token changed under this one.
    await db.query('UPDATE messages SET lease_token = gen_random_uuid() WHERE id = $1', [id]);
    await open(id);
    await waitFor(() => progressAnswers.get(id)!.length === 2, 10_000, 'the second progress');
    expect(progressAnswers.get(id)).toEqual([true, false]);
    const message = await queue.getMessage(id);
    expect(message).toMatchObject({ state: 'leased', progress: 'before', result: null });
  });

  it('refuses a value that is not JSON data or too large with a QueueValidationError', async () => {
    const answers: unknown[] = [];
    @Injectable()
    class Reports {
      @Processor('results.badprogress')
      async handle(message: ProcessorMessage): Promise<void> {
        for (const value of [{ n: 1n }, 'y'.repeat(70_000), { ok: true }]) {
          answers.push(await message.progress(value).catch((error: unknown) => error));
        }
      }
    }
    const app = await fixture.boot({ connectionString: fixture.db.url }, [Reports]);
    const id = await app.queue.enqueue('results.badprogress', {});
    await expect(app.queue.waitFor(id)).resolves.toBeNull();
    expect(answers[0]).toBeInstanceOf(QueueValidationError);
    expect(answers[0]).toMatchObject({ field: 'progress.n' });
    expect(answers[1]).toMatchObject({ field: 'progress', rule: expect.stringContaining('65536') });
    expect(answers[2]).toBe(true);
    expect((await app.queue.getMessage(id))!.progress).toEqual({ ok: true });
  });
});

describe('waitFor', () => {
  it('resolves with the result of a message another process handled', async () => {
    await startResultWorker();
    const { queue } = fixture;
    const ids = await queue.enqueueMany(
      'results.remote',
      [1, 2, 3].map((n) => ({ n, ms: 200 })),
    );
    const results = await Promise.all(
      ids.map((id) => queue.waitFor<{ doubled: number; pid: number }>(id, { timeoutMs: 30_000 })),
    );
    expect(results.map((result) => result.doubled)).toEqual([2, 4, 6]);
    for (const result of results) expect(result.pid).not.toBe(process.pid);
    expect((await queue.getMessage(ids[0]!))!.progress).toEqual({ started: true });
  });

  it('rejects with MessageFailedError, lastError attached, when the message becomes a dead letter', async () => {
    const { queue } = fixture;
    const id = await queue.enqueue('results.fail', { why: 'no good' });
    const error = await queue.waitFor(id).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MessageFailedError);
    expect(error).toMatchObject({
      messageId: id,
      queue: 'results.fail',
      lastError: { name: 'UnrecoverableError', message: 'no good', attempt: 1 },
    });
    expect((error as Error).message).toContain('no good');
  });

  it('rejects with MessageFailedError when the message is moved to its dead-letter queue', async () => {
    const { queue } = fixture;
    const id = await queue.enqueue('results.dlq', {});
    const error = await queue.waitFor(id).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MessageFailedError);
    expect(error).toMatchObject({
      queue: 'results.dlq',
      deadLetterQueue: 'results.dlq.dead',
      lastError: { message: 'to the dead-letter queue' },
    });
  });

  it('rejects with MessageCancelledError when the message is cancelled', async () => {
    const { queue } = fixture;
    const id = await queue.enqueue('results.idle', {}, { delaySeconds: 3_600 });
    const waiting = queue.waitFor(id).catch((error: unknown) => error);
    await waitFor(async () => (await awaited(id)) === true, 10_000, 'the awaited mark');
    expect(await queue.cancel(id)).toBe('cancelled');
    const error = await waiting;
    expect(error).toBeInstanceOf(MessageCancelledError);
    expect(error).toMatchObject({ messageId: id });
  });

  it('rejects with MessageDeletedError when the message is deleted, or never existed', async () => {
    const { queue } = fixture;
    const id = await queue.enqueue('results.idle', {});
    const waiting = queue.waitFor(id).catch((error: unknown) => error);
    await waitFor(async () => (await awaited(id)) === true, 10_000, 'the awaited mark');
    expect(await queue.deleteMessage(id)).toBe(true);
    expect(await waiting).toBeInstanceOf(MessageDeletedError);
    await expect(queue.waitFor('never-enqueued')).rejects.toMatchObject({
      name: 'MessageDeletedError',
      messageId: 'never-enqueued',
    });
  });

  it('rejects with WaitTimeoutError naming the id and the time, and validates timeoutMs', async () => {
    const { queue } = fixture;
    const id = await queue.enqueue('results.idle', {});
    const started = performance.now();
    const error = await queue.waitFor(id, { timeoutMs: 300 }).catch((caught: unknown) => caught);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect(error).toMatchObject({ messageId: id, timeoutMs: 300 });
    expect((error as Error).message).toBe(`message ${id} did not end within 300 ms`);
    for (const timeoutMs of [0, -1, 1.5, 86_400_001, Number.NaN]) {
      await expect(queue.waitFor(id, { timeoutMs })).rejects.toMatchObject({
        name: 'QueueValidationError',
        field: 'timeoutMs',
      });
    }
    await expect(queue.waitFor('', {})).rejects.toBeInstanceOf(QueueValidationError);
  });

  it('resolves at once for a message that already ended, and for one the Python backend acked', async () => {
    const { queue, db } = fixture;
    const id = await queue.enqueue('results.basic', { n: 5 });
    await waitFor(async () => (await stateOf(id)) === 'done', 10_000, 'the ack');
    const started = performance.now();
    await expect(queue.waitFor(id)).resolves.toEqual({
      doubled: 10,
      at: '1970-01-01T00:00:00.000Z',
    });
    expect(performance.now() - started).toBeLessThan(2_000);

    // The Python backend's lease and ack, by plain statements: its ack writes no result.
    const python = await queue.enqueue('results.python', { n: 1 });
    const waiting = queue.waitFor(python, { timeoutMs: 10_000 });
    await waitFor(async () => (await awaited(python)) === true, 10_000, 'the awaited mark');
    await db.query(
      `UPDATE messages SET state = 'leased', lease_token = gen_random_uuid(), lease_until = floor(extract(epoch from now()))::bigint + 60, attempts = attempts + 1 WHERE id = $1`,
      [python],
    );
    await db.query(
      `UPDATE messages SET state = 'done', lease_until = NULL, lease_token = NULL WHERE id = $1 AND state = 'leased'`,
      [python],
    );
    await expect(waiting).resolves.toBeNull();
  });

  it('hears the ends it missed while its LISTEN connection was down', async () => {
    const { queue, db } = fixture;
    const id = await queue.enqueue('results.idle', {});
    const waiting = queue.waitFor(id, { timeoutMs: 20_000 });
    await waitFor(async () => (await awaited(id)) === true, 10_000, 'the awaited mark');
    // End the message while the LISTEN connection is gone: its notification is lost.
    await db.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'fetchcraft-queue:wait'`,
    );
    await db.query(`UPDATE messages SET state = 'done', result = '"by hand"' WHERE id = $1`, [id]);
    await expect(waiting).resolves.toBe('by hand');
    await waitFor(
      async () => (await db.connectionsOf('fetchcraft-queue:wait')) === 1,
      10_000,
      'the LISTEN connection back',
    );
  });

  it('polls every pollIntervalMs with listen: false, without a LISTEN connection', async () => {
    const app = await fixture.boot({
      connectionString: fixture.db.url,
      listen: false,
      pollIntervalMs: 200,
      applicationName: 'no-listen',
    });
    const id = await app.queue.enqueue('results.idle', {});
    const waiting = app.queue.waitFor(id, { timeoutMs: 10_000 });
    await waitFor(async () => (await awaited(id)) === true, 10_000, 'the awaited mark');
    await fixture.db.query(`UPDATE messages SET state = 'done', result = '7' WHERE id = $1`, [id]);
    await expect(waiting).resolves.toBe(7);
    expect(await fixture.db.connectionsOf('no-listen:wait')).toBe(0);
  });

  it('rejects pending waits with ShutdownError when the application shuts down', async () => {
    const app = await fixture.boot({
      connectionString: fixture.db.url,
      applicationName: 'closing',
    });
    const id = await app.queue.enqueue('results.idle', {});
    const waiting = app.queue.waitFor(id, { timeoutMs: 30_000 }).catch((error: unknown) => error);
    await waitFor(async () => (await awaited(id)) === true, 10_000, 'the awaited mark');
    expect(await fixture.db.connectionsOf('closing:wait')).toBe(1);
    await app.close();
    expect(await waiting).toBeInstanceOf(ShutdownError);
    await expect(app.queue.waitFor(id)).rejects.toBeInstanceOf(ShutdownError);
  });

  it('under load: 500 waits on 500 messages drained by two worker processes all resolve, on one LISTEN connection', async () => {
    const { queue, db } = fixture;
    const store = fixture.app.get(MessageStore);
    const reads = jest.spyOn(store, 'waitStates');
    const marks = jest.spyOn(store, 'awaitMessage');
    try {
      const ids = await queue.enqueueMany(
        'results.load',
        Array.from({ length: 500 }, (_, n) => ({ n })),
      );
      const waits = ids.map((id) => queue.waitFor<{ doubled: number }>(id, { timeoutMs: 60_000 }));
      await Promise.all([
        startResultWorker({ RESULT_QUEUE: 'results.load', RESULT_CONCURRENCY: '16' }),
        startResultWorker({ RESULT_QUEUE: 'results.load', RESULT_CONCURRENCY: '16' }),
      ]);
      let listeners = 0;
      const sampling = (async () => {
        while (listeners >= 0) {
          listeners = Math.max(listeners, await db.connectionsOf('fetchcraft-queue:wait'));
          if (reads.mock.calls.length > 0 && (await stateCount('results.load')) === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })();
      const results = await Promise.all(waits);
      await sampling;
      expect(results.map((result) => result.doubled)).toEqual(ids.map((_, n) => n * 2));
      expect(listeners).toBe(1);
      expect(marks).toHaveBeenCalledTimes(500);
      // Notifications are read in batches, one statement in flight: far fewer reads than ends.
      const readCount = reads.mock.calls.length;
      const idsRead = reads.mock.calls.reduce((total, [batch]) => total + batch.length, 0);
      process.stdout.write(
        `waitFor under load: 500 ends heard with ${readCount} reads (${idsRead} ids read)\n`,
      );
      expect(readCount).toBeLessThan(250);
    } finally {
      reads.mockRestore();
      marks.mockRestore();
    }
  });
});

async function awaited(id: string): Promise<boolean | undefined> {
  const { rows } = await fixture.db.query<{ awaited: boolean }>(
    'SELECT awaited FROM messages WHERE id = $1',
    [id],
  );
  return rows[0]?.awaited;
}

/** Messages of `queue` not ended yet. */
async function stateCount(queue: string): Promise<number> {
  const { rows } = await fixture.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM messages WHERE queue = $1 AND state IN ('ready', 'leased')`,
    [queue],
  );
  return rows[0]!.n;
}
