import { describe, expect, it } from '@jest/globals';
import { retentionSeconds } from '../../src/config/argument-rules.js';
import { DEFAULT_PROCESSOR_OPTIONS } from '../../src/config/defaults.js';
import { LIMITS, type Bounds } from '../../src/config/limits.js';
import { resolveProcessor } from '../../src/config/processor-options.js';
import { resolveQueueConfig } from '../../src/config/resolve-queue-config.js';
import {
  QueueOptionsError,
  QueueValidationError,
  type QueueModuleOptions,
} from '../../src/index.js';
import { thrownBy } from '../support/thrown-by.js';

const URL = 'postgres://unit:secret@127.0.0.1:5432/db';

function resolve(options: Partial<QueueModuleOptions>) {
  return resolveQueueConfig({ connectionString: URL, ...options }, {});
}

function optionsError(options: Partial<QueueModuleOptions>): QueueOptionsError {
  return thrownBy(() => resolve(options), QueueOptionsError);
}

describe('the module defaults', () => {
  it('fill every option left out', () => {
    const config = resolve({});
    expect(config).toMatchObject({
      connectionTimeoutMs: 10_000,
      statementTimeoutMs: 30_000,
      lockTimeoutMs: 5_000,
      applicationName: 'fetchcraft-queue',
      migrationsRun: true,
      migrationLockTimeoutMs: 5_000,
      maxBodyBytes: 1024 * 1024,
      preparedStatements: true,
      names: { schema: 'public', table: 'messages', qualified: '"public"."messages"' },
      connection: { kind: 'owned', poolMinSize: 0, poolMaxSize: 20 },
      workers: {
        enabled: true,
        listen: true,
        pollIntervalMs: 2_000,
        shutdownTimeoutMs: 25_000,
        defaults: {},
      },
      maintenance: {
        reaper: { intervalMs: 5_000, batchSize: 10_000 },
        cleanup: {
          cron: '0 * * * *',
          doneRetentionSeconds: 7 * 86_400,
          failedRetentionSeconds: 30 * 86_400,
          batchSize: 10_000,
        },
      },
      health: {
        timeoutMs: 1_000,
        countLimit: 10_000,
        thresholds: {},
        queues: {},
        vacuum: { maxHorizonAgeSeconds: 3_600, maxDeadTuples: 10_000_000 },
      },
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.workers)).toBe(true);
  });

  it('keep a retention of false as "keep everything"', () => {
    const { cleanup } = resolve({ cleanup: { doneRetentionDays: false } }).maintenance;
    expect(cleanup).toMatchObject({ doneRetentionSeconds: undefined });
    // The archive is kept forever unless asked.
    expect(resolve({}).maintenance.cleanup).toMatchObject({ archiveRetentionSeconds: undefined });
    expect(resolve({ cleanup: { archiveRetentionDays: 365 } }).maintenance.cleanup).toMatchObject({
      archiveRetentionSeconds: 365 * 86_400,
    });
    expect(resolve({ cleanup: false }).maintenance.cleanup).toBe(false);
    expect(resolve({ reaper: false }).maintenance.reaper).toBe(false);
  });

  it('take false as "not checked" for the vacuum limits of health, and nothing else', () => {
    const { vacuum, thresholds } = resolve({
      health: { maxHorizonAgeSeconds: false, maxDeadTuples: 5, maxFailed: 1 },
    }).health;
    expect(vacuum).toEqual({ maxHorizonAgeSeconds: false, maxDeadTuples: 5 });
    expect(thresholds).toEqual({ maxFailed: 1 });
    expect(() => resolve({ health: { maxDeadTuples: true as unknown as false } })).toThrow(
      /health\.maxDeadTuples/,
    );
  });

  it('open connections on demand: no warm minimum, whatever the maximum', () => {
    expect(resolve({ poolMaxSize: 4 }).connection).toMatchObject({
      poolMinSize: 0,
      poolMaxSize: 4,
    });
  });

  it('count ready messages past every maxReadyDepth', () => {
    expect(
      resolve({ health: { maxReadyDepth: 50_000, queues: { a: { maxReadyDepth: 70_000 } } } })
        .health.countLimit,
    ).toBe(70_001);
  });
});

/** Whole-number options: each accepts both ends of its bounds and refuses one past either end. */
const wholeNumberOptions: Array<[string, Bounds, (value: number) => Partial<QueueModuleOptions>]> =
  [
    ['poolMinSize', LIMITS.poolMinSize, (v) => ({ poolMinSize: v, poolMaxSize: 1_000 })],
    ['poolMaxSize', LIMITS.poolMaxSize, (v) => ({ poolMaxSize: v, poolMinSize: 0 })],
    ['connectionTimeoutMs', LIMITS.connectionTimeoutMs, (v) => ({ connectionTimeoutMs: v })],
    ['statementTimeoutMs', LIMITS.statementTimeoutMs, (v) => ({ statementTimeoutMs: v })],
    ['lockTimeoutMs', LIMITS.lockTimeoutMs, (v) => ({ lockTimeoutMs: v })],
    [
      'migrationLockTimeoutMs',
      LIMITS.migrationLockTimeoutMs,
      (v) => ({ migrationLockTimeoutMs: v }),
    ],
    ['maxBodyBytes', LIMITS.maxBodyBytes, (v) => ({ maxBodyBytes: v })],
    ['pollIntervalMs', LIMITS.pollIntervalMs, (v) => ({ pollIntervalMs: v })],
    ['shutdownTimeoutMs', LIMITS.shutdownTimeoutMs, (v) => ({ shutdownTimeoutMs: v })],
    ['reaper.intervalMs', LIMITS.reaperIntervalMs, (v) => ({ reaper: { intervalMs: v } })],
    ['reaper.batchSize', LIMITS.maintenanceBatch, (v) => ({ reaper: { batchSize: v } })],
    ['cleanup.batchSize', LIMITS.maintenanceBatch, (v) => ({ cleanup: { batchSize: v } })],
    ['health.timeoutMs', LIMITS.healthTimeoutMs, (v) => ({ health: { timeoutMs: v } })],
    ['health.countLimit', LIMITS.healthCountLimit, (v) => ({ health: { countLimit: v } })],
    ['health.maxFailed', LIMITS.threshold, (v) => ({ health: { maxFailed: v } })],
    [
      'health.maxOldestReadyAgeSeconds',
      LIMITS.threshold,
      (v) => ({ health: { maxOldestReadyAgeSeconds: v } }),
    ],
    ['health.maxReadyDepth', LIMITS.readyDepthThreshold, (v) => ({ health: { maxReadyDepth: v } })],
    [
      'health.maxHorizonAgeSeconds',
      LIMITS.threshold,
      (v) => ({ health: { maxHorizonAgeSeconds: v } }),
    ],
    ['health.maxDeadTuples', LIMITS.threshold, (v) => ({ health: { maxDeadTuples: v } })],
    [
      'processorDefaults.concurrency',
      LIMITS.concurrency,
      (v) => ({ processorDefaults: { concurrency: v } }),
    ],
    [
      'processorDefaults.prefetch',
      LIMITS.prefetch,
      (v) => ({ processorDefaults: { prefetch: v } }),
    ],
    [
      'processorDefaults.prefetchBytes',
      LIMITS.prefetchBytes,
      (v) => ({ processorDefaults: { prefetchBytes: v } }),
    ],
    [
      'processorDefaults.leaseSeconds',
      LIMITS.leaseSeconds,
      (v) => ({ processorDefaults: { leaseSeconds: v } }),
    ],
    [
      'processorDefaults.timeoutMs',
      LIMITS.handlerTimeoutMs,
      (v) => ({ processorDefaults: { timeoutMs: v } }),
    ],
    [
      'processorDefaults.maxAttempts',
      LIMITS.maxAttempts,
      (v) => ({ processorDefaults: { maxAttempts: v } }),
    ],
    [
      'processorDefaults.backoff.baseSeconds',
      LIMITS.backoffBaseSeconds,
      (v) => ({ processorDefaults: { backoff: { type: 'exponential', baseSeconds: v } } }),
    ],
    [
      'processorDefaults.backoff.maxSeconds',
      LIMITS.backoffMaxSeconds,
      (v) => ({ processorDefaults: { backoff: { type: 'exponential', maxSeconds: v } } }),
    ],
    [
      'processorDefaults.backoff.delaySeconds',
      LIMITS.delaySeconds,
      (v) => ({ processorDefaults: { backoff: { type: 'fixed', delaySeconds: v } } }),
    ],
  ];

describe.each(wholeNumberOptions)('%s', (option, bounds, options) => {
  it(`accepts ${bounds.min} and ${bounds.max}`, () => {
    expect(() => resolve(options(bounds.min))).not.toThrow();
    expect(() => resolve(options(bounds.max))).not.toThrow();
  });

  it(`refuses ${bounds.min - 1}, ${bounds.max + 1} and a fraction, naming the option`, () => {
    const below = optionsError(options(bounds.min - 1));
    expect(below.option).toBe(option);
    expect(below.rule).toContain(`must not be less than ${bounds.min}`);
    const above = optionsError(options(bounds.max + 1));
    expect(above.option).toBe(option);
    expect(above.rule).toContain(`must not be greater than ${bounds.max}`);
    expect(optionsError(options(bounds.min + 0.5)).rule).toContain('must be an integer');
  });
});

describe('retention days', () => {
  const { min, max } = LIMITS.retentionDays;

  it.each(['doneRetentionDays', 'failedRetentionDays', 'archiveRetentionDays'] as const)(
    'cleanup.%s takes fractions of days, up to the limit',
    (field) => {
      expect(resolve({ cleanup: { [field]: 0.5 } }).maintenance.cleanup).toBeTruthy();
      expect(() => resolve({ cleanup: { [field]: max } })).not.toThrow();
      expect(optionsError({ cleanup: { [field]: min - 1 } }).option).toBe(`cleanup.${field}`);
      expect(optionsError({ cleanup: { [field]: max + 1 } }).option).toBe(`cleanup.${field}`);
    },
  );

  it('QueueService.cleanup applies the same rule, as whole seconds', () => {
    expect(retentionSeconds(1.5, 'doneRetentionDays')).toBe(129_600);
    expect(retentionSeconds(false, 'doneRetentionDays')).toBeUndefined();
    for (const bad of [min - 1, max + 1, Number.NaN, '7']) {
      expect(() => retentionSeconds(bad, 'doneRetentionDays')).toThrow(QueueValidationError);
    }
  });
});

describe('a processor declaration', () => {
  it('takes every built-in default when neither it nor processorDefaults sets one', () => {
    expect(resolveProcessor('q', {}, {})).toEqual({
      ok: true,
      queue: 'q',
      options: {
        ...DEFAULT_PROCESSOR_OPTIONS,
        body: undefined,
        deadLetterQueue: undefined,
        shareQueue: false,
        transaction: false,
        removeOnComplete: false,
      },
    });
  });

  it('takes removeOnComplete from the processor, else from processorDefaults, else off', () => {
    expect(resolveProcessor('q', { removeOnComplete: true }, {})).toMatchObject({
      options: { removeOnComplete: true },
    });
    expect(resolveProcessor('q', {}, { removeOnComplete: true })).toMatchObject({
      options: { removeOnComplete: true },
    });
    expect(
      resolveProcessor('q', { removeOnComplete: false }, { removeOnComplete: true }),
    ).toMatchObject({ options: { removeOnComplete: false } });
    expect(resolveProcessor('q', { removeOnComplete: 'yes' as unknown as boolean }, {})).toEqual({
      ok: false,
      rule: expect.stringContaining('removeOnComplete') as unknown as string,
    });
  });

  it('keeps transaction: true, and leaves it off by default', () => {
    expect(resolveProcessor('q', { transaction: true }, {})).toMatchObject({
      ok: true,
      options: { transaction: true },
    });
    expect(resolveProcessor('q', {}, {})).toMatchObject({ options: { transaction: false } });
  });

  it('leases free slots only under flow limits, whatever the defaults say', () => {
    const resolved = resolveProcessor(
      'q',
      { groupConcurrency: 1, rateLimit: { max: 10, perSeconds: 2 } },
      { prefetch: 500 },
    );
    expect(resolved).toMatchObject({
      ok: true,
      options: {
        prefetch: 0,
        groupConcurrency: 1,
        globalConcurrency: undefined,
        rateLimit: { max: 10, perSeconds: 2, scope: 'queue' },
      },
    });
    expect(resolveProcessor('q', { globalConcurrency: 3, prefetch: 0 }, {})).toMatchObject({
      ok: true,
      options: { prefetch: 0, globalConcurrency: 3 },
    });
    expect(resolveProcessor('q', {}, { prefetch: 500 })).toMatchObject({
      ok: true,
      options: { prefetch: 500 },
    });
  });

  it('prefers its own options, then processorDefaults, then the built-in defaults', () => {
    const resolved = resolveProcessor(
      'q',
      { concurrency: 4, backoff: { type: 'exponential', baseSeconds: 2 } },
      { concurrency: 2, maxAttempts: 9, deadLetterQueue: 'dead' },
    );
    expect(resolved).toMatchObject({
      ok: true,
      options: {
        concurrency: 4,
        maxAttempts: 9,
        prefetch: 'auto',
        prefetchBytes: 16 * 1024 * 1024,
        deadLetterQueue: 'dead',
        backoff: { type: 'exponential', baseSeconds: 2, maxSeconds: 3600, jitter: true },
      },
    });
  });

  it.each([
    ['', {}, /queue name must not be empty/],
    ['q', { leaseSeconds: LIMITS.leaseSeconds.max + 1 }, /option "leaseSeconds"/],
    ['q', { maxAttempts: LIMITS.maxAttempts.max + 1 }, /option "maxAttempts"/],
    ['q', { deadLetterQueue: 'q' }, /must differ from the queue itself/],
    ['q', { prefetch: 'fast' as never }, /option "prefetch" must be an integer number, or 'auto'/],
    ['q', { prefetch: -1 }, /option "prefetch" must not be less than 0, or 'auto'/],
    ['q', { prefetchBytes: 1023 }, /option "prefetchBytes" must not be less than 1024/],
    ['q', { groupConcurrency: 0 }, /option "groupConcurrency" must not be less than 1/],
    ['q', { globalConcurrency: 1.5 }, /option "globalConcurrency" must be an integer/],
    ['q', { rateLimit: 'fast' as never }, /option "rateLimit" must be an object/],
    [
      'q',
      { rateLimit: { max: 0, perSeconds: 1 } },
      /option "rateLimit.max" must not be less than 1/,
    ],
    ['q', { rateLimit: { max: 5 } as never }, /option "rateLimit.perSeconds"/],
    [
      'q',
      { rateLimit: { max: 5, perSeconds: 1, scope: 'tenant' as never } },
      /option "rateLimit.scope"/,
    ],
    [
      'q',
      { globalConcurrency: 5, prefetch: 10 },
      /option "prefetch" must be 0 \(or unset\) with globalConcurrency, groupConcurrency or rateLimit/,
    ],
    ['q', { groupConcurrency: 1, prefetch: 'auto' }, /option "prefetch" must be 0/],
    ['q', { transaction: 'yes' as never }, /option "transaction" must be a boolean/],
  ] as const)('refuses queue %p with %p', (queue, options, rule) => {
    const resolved = resolveProcessor(queue, options, {});
    expect(resolved.ok).toBe(false);
    expect(resolved.ok ? '' : resolved.rule).toMatch(rule);
  });
});
