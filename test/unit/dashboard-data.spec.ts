import { describe, expect, it } from '@jest/globals';
import { resolveQueueConfig } from '../../src/config/resolve-queue-config.js';
import { QueueOptionsError, queueTableNames, type QueueModuleOptions } from '../../src/index.js';
import { type ProcessorInfo } from '../../src/interfaces/processor-message.interface.js';
import { msUntilNextSample } from '../../src/maintenance/sample-recorder.js';
import { retryFailedBatchSql } from '../../src/sql/operator.sql.js';
import { recordSamplesSql } from '../../src/sql/dashboard.sql.js';
import { toReplicaProcessors } from '../../src/store/dashboard-rows.js';
import { replicaProcessorsOf } from '../../src/workers/replica-heartbeat.js';
import { thrownBy } from '../support/thrown-by.js';

const URL = 'postgres://u:p@127.0.0.1:5432/db';

function resolve(options: Partial<QueueModuleOptions>) {
  return resolveQueueConfig({ connectionString: URL, ...options }, {});
}

describe('samples and heartbeat options', () => {
  it('default to on, 48 hours of samples and a beat every 10 s; enabled: false turns each off', () => {
    const config = resolve({});
    expect(config.samples).toEqual({ retentionHours: 48 });
    expect(config.heartbeat).toEqual({ intervalSeconds: 10 });
    const tuned = resolve({
      samples: { retentionHours: 720 },
      heartbeat: { intervalSeconds: 1 },
    });
    expect([tuned.samples, tuned.heartbeat]).toEqual([
      { retentionHours: 720 },
      { intervalSeconds: 1 },
    ]);
    const off = resolve({
      samples: { enabled: false },
      heartbeat: { enabled: false },
      workers: false,
    });
    expect([off.samples, off.heartbeat]).toEqual([false, false]);
  });

  it.each([
    [{ samples: { retentionHours: 0 } }, 'samples.retentionHours', 'must not be less than 1'],
    [
      { samples: { retentionHours: 721 } },
      'samples.retentionHours',
      'must not be greater than 720',
    ],
    [{ samples: { retentionHours: 1.5 } }, 'samples.retentionHours', 'integer'],
    [{ samples: { enabled: 'yes' } }, 'samples.enabled', 'boolean'],
    [{ samples: { every: 1 } }, 'samples.every', 'is not a known option'],
    [{ samples: true }, 'samples', 'object'],
    [{ heartbeat: { intervalSeconds: 0 } }, 'heartbeat.intervalSeconds', 'must not be less than 1'],
    [
      { heartbeat: { intervalSeconds: 301 } },
      'heartbeat.intervalSeconds',
      'must not be greater than 300',
    ],
  ])('refuses %j', (options, option, rule) => {
    const error = thrownBy(
      () => resolve(options as Partial<QueueModuleOptions>),
      QueueOptionsError,
    );
    expect(error.option).toBe(option);
    expect(error.rule).toContain(rule);
  });
});

describe('msUntilNextSample', () => {
  it('wakes the delay past the next whole minute, never at once', () => {
    const minute = Date.UTC(2026, 10, 30, 12, 0, 0);
    expect(msUntilNextSample(minute, 2_000)).toBe(2_000);
    expect(msUntilNextSample(minute + 1_000, 2_000)).toBe(1_000);
    expect(msUntilNextSample(minute + 2_000, 2_000)).toBe(60_000);
    expect(msUntilNextSample(minute + 2_001, 2_000)).toBe(59_999);
    expect(msUntilNextSample(minute + 59_999, 2_000)).toBe(2_001);
  });
});

function processor(overrides: Partial<ProcessorInfo>): ProcessorInfo {
  return {
    queue: 'q',
    handler: 'H.handle',
    options: { concurrency: 4 } as ProcessorInfo['options'],
    paused: false,
    pausedEverywhere: false,
    state: 'idle',
    inFlight: 1,
    ...overrides,
  } as ProcessorInfo;
}

describe('what a heartbeat says of the processors', () => {
  it('queue, concurrency, running, and paused by either pause; none without workers', () => {
    const processors = [
      processor({}),
      processor({ queue: 'r', paused: true, inFlight: 0 }),
      processor({ queue: 's', pausedEverywhere: true }),
    ];
    expect(replicaProcessorsOf(processors, true)).toEqual([
      { queue: 'q', concurrency: 4, running: 1, paused: false },
      { queue: 'r', concurrency: 4, running: 0, paused: true },
      { queue: 's', concurrency: 4, running: 1, paused: true },
    ]);
    expect(replicaProcessorsOf(processors, false)).toEqual([]);
  });

  it('reads a row written by another release field by field', () => {
    expect(toReplicaProcessors(null)).toEqual([]);
    expect(toReplicaProcessors({ queue: 'q' })).toEqual([]);
    expect(
      toReplicaProcessors([
        { queue: 'q', concurrency: 2, running: 1, paused: true, extra: 1 },
        { queue: 'r', concurrency: '2', running: -1 },
        { concurrency: 1 },
        'q',
        null,
      ]),
    ).toEqual([
      { queue: 'q', concurrency: 2, running: 1, paused: true },
      { queue: 'r', concurrency: 0, running: 0, paused: false },
    ]);
  });
});

describe('dashboard statements', () => {
  const names = queueTableNames('tenant_a', 'jobs');

  it('bind every value, and walk the dead letters by id past a cursor or at given ids', () => {
    const first = retryFailedBatchSql(names, 'q', { after: null, limit: 100 });
    expect(first.values).toEqual(['q', names.channel, 100]);
    expect(first.text).not.toContain('$4');
    expect(first.text).toContain('FOR UPDATE SKIP LOCKED');
    expect(first.planEachTime).toBe(true);
    const next = retryFailedBatchSql(names, 'q', { after: 'id-9', limit: 100 });
    expect(next.values).toEqual(['q', names.channel, 100, 'id-9']);
    expect(next.text).toContain('m.id > $4::text');
    const again = retryFailedBatchSql(names, 'q', { ids: ['a', 'b'] });
    expect(again.values).toEqual(['q', names.channel, ['a', 'b']]);
    expect(again.text).toContain('m.id = ANY ($3::text[])');
    const minute = new Date('2026-11-30T12:00:00Z');
    const samples = recordSamplesSql(names, minute);
    expect(samples.values).toEqual([minute]);
    expect(samples.text).toContain('INSERT INTO "tenant_a"."jobs_samples"');
    expect(samples.text).toContain('FROM "tenant_a"."jobs" AS m');
  });
});
