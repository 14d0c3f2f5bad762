import { type SqlStatement } from './sql-statement.js';
import { type QueueTableNames } from './table-names.js';

/*
 * The dashboard's own tables (see `1795588800000-add-dashboard-tables.ts`): per-minute samples
 * of each queue, and the replicas' heartbeats. Every time here is the database's clock, so
 * replicas whose clocks drift agree on which minute it is and on who is alive.
 */

/** The minute that just closed, as a sample names it: the start of the database's current minute. */
const THIS_MINUTE = "date_trunc('minute', now())";

/**
 * Claims the minute that just closed for this replica: a row of `<table>_sample_minutes`. Only
 * the replica whose insert returns the minute samples it; the others find it taken (ON CONFLICT
 * DO NOTHING). Sent on its own, committed at once, so that another replica's claim waits for a
 * one-row insert, never for the scan that follows.
 */
export function claimSampleMinuteSql(t: QueueTableNames): SqlStatement {
  return {
    text: `INSERT INTO ${t.qualifiedSampleMinutes} (minute) VALUES (${THIS_MINUTE})
ON CONFLICT (minute) DO NOTHING
RETURNING minute`,
    values: [],
  };
}

/** Gives a claimed minute back, when its sample failed: another replica may sample it. */
export function releaseSampleMinuteSql(t: QueueTableNames, minute: Date): SqlStatement {
  return {
    text: `DELETE FROM ${t.qualifiedSampleMinutes} WHERE minute = $1::timestamptz`,
    values: [minute],
  };
}

/**
 * One row per queue of the table for minute `$1` (claimed by `claimSampleMinuteSql`): its
 * messages by state now, those enqueued during the minute before `$1` (`created_at`, epoch
 * seconds), and those that left the active states (ready, leased) during it.
 *
 * No statement stamps the end of a message (the Python backend's ack sets only `state`, and
 * stamping ours would cost the hot path a column write), so what left is counted by
 * conservation: enqueued during the minute, plus the active messages of the sample before, minus
 * the active messages now. It counts every worker's acks, the Python backend's too, and is
 * untouched by the cleanup, which deletes only ended messages. It is NULL when the minute before
 * was not sampled (every replica down), rather than a guess; a dead letter moved into a queue
 * adds to that queue's active messages without being enqueued there, so its rate out is a lower
 * bound (never below 0).
 *
 * One full scan of the queue table, grouped by queue, once per minute for the whole cluster (not
 * per replica): 365 ms on a table of 1,000,000 rows (PostgreSQL 15, 2 cores), growing with the
 * table, the price of counts that are exact. A queue appears while it has a row in any state; one whose
 * rows were all cleaned up has no sample (its chart ends).
 */
export function recordSamplesSql(t: QueueTableNames, minute: Date): SqlStatement {
  const from = `$1::timestamptz - interval '1 minute'`;
  return {
    text: `WITH now_counts AS (
  SELECT m.queue,
    count(*) FILTER (WHERE m.state = 'ready') AS ready,
    count(*) FILTER (WHERE m.state = 'leased') AS leased,
    count(*) FILTER (WHERE m.state = 'failed') AS failed,
    count(*) FILTER (WHERE m.state = 'done') AS done,
    count(*) FILTER (WHERE m.state = 'cancelled') AS cancelled,
    count(*) FILTER (WHERE m.created_at >= extract(epoch FROM ${from})
                       AND m.created_at < extract(epoch FROM $1::timestamptz)) AS enqueued
  FROM ${t.qualified} AS m
  GROUP BY m.queue
), before AS (
  SELECT s.queue, s.ready + s.leased AS active FROM ${t.qualifiedSamples} AS s
  WHERE s.minute = ${from}
)
INSERT INTO ${t.qualifiedSamples}
  (minute, queue, ready, leased, failed, done, cancelled, enqueued, completed)
SELECT $1::timestamptz, c.queue, c.ready, c.leased, c.failed, c.done, c.cancelled, c.enqueued,
  CASE WHEN EXISTS (SELECT FROM ${t.qualifiedSampleMinutes} WHERE minute = ${from})
    THEN greatest(0, c.enqueued + coalesce(b.active, 0) - (c.ready + c.leased)) END
FROM now_counts AS c LEFT JOIN before AS b ON b.queue = c.queue`,
    values: [minute],
  };
}

/**
 * Deletes the samples of up to `$2` minutes older than `$1` hours, and their claims. Run by the
 * replica that sampled, after its sample: each run finds about one minute to delete, by the
 * primary keys; a retention just shortened is caught up `$2` minutes per minute.
 */
export function deleteOldSamplesSql(
  t: QueueTableNames,
  retentionHours: number,
  minutes: number,
): SqlStatement {
  return {
    text: `WITH old AS MATERIALIZED (
  SELECT minute FROM ${t.qualifiedSampleMinutes}
  WHERE minute < now() - $1::integer * interval '1 hour'
  ORDER BY minute LIMIT $2::integer
), samples AS (
  DELETE FROM ${t.qualifiedSamples} AS s USING old WHERE s.minute = old.minute
)
DELETE FROM ${t.qualifiedSampleMinutes} AS c USING old WHERE c.minute = old.minute`,
    values: [retentionHours, minutes],
  };
}

/** The samples of the last `sinceMinutes` minutes, of every queue or of `queue`, by minute then queue. */
export function listSamplesSql(
  t: QueueTableNames,
  sinceMinutes: number,
  queue: string | undefined,
): SqlStatement {
  return {
    text: `SELECT minute, queue, ready, leased, failed, done, cancelled, enqueued, completed
FROM ${t.qualifiedSamples}
WHERE minute >= ${THIS_MINUTE} - $1::integer * interval '1 minute'${queue === undefined ? '' : ' AND queue = $2::text'}
ORDER BY minute, queue`,
    values: queue === undefined ? [sinceMinutes] : [sinceMinutes, queue],
  };
}

/** What one heartbeat writes. */
export interface ReplicaBeat {
  readonly id: string;
  readonly applicationName: string;
  readonly hostname: string;
  readonly pid: number;
  readonly heartbeatSeconds: number;
  /** JSON array of `ReplicaProcessor`. */
  readonly processorsJson: string;
}

/**
 * Upserts this process's row (its start is the first beat's time) and deletes the rows of
 * replicas unheard of for `forgetSeconds` (a pod killed without its shutdown hook). The table
 * holds one row per running process: the delete costs nothing.
 */
export function replicaBeatSql(
  t: QueueTableNames,
  beat: ReplicaBeat,
  forgetSeconds: number,
): SqlStatement {
  return {
    text: `WITH gone AS (
  DELETE FROM ${t.qualifiedReplicas}
  WHERE last_seen_at < now() - $7::integer * interval '1 second' AND id <> $1::uuid
)
INSERT INTO ${t.qualifiedReplicas} AS r
  (id, application_name, hostname, pid, started_at, last_seen_at, heartbeat_seconds, processors)
VALUES ($1::uuid, $2::text, $3::text, $4::integer, now(), now(), $5::integer, $6::jsonb)
ON CONFLICT (id) DO UPDATE
SET last_seen_at = now(), heartbeat_seconds = EXCLUDED.heartbeat_seconds,
    processors = EXCLUDED.processors`,
    values: [
      beat.id,
      beat.applicationName,
      beat.hostname,
      beat.pid,
      beat.heartbeatSeconds,
      beat.processorsJson,
      forgetSeconds,
    ],
  };
}

export function deleteReplicaSql(t: QueueTableNames, id: string): SqlStatement {
  return { text: `DELETE FROM ${t.qualifiedReplicas} WHERE id = $1::uuid`, values: [id] };
}

/**
 * The replicas heard of within their last three heartbeat intervals (each row carries its
 * writer's interval): one late beat under load is not a death, three are.
 */
export function listReplicasSql(t: QueueTableNames): SqlStatement {
  return {
    text: `SELECT id, application_name, hostname, pid, started_at, last_seen_at, processors
FROM ${t.qualifiedReplicas}
WHERE last_seen_at >= now() - 3 * heartbeat_seconds * interval '1 second'
ORDER BY application_name, hostname, pid, id`,
    values: [],
  };
}
