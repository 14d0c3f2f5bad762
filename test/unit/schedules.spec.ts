import { describe, expect, it } from '@jest/globals';
import { resolveQueueConfig } from '../../src/config/resolve-queue-config.js';
import { QueueOptionsError } from '../../src/errors/queue-options.error.js';
import { QueueValidationError } from '../../src/errors/queue-validation.error.js';
import { scheduledTickOf } from '../../src/index.js';
import {
  CronSchedule,
  latestTicks,
  planTicks,
  tickUniqueKey,
} from '../../src/schedule/cron-ticks.js';
import { resolveModuleSchedules, resolveSchedule } from '../../src/schedule/schedule-rules.js';
import { parseControlMessage } from '../../src/workers/control-message.js';
import { QueueProcessorError, RecurringMessage } from '../../src/index.js';
import { queueTableNames } from '../../src/config/identifier-rules.js';
import {
  RECURRING_MESSAGE_METADATA,
  type RecurringMessageMetadata,
} from '../../src/schedule/recurring-message-metadata.js';
import {
  advanceScheduleSql,
  claimDueScheduleSql,
  deleteScheduleSql,
  deleteUndeclaredSchedulesSql,
  nextScheduleDueSql,
  upsertScheduleSql,
} from '../../src/sql/schedules.sql.js';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();
const paths = { name: 'name', options: 'options' };
const MINUTE = 60_000;

/** Every tick from `from` (inclusive) while before `to`, as ISO strings in UTC. */
function ticks(schedule: CronSchedule, from: string, count: number): string[] {
  const out: string[] = [];
  for (
    let tick = schedule.firstFrom(at(from));
    out.length < count;
    tick = schedule.nextAfter(tick)
  ) {
    out.push(iso(tick));
  }
  return out;
}

describe('CronSchedule in Europe/Paris across daylight-saving changes', () => {
  it('fires a daily time that the spring change skips once, at the first instant after the gap', () => {
    // 2026-03-29: 02:00 CET becomes 03:00 CEST; 02:30 does not exist that day.
    const daily = new CronSchedule('30 2 * * *', 'Europe/Paris');
    expect(ticks(daily, '2026-03-28T00:00:00Z', 3)).toEqual([
      '2026-03-28T01:30:00.000Z', // 02:30 CET
      '2026-03-29T01:00:00.000Z', // 03:00 CEST, right after the gap
      '2026-03-30T00:30:00.000Z', // 02:30 CEST
    ]);
  });

  it('fires a daily time that the autumn change repeats once, not twice', () => {
    // 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:30 happens twice that night.
    const daily = new CronSchedule('30 2 * * *', 'Europe/Paris');
    expect(ticks(daily, '2026-10-24T12:00:00Z', 2)).toEqual([
      '2026-10-25T00:30:00.000Z', // 02:30 CEST, the first of the two
      '2026-10-26T01:30:00.000Z', // 02:30 CET the next day
    ]);
  });

  it('keeps an hourly schedule hourly in UTC through both changes', () => {
    const hourly = new CronSchedule('0 * * * *', 'Europe/Paris');
    expect(ticks(hourly, '2026-03-29T00:00:00Z', 3)).toEqual([
      '2026-03-29T00:00:00.000Z',
      '2026-03-29T01:00:00.000Z',
      '2026-03-29T02:00:00.000Z',
    ]);
    expect(ticks(hourly, '2026-10-24T23:30:00Z', 4)).toEqual([
      '2026-10-25T00:00:00.000Z', // 02:00 CEST
      '2026-10-25T01:00:00.000Z', // 02:00 CET
      '2026-10-25T02:00:00.000Z',
      '2026-10-25T03:00:00.000Z',
    ]);
  });

  it('reads a wall-clock time in its zone, and six fields with seconds first', () => {
    const weekdays = new CronSchedule('0 9 * * 1-5', 'America/New_York');
    // Friday 2026-03-06 after 09:00 EST; New York changes on Sunday 2026-03-08.
    expect(ticks(weekdays, '2026-03-06T20:00:00Z', 2)).toEqual([
      '2026-03-09T13:00:00.000Z', // Monday 09:00 EDT
      '2026-03-10T13:00:00.000Z',
    ]);
    const everySecond = new CronSchedule('* * * * * *', 'UTC');
    expect(everySecond.nextAfter(at('2026-01-01T00:00:00.400Z'))).toBe(at('2026-01-01T00:00:01Z'));
    expect(everySecond.nextAfter(at('2026-01-01T00:00:01Z'))).toBe(at('2026-01-01T00:00:02Z'));
    expect(everySecond.firstFrom(at('2026-01-01T00:00:01Z'))).toBe(at('2026-01-01T00:00:01Z'));
  });
});

describe('planTicks', () => {
  const hourly = new CronSchedule('0 * * * *', 'UTC');
  const everySecond = new CronSchedule('* * * * * *', 'UTC');
  const tolerance = 60_000;
  const once = { policy: 'once' } as const;

  it('enqueues nothing before the next tick', () => {
    const next = at('2026-01-01T10:00:00Z');
    expect(planTicks(hourly, next, next - 1, once, tolerance)).toEqual({
      ticks: [],
      next,
      behind: false,
    });
  });

  it('enqueues every tick of a late schedule whatever the policy: lag loses no tick', () => {
    const next = at('2026-01-01T10:00:00Z');
    const now = next + 2_500;
    for (const missed of [{ policy: 'skip' }, once, { policy: 'backfill', count: 1 }] as const) {
      const plan = planTicks(everySecond, next, now, missed, tolerance);
      expect(plan.ticks.map(iso)).toEqual([
        '2026-01-01T10:00:00.000Z',
        '2026-01-01T10:00:01.000Z',
        '2026-01-01T10:00:02.000Z',
      ]);
      expect(iso(plan.next)).toBe('2026-01-01T10:00:03.000Z');
      expect(plan.behind).toBe(false);
    }
    expect(planTicks(hourly, next, next, once, tolerance).ticks).toEqual([next]);
  });

  describe('a schedule behind since five hours ago (every replica down)', () => {
    const next = at('2026-01-01T05:00:00Z');
    const now = at('2026-01-01T10:30:00Z');
    const due = [5, 6, 7, 8, 9, 10].map((h) =>
      at(`2026-01-01T${String(h).padStart(2, '0')}:00:00Z`),
    );

    it("'skip' enqueues none and goes on from the next future tick", () => {
      expect(planTicks(hourly, next, now, { policy: 'skip' }, tolerance)).toEqual({
        ticks: [],
        next: at('2026-01-01T11:00:00Z'),
        behind: true,
      });
    });

    it("'once' enqueues one message, for the latest missed tick", () => {
      expect(planTicks(hourly, next, now, once, tolerance)).toEqual({
        ticks: [due.at(-1)],
        next: at('2026-01-01T11:00:00Z'),
        behind: true,
      });
    });

    it("'backfill' enqueues the latest n missed ticks, oldest first, or all when fewer", () => {
      expect(
        planTicks(hourly, next, now, { policy: 'backfill', count: 3 }, tolerance).ticks,
      ).toEqual(due.slice(-3));
      expect(
        planTicks(hourly, next, now, { policy: 'backfill', count: 50 }, tolerance).ticks,
      ).toEqual(due);
    });
  });

  it('finds the latest ticks of a year-long outage of an every-second schedule without walking it', () => {
    const next = at('2025-01-01T00:00:00Z');
    const now = at('2026-01-01T00:00:00.500Z');
    const started = performance.now();
    const plan = planTicks(everySecond, next, now, { policy: 'backfill', count: 5 }, tolerance);
    expect(plan.ticks.map(iso)).toEqual([
      '2025-12-31T23:59:56.000Z',
      '2025-12-31T23:59:57.000Z',
      '2025-12-31T23:59:58.000Z',
      '2025-12-31T23:59:59.000Z',
      '2026-01-01T00:00:00.000Z',
    ]);
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('latestTicks stops at the first tick allowed', () => {
    const from = at('2026-01-01T08:00:00Z');
    expect(latestTicks(hourly, from, at('2026-01-01T10:30:00Z'), 10).map(iso)).toEqual([
      '2026-01-01T08:00:00.000Z',
      '2026-01-01T09:00:00.000Z',
      '2026-01-01T10:00:00.000Z',
    ]);
    expect(latestTicks(hourly, from, from - MINUTE, 3)).toEqual([]);
    expect(latestTicks(hourly, from, from, 0)).toEqual([]);
  });
});

describe('tick keys', () => {
  it('carry the schedule and its tick, read back by scheduledTickOf', () => {
    const key = tickUniqueKey('reports:nightly', at('2026-03-29T01:00:00Z'));
    expect(key).toBe('schedule:reports:nightly:1774746000');
    expect(scheduledTickOf({ uniqueKey: key })).toEqual({
      schedule: 'reports:nightly',
      tickAt: new Date('2026-03-29T01:00:00Z'),
    });
    for (const other of [null, 'order-42', 'schedule:', 'schedule::1', 'schedule:x:12a']) {
      expect(scheduledTickOf({ uniqueKey: other })).toBeNull();
    }
  });

  it('are control messages when a schedule changes', () => {
    expect(parseControlMessage('{"schedules":"nightly"}')).toEqual({
      kind: 'schedules',
      name: 'nightly',
    });
  });
});

describe('resolveSchedule', () => {
  const base = { queue: 'reports', cron: '0 9 * * 1-5' };

  it('defaults the time zone, body and policy, and keeps the enqueue options', () => {
    expect(resolveSchedule('r', base, paths, 1024)).toEqual({
      name: 'r',
      queue: 'reports',
      cron: '0 9 * * 1-5',
      timeZone: 'UTC',
      bodyJson: 'null',
      priority: 0,
      groupKey: null,
      delaySeconds: 0,
      missed: 'once',
      backfill: null,
    });
    expect(
      resolveSchedule(
        'r',
        {
          ...base,
          timeZone: 'Europe/Paris',
          body: { kind: 'daily' },
          enqueueOptions: { priority: 5, groupKey: 'g', delaySeconds: 3 },
          missed: { backfill: 4 },
        },
        paths,
        1024,
      ),
    ).toMatchObject({
      timeZone: 'Europe/Paris',
      bodyJson: '{"kind":"daily"}',
      priority: 5,
      groupKey: 'g',
      delaySeconds: 3,
      missed: 'backfill',
      backfill: 4,
    });
  });

  it.each([
    [{ ...base, cron: '61 * * * *' }, 'options.cron', /valid cron expression/],
    [{ ...base, cron: '* * * *' }, 'options.cron', /./],
    [{ ...base, cron: '' }, 'options.cron', /cron expression/],
    [{ ...base, cron: '0 0 30 2 *' }, 'options.cron', /match some date/],
    [{ ...base, timeZone: 'Mars/Olympus_Mons' }, 'options.timeZone', /IANA time zone/],
    [{ ...base, timeZone: '' }, 'options.timeZone', /IANA time zone/],
    [{ ...base, queue: '' }, 'options.queue', /must not be empty/],
    [{ ...base, body: { n: Number.NaN } }, 'options.body.n', /finite number/],
    [{ ...base, missed: 'twice' }, 'options.missed', /'skip', 'once' or \{ backfill: n \}/],
    [{ ...base, missed: { backfill: 0 } }, 'options.missed.backfill', /at least 1/],
    [{ ...base, missed: { backfill: 1001 } }, 'options.missed.backfill', /at most 1000/],
    [
      { ...base, enqueueOptions: { uniqueKey: 'k' } },
      'options.enqueueOptions.uniqueKey',
      /schedule's own/,
    ],
    [{ ...base, enqueueOptions: { priority: -1 } }, 'options.enqueueOptions.priority', /negative/],
  ])('refuses %j naming %s', (options, field, rule) => {
    let caught: unknown;
    try {
      resolveSchedule('r', options as never, paths, 1024);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(QueueValidationError);
    expect(caught).toMatchObject({ field, rule: expect.stringMatching(rule) });
  });

  it('refuses a bad name, and a body over maxBodyBytes', () => {
    expect(() => resolveSchedule(' r', base, paths, 1024)).toThrow(
      expect.objectContaining({ field: 'name' }),
    );
    expect(() => resolveSchedule('r', { ...base, body: 'x'.repeat(2000) }, paths, 1024)).toThrow(
      QueueValidationError,
    );
  });
});

describe('the schedules module option', () => {
  const resolve = (schedules: unknown) => {
    const config = resolveQueueConfig({
      connectionString: 'postgres://u@h/db',
      schedules,
    } as never);
    return { schedules: resolveModuleSchedules(config.schedules, config.maxBodyBytes) };
  };

  it('is checked at boot, each error naming the schedule by its index', () => {
    expect(resolve([{ name: 'a', queue: 'q', cron: '* * * * *' }]).schedules).toHaveLength(1);
    expect(resolve(undefined).schedules).toEqual([]);
    expect(() => resolve([{ name: 'a', queue: 'q', cron: 'nope' }])).toThrow(
      expect.objectContaining({ option: 'schedules[0].cron' }),
    );
    expect(() =>
      resolve([
        { name: 'a', queue: 'q', cron: '* * * * *' },
        { name: 'a', queue: 'q', cron: '0 * * * *' },
      ]),
    ).toThrow(expect.objectContaining({ option: 'schedules[1].name' }));
    expect(() =>
      resolve([{ name: 'a', queue: 'q', cron: '* * * * *', timeZone: 'Nowhere' }]),
    ).toThrow(QueueOptionsError);
    expect(() => resolve('daily')).toThrow(QueueOptionsError);
  });
});

describe('@RecurringMessage', () => {
  it('stores each declaration on the method, in order', () => {
    class Reports {
      @RecurringMessage('a', { cron: '0 * * * *' })
      @RecurringMessage('b', { cron: '0 0 * * *', queue: 'q' })
      run(): void {}
    }
    const method: unknown = Object.getOwnPropertyDescriptor(Reports.prototype, 'run')?.value;
    const declared = Reflect.getMetadata(
      RECURRING_MESSAGE_METADATA,
      method as object,
    ) as RecurringMessageMetadata[];
    expect(declared.map((d) => d.name).sort()).toEqual(['a', 'b']);
    expect(declared.find((d) => d.name === 'b')!.options).toEqual({
      cron: '0 0 * * *',
      queue: 'q',
    });
  });

  it('refuses anything but a method', () => {
    const decorate = RecurringMessage('x', { cron: '* * * * *' });
    expect(() => decorate(class {}.prototype, 'field', {})).toThrow(QueueProcessorError);
  });
});

describe('the schedule statements', () => {
  const names = queueTableNames('tenant_a', 'jobs');
  const hostile = "x'); DROP TABLE jobs; --";
  const definition = {
    name: hostile,
    queue: hostile,
    cron: hostile,
    timeZone: hostile,
    bodyJson: JSON.stringify(hostile),
    priority: 0,
    groupKey: hostile,
    delaySeconds: 0,
    missed: 'once',
    backfill: null,
  } as const;

  it('bind every value as a typed parameter and name only the schedules table', () => {
    for (const statement of [
      upsertScheduleSql(names, definition, { source: 'code', owner: hostile }, 0),
      deleteScheduleSql(names, hostile),
      deleteUndeclaredSchedulesSql(names, hostile, [hostile]),
      claimDueScheduleSql(names, [hostile]),
      advanceScheduleSql(names, hostile, 0, null),
      nextScheduleDueSql(names, [hostile]),
    ]) {
      expect(statement.text).not.toContain('DROP');
      expect(statement.text).toContain('"tenant_a"."jobs_schedules"');
      expect(statement.text).not.toMatch(/"tenant_a"\."jobs"(?!_)/);
      const used = new Set([...statement.text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
      expect(used.size).toBe(statement.values.length);
    }
  });

  it('claim one due row, skipping those locked elsewhere', () => {
    const { text } = claimDueScheduleSql(names, []);
    expect(text).toMatch(/next_tick_at <= now\(\)/);
    expect(text).toMatch(/LIMIT 1\s+FOR UPDATE SKIP LOCKED$/);
  });
});
