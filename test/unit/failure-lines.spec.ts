import { describe, expect, it } from '@jest/globals';
import { type ResolvedProcessorOptions } from '../../src/config/processor-options.js';
import { describeFailure, maskUrlPasswords } from '../../src/errors/describe-error.js';
import { errorRecordJson } from '../../src/workers/error-record.js';
import { SnoozeError, UnrecoverableError, type LeasedMessage } from '../../src/index.js';
import { type ProcessorDefinition } from '../../src/processor/processor-definition.js';
import { type MessageStore } from '../../src/store/message-store.js';
import { LogRateLimiter } from '../../src/workers/log-rate-limiter.js';
import { MessageExecutor } from '../../src/workers/message-executor.js';

describe('LogRateLimiter', () => {
  const limiter = (maxLines: number, windowMs: number) => {
    const clock = { ms: 1_000 };
    return { clock, limiter: new LogRateLimiter(maxLines, windowMs, () => clock.ms) };
  };

  it('writes up to maxLines per window and holds back the rest', () => {
    const { limiter: limit } = limiter(3, 10_000);
    const admissions = Array.from({ length: 5 }, () => limit.admit());
    expect(admissions.map((admission) => admission.write)).toEqual([
      true,
      true,
      true,
      false,
      false,
    ]);
    expect(admissions.every((admission) => admission.heldBack === undefined)).toBe(true);
  });

  it('hands the held-back count to the first line of the next window', () => {
    const { clock, limiter: limit } = limiter(2, 10_000);
    for (let i = 0; i < 6; i++) limit.admit();
    clock.ms += 9_999;
    expect(limit.admit()).toEqual({ write: false });
    clock.ms += 1;
    expect(limit.admit()).toEqual({ write: true, heldBack: { count: 5, seconds: 10 } });
    expect(limit.admit()).toEqual({ write: true });
    expect(limit.admit()).toEqual({ write: false });
  });

  it('closes a window at its end for a timer, and only then', () => {
    const { clock, limiter: limit } = limiter(1, 10_000);
    limit.admit();
    expect(limit.closesAt).toBeUndefined(); // nothing held back: no timer needed
    limit.admit();
    limit.admit();
    expect(limit.closesAt).toBe(11_000);
    clock.ms = 10_999;
    expect(limit.close()).toBeUndefined();
    clock.ms = 11_000;
    expect(limit.close()).toEqual({ count: 2, seconds: 10 });
    expect(limit.close()).toBeUndefined();
    expect(limit.closesAt).toBeUndefined();
    // The next line opens a fresh window.
    expect(limit.admit()).toEqual({ write: true });
  });

  it('closes early when forced (at shutdown), counting the seconds actually covered', () => {
    const { clock, limiter: limit } = limiter(1, 60_000);
    limit.admit();
    limit.admit();
    clock.ms += 2_500;
    expect(limit.close(true)).toEqual({ count: 1, seconds: 3 });
    expect(limit.close(true)).toBeUndefined();
  });
});

describe('describeFailure', () => {
  it('names the error class and its message on one bounded line', () => {
    expect(describeFailure(new TypeError('bad\n  input'))).toBe('TypeError: bad input');
    expect(describeFailure('plain string')).toBe('string: plain string');
    expect(describeFailure(null)).toBe('null: null');
    expect(describeFailure(Object.create(null))).toBe('object: [object Object]');
    expect(describeFailure(new Error('x'.repeat(2_000)))).toHaveLength(501);
  });

  it('masks the password of any URL it quotes', () => {
    expect(
      describeFailure(new Error('could not connect to postgres://app:s3cr@t@db:5432/app')),
    ).toBe('Error: could not connect to postgres://app:***@db:5432/app');
    expect(maskUrlPasswords('see https://example.com/a:b@c and amqp://u:p@mq')).toBe(
      'see https://example.com/a:b@c and amqp://u:***@mq',
    );
  });

  it('masks the forms the package accepts elsewhere: an unencoded /, password=, the keyword form', () => {
    expect(maskUrlPasswords('postgres://app:pa/ss@db/app failed')).toBe(
      'postgres://app:***@db/app failed',
    );
    expect(maskUrlPasswords('postgres://db/app?user=app&password=hunter2&sslmode=require')).toBe(
      'postgres://db/app?user=app&password=***&sslmode=require',
    );
    expect(maskUrlPasswords("host=db user=app password='hun ter2' dbname=app")).toBe(
      'host=db user=app password=*** dbname=app',
    );
  });

  it('stores lastError with its passwords masked, message and stack', () => {
    const error = new Error('could not connect to postgres://app:hunter2secret@db/app');
    const record = JSON.parse(errorRecordJson(error, 1)) as { message: string; stack: string };
    expect(record.message).toBe('could not connect to postgres://app:***@db/app');
    expect(record.stack).not.toContain('hunter2secret');
  });
});

const OPTIONS: ResolvedProcessorOptions = {
  concurrency: 1,
  prefetch: 0,
  prefetchBytes: 1024,
  leaseSeconds: 60,
  maxAttempts: 3,
  timeoutMs: undefined,
  backoff: { type: 'fixed', delaySeconds: 7 },
  body: undefined,
  deadLetterQueue: undefined,
  shareQueue: false,
  globalConcurrency: undefined,
  groupConcurrency: undefined,
  rateLimit: undefined,
  transaction: false,
  removeOnComplete: false,
};

function leased(n: number, attempts: number): LeasedMessage {
  return {
    id: `m${n}`,
    queue: 'ingest.main',
    body: { n },
    attempts,
    state: 'leased',
    availableAt: new Date(0),
    leaseUntil: new Date(60_000),
    createdAt: new Date(0),
    leaseToken: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    lastError: null,
    originQueue: null,
    priority: 0,
    uniqueKey: null,
    groupKey: null,
    parentId: null,
  };
}

/**
 * An executor over a store that settles every statement as `settled` says, a recording logger
 * and a clock the test moves.
 */
function executorWith(
  handler: ProcessorDefinition['handler'],
  options: Partial<ResolvedProcessorOptions> = {},
  settled: () => Promise<boolean> = () => Promise.resolve(true),
) {
  const lines: string[] = [];
  const clock = { ms: 0 };
  // A failure's settle answers how it settled; the others whether they did.
  const settlement = (held: boolean) => (held ? 'recorded' : 'lost');
  const statements: string[] = [];
  const store = {
    retry: () => (statements.push('retry'), settled().then(settlement)),
    snooze: () => (statements.push('snooze'), settled()),
    deadLetter: () => (statements.push('deadLetter'), settled().then(settlement)),
    release: () => (statements.push('release'), settled()),
    ackBatch: (_queue: string, leases: readonly { id: string }[]) =>
      Promise.resolve({ acked: leases.map((lease) => lease.id), busy: [] }),
  } as unknown as MessageStore;
  let freed = 0;
  const executor = new MessageExecutor({
    definition: {
      queue: 'ingest.main',
      handlerName: 'Test.handle',
      handler,
      options: { ...OPTIONS, ...options },
    },
    store,
    logger: {
      log: (line: string) => lines.push(`log ${line}`),
      warn: (line: string) => lines.push(`warn ${line}`),
      error: (line: string) => lines.push(`error ${line}`),
    },
    onSlotFreed: () => freed++,
    now: () => clock.ms,
  });
  /** Runs `message` to the end of its settle. */
  const run = async (message: LeasedMessage) => {
    const before = freed;
    executor.start(message);
    for (let i = 0; i < 100 && freed === before; i++) {
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  return { executor, lines, clock, statements, run };
}

describe('MessageExecutor failure lines', () => {
  it('names the queue, the message, the attempt, the error and the retry delay', async () => {
    const { lines, run } = executorWith(() => {
      throw new TypeError('cannot parse');
    });
    await run(leased(1, 2));
    expect(lines).toEqual([
      'warn Queue "ingest.main": message m1 attempt 2 of 3 failed (TypeError: cannot parse); retry in 7 s',
    ]);
  });

  it('says where an exhausted or unrecoverable message went', async () => {
    const toDlq = executorWith(() => Promise.reject(new Error('still broken')), {
      deadLetterQueue: 'ingest.error',
    });
    await toDlq.run(leased(1, 3));
    await toDlq.run(leased(2, 1));
    expect(toDlq.lines).toEqual([
      'warn Queue "ingest.main": message m1 attempt 3 of 3 failed (Error: still broken); dead-lettered to "ingest.error"',
      'warn Queue "ingest.main": message m2 attempt 1 of 3 failed (Error: still broken); retry in 7 s',
    ]);

    const inPlace = executorWith(() => {
      throw new UnrecoverableError('gone');
    });
    await inPlace.run(leased(3, 1));
    expect(inPlace.lines).toEqual([
      'warn Queue "ingest.main": message m3 attempt 1 of 3 failed (UnrecoverableError: gone); failed for good (state failed: see listFailed, retryFailed)',
    ]);
  });

  it('writes nothing for a success or a snooze, which are not failures', async () => {
    const { lines, run, statements } = executorWith((message) => {
      if ((message.body as { n: number }).n === 2) throw new SnoozeError(30);
    });
    await run(leased(1, 1));
    await run(leased(2, 1));
    expect(statements).toEqual(['snooze']);
    expect(lines).toEqual([]);
  });

  it('says the failure was not recorded when the lease was lost meanwhile', async () => {
    const { lines, run } = executorWith(
      () => {
        throw new Error('boom');
      },
      {},
      () => Promise.resolve(false),
    );
    await run(leased(1, 1));
    expect(lines).toEqual([
      'warn Queue "ingest.main": message m1 attempt 1 of 3 failed (Error: boom); not recorded: its lease was lost meanwhile',
    ]);
  });

  it('writes 5 lines per 30 s, then one summary line when the next is allowed or at stop', async () => {
    const { executor, lines, clock, run } = executorWith(() => {
      throw new Error('down');
    });
    for (let n = 1; n <= 12; n++) await run(leased(n, 1));
    expect(lines).toHaveLength(5);
    clock.ms = 30_000;
    await run(leased(13, 1));
    expect(lines.slice(5)).toEqual([
      'warn 7 more failed attempts on queue "ingest.main" in the last 30 s (at most 5 are logged per 30 s)',
      'warn Queue "ingest.main": message m13 attempt 1 of 3 failed (Error: down); retry in 7 s',
    ]);
    for (let n = 14; n <= 18; n++) await run(leased(n, 1));
    clock.ms = 31_200;
    await executor.stop(Date.now());
    expect(lines.slice(7)).toHaveLength(5);
    expect(lines.at(-1)).toBe(
      'warn 1 more failed attempt on queue "ingest.main" in the last 2 s (at most 5 are logged per 30 s)',
    );
  });
});

describe('MessageExecutor at shutdown', () => {
  it('a straggler returned at an intended shutdown finishes with a calm info line', async () => {
    let finish!: () => void;
    const { executor, lines, statements } = executorWith(
      () => new Promise<void>((resolve) => (finish = resolve)),
    );
    executor.start(leased(1, 1));
    await new Promise((resolve) => setImmediate(resolve));
    await executor.stop(Date.now());
    expect(statements).toEqual(['release']);
    finish();
    for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(lines).toEqual([
      'warn Queue "ingest.main": message m1 was still running at the shutdown deadline (shutdownTimeoutMs); returned to ready, it will run again',
      'log Queue "ingest.main": message m1 finished after shutdown had returned it to the queue; it will run again, this result is not recorded',
    ]);
  });

  it('a handler that failed before the deadline has its retry recorded, not raced by a release', async () => {
    let settle!: (settled: boolean) => void;
    const { executor, lines, statements } = executorWith(
      () => Promise.reject(new Error('down')),
      {},
      () => new Promise<boolean>((resolve) => (settle = resolve)),
    );
    executor.start(leased(1, 1));
    for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(statements).toEqual(['retry']); // in flight when the deadline comes
    const stopping = executor.stop(Date.now());
    for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
    settle(true);
    await stopping;
    expect(statements).toEqual(['retry']);
    expect(lines).toEqual([
      'warn Queue "ingest.main": message m1 attempt 1 of 3 failed (Error: down); retry in 7 s',
    ]);
  });

  it('a handler whose lease was lost still warns that its result is not recorded', async () => {
    let finish!: () => void;
    const message = leased(1, 1);
    const { executor, lines } = executorWith(
      () => new Promise<void>((resolve) => (finish = resolve)),
    );
    executor.start(message);
    await new Promise((resolve) => setImmediate(resolve));
    executor.abortLost(new Set([message.leaseToken]));
    finish();
    for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(lines).toEqual([
      'warn Queue "ingest.main": message m1 finished after its lease was lost; its result is not recorded',
    ]);
  });
});
