import {
  type MissedTicksPolicy,
  type ScheduleEnqueueOptions,
  type ScheduleInfo,
} from '../interfaces/schedule-options.interface.js';
import { type ScheduleDefinition } from '../sql/schedules.sql.js';

/** A row of `<table>_schedules` as `listSchedulesSql` and `claimDueSchedulesSql` read it. */
export interface ScheduleRow {
  readonly name: string;
  readonly queue: string;
  readonly cron: string;
  readonly time_zone: string;
  readonly body: unknown;
  readonly priority: number;
  readonly group_key: string | null;
  readonly delay_seconds: number;
  readonly missed: 'skip' | 'once' | 'backfill';
  readonly backfill: number | null;
  readonly source: 'code' | 'api';
  readonly next_ms: number;
  readonly last_ms: number | null;
  readonly created_ms: number;
  readonly updated_ms: number;
}

/** A due schedule, locked by the transaction that read it. */
export interface DueScheduleRow extends ScheduleRow {
  readonly body_json: string;
  /** The database's clock at the transaction's start. */
  readonly now_ms: number;
}

export function toScheduleInfo<T>(row: ScheduleRow): ScheduleInfo<T> {
  const enqueueOptions: ScheduleEnqueueOptions = {
    ...(row.delay_seconds === 0 ? {} : { delaySeconds: row.delay_seconds }),
    ...(row.priority === 0 ? {} : { priority: row.priority }),
    ...(row.group_key === null ? {} : { groupKey: row.group_key }),
  };
  const missed: MissedTicksPolicy =
    row.missed === 'backfill' ? { backfill: row.backfill ?? 1 } : row.missed;
  return {
    name: row.name,
    queue: row.queue,
    cron: row.cron,
    timeZone: row.time_zone,
    body: row.body as T,
    enqueueOptions,
    missed,
    source: row.source,
    nextTickAt: new Date(row.next_ms),
    lastTickAt: row.last_ms === null ? null : new Date(row.last_ms),
    createdAt: new Date(row.created_ms),
    updatedAt: new Date(row.updated_ms),
  };
}

/** The definition a due row holds, as the scheduler plans and enqueues it. */
export function toScheduleDefinition(row: DueScheduleRow): ScheduleDefinition {
  return {
    name: row.name,
    queue: row.queue,
    cron: row.cron,
    timeZone: row.time_zone,
    bodyJson: row.body_json,
    priority: row.priority,
    groupKey: row.group_key,
    delaySeconds: row.delay_seconds,
    missed: row.missed,
    backfill: row.backfill,
  };
}
