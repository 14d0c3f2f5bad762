import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { runCli } from '../../src/cli/run-cli.js';
import { useQueueFixture } from '../support/queue-fixture.js';
import { MIGRATION_NAMES } from '../support/queue-migrations.js';
import { tsChildArgs } from '../support/ts-child.js';

/**
 * The operator commands on a seeded queue table: driven in-process through `runCli` (as the bin
 * does, minus the process), each judged by its exit code, what it printed and what it changed in
 * the database; one run of the real bin for the exit code and `--json` of a process.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const { db, boot } = useQueueFixture('cli_operate', { reset: 'none' });
const SCHEMA = 'ops';

interface Finished {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

async function cli(args: string[], schema = SCHEMA): Promise<Finished> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(
    args,
    { DATABASE_URL: db.url, QUEUE_SCHEMA: schema },
    { out: (line) => out.push(line), err: (line) => err.push(line) },
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

async function json<T>(args: string[]): Promise<T> {
  const result = await cli([...args, '--json']);
  expect(result).toMatchObject({ code: 0, err: '' });
  return JSON.parse(result.out) as T;
}

async function stateOf(id: string): Promise<string | undefined> {
  const { rows } = await db.query<{ state: string }>(
    `SELECT state FROM ${SCHEMA}.messages WHERE id = $1`,
    [id],
  );
  return rows[0]?.state;
}

/** Ids of `orders` by their body's `n`. */
const ids: string[] = [];

beforeAll(async () => {
  const app = await boot({ connectionString: db.url, schema: SCHEMA, workers: false });
  for (let n = 0; n < 5; n++) {
    ids.push(await app.queue.enqueue('orders', { customer: n < 3 ? 'acme' : 'globex', n }));
  }
  await app.queue.enqueue('orders', { customer: 'acme', later: true }, { delaySeconds: 3_600 });
  await app.queue.enqueue('mail', { to: 'ops@example.com' });
  await app.queue.schedule('nightly', { queue: 'reports', cron: '0 3 * * *', body: { r: 1 } });
  await db.query(
    `UPDATE ${SCHEMA}.messages SET state = 'failed', attempts = 3,
       last_error = '{"message":"boom","name":"Error"}'::jsonb
     WHERE id = ANY ($1::text[])`,
    [[ids[1], ids[3]]],
  );
  await db.query(
    `UPDATE ${SCHEMA}.messages SET created_at = created_at - 7200, available_at = available_at - 7200
     WHERE id = $1`,
    [ids[0]],
  );
  await app.close();
}, 30_000);

describe('fetchcraft-queue operator commands', () => {
  it('stats counts per queue and state, with the oldest ready age, as text and --json', async () => {
    const text = await cli(['stats']);
    expect(text).toMatchObject({ code: 0, err: '' });
    const lines = text.out.split('\n');
    expect(lines[0]).toMatch(/^ops\.messages on postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\//);
    expect(lines[1]).toMatch(
      /^QUEUE\s+READY\s+DUE\s+LEASED\s+DONE\s+FAILED\s+CANCELLED\s+WAITING_CHILDREN\s+OLDEST_READY$/,
    );
    expect(lines.find((line) => line.startsWith('orders'))).toMatch(
      /^orders\s+4\s+3\s+0\s+0\s+2\s+0\s+0\s+2h 0m$/,
    );
    expect(lines.at(-1)).toMatch(/^\(all\)\s+5\s+4\s+0\s+0\s+2\s+0\s+0\s+2h 0m$/);

    const report = await json<{ table: string; queues: unknown[] }>(['stats', '--queue', 'orders']);
    expect(report.table).toBe('ops.messages');
    expect(report.queues).toEqual([
      {
        queue: 'orders',
        ready: 4,
        due: 3,
        leased: 0,
        done: 0,
        failed: 2,
        cancelled: 0,
        waitingChildren: 0,
        oldestReadyAgeSeconds: expect.any(Number),
        paused: false,
      },
    ]);
    const [orders] = report.queues as [{ oldestReadyAgeSeconds: number }];
    expect(orders.oldestReadyAgeSeconds).toBeGreaterThanOrEqual(7_200);
    expect(orders.oldestReadyAgeSeconds).toBeLessThan(7_300);
    // A queue without messages is all zeros, not an error.
    const empty = await json<{ queues: Array<{ ready: number }> }>(['stats', '--queue', 'none']);
    expect(empty.queues).toMatchObject([{ queue: 'none', ready: 0, failed: 0 }]);
    expect(text.out).not.toContain(`:${new URL(db.url).password}@`);
  }, 20_000);

  it('list filters by state, age and body, and pages by cursor', async () => {
    type Page = { messages: Array<{ id: string; body: { n?: number } }>; next: string | null };
    const first = await json<Page>([
      'list',
      '--queue',
      'orders',
      '--where',
      '{"customer":"acme"}',
      '--limit',
      '2',
    ]);
    expect(first.messages.map((message) => message.id)).toEqual([ids[0], ids[1]]);
    expect(first.next).toBe(ids[1]);
    const second = await json<Page>([
      'list',
      '--queue',
      'orders',
      '--where',
      '{"customer":"acme"}',
      '--limit',
      '2',
      '--after',
      first.next!,
    ]);
    expect(second.messages.map((message) => message.body)).toEqual([
      { customer: 'acme', n: 2 },
      { customer: 'acme', later: true },
    ]);
    expect(second.next).toBeNull();

    const failed = await json<Page>(['list', '--queue', 'orders', '--state', 'failed']);
    expect(failed.messages.map((message) => message.id)).toEqual([ids[1], ids[3]]);
    const old = await json<Page>(['list', '--queue', 'orders', '--older-than', '3600']);
    expect(old.messages.map((message) => message.id)).toEqual([ids[0]]);

    const text = await cli(['list', '--queue', 'orders', '--state', 'failed', '--limit', '1']);
    expect(text.code).toBe(0);
    expect(text.out.split('\n').slice(1)).toEqual([
      expect.stringMatching(/^ID\s+STATE\s+ATTEMPTS\s+AGE\s+BODY$/),
      expect.stringMatching(
        new RegExp(`^${ids[1]}\\s+failed\\s+3\\s+\\d+s\\s+\\{"n":1,"customer":"acme"\\}$`),
      ),
      `1 message; next page: --after ${ids[1]}`,
    ]);

    // Refused before any statement: a usage error (2), or the option and its rule (1).
    expect(await cli(['list', '--state', 'failed'])).toMatchObject({
      code: 2,
      err: expect.stringContaining('list needs --queue <name>'),
    });
    expect(await cli(['list', '--queue', 'orders', '--where', '[1]'])).toMatchObject({
      code: 1,
      err: expect.stringContaining('Invalid --where: must be a JSON object'),
    });
    expect(await cli(['list', '--queue', 'orders', '--state', 'sleeping'])).toMatchObject({
      code: 1,
      err: expect.stringContaining('Invalid --state: must be one of ready, leased'),
    });
    expect(await cli(['list', '--queue', 'orders', '--limit', '0'])).toMatchObject({
      code: 1,
      err: expect.stringContaining('Invalid --limit: must be at least 1'),
    });
    expect(await cli(['list', '--queue', 'orders', '--after', 'gone'])).toMatchObject({
      code: 1,
      err: expect.stringContaining(
        'Invalid --after: must be the id of a message that still exists',
      ),
    });
  }, 20_000);

  it('show prints one message in full, and exits 3 for an unknown id', async () => {
    const text = await cli(['show', ids[1]!]);
    expect(text).toMatchObject({ code: 0, err: '' });
    expect(text.out).toContain(`Message ${ids[1]}`);
    expect(text.out).toMatch(/ {2}state {8}failed\n/);
    expect(text.out).toMatch(/ {2}attempts {5}3\n/);
    expect(text.out).toContain('"message": "boom"');
    expect(text.out).toContain('"customer": "acme"');
    const shown = await json<Record<string, unknown>>(['show', ids[1]!]);
    expect(shown).toMatchObject({
      id: ids[1],
      queue: 'orders',
      state: 'failed',
      attempts: 3,
      body: { customer: 'acme', n: 1 },
      lastError: { message: 'boom' },
      result: null,
      progress: null,
      parentId: null,
      groupKey: null,
      priority: 0,
    });
    expect(await cli(['show', 'no-such-id'])).toMatchObject({
      code: 3,
      out: '',
      err: expect.stringContaining('No message no-such-id in ops.messages'),
    });
  }, 20_000);

  it('retry puts dead letters back by id or all, and refuses without either', async () => {
    expect(await cli(['retry', '--queue', 'orders'])).toMatchObject({
      code: 2,
      err: expect.stringContaining('retry needs either --ids <id,id,…> or --all'),
    });
    expect(await cli(['retry', '--queue', 'orders', '--all', '--ids', 'x'])).toMatchObject({
      code: 2,
    });
    expect(await stateOf(ids[1]!)).toBe('failed');

    const one = await json<{ retried: number }>(['retry', '--queue', 'orders', '--ids', ids[1]!]);
    expect(one).toEqual({ queue: 'orders', ids: [ids[1]], retried: 1 });
    expect(await stateOf(ids[1]!)).toBe('ready');
    expect(await stateOf(ids[3]!)).toBe('failed');

    const all = await cli(['retry', '--queue', 'orders', '--all']);
    expect(all).toMatchObject({ code: 0, err: '' });
    expect(all.out).toContain('Put back 1 dead letter of orders');
    expect(await stateOf(ids[3]!)).toBe('ready');
  }, 20_000);

  it('pause and resume a queue for every replica', async () => {
    const paused = await cli(['pause', '--queue', 'mail']);
    expect(paused).toMatchObject({ code: 0, err: '' });
    expect(paused.out).toContain(
      "Paused mail: no worker leases from it until 'resume --queue mail'",
    );
    const stored = () =>
      db.query<{ paused: boolean }>(
        `SELECT paused FROM ${SCHEMA}.messages_queues WHERE queue = 'mail'`,
      );
    expect((await stored()).rows).toEqual([{ paused: true }]);
    expect((await cli(['stats'])).out).toMatch(/\nmail\s.*\spaused\n/);

    expect(await json(['resume', '--queue', 'mail'])).toEqual({ queue: 'mail', paused: false });
    expect((await stored()).rows).toEqual([{ paused: false }]);
    expect(await cli(['pause'])).toMatchObject({
      code: 2,
      err: expect.stringContaining('pause needs --queue'),
    });
  }, 20_000);

  it('cancel reports what it did, delete and clear remove messages, clear only with --yes', async () => {
    expect(await json(['cancel', ids[4]!])).toEqual({ id: ids[4], result: 'cancelled' });
    expect(await stateOf(ids[4]!)).toBe('cancelled');
    const again = await cli(['cancel', ids[4]!]);
    expect(again).toMatchObject({ code: 0, err: '' });
    expect(again.out).toContain(`${ids[4]}: already finished`);
    expect(await cli(['cancel', 'no-such-id'])).toMatchObject({ code: 3 });

    expect(await cli(['delete', ids[2]!])).toMatchObject({
      code: 0,
      out: expect.stringContaining(`Deleted ${ids[2]}`),
    });
    expect(await stateOf(ids[2]!)).toBeUndefined();
    expect(await cli(['delete', ids[2]!])).toMatchObject({
      code: 3,
      err: expect.stringContaining(`No message ${ids[2]}`),
    });

    const refused = await cli(['clear', '--queue', 'orders', '--state', 'cancelled']);
    expect(refused).toMatchObject({
      code: 2,
      err: expect.stringContaining(
        'clear deletes the cancelled messages of orders for good: add --yes to confirm',
      ),
    });
    expect(await stateOf(ids[4]!)).toBe('cancelled');
    expect(await json(['clear', '--queue', 'orders', '--state', 'cancelled', '--yes'])).toEqual({
      queue: 'orders',
      state: 'cancelled',
      deleted: 1,
    });
    expect(await stateOf(ids[4]!)).toBeUndefined();
    expect(await stateOf(ids[0]!)).toBe('ready');
  }, 20_000);

  it('schedules lists recurring messages with their next tick', async () => {
    const text = await cli(['schedules']);
    expect(text).toMatchObject({ code: 0, err: '' });
    expect(text.out.split('\n')[2]).toMatch(
      /^nightly\s+reports\s+0 3 \* \* \*\s+UTC\s+\d{4}-\d\d-\d\dT03:00:00Z \(in \d+h \d+m\)\s+-\s+api$/,
    );
    const { schedules } = await json<{ schedules: Array<Record<string, unknown>> }>(['schedules']);
    expect(schedules).toMatchObject([{ name: 'nightly', queue: 'reports', body: { r: 1 } }]);
    expect(schedules[0]!.nextTickAt).toMatch(/T03:00:00\.000Z$/);
  }, 20_000);

  it('migrate:sql shows what migrate would run and changes nothing', async () => {
    const fresh = await cli(['migrate:sql'], 'ops_new');
    expect(fresh).toMatchObject({ code: 0, err: '' });
    expect(fresh.out).toContain('CREATE SCHEMA "ops_new";');
    expect(fresh.out).toContain('CREATE TABLE "ops_new"."messages"');
    for (const name of MIGRATION_NAMES) expect(fresh.out).toContain(`\n-- ${name}\n`);
    const { rows } = await db.query<{ found: boolean }>(
      "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'ops_new') AS found",
    );
    expect(rows).toEqual([{ found: false }]);

    const data = await json<{ pending: string[]; migrations: unknown[] }>(['migrate:sql']);
    expect(data).toMatchObject({ schema: 'ops', table: 'messages', pending: [], migrations: [] });
    expect((await cli(['migrate:sql'])).out).toContain('-- Up to date: no pending migration');

    // A table it did not create: refused as migrate refuses it, still changing nothing.
    await db.query('CREATE SCHEMA ops_foreign; CREATE TABLE ops_foreign.messages (id int)');
    expect(await cli(['migrate:sql'], 'ops_foreign')).toMatchObject({
      code: 1,
      err: expect.stringContaining(
        'ops_foreign.messages exists but messages_migrations has no record of creating it',
      ),
    });
    const left = await db.query<{ name: string | null }>(
      "SELECT to_regclass('ops_foreign.messages_migrations')::text AS name",
    );
    expect(left.rows).toEqual([{ name: null }]);
  }, 20_000);

  it('the bin exits 3 with one JSON document for an unknown message', async () => {
    const base = Object.fromEntries(
      Object.entries(process.env).filter(([key]) => key !== 'DATABASE_URL' && !/^QUEUE_/.test(key)),
    );
    const result = await new Promise<{ code: number; stdout: string; stderr: string }>(
      (resolve) => {
        execFile(
          'node',
          [...tsChildArgs('src/cli/main.ts'), 'show', 'no-such-id', '--json'],
          {
            cwd: root,
            env: { ...base, DATABASE_URL: db.url, QUEUE_SCHEMA: SCHEMA },
            timeout: 60_000,
          },
          (error, stdout, stderr) => {
            const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
            resolve({ code, stdout, stderr });
          },
        );
      },
    );
    expect(result.code).toBe(3);
    expect(JSON.parse(result.stdout)).toEqual({ id: 'no-such-id', found: false });
    expect(result.stderr).toContain(
      'No message no-such-id in ops.messages on postgres://postgres:***@',
    );
  }, 60_000);
});
