import { describe, expect, it } from '@jest/globals';
import { type CliCommandInput } from '../../src/cli/cli-command.js';
import {
  clearSettings,
  idsOption,
  listSettings,
  retrySettings,
  wholeNumberOption,
  whereOption,
} from '../../src/cli/operator-args.js';
import {
  cancelLine,
  formatTable,
  formatTime,
  listLines,
  messageLines,
  migrationSqlLines,
  scheduleLines,
  statsLines,
  statsReport,
} from '../../src/cli/operator-format.js';
import { formatAge } from '../../src/text/format-age.js';
import { groupByMigration } from '../../src/database/migration-preview.js';
import { QueueValidationError, queueTableNames, type QueueStats } from '../../src/index.js';
import { type QueueMessageDetail } from '../../src/interfaces/message-detail.interface.js';
import { listMessagesSql } from '../../src/sql/list-messages.sql.js';
import { expectBoundStatement } from '../support/bound-statement.js';

const input = (options: CliCommandInput['options'], argument?: string): CliCommandInput => ({
  options,
  json: false,
  ...(argument === undefined ? {} : { argument }),
});

function refusal(work: () => unknown): { field: string; rule: string } {
  try {
    work();
  } catch (error) {
    if (error instanceof QueueValidationError) return { field: error.field, rule: error.rule };
    throw error;
  }
  throw new Error('not refused');
}

describe('listMessagesSql', () => {
  const names = queueTableNames('tenant_a', 'jobs');
  const hostile = "x'); DROP TABLE jobs; --";

  it('binds every filter as a typed parameter, and only the filters given', () => {
    const all = listMessagesSql(names, {
      queue: hostile,
      state: 'failed',
      olderThanSeconds: 60,
      bodyContains: JSON.stringify({ customer: hostile }),
      afterId: hostile,
      limit: 10,
    });
    expectBoundStatement(all, hostile, /FROM "tenant_a"\."jobs" AS m/);
    expect(all.values).toEqual([
      hostile,
      'failed',
      60,
      JSON.stringify({ customer: hostile }),
      hostile,
      11,
    ]);
    expect(all.text).toContain('m.body @> $4::jsonb');
    expect(all.text).toContain(
      'm.seq > (SELECT a.seq FROM "tenant_a"."jobs" AS a WHERE a.id = $5::text)',
    );
    expect(all.text).toMatch(/ORDER BY m\.seq\nLIMIT \$6::integer$/);
    expect(all.planEachTime).toBe(true);

    const plain = listMessagesSql(names, { queue: 'q', limit: 100 });
    expectBoundStatement(plain, hostile, /"tenant_a"\."jobs"/);
    expect(plain.values).toEqual(['q', 101]);
    expect(plain.text).not.toMatch(/m\.state|@>|seq >/);
  });
});

describe('operator arguments', () => {
  it('reads list options, refusing bad values by option name and a missing queue as usage', () => {
    expect(
      listSettings(
        input({
          queue: 'orders',
          state: 'failed',
          'older-than': '3600',
          where: '{ "customer": "acme" }',
          limit: '5',
          after: 'm-1',
        }),
      ),
    ).toEqual({
      queue: 'orders',
      state: 'failed',
      olderThanSeconds: 3600,
      bodyContains: '{"customer":"acme"}',
      limit: 5,
      afterId: 'm-1',
    });
    expect(listSettings(input({ queue: 'orders' }))).toEqual({ queue: 'orders', limit: 100 });
    expect(listSettings(input({}))).toEqual({ usage: 'list needs --queue <name>' });
    expect(refusal(() => listSettings(input({ queue: ' spaced ' })))).toEqual({
      field: '--queue',
      rule: 'must not start or end with white space',
    });
    expect(refusal(() => listSettings(input({ queue: 'q', limit: '10001' })))).toEqual({
      field: '--limit',
      rule: 'must be at most 10000 (got 10001)',
    });
    expect(refusal(() => listSettings(input({ queue: 'q', after: '' })))).toMatchObject({
      field: '--after',
    });
  });

  it('takes whole numbers as digits only', () => {
    const bounds = { min: 0, max: 10 };
    expect(wholeNumberOption({ n: '7' }, 'n', bounds)).toBe(7);
    expect(wholeNumberOption({}, 'n', bounds)).toBeUndefined();
    for (const bad of ['-1', '1e1', '2.5', '', ' 3']) {
      expect(refusal(() => wholeNumberOption({ n: bad }, 'n', bounds))).toEqual({
        field: '--n',
        rule: `must be a whole number (got '${bad}')`,
      });
    }
  });

  it('takes --where as a JSON object only', () => {
    expect(whereOption({ where: '{"a":{"b":[1]}}' })).toBe('{"a":{"b":[1]}}');
    expect(refusal(() => whereOption({ where: '{a:1}' })).rule).toMatch(/^must be JSON/);
    for (const bad of ['[1]', '"acme"', 'null', '3']) {
      expect(refusal(() => whereOption({ where: bad })).rule).toMatch(/^must be a JSON object/);
    }
  });

  it('retry needs --ids or --all, not both; ids are trimmed, deduplicated and checked', () => {
    expect(retrySettings(input({ queue: 'q', ids: ' a, b,a ' }))).toEqual({
      queue: 'q',
      ids: ['a', 'b'],
    });
    expect(retrySettings(input({ queue: 'q', all: true }))).toEqual({ queue: 'q' });
    expect(retrySettings(input({ queue: 'q' }))).toEqual({
      usage: 'retry needs either --ids <id,id,…> or --all',
    });
    expect(retrySettings(input({ queue: 'q', ids: 'a', all: true }))).toHaveProperty('usage');
    expect(retrySettings(input({ ids: 'a' }))).toEqual({ usage: 'retry needs --queue <name>' });
    expect(refusal(() => idsOption({ ids: 'a,,b' }))).toEqual({
      field: '--ids',
      rule: 'must not be empty',
    });
  });

  it('clear is refused without --yes, saying what it would delete', () => {
    expect(clearSettings(input({ queue: 'q', state: 'done', yes: true }))).toEqual({
      queue: 'q',
      state: 'done',
    });
    expect(clearSettings(input({ queue: 'q' }))).toEqual({
      usage: 'clear deletes every message of q for good: add --yes to confirm',
    });
    expect(refusal(() => clearSettings(input({ queue: 'q', state: 'gone', yes: true })))).toEqual({
      field: '--state',
      rule: expect.stringContaining('must be one of ready, leased, done'),
    });
  });
});

describe('operator output', () => {
  const now = new Date('2026-11-30T12:00:00Z');

  it('formats ages, times and aligned tables', () => {
    expect([0, 59, 60, 3_599, 3_600, 86_399, 90_000].map(formatAge)).toEqual([
      '0s',
      '59s',
      '1m 0s',
      '59m 59s',
      '1h 0m',
      '23h 59m',
      '1d 1h',
    ]);
    expect(formatTime(new Date('2026-11-30T11:55:00Z'), now)).toBe(
      '2026-11-30T11:55:00Z (5m 0s ago)',
    );
    expect(formatTime(new Date('2026-11-30T14:00:00Z'), now)).toBe(
      '2026-11-30T14:00:00Z (in 2h 0m)',
    );
    expect(formatTime(now, now)).toBe('2026-11-30T12:00:00Z (now)');
    expect(
      formatTable(
        ['A', 'NUM', 'Z'],
        [
          ['long', '5', ''],
          ['x', '1234', 'y'],
        ],
        [1],
      ),
    ).toEqual(['A      NUM  Z', 'long     5', 'x     1234  y']);
  });

  it('joins counts and depths per queue, with totals', () => {
    const counts = (ready: number, failed: number) => ({
      ready,
      leased: 0,
      done: 1,
      failed,
      cancelled: 0,
      waiting_children: 0,
    });
    const stats: QueueStats = {
      totalMessages: 0,
      byState: counts(0, 0),
      byQueue: { b: counts(3, 1), a: counts(1, 0) },
      failedMessages: 1,
      ready: { due: 3, delayed: 1 },
      readyByQueue: { b: { due: 2, delayed: 1 }, a: { due: 1, delayed: 0 } },
    };
    const depth = (age: number, paused: boolean) => ({
      ready: 0,
      readyCapped: false,
      leased: 0,
      failed: 0,
      oldestReadyAgeSeconds: age,
      expiredLeases: 0,
      paused,
    });
    const report = statsReport(stats, { b: depth(75, false), c: depth(0, true) });
    expect(report.queues.map((line) => line.queue)).toEqual(['a', 'b', 'c']);
    expect(report.total).toMatchObject({ ready: 4, due: 3, failed: 1, done: 2 });
    expect(statsLines(report)).toEqual([
      'QUEUE  READY  DUE  LEASED  DONE  FAILED  CANCELLED  WAITING_CHILDREN  OLDEST_READY',
      'a          1    1       0     1       0          0                 0            0s',
      'b          3    2       0     1       1          0                 0        1m 15s',
      'c          0    0       0     0       0          0                 0             -  paused',
      '(all)      4    3       0     2       1          0                 0        1m 15s',
    ]);
    expect(statsReport(stats, {}, 'none').queues).toEqual([
      expect.objectContaining({ queue: 'none', ready: 0, paused: false }),
    ]);
    expect(statsLines({ queues: [], total: report.total })).toEqual(['No messages']);
  });

  const message: QueueMessageDetail = {
    id: 'm-1',
    queue: 'orders',
    body: { customer: 'acme', note: 'x'.repeat(80) },
    attempts: 2,
    state: 'failed',
    availableAt: new Date('2026-11-30T11:59:00Z'),
    leaseUntil: null,
    createdAt: new Date('2026-11-30T11:00:00Z'),
    leaseToken: null,
    lastError: { message: 'boom', name: 'Error' } as QueueMessageDetail['lastError'],
    originQueue: null,
    priority: 5,
    uniqueKey: null,
    groupKey: 'g',
    parentId: null,
    result: null,
    progress: { done: 3 },
  };

  it('lists a page with its cursor, and shows one message in full', () => {
    const lines = listLines([message], 'm-1', now);
    expect(lines[1]).toMatch(/^m-1 {2}failed {9}2 {2}1h 0m {2}\{"customer":"acme","note":"x+…$/);
    expect(lines[1]!.length).toBeLessThan(100);
    expect(lines.at(-1)).toBe('1 message; next page: --after m-1');
    expect(listLines([message], null, now).at(-1)).toBe('1 message, no more');
    expect(listLines([], null, now)).toEqual(['No messages match']);

    const shown = messageLines(message, now);
    expect(shown.slice(0, 12)).toEqual([
      'Message m-1',
      '  queue        orders',
      '  state        failed',
      '  attempts     2',
      '  priority     5',
      '  group        g',
      '  unique key   -',
      '  parent       -',
      '  origin queue -',
      '  created      2026-11-30T11:00:00Z (1h 0m ago)',
      '  available    2026-11-30T11:59:00Z (1m 0s ago)',
      '  lease until  -',
    ]);
    expect(shown).toContain('  last error   {');
    expect(shown).toContain('                 "message": "boom",');
    expect(shown).toContain('  result       -');
    expect(shown).toContain('  progress     {');
  });

  it('says what a cancel did, and lists schedules soonest first', () => {
    expect(cancelLine('m-1', 'requested')).toMatch(/^m-1: cancel requested/);
    expect(cancelLine('m-1', 'finished')).toMatch(/^m-1: already finished/);
    const schedule = (name: string, next: string) => ({
      name,
      queue: 'reports',
      cron: '0 3 * * *',
      timeZone: 'UTC',
      body: null,
      enqueueOptions: {},
      missed: 'skip' as const,
      source: 'code' as const,
      nextTickAt: new Date(next),
      lastTickAt: null,
      createdAt: now,
      updatedAt: now,
    });
    const lines = scheduleLines(
      [schedule('late', '2026-12-01T03:00:00Z'), schedule('soon', '2026-11-30T12:00:30Z')],
      now,
    );
    expect(lines.map((line) => line.split(/\s+/)[0])).toEqual(['NAME', 'soon', 'late']);
    expect(lines[1]).toContain('2026-11-30T12:00:30Z (in 30s)');
    expect(scheduleLines([], now)).toEqual(['No schedules']);
  });

  it('prints what migrate would send, grouped by migration, from the recorded statements', () => {
    const names = queueTableNames('public', 'jobs');
    const recorded = [
      { text: 'SELECT 1 FROM pg_namespace WHERE nspname = $1', values: ['public'] },
      { text: 'CREATE TABLE IF NOT EXISTS "public"."jobs_migrations" (…)', values: [] },
      { text: 'SELECT name FROM "public"."jobs_migrations"', values: [] },
      { text: 'CREATE TABLE "public"."jobs" (…)', values: [] },
      {
        text: 'INSERT INTO "public"."jobs_migrations" ("timestamp", "name") VALUES ($1, $2)',
        values: [1795556400000, 'CreateQueueTable1795556400000'],
      },
      { text: "ALTER TABLE x ADD y text DEFAULT 'it''s'", values: [] },
      {
        text: 'INSERT INTO "public"."jobs_migrations" ("timestamp", "name") VALUES ($1, $2)',
        values: [1795560000000, "Next'1795560000000"],
      },
    ];
    const preview = groupByMigration(recorded, names);
    expect(preview.setup).toHaveLength(3);
    expect(preview.migrations.map((migration) => migration.name)).toEqual([
      'CreateQueueTable1795556400000',
      "Next'1795560000000",
    ]);
    expect(preview.migrations[1]!.statements).toHaveLength(2);
    const lines = migrationSqlLines(preview);
    expect(lines[0]).toBe(
      "-- 2 pending migrations; what 'migrate' would send, in one transaction (reads included).",
    );
    expect(lines).toContain("-- $1 = 1795560000000, $2 = 'Next''1795560000000'");
    expect(lines).toContain('-- CreateQueueTable1795556400000');
    expect(migrationSqlLines(groupByMigration(recorded.slice(0, 3), names))).toEqual([
      '-- Up to date: no pending migration',
    ]);
  });
});
