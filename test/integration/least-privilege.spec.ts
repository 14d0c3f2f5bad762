import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import pg from 'pg';
import {
  Processor,
  QueueHealthIndicator,
  QueueModule,
  QueuePrivilegeError,
  migrateQueue,
  queueGrantsSql,
  queueTableNames,
  UnrecoverableError,
  type ProcessorMessage,
} from '../../src/index.js';
import { grantsFor } from '../../examples/least-privilege-roles.js';
import { runCli } from '../../src/cli/run-cli.js';
import { bootError, RecordingLogger, waitFor } from '../support/boot.js';
import { MIGRATION_NAMES as MIGRATIONS } from '../support/queue-migrations.js';
import { eventually } from '../support/eventually.js';
import { useQueueFixture } from '../support/queue-fixture.js';

/*
 * Two plain roles, as a managed database gives them: `queue_owner` may create schemas in the
 * database and owns what the migrations create; `queue_app` logs in and has only the grants of
 * `queueGrantsSql`. Neither is a superuser.
 */
const { db, boot } = useQueueFixture('least_privilege', { reset: 'none' });

const OWNER_PASSWORD = 'owner-pw-7f3a';
const APP_PASSWORD = 'app-pw-91c2';

function urlAs(user: string, password: string): string {
  const url = new URL(db.url);
  url.username = user;
  url.password = password;
  return url.toString();
}

const ownerUrl = () => urlAs('queue_owner', OWNER_PASSWORD);
const appUrl = () => urlAs('queue_app', APP_PASSWORD);

/** Runs one statement as `queue_app`, on a connection of its own. */
async function asApp(text: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: appUrl() });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

async function refusal(text: string): Promise<string | undefined> {
  try {
    await asApp(text);
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
}

beforeAll(async () => {
  for (const role of ['queue_app', 'queue_owner']) {
    // A role left by an interrupted run on a shared server; its database is gone with it.
    await db.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
  }
  await db.query(
    `CREATE ROLE queue_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '${OWNER_PASSWORD}'`,
  );
  await db.query(
    `CREATE ROLE queue_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '${APP_PASSWORD}'`,
  );
  await db.query(`GRANT CREATE ON DATABASE "${db.name}" TO queue_owner`);
  // Postgres before 15 lets every role create in `public`: not what a managed database gives.
  await db.query('REVOKE CREATE ON SCHEMA public FROM PUBLIC');
});

afterAll(async () => {
  // The fixture drops the database after this hook; the roles' privileges on it go with it.
  await db.query(`REVOKE CREATE ON DATABASE "${db.name}" FROM queue_owner`).catch(() => undefined);
});

@Injectable()
class Handlers {
  readonly done: number[] = [];
  attemptsOfFlaky = 0;

  @Processor('lp.work', { concurrency: 4 })
  handle(message: ProcessorMessage<{ i: number }>): void {
    this.done.push(message.body.i);
  }

  @Processor('lp.flaky', {
    maxAttempts: 2,
    backoff: { type: 'fixed', delaySeconds: 0 },
    deadLetterQueue: 'lp.dead',
  })
  flaky(): void {
    this.attemptsOfFlaky += 1;
    throw new Error('always fails');
  }

  @Processor('lp.fatal')
  fatal(): void {
    throw new UnrecoverableError('no retry');
  }

  @Processor('lp.child')
  child(message: ProcessorMessage<{ n: number }>): number {
    return message.body.n * 2;
  }

  @Processor('lp.parent')
  async parent(message: ProcessorMessage): Promise<number> {
    const children = await message.children<number>();
    return children.reduce((sum, child) => sum + (child.result ?? 0), 0);
  }
}

describe('an application role without ownership', () => {
  it('boots after the owner migrates over migrationsConnectionString and runs every feature', async () => {
    const logger = new RecordingLogger();
    const app = await boot(
      {
        connectionString: appUrl(),
        migrationsConnectionString: ownerUrl(),
        schema: 'lp',
        schedules: [
          { name: 'lp.every-second', queue: 'lp.ticks', cron: '* * * * * *', missed: 'skip' },
        ],
      },
      [Handlers],
      { logger },
    );
    expect(logger.lines).toContain('log Migrated lp.messages: ' + MIGRATIONS.join(', '));
    expect(logger.lines.join('\n')).not.toContain(OWNER_PASSWORD);
    // The owner's one connection was closed after the migrations.
    const ownerConnections = async () =>
      Number(
        (await db.query("SELECT count(*) AS n FROM pg_stat_activity WHERE usename = 'queue_owner'"))
          .rows[0]!.n,
      );
    expect(await eventually(ownerConnections, 0)).toBe(0);
    const { rows: owners } = await db.query<{ relname: string; owner: string }>(
      `SELECT c.relname, pg_get_userbyid(c.relowner) AS owner FROM pg_class AS c
       WHERE c.relnamespace = 'lp'::regnamespace AND c.relkind IN ('r', 'S') ORDER BY 1`,
    );
    expect(new Set(owners.map((row) => row.owner))).toEqual(new Set(['queue_owner']));
    expect(await app.queue.getStats()).toBeDefined();

    // Enqueue and drain with a processor.
    const handlers = app.get(Handlers);
    await app.queue.enqueueMany(
      'lp.work',
      Array.from({ length: 20 }, (_, i) => ({ i })),
    );
    await waitFor(() => handlers.done.length === 20, 10_000, 'the drain');

    // Retries, then the dead-letter queue.
    await app.queue.enqueue('lp.flaky', {});
    await waitFor(
      async () => (await app.queue.listFailed('lp.dead')).length === 1,
      10_000,
      'the dead letter',
    );
    expect(handlers.attemptsOfFlaky).toBe(2);
    // A dead letter that stays, failed, in its queue (archived by the cleanup below).
    const fatal = await app.queue.enqueue('lp.fatal', {});
    await waitFor(
      async () => (await app.queue.getMessage(fatal))?.state === 'failed',
      10_000,
      'the failed message',
    );

    // A flow: the children's ends move the parent on through the trigger, as the app role;
    // waitFor hears the parent's end.
    const tree = await app.queue.enqueueFlow({
      queue: 'lp.parent',
      body: {},
      children: [
        { queue: 'lp.child', body: { n: 1 } },
        { queue: 'lp.child', body: { n: 20 } },
      ],
    });
    await expect(app.queue.waitFor<number>(tree.id, { timeoutMs: 10_000 })).resolves.toBe(42);

    // Pause and resume, shared through `<table>_queues`.
    await app.queue.pause('lp.idle');
    expect(await app.queue.isPaused('lp.idle')).toBe(true);
    await app.queue.resume('lp.idle');
    expect(await app.queue.isPaused('lp.idle')).toBe(false);

    // Cancel a waiting message.
    const waiting = await app.queue.enqueue('lp.idle', { later: true });
    expect(await app.queue.cancel(waiting)).toBe('cancelled');

    // The reaper returns an expired lease.
    const leaseId = await app.queue.enqueue('lp.manual', {});
    const lease = await app.queue.leaseNext('lp.manual', { leaseSeconds: 60 });
    expect(lease?.id).toBe(leaseId);
    await db.query('UPDATE lp.messages SET lease_until = lease_until - 3600 WHERE id = $1', [
      leaseId,
    ]);
    expect(await app.queue.reapExpiredLeases()).toBe(1);

    // The cleanup deletes old done messages and archives old dead letters.
    await db.query('UPDATE lp.messages SET created_at = created_at - 90 * 86400');
    const cleaned = await app.queue.cleanup({ doneRetentionDays: 1, failedRetentionDays: 1 });
    expect(cleaned.deleted).toBeGreaterThanOrEqual(20);
    expect(cleaned.archived).toBe(1);

    // Health, schedules: declared at boot, added and removed at run time, ticking.
    expect((await app.get(QueueHealthIndicator).isHealthy()).queues?.status).toBe('up');
    await app.queue.schedule('lp.api', { queue: 'lp.api', cron: '0 0 1 1 *' });
    expect((await app.queue.listSchedules()).map((s) => s.name).sort()).toEqual([
      'lp.api',
      'lp.every-second',
    ]);
    expect(await app.queue.unschedule('lp.api')).toBe(true);
    const ticks = async () =>
      Number(
        (await db.query("SELECT count(*) AS n FROM lp.messages WHERE queue = 'lp.ticks'")).rows[0]!
          .n,
      ) > 0;
    expect(await eventually(ticks, true, 5_000)).toBe(true);
    await app.close();

    // Booting again as the app role alone: nothing pending, nothing it may not do.
    const again = await boot({ connectionString: appUrl(), schema: 'lp', workers: false });
    expect(await again.queue.enqueue('lp.work', { i: 99 })).toEqual(expect.any(String));
  });

  it('boots as the app role after the CLI migrated and granted as the owner', async () => {
    const lines: string[] = [];
    const output = {
      out: (line: string) => lines.push(line),
      err: (line: string) => lines.push(line),
    };
    const code = await runCli(
      ['migrate', '--schema', 'lp_cli', '--grant-to', 'queue_app'],
      { DATABASE_URL: ownerUrl() },
      output,
    );
    expect({ code, lines }).toMatchObject({ code: 0 });
    expect(lines.join('\n')).toContain("Granted queue_app the application's privileges");
    expect(lines.join('\n')).not.toContain(OWNER_PASSWORD);
    // migrateQueue again: up to date, grants idempotent.
    const again = await migrateQueue({
      connectionString: ownerUrl(),
      schema: 'lp_cli',
      grantTo: 'queue_app',
    });
    expect(again).toMatchObject({ applied: [], grantedTo: 'queue_app' });

    const app = await boot({ connectionString: appUrl(), schema: 'lp_cli', workers: false });
    const id = await app.queue.enqueue('lp.cli', { ok: true });
    const lease = await app.queue.leaseNext('lp.cli');
    expect(lease?.id).toBe(id);
    expect(await app.queue.ack('lp.cli', lease!)).toBe(true);
  });

  it("boots as the app role on tables the owner migrated and granted by hand (the README's grants)", async () => {
    expect(await migrateQueue({ connectionString: ownerUrl(), schema: 'queue' })).toMatchObject({
      applied: expect.arrayContaining(['CreateQueueTable1795556400000']),
    });
    // Without the grants, the app role may not even read the bookkeeping.
    const ungranted = await bootError({
      imports: [QueueModule.forRoot({ connectionString: appUrl(), schema: 'queue' })],
    });
    expect(ungranted).toBeInstanceOf(QueuePrivilegeError);
    expect((ungranted as Error).message).toContain('queueGrantsSql');

    const owner = new pg.Client({ connectionString: ownerUrl() });
    await owner.connect();
    try {
      await owner.query(grantsFor('queue_app'));
    } finally {
      await owner.end();
    }
    const app = await boot({ connectionString: appUrl(), schema: 'queue', workers: false });
    const id = await app.queue.enqueue('lp.manual', {});
    expect((await app.queue.leaseNext('lp.manual'))?.id).toBe(id);
  });

  it('refuses to boot on an unmigrated schema, saying to migrate as the owner', async () => {
    // No schema at all: creating it needs CREATE on the database.
    const missing = await bootError({
      imports: [QueueModule.forRoot({ connectionString: appUrl(), schema: 'lp_none' })],
    });
    expect(missing).toBeInstanceOf(QueuePrivilegeError);
    const error = missing as QueuePrivilegeError;
    expect(error.code).toBe('42501');
    expect(error.role).toBe('queue_app');
    expect(error.pending.length).toBeGreaterThan(0);
    expect(error.message).toContain('npx fetchcraft-queue migrate');
    expect(error.message).toContain('migrationsConnectionString');
    expect(error.message).not.toContain(APP_PASSWORD);

    // The schema exists (the owner's, the app may use it) but no table was created in it.
    await db.query('CREATE SCHEMA lp_empty AUTHORIZATION queue_owner');
    await db.query('GRANT USAGE ON SCHEMA lp_empty TO queue_app');
    const empty = await bootError({
      imports: [QueueModule.forRoot({ connectionString: appUrl(), schema: 'lp_empty' })],
    });
    expect(empty).toBeInstanceOf(QueuePrivilegeError);
    expect((empty as Error).message).toMatch(/pending migrations .* may not apply them/);

    // A wrong owner password is reported without either password.
    const wrong = await bootError({
      imports: [
        QueueModule.forRoot({
          connectionString: appUrl(),
          migrationsConnectionString: urlAs('queue_owner', 'not-the-owner-pw'),
          schema: 'lp_none',
        }),
      ],
    });
    expect((wrong as Error).message).toContain('could not connect to postgres://queue_owner:***@');
    expect((wrong as Error).message).not.toContain('not-the-owner-pw');
    expect((wrong as Error).message).not.toContain(APP_PASSWORD);
  });

  it('holds the app role to the listed grants: no DDL, no TRUNCATE, no writes to the bookkeeping', async () => {
    // `lp` was migrated by the first test.
    for (const statement of [
      'ALTER TABLE lp.messages ADD COLUMN x integer',
      'DROP TABLE lp.messages',
      'TRUNCATE lp.messages',
      'CREATE INDEX ON lp.messages (queue)',
      'CREATE TABLE lp.other (id integer)',
      'UPDATE lp.messages_archive SET attempts = 0',
      "INSERT INTO lp.messages_migrations (timestamp, name) VALUES (1, 'x')",
      'DELETE FROM lp.messages_queues',
      'DROP FUNCTION lp.messages_message_ended()',
    ]) {
      expect({ statement, code: await refusal(statement) }).toEqual({ statement, code: '42501' });
    }
    const { rows } = await asApp(
      `SELECT pg_get_serial_sequence('lp.messages', 'seq') AS sequence, current_user AS role,
        (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser`,
    );
    expect(rows[0]).toEqual({
      sequence: 'lp.messages_seq_seq',
      role: 'queue_app',
      superuser: false,
    });

    // What the app role holds is exactly what queueGrantsSql grants.
    const { rows: held } = await db.query<{ object: string; privilege: string }>(
      `SELECT c.relname AS object, p.privilege_type AS privilege
       FROM pg_class AS c, aclexplode(c.relacl) AS p
       WHERE c.relnamespace = 'lp'::regnamespace AND p.grantee = 'queue_app'::regrole
       ORDER BY 1, 2`,
    );
    const granted = queueGrantsSql(queueTableNames('lp', 'messages'), 'queue_app').filter((sql) =>
      /ON (TABLE|SEQUENCE)/.test(sql),
    );
    const expected = granted
      .flatMap((sql) => {
        const [, privileges, object] = /^GRANT (.+) ON \w+ "lp"\."(\w+)" TO/.exec(sql)!;
        return privileges!.split(', ').map((privilege) => ({ object: object!, privilege }));
      })
      .sort((a, b) =>
        a.object === b.object
          ? a.privilege.localeCompare(b.privilege)
          : a.object < b.object
            ? -1
            : 1,
      );
    expect(held).toEqual(expected);
    // And the one function it may run: the archive's partition keeper, revoked from PUBLIC.
    const { rows: keeper } = await db.query<{ app: boolean; anyone: boolean }>(
      `SELECT has_function_privilege('queue_app', 'lp.messages_archive_partitions(integer, bigint)', 'EXECUTE') AS app,
         has_function_privilege('public', 'lp.messages_archive_partitions(integer, bigint)', 'EXECUTE') AS anyone`,
    );
    expect(keeper).toEqual([{ app: true, anyone: false }]);
  });
});
