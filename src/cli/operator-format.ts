import { type MigrationPreview, type RecordedStatement } from '../database/migration-preview.js';
import { type QueueMessageDetail } from '../interfaces/message-detail.interface.js';
import { MESSAGE_STATES, type QueueMessage } from '../interfaces/queue-message.interface.js';
import { type CancelResult } from '../interfaces/queue-control.interface.js';
import { type QueueDepth, type QueueStats } from '../interfaces/queue-stats.interface.js';
import { type ScheduleInfo } from '../interfaces/schedule-options.interface.js';
import { formatAge } from '../text/format-age.js';

/*
 * What the operator commands print; pure, so every line is a unit test. Text is for a person at
 * a terminal (aligned columns, ages); `--json` prints the same facts as data.
 */

/** A time and how far it is from `now`: `2026-11-30T12:00:00Z (5m 3s ago)`, `(in 2h 0m)`. */
export function formatTime(time: Date, now: Date): string {
  const iso = time.toISOString().replace('.000Z', 'Z');
  const seconds = Math.round((now.getTime() - time.getTime()) / 1_000);
  if (seconds === 0) return `${iso} (now)`;
  return seconds > 0 ? `${iso} (${formatAge(seconds)} ago)` : `${iso} (in ${formatAge(-seconds)})`;
}

/**
 * Columns aligned on their widest cell; the columns named in `right` (numbers) are aligned right.
 * Two spaces between columns, none after the last.
 */
export function formatTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  right: readonly number[] = [],
): string[] {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) =>
        right.includes(column) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!),
      )
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}

/** One queue's line of `stats`. */
export interface QueueStatsLine {
  readonly queue: string;
  readonly ready: number;
  /** Of `ready`, those a worker may lease now; the rest wait out a delay or a backoff. */
  readonly due: number;
  readonly leased: number;
  readonly done: number;
  readonly failed: number;
  readonly cancelled: number;
  readonly waitingChildren: number;
  /** How long the oldest due message has waited; 0 when none is due. */
  readonly oldestReadyAgeSeconds: number;
  readonly paused: boolean;
}

/** What `stats` reports: a line per queue, by name, and the totals. */
export interface StatsReport {
  readonly queues: readonly QueueStatsLine[];
  readonly total: Omit<QueueStatsLine, 'queue' | 'paused'>;
}

/**
 * Joins the counts (`getStats`) with the depths (`depths`: the oldest due message's age and the
 * pause, for every queue with live messages or paused). With `queue`, that queue alone, zeros
 * when it has no messages: a queue exists by its name, not by a row.
 */
export function statsReport(
  stats: QueueStats,
  depths: Readonly<Record<string, QueueDepth>>,
  queue?: string,
): StatsReport {
  const names =
    queue === undefined
      ? [...new Set([...Object.keys(stats.byQueue), ...Object.keys(depths)])].sort()
      : [queue];
  const queues = names.map((name): QueueStatsLine => {
    const counts = stats.byQueue[name];
    const depth = depths[name];
    return {
      queue: name,
      ready: counts?.ready ?? 0,
      due: stats.readyByQueue[name]?.due ?? 0,
      leased: counts?.leased ?? 0,
      done: counts?.done ?? 0,
      failed: counts?.failed ?? 0,
      cancelled: counts?.cancelled ?? 0,
      waitingChildren: counts?.waiting_children ?? 0,
      oldestReadyAgeSeconds: depth?.oldestReadyAgeSeconds ?? 0,
      paused: depth?.paused ?? false,
    };
  });
  const sum = (field: 'ready' | 'due' | 'leased' | 'done' | 'failed' | 'cancelled') =>
    queues.reduce((total, line) => total + line[field], 0);
  return {
    queues,
    total: {
      ready: sum('ready'),
      due: sum('due'),
      leased: sum('leased'),
      done: sum('done'),
      failed: sum('failed'),
      cancelled: sum('cancelled'),
      waitingChildren: queues.reduce((total, line) => total + line.waitingChildren, 0),
      oldestReadyAgeSeconds: Math.max(0, ...queues.map((line) => line.oldestReadyAgeSeconds)),
    },
  };
}

const count = (value: number): string => value.toLocaleString('en-US');

/** The `stats` table; a totals line when there is more than one queue. */
export function statsLines(report: StatsReport): string[] {
  if (report.queues.length === 0) return ['No messages'];
  const row = (name: string, line: StatsReport['total'], paused: string): string[] => [
    name,
    count(line.ready),
    count(line.due),
    count(line.leased),
    count(line.done),
    count(line.failed),
    count(line.cancelled),
    count(line.waitingChildren),
    line.due === 0 ? '-' : formatAge(line.oldestReadyAgeSeconds),
    paused,
  ];
  const rows = report.queues.map((line) => row(line.queue, line, line.paused ? 'paused' : ''));
  if (report.queues.length > 1) rows.push(row('(all)', report.total, ''));
  return formatTable(
    [
      'QUEUE',
      'READY',
      'DUE',
      'LEASED',
      'DONE',
      'FAILED',
      'CANCELLED',
      'WAITING_CHILDREN',
      'OLDEST_READY',
      '',
    ],
    rows,
    [1, 2, 3, 4, 5, 6, 7, 8],
  );
}

/** A body or a value on one line, cut to `width` characters. */
export function shortJson(value: unknown, width = 60): string {
  const json = JSON.stringify(value) ?? 'null';
  return json.length <= width ? json : `${json.slice(0, width - 1)}…`;
}

/** The `list` table, then where the next page starts. */
export function listLines(
  messages: readonly QueueMessage[],
  next: string | null,
  now: Date,
): string[] {
  if (messages.length === 0) return ['No messages match'];
  const age = (time: Date) => formatAge((now.getTime() - time.getTime()) / 1_000);
  const lines = formatTable(
    ['ID', 'STATE', 'ATTEMPTS', 'AGE', 'BODY'],
    messages.map((message) => [
      message.id,
      message.state,
      String(message.attempts),
      age(message.createdAt),
      shortJson(message.body),
    ]),
    [2, 3],
  );
  const shown = `${messages.length} message${messages.length === 1 ? '' : 's'}`;
  lines.push(next === null ? `${shown}, no more` : `${shown}; next page: --after ${next}`);
  return lines;
}

/** Multi-line JSON, indented under a label. */
function block(label: string, value: unknown): string[] {
  if (value === null || value === undefined) return [`${label}-`];
  const [first, ...rest] = (JSON.stringify(value, null, 2) ?? 'null').split('\n');
  return [`${label}${first}`, ...rest.map((line) => `${' '.repeat(label.length)}${line}`)];
}

/** `show`: one message in full. */
export function messageLines(message: QueueMessageDetail, now: Date): string[] {
  const field = (name: string) => `  ${name.padEnd(13)}`;
  const or = (value: string | null) => value ?? '-';
  return [
    `Message ${message.id}`,
    `${field('queue')}${message.queue}`,
    `${field('state')}${message.state}`,
    `${field('attempts')}${message.attempts}`,
    `${field('priority')}${message.priority}`,
    `${field('group')}${or(message.groupKey)}`,
    `${field('unique key')}${or(message.uniqueKey)}`,
    `${field('parent')}${or(message.parentId)}`,
    `${field('origin queue')}${or(message.originQueue)}`,
    `${field('created')}${formatTime(message.createdAt, now)}`,
    `${field('available')}${formatTime(message.availableAt, now)}`,
    `${field('lease until')}${message.leaseUntil === null ? '-' : formatTime(message.leaseUntil, now)}`,
    ...block(field('last error'), message.lastError),
    ...block(field('progress'), message.progress),
    ...block(field('result'), message.result),
    ...block(field('body'), message.body),
  ];
}

/** What `cancel` did, for a person. */
export function cancelLine(id: string, result: CancelResult): string {
  switch (result) {
    case 'cancelled':
      return `${id}: cancelled (it was waiting; it will never start)`;
    case 'requested':
      return `${id}: cancel requested (a worker holds it; it aborts the handler and settles it cancelled)`;
    case 'finished':
      return `${id}: already finished (done, failed or cancelled); nothing changed`;
    case 'notFound':
      return `${id}: no such message`;
  }
}

/** The `schedules` table: each schedule's next tick, soonest first. */
export function scheduleLines(schedules: readonly ScheduleInfo[], now: Date): string[] {
  if (schedules.length === 0) return ['No schedules'];
  const sorted = [...schedules].sort(
    (a, b) => a.nextTickAt.getTime() - b.nextTickAt.getTime() || a.name.localeCompare(b.name),
  );
  return formatTable(
    ['NAME', 'QUEUE', 'CRON', 'TIME_ZONE', 'NEXT_TICK', 'LAST_TICK', 'SOURCE'],
    sorted.map((schedule) => [
      schedule.name,
      schedule.queue,
      schedule.cron,
      schedule.timeZone,
      formatTime(schedule.nextTickAt, now),
      schedule.lastTickAt === null ? '-' : formatTime(schedule.lastTickAt, now),
      schedule.source,
    ]),
  );
}

/** The states, in the order `stats` shows them; for the `--state` help line. */
export const STATE_NAMES = MESSAGE_STATES.join(', ');

/** A statement's values as a SQL comment line, e.g. `-- $1 = 'x', $2 = 5`. */
function valuesComment(values: readonly unknown[]): string[] {
  if (values.length === 0) return [];
  const literal = (value: unknown) =>
    typeof value === 'string' ? `'${value.replaceAll("'", "''")}'` : JSON.stringify(value);
  return [`-- ${values.map((value, index) => `$${index + 1} = ${literal(value)}`).join(', ')}`];
}

/**
 * `migrate:sql`: a SQL script of what `migrate` would send, each migration under a comment with
 * its name; statements with values have them in a comment below. Nothing when up to date.
 */
export function migrationSqlLines(preview: MigrationPreview): string[] {
  if (preview.migrations.length === 0) return ['-- Up to date: no pending migration'];
  const statement = ({ text, values }: RecordedStatement) => [
    `${text.trimEnd()};`,
    ...valuesComment(values),
  ];
  return [
    `-- ${preview.migrations.length} pending migration${preview.migrations.length === 1 ? '' : 's'}; what 'migrate' would send, in one transaction (reads included).`,
    '-- Recorded in a transaction that was rolled back: nothing was changed.',
    '',
    '-- Schema and migrations table',
    ...preview.setup.flatMap(statement),
    ...preview.migrations.flatMap((migration) => [
      '',
      `-- ${migration.name}`,
      ...migration.statements.flatMap(statement),
    ]),
  ];
}
