import { QueueOptionsError } from '../errors/queue-options.error.js';
import { serializeBody } from '../body/serialize-body.js';
import {
  assertKey,
  assertOptionsObject,
  assertQueueName,
  assertWholeNumber,
} from '../config/argument-rules.js';
import { DEFAULT_MISSED_TICKS, DEFAULT_SCHEDULE_TIME_ZONE } from '../config/defaults.js';
import { LIMITS } from '../config/limits.js';
import { QueueValidationError } from '../errors/queue-validation.error.js';
import {
  type MissedTicksPolicy,
  type ScheduleDeclaration,
  type ScheduleEnqueueOptions,
  type ScheduleOptions,
} from '../interfaces/schedule-options.interface.js';
import { type ScheduleDefinition } from '../sql/schedules.sql.js';
import { CronSchedule, type MissedRule } from './cron-ticks.js';

/** Where a schedule's fields are named in errors: `name`, `options.cron` or `schedules[0].cron`. */
export interface SchedulePaths {
  readonly name: string;
  /** Prefix of the other fields, e.g. `options` or `schedules[0]`. */
  readonly options: string;
}

const ENQUEUE_OPTIONS = new Set(['delaySeconds', 'priority', 'groupKey']);

/**
 * Checks a schedule and returns it as stored. Every failure is a {@link QueueValidationError}
 * naming the field: a cron expression the `cron` package cannot read or that matches no date in
 * the next years, a time zone that is not an IANA zone, a body that is not JSON, an enqueue
 * option a schedule cannot have (its unique key is its own).
 *
 * @param now where "matches some date" is counted from (epoch ms).
 */
export function resolveSchedule(
  name: unknown,
  options: ScheduleOptions,
  paths: SchedulePaths,
  maxBodyBytes: number,
  now: number = Date.now(),
): ScheduleDefinition {
  assertQueueName(name, paths.name);
  const o = assertOptionsObject(options, paths.options);
  const field = (key: string) => `${paths.options}.${key}`;
  const queue = assertQueueName(o.queue, field('queue'));
  const timeZone = assertTimeZone(o.timeZone ?? DEFAULT_SCHEDULE_TIME_ZONE, field('timeZone'));
  const cron = assertCron(o.cron, timeZone, field('cron'), now);
  const bodyJson = serializeBody(o.body ?? null, field('body'), maxBodyBytes);
  const enqueue = assertOptionsObject<ScheduleEnqueueOptions>(
    o.enqueueOptions,
    field('enqueueOptions'),
  );
  for (const key of Object.keys(enqueue)) {
    if (!ENQUEUE_OPTIONS.has(key)) {
      throw new QueueValidationError(
        field(`enqueueOptions.${key}`),
        key.startsWith('unique')
          ? "is the schedule's own: each tick's message has the unique key schedule:<name>:<tick epoch seconds>"
          : 'is not an option of a scheduled message (delaySeconds, priority, groupKey)',
      );
    }
  }
  const { delaySeconds = 0, priority = 0, groupKey } = enqueue;
  assertWholeNumber(delaySeconds, field('enqueueOptions.delaySeconds'), LIMITS.delaySeconds);
  assertWholeNumber(priority, field('enqueueOptions.priority'), LIMITS.priority);
  if (groupKey !== undefined) assertKey(groupKey, field('enqueueOptions.groupKey'));
  const missed = missedRuleOf(o.missed ?? DEFAULT_MISSED_TICKS, field('missed'));
  return Object.freeze({
    name: name as string,
    queue,
    cron,
    timeZone,
    bodyJson,
    priority,
    groupKey: groupKey ?? null,
    delaySeconds,
    missed: missed.policy,
    backfill: missed.policy === 'backfill' ? missed.count : null,
  });
}

function assertTimeZone(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new QueueValidationError(field, 'must be an IANA time zone name, e.g. Europe/Paris');
  }
  try {
    new CronSchedule('* * * * *', value);
  } catch {
    throw new QueueValidationError(
      field,
      `must be an IANA time zone name, e.g. Europe/Paris (got ${JSON.stringify(value)})`,
    );
  }
  return value;
}

function assertCron(value: unknown, timeZone: string, field: string, now: number): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new QueueValidationError(
      field,
      'must be a cron expression of 5 fields, or 6 with seconds first (e.g. "0 9 * * 1-5")',
    );
  }
  let schedule: CronSchedule;
  try {
    schedule = new CronSchedule(value, timeZone);
  } catch (error) {
    throw new QueueValidationError(
      field,
      `must be a valid cron expression (${error instanceof Error ? error.message : 'unreadable'})`,
    );
  }
  const fields = value.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6) {
    throw new QueueValidationError(
      field,
      `must have 5 fields, or 6 with seconds first (got ${fields})`,
    );
  }
  try {
    schedule.nextAfter(now);
  } catch {
    throw new QueueValidationError(field, 'must match some date in the next years');
  }
  return value;
}

/** The stored form of a `missed` option, checked. */
export function missedRuleOf(value: MissedTicksPolicy, field: string): MissedRule {
  if (value === 'skip' || value === 'once') return { policy: value };
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === 'backfill') {
      return {
        policy: 'backfill',
        count: assertWholeNumber(value.backfill, `${field}.backfill`, LIMITS.backfillTicks),
      };
    }
  }
  throw new QueueValidationError(field, "must be 'skip', 'once' or { backfill: n }");
}

/** The rule a stored schedule's `missed` and `backfill` columns say. */
export function storedMissedRule(definition: ScheduleDefinition): MissedRule {
  return definition.missed === 'backfill'
    ? { policy: 'backfill', count: definition.backfill ?? 1 }
    : { policy: definition.missed };
}

/**
 * The module option `schedules`, checked: each error a `QueueOptionsError` naming the schedule
 * by its index (`schedules[2].cron`), as the other options' errors do.
 */
export function resolveModuleSchedules(
  declared: readonly ScheduleDeclaration[],
  maxBodyBytes: number,
): readonly ScheduleDefinition[] {
  const seen = new Set<string>();
  const schedules = declared.map((declaration, index) => {
    const path = `schedules[${index}]`;
    let definition: ScheduleDefinition;
    try {
      if (declaration === null || typeof declaration !== 'object') {
        throw new QueueValidationError(path, 'must be an object');
      }
      definition = resolveSchedule(
        declaration.name,
        declaration,
        { name: `${path}.name`, options: path },
        maxBodyBytes,
      );
    } catch (error) {
      if (error instanceof QueueValidationError)
        throw new QueueOptionsError(error.field, error.rule);
      throw error;
    }
    if (seen.has(definition.name)) {
      throw new QueueOptionsError(
        `${path}.name`,
        `must be unique (${definition.name} is declared twice)`,
      );
    }
    seen.add(definition.name);
    return definition;
  });
  return Object.freeze(schedules);
}
