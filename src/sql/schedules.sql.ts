import { type SqlStatement } from './sql-statement.js';
import { type QueueTableNames } from './table-names.js';

/*
 * Statements of recurring messages, on `<table>_schedules`. Times travel as epoch milliseconds
 * (`float8`), computed by the caller from the database's clock; the cron arithmetic is done in
 * the application, between the statements of one transaction. Every change a running scheduler
 * must hear of sends `{"schedules": name}` on the table's control channel.
 */

/** A schedule as validated: what a row holds apart from its ticks and bookkeeping. */
export interface ScheduleDefinition {
  readonly name: string;
  readonly queue: string;
  readonly cron: string;
  readonly timeZone: string;
  /** The body as JSON text. */
  readonly bodyJson: string;
  readonly priority: number;
  readonly groupKey: string | null;
  readonly delaySeconds: number;
  readonly missed: 'skip' | 'once' | 'backfill';
  /** For `missed: 'backfill'`: how many of the latest missed ticks; null otherwise. */
  readonly backfill: number | null;
}

/** Who wrote a row, and for `code` which application (its `applicationName`). */
export interface ScheduleOrigin {
  readonly source: 'code' | 'api';
  readonly owner: string | null;
}

const MS = (column: string) => `(extract(epoch from ${column}) * 1000)::float8`;

/** The database's clock: `now_ms`. */
export function databaseNowSql(): SqlStatement {
  return { text: `SELECT ${MS('now()')} AS now_ms`, values: [] };
}

/**
 * Inserts or replaces the schedule `name`. A row that keeps its cron expression and time zone
 * keeps its `next_tick_at` (a redeploy must not move or repeat a tick); a new one, or one whose
 * expression changed, gets `$nextMs`, computed from the database's clock. `updated_at` moves only
 * when the definition changed. Returns the row's name (the notification sent).
 */
export function upsertScheduleSql(
  t: QueueTableNames,
  definition: ScheduleDefinition,
  origin: ScheduleOrigin,
  nextMs: number,
): SqlStatement {
  const d = definition;
  return {
    text: `INSERT INTO ${t.qualifiedSchedules} AS s
  (name, queue, cron, time_zone, body, priority, group_key, delay_seconds, missed, backfill, source, owner, next_tick_at)
VALUES ($1::text, $2::text, $3::text, $4::text, $5::jsonb, $6::integer, $7::text, $8::integer, $9::text, $10::integer, $11::text, $12::text, to_timestamp($13::float8 / 1000))
ON CONFLICT (name) DO UPDATE SET
  queue = EXCLUDED.queue, cron = EXCLUDED.cron, time_zone = EXCLUDED.time_zone, body = EXCLUDED.body,
  priority = EXCLUDED.priority, group_key = EXCLUDED.group_key, delay_seconds = EXCLUDED.delay_seconds,
  missed = EXCLUDED.missed, backfill = EXCLUDED.backfill, source = EXCLUDED.source, owner = EXCLUDED.owner,
  next_tick_at = CASE WHEN s.cron = EXCLUDED.cron AND s.time_zone = EXCLUDED.time_zone
    THEN s.next_tick_at ELSE EXCLUDED.next_tick_at END,
  updated_at = CASE WHEN (s.queue, s.cron, s.time_zone, s.body, s.priority, s.group_key, s.delay_seconds, s.missed, s.backfill, s.source, s.owner)
      IS NOT DISTINCT FROM (EXCLUDED.queue, EXCLUDED.cron, EXCLUDED.time_zone, EXCLUDED.body, EXCLUDED.priority, EXCLUDED.group_key, EXCLUDED.delay_seconds, EXCLUDED.missed, EXCLUDED.backfill, EXCLUDED.source, EXCLUDED.owner)
    THEN s.updated_at ELSE now() END
RETURNING s.name, pg_notify($14::text, json_build_object('schedules', s.name)::text) AS notified`,
    values: [
      d.name,
      d.queue,
      d.cron,
      d.timeZone,
      d.bodyJson,
      d.priority,
      d.groupKey,
      d.delaySeconds,
      d.missed,
      d.backfill,
      origin.source,
      origin.owner,
      nextMs,
      t.controlChannel,
    ],
  };
}

/** Deletes the schedule `name`; returns its name when it existed (the notification sent). */
export function deleteScheduleSql(t: QueueTableNames, name: string): SqlStatement {
  return {
    text: `DELETE FROM ${t.qualifiedSchedules} WHERE name = $1::text
RETURNING name, pg_notify($2::text, json_build_object('schedules', name)::text) AS notified`,
    values: [name, t.controlChannel],
  };
}

/**
 * Deletes the schedules `owner` declared in code at an earlier boot and declares no longer (not
 * in `names`); those of the API and of other applications stay. Returns their names.
 */
export function deleteUndeclaredSchedulesSql(
  t: QueueTableNames,
  owner: string,
  names: readonly string[],
): SqlStatement {
  return {
    text: `DELETE FROM ${t.qualifiedSchedules}
WHERE source = 'code' AND owner = $1::text AND NOT (name = ANY ($2::text[]))
RETURNING name, pg_notify($3::text, json_build_object('schedules', name)::text) AS notified`,
    values: [owner, names, t.controlChannel],
  };
}

/** The columns a schedule is listed with (the store's `ScheduleRow`). */
const SCHEDULE_COLUMNS = `name, queue, cron, time_zone, body, priority, group_key, delay_seconds, missed, backfill, source,
  ${MS('next_tick_at')} AS next_ms, ${MS('last_tick_at')} AS last_ms, ${MS('created_at')} AS created_ms, ${MS('updated_at')} AS updated_ms`;

/** Every schedule of the table, by name. */
export function listSchedulesSql(t: QueueTableNames): SqlStatement {
  return {
    text: `SELECT ${SCHEDULE_COLUMNS} FROM ${t.qualifiedSchedules} ORDER BY name`,
    values: [],
  };
}

/**
 * Locks the earliest due schedule that no other replica holds (and that is not in `excluded`),
 * and returns it with the database's clock (`now_ms`, the transaction's start). A row another
 * replica locked is skipped, not waited for: that replica is enqueueing its ticks, and by the
 * time this one looks again it has moved `next_tick_at` on. Under READ COMMITTED a row updated
 * and committed since this statement's snapshot is checked again in its new version, so a tick
 * another replica just enqueued is not due any more. One schedule per transaction, so that the
 * replicas share a burst of due schedules and one that fails holds back no other.
 */
export function claimDueScheduleSql(t: QueueTableNames, excluded: readonly string[]): SqlStatement {
  return {
    text: `SELECT ${SCHEDULE_COLUMNS}, body::text AS body_json, ${MS('now()')} AS now_ms
FROM ${t.qualifiedSchedules}
WHERE next_tick_at <= now() AND NOT (name = ANY ($1::text[]))
ORDER BY next_tick_at
LIMIT 1
FOR UPDATE SKIP LOCKED`,
    values: [excluded],
  };
}

/** Moves a claimed schedule on to its next tick, and records the latest tick it enqueued. */
export function advanceScheduleSql(
  t: QueueTableNames,
  name: string,
  nextMs: number,
  lastTickMs: number | null,
): SqlStatement {
  return {
    text: `UPDATE ${t.qualifiedSchedules}
SET next_tick_at = to_timestamp($2::float8 / 1000),
    last_tick_at = COALESCE(to_timestamp($3::float8 / 1000), last_tick_at)
WHERE name = $1::text`,
    values: [name, nextMs, lastTickMs],
  };
}

/**
 * Milliseconds from the database's now to the earliest `next_tick_at` of the schedules not in
 * `excluded` (negative when one is due; NULL when there is none): how long a replica may sleep.
 */
export function nextScheduleDueSql(t: QueueTableNames, excluded: readonly string[]): SqlStatement {
  return {
    text: `SELECT (extract(epoch from (SELECT min(next_tick_at) FROM ${t.qualifiedSchedules} WHERE NOT (name = ANY ($1::text[]))) - now()) * 1000)::float8 AS due_in_ms`,
    values: [excluded],
  };
}

/**
 * What a schedule enqueues (its queue, body as JSON text, priority and group), read to run it
 * once now (`QueueService.runScheduleNow`); no row when the name is unknown. It neither locks
 * nor moves the row: the next tick stays where it is.
 */
export function scheduleToRunSql(t: QueueTableNames, name: string): SqlStatement {
  return {
    text: `SELECT queue, body::text AS body_json, priority, group_key FROM ${t.qualifiedSchedules} WHERE name = $1::text`,
    values: [name],
  };
}
