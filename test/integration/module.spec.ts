import { MIGRATION_NAMES } from '../support/queue-migrations.js';
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { describe, expect, it } from '@jest/globals';
import { Inject, Injectable, Module, type ModuleMetadata } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import pg from 'pg';
import { DataSource } from 'typeorm';
import {
  getQueueToken,
  InjectQueue,
  Processor,
  QueueProcessorError,
  QueueDatabaseError,
  QueueModule,
  QueueProducer,
  QueueValidationError,
  QueueOptionsError,
  QueueService,
  type QueueModuleOptions,
  type QueueOptionsFactory,
} from '../../src/index.js';
import { useQueueFixture } from '../support/queue-fixture.js';
import { bootError, bootApp, RecordingLogger, waitFor } from '../support/boot.js';
import { eventually } from '../support/eventually.js';
import { createTestDatabase } from '../support/test-database.js';
import { freePort } from '../../dev/embedded-postgres.js';

const { db } = useQueueFixture('module', { reset: 'none' });

async function roundTrip(queue: QueueService, name = 'module.check'): Promise<void> {
  const id = await queue.enqueue(name, { ok: true });
  const leased = await queue.leaseNext(name);
  expect(leased?.id).toBe(id);
  expect(await queue.ack(name, leased!)).toBe(true);
}

/** Boots a testing module with these imports, checks QueueService works, and closes it. */
async function bootAndRoundTrip(
  imports: NonNullable<ModuleMetadata['imports']>,
  pick: (moduleRef: TestingModule) => QueueService = (moduleRef) => moduleRef.get(QueueService),
): Promise<void> {
  const moduleRef = await Test.createTestingModule({ imports }).compile();
  moduleRef.useLogger(false);
  await moduleRef.init();
  try {
    await roundTrip(pick(moduleRef));
  } finally {
    await moduleRef.close();
  }
}

const DB_URL = Symbol('DB_URL');

@Module({ providers: [{ provide: DB_URL, useFactory: () => db.url }], exports: [DB_URL] })
class ConfigModule {}

@Injectable()
class QueueConfigService implements QueueOptionsFactory {
  constructor(@Inject(DB_URL) private readonly url: string) {}
  createQueueOptions(): QueueModuleOptions {
    return { connectionString: this.url, poolMinSize: 1, poolMaxSize: 2, schema: 'from_class' };
  }
}

@Module({ imports: [ConfigModule], providers: [QueueConfigService], exports: [QueueConfigService] })
class QueueConfigModule {}

@Injectable()
class Consumer {
  constructor(readonly queue: QueueService) {}
}

@Module({ providers: [Consumer], exports: [Consumer] })
class FeatureModule {}

describe('forRoot and forRootAsync', () => {
  it('forRoot boots, creates the table in public, and serves QueueService', async () => {
    const booted = await bootApp({ connectionString: db.url });
    try {
      await roundTrip(booted.queue);
      const { rows } = await db.query(
        // The archive's weekly partitions are tables too: the parents only.
        "SELECT table_schema, table_name FROM information_schema.tables WHERE table_name LIKE 'messages%' AND table_name NOT IN (SELECT relname FROM pg_class WHERE relispartition) ORDER BY 2",
      );
      expect(rows).toEqual([
        { table_schema: 'public', table_name: 'messages' },
        { table_schema: 'public', table_name: 'messages_archive' },
        { table_schema: 'public', table_name: 'messages_migrations' },
        { table_schema: 'public', table_name: 'messages_queues' },
        { table_schema: 'public', table_name: 'messages_replicas' },
        { table_schema: 'public', table_name: 'messages_sample_minutes' },
        { table_schema: 'public', table_name: 'messages_samples' },
        { table_schema: 'public', table_name: 'messages_schedules' },
      ]);
    } finally {
      await booted.close();
    }
  });

  it('reads DATABASE_URL when connectionString is absent', async () => {
    const previous = process.env.DATABASE_URL;
    process.env.DATABASE_URL = db.url;
    try {
      const booted = await bootApp({});
      await roundTrip(booted.queue);
      await booted.close();
    } finally {
      if (previous === undefined) delete process.env.DATABASE_URL;
      else process.env.DATABASE_URL = previous;
    }
  });

  it('fails boot with a clear error when neither connectionString nor DATABASE_URL is set', async () => {
    const previous = process.env.DATABASE_URL;
    delete process.env.DATABASE_URL;
    try {
      const error = await bootError({ imports: [QueueModule.forRoot({})] });
      expect(error).toBeInstanceOf(QueueOptionsError);
      expect((error as QueueOptionsError).option).toBe('connectionString');
      expect((error as Error).message).toMatch(/DATABASE_URL/);
    } finally {
      if (previous !== undefined) process.env.DATABASE_URL = previous;
    }
  });

  it('forRootAsync with imports, inject and useFactory', async () => {
    await bootAndRoundTrip([
      QueueModule.forRootAsync({
        imports: [ConfigModule],
        inject: [DB_URL],
        useFactory: (url: string) => ({
          connectionString: url,
          poolMinSize: 1,
          schema: 'from_factory',
        }),
      }),
    ]);
    const { rows } = await db.query(
      "SELECT 1 FROM pg_tables WHERE schemaname = 'from_factory' AND tablename NOT IN (SELECT relname FROM pg_class WHERE relispartition)",
    );
    // The queue table, its archive (its weekly partitions apart), its migrations, its queues,
    // its schedules, its samples with their minutes, and its replicas.
    expect(rows.length).toBe(8);
  });

  it('forRootAsync with useClass', async () => {
    await bootAndRoundTrip([
      QueueModule.forRootAsync({ imports: [ConfigModule], useClass: QueueConfigService }),
    ]);
  });

  it('forRootAsync with useExisting', async () => {
    await bootAndRoundTrip([
      QueueModule.forRootAsync({ imports: [QueueConfigModule], useExisting: QueueConfigService }),
    ]);
  });

  it('is global by default, and isGlobal: false keeps QueueService to the importing module', async () => {
    await bootAndRoundTrip(
      [QueueModule.forRoot({ connectionString: db.url, poolMinSize: 1 }), FeatureModule],
      (moduleRef) => moduleRef.get(Consumer).queue,
    );

    const error = await bootError({
      imports: [
        QueueModule.forRoot({ connectionString: db.url, poolMinSize: 1, isGlobal: false }),
        FeatureModule,
      ],
    });
    expect(String(error)).toMatch(/Consumer/);
  });
});

@Injectable()
class DocumentsService {
  constructor(
    @Inject(QueueService) readonly queue: QueueService,
    @InjectQueue('feature.docs') readonly docs: QueueProducer<{ url: string }>,
  ) {}
}

@Injectable()
class ReportsService {
  constructor(@Inject(QueueService) readonly queue: QueueService) {}
}

// The plain import a Nest user writes first: it must not fail, and adds nothing.
@Module({ imports: [QueueModule], providers: [ReportsService], exports: [ReportsService] })
class PlainImportModule {}

@Module({
  imports: [QueueModule.forFeature(['feature.docs'])],
  providers: [DocumentsService],
  exports: [DocumentsService],
})
class DocsFeatureModule {}

@Injectable()
class MailService {
  constructor(
    @InjectQueue('feature.mail') readonly mail: QueueProducer<{ to: string }>,
    @InjectQueue('feature.docs') readonly docs: QueueProducer,
  ) {}
}

@Module({
  imports: [QueueModule.forFeature(['feature.mail', 'feature.docs'])],
  providers: [MailService],
  exports: [MailService],
})
class MailFeatureModule {}

describe('feature modules', () => {
  it('two feature modules share the root instance and inject producers by name', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        QueueModule.forRoot({ connectionString: db.url, poolMinSize: 0, poolMaxSize: 2 }),
        DocsFeatureModule,
        MailFeatureModule,
      ],
    }).compile();
    moduleRef.useLogger(false);
    await moduleRef.init();
    try {
      const documents = moduleRef.get(DocumentsService);
      const mail = moduleRef.get(MailService);
      // One QueueService (one pool) for the whole application.
      expect(documents.queue).toBe(moduleRef.get(QueueService));
      expect(documents.docs.name).toBe('feature.docs');
      expect(mail.mail.name).toBe('feature.mail');
      expect(moduleRef.get(getQueueToken('feature.mail'), { strict: false })).toBe(mail.mail);

      await documents.docs.enqueue({ url: 'https://example.com/a' });
      await mail.docs.enqueueMany([{ url: 'https://example.com/b' }]);
      await mail.mail.enqueue({ to: 'ops@example.com' });
      const { rows } = await db.query<{ queue: string; n: string }>(
        "SELECT queue, count(*) AS n FROM messages WHERE queue LIKE 'feature.%' GROUP BY queue ORDER BY queue",
      );
      expect(rows).toEqual([
        { queue: 'feature.docs', n: '2' },
        { queue: 'feature.mail', n: '1' },
      ]);
      expect((await documents.docs.getStats()).ready).toEqual({ due: 2, delayed: 0 });
      // The group tools have the queue bound too.
      const grouped = await mail.mail.enqueue({ to: 'a@example.com' }, { groupKey: 'tenant' });
      await db.query(`UPDATE messages SET state = 'failed' WHERE id = $1`, [grouped]);
      expect(await mail.mail.listBlockedGroups()).toEqual([
        { groupKey: 'tenant', reason: 'deadLetter', messageId: grouped, at: expect.any(Date) },
      ]);
      expect(await documents.docs.listBlockedGroups()).toEqual([]);
      expect(await mail.mail.releaseGroup('tenant')).toBe(1);
      expect(await mail.mail.listBlockedGroups()).toEqual([]);
      expect(await mail.mail.clear()).toBe(2);
      expect(await documents.docs.clear()).toBe(2);
    } finally {
      await moduleRef.close();
    }
  });

  it('a bare imports: [QueueModule] in a feature module boots and uses the root instance', async () => {
    await bootAndRoundTrip(
      [QueueModule.forRoot({ connectionString: db.url, poolMinSize: 1 }), PlainImportModule],
      (moduleRef) => moduleRef.get(ReportsService).queue,
    );
  });

  it('forFeature refuses a bad queue name when the module is declared', () => {
    expect(() => QueueModule.forFeature(['ok', ' padded'])).toThrow(QueueValidationError);
    expect(() => QueueModule.forFeature(['ok', ' padded'])).toThrow(/queues\[1\]/);
  });
});

describe('options validated at boot', () => {
  const cases: Array<[string, QueueModuleOptions, string, RegExp]> = [
    [
      'min above max',
      { poolMinSize: 10, poolMaxSize: 5 },
      'poolMinSize',
      /must not exceed poolMaxSize \(10 > 5\)/,
    ],
    ['a fractional pool size', { poolMinSize: 1.5 }, 'poolMinSize', /integer/],
    ['a zero max pool', { poolMaxSize: 0 }, 'poolMaxSize', /not be less than 1/],
    [
      'a negative timeout',
      { connectionTimeoutMs: -1 },
      'connectionTimeoutMs',
      /not be less than 1/,
    ],
    ['an upper-case table', { table: 'Messages' }, 'table', /lower-case letters/],
    [
      'an injected schema',
      { schema: 'x"; DROP SCHEMA public; --' },
      'schema',
      /lower-case letters/,
    ],
    ['an over-long table', { table: 't'.repeat(41) }, 'table', /at most 40 characters/],
    ['an empty table', { table: '' }, 'table', /non-empty/],
    ['a misspelt option', { poolSize: 5 } as QueueModuleOptions, 'poolSize', /not a known option/],
    [
      'a string for a boolean',
      { migrationsRun: 'yes' as unknown as boolean },
      'migrationsRun',
      /boolean/,
    ],
    ['a zero body limit', { maxBodyBytes: 0 }, 'maxBodyBytes', /not be less than 1/],
    [
      'ssl as a string',
      { ssl: 'on' as unknown as boolean },
      'ssl',
      /boolean or a TLS options object/,
    ],
  ];
  it.each(cases)('fails boot on %s', async (_label, options, option, rule) => {
    const error = await bootError({
      imports: [QueueModule.forRoot({ connectionString: db.url, ...options })],
    });
    expect(error).toBeInstanceOf(QueueOptionsError);
    expect((error as QueueOptionsError).option).toBe(option);
    expect((error as QueueOptionsError).rule).toMatch(rule);
    expect((error as Error).message).toContain(`"${option}"`);
  });

  it('boots on a multi-host URL whose first host is down, on the next one, and says which', async () => {
    const url = new URL(db.url);
    const down = await freePort();
    const logger = new RecordingLogger();
    const app = await bootApp(
      {
        connectionString: `postgresql://${url.username}:${url.password}@127.0.0.1:${down},${url.host}${url.pathname}?target_session_attrs=read-write&connect_timeout=2`,
        workers: false,
      },
      [],
      { logger },
    );
    try {
      await roundTrip(app.queue);
      const lines = logger.lines.filter((line) => line.includes('host is now'));
      expect(lines).toEqual([
        expect.stringContaining(
          `Queue database host is now ${url.host} (target_session_attrs=read-write)`,
        ),
      ]);
      expect(logger.lines.join('\n')).not.toContain(`:${url.password}@`);
    } finally {
      await app.close();
    }
  });

  it('boots on the next host when the first accepts connections but never answers', async () => {
    // A host that is there for TCP and silent after (a hung VM, dropped packets): each host gets
    // its own connectionTimeoutMs, and the pool waits for the whole scan, not for one host.
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    const url = new URL(db.url);
    try {
      const app = await bootApp({
        connectionString: `postgresql://${url.username}:${url.password}@127.0.0.1:${port},${url.host}${url.pathname}?target_session_attrs=read-write`,
        connectionTimeoutMs: 1_500,
        workers: false,
      });
      try {
        await roundTrip(app.queue);
      } finally {
        await app.close();
      }
    } finally {
      sockets.forEach((socket) => socket.destroy());
      await new Promise((resolve) => silent.close(resolve));
    }
  }, 30_000);

  it('fails boot when dataSource is combined with a URL or pool options', async () => {
    const dataSource = new DataSource({ type: 'postgres', url: db.url });
    await dataSource.initialize();
    try {
      for (const extra of [
        { connectionString: db.url },
        { poolMaxSize: 3 },
      ] as QueueModuleOptions[]) {
        const error = await bootError({ imports: [QueueModule.forRoot({ dataSource, ...extra })] });
        expect(error).toBeInstanceOf(QueueOptionsError);
        expect((error as Error).message).toMatch(/cannot be combined with dataSource/);
      }
    } finally {
      await dataSource.destroy();
    }
  });

  it('fails boot on a DataSource that is not initialised or not postgres', async () => {
    const idle = new DataSource({ type: 'postgres', url: db.url });
    let error = await bootError({ imports: [QueueModule.forRoot({ dataSource: idle })] });
    expect((error as Error).message).toMatch(/must be initialised/);
    const other = {
      options: { type: 'mysql' },
      createQueryRunner: () => null,
    } as unknown as DataSource;
    error = await bootError({ imports: [QueueModule.forRoot({ dataSource: other })] });
    expect((error as Error).message).toMatch(/postgres driver \(got mysql\)/);
  });
});

describe('connections', () => {
  it('opens poolMinSize connections at boot and closes them all at shutdown', async () => {
    const booted = await bootApp({
      connectionString: db.url,
      poolMinSize: 3,
      poolMaxSize: 5,
      applicationName: 'warm-pool-test',
    });
    expect(await db.connectionsOf('warm-pool-test')).toBe(3);
    await booted.close();
    expect(await eventually(() => db.connectionsOf('warm-pool-test'), 0)).toBe(0);
  });

  it('by default opens one connection at boot (plus the LISTEN one with workers), not a warm pool', async () => {
    @Injectable()
    class Idle {
      @Processor('lazy.pool')
      handle(): void {}
    }
    const moduleRef = await Test.createTestingModule({
      imports: [
        QueueModule.forRoot({
          connectionString: db.url,
          applicationName: 'lazy-pool-test',
          reaper: false,
          cleanup: false,
        }),
      ],
      providers: [Idle],
    }).compile();
    moduleRef.useLogger(false);
    await moduleRef.init();
    try {
      // The boot's own connection (TypeORM's check, the migrations) and the LISTEN connection.
      expect(await db.connectionsOf('lazy-pool-test')).toBeLessThanOrEqual(2);
    } finally {
      await moduleRef.close();
    }
    expect(await eventually(() => db.connectionsOf('lazy-pool-test'), 0)).toBe(0);
  });

  it('shares an application DataSource without opening a pool, and leaves it open', async () => {
    const dataSource = new DataSource({
      type: 'postgres',
      url: db.url,
      applicationName: 'app-owned',
    });
    await dataSource.initialize();
    try {
      const booted = await bootApp({
        dataSource,
        schema: 'shared',
        applicationName: 'unused-pool',
      });
      await roundTrip(booted.queue);
      expect(await db.connectionsOf('unused-pool')).toBe(0);
      await booted.close();
      expect(dataSource.isInitialized).toBe(true);
      const rows = await dataSource.query<Array<{ n: number }>>(
        'SELECT count(*)::int AS n FROM shared.messages',
      );
      expect(rows[0]!.n).toBe(1);
    } finally {
      await dataSource.destroy();
    }
  });

  it('forRootAsync can inject the DataSource the application already provides', async () => {
    const dataSource = new DataSource({ type: 'postgres', url: db.url });
    await dataSource.initialize();
    @Module({ providers: [{ provide: DataSource, useValue: dataSource }], exports: [DataSource] })
    class DatabaseModule {}
    try {
      await bootAndRoundTrip([
        QueueModule.forRootAsync({
          imports: [DatabaseModule],
          inject: [DataSource],
          useFactory: (shared: DataSource) => ({ dataSource: shared, schema: 'injected' }),
        }),
      ]);
      expect(dataSource.isInitialized).toBe(true);
    } finally {
      await dataSource.destroy();
    }
  });
});

describe('schema, table and migrations', () => {
  it('lives beside an application table of the same name in another schema', async () => {
    await db.query('CREATE TABLE public.jobs (id serial PRIMARY KEY, title text NOT NULL)');
    await db.query("INSERT INTO public.jobs (title) VALUES ('the app''s own row')");
    const booted = await bootApp({ connectionString: db.url, schema: 'queueing', table: 'jobs' });
    try {
      await roundTrip(booted.queue);
      const { rows: indexes } = await db.query<{ indexname: string }>(
        "SELECT indexname FROM pg_indexes WHERE schemaname = 'queueing' AND tablename = 'jobs' ORDER BY 1",
      );
      expect(indexes.map((r) => r.indexname)).toEqual([
        'idx_jobs_group',
        'idx_jobs_group_rate',
        'idx_jobs_lease',
        'idx_jobs_origin',
        'idx_jobs_parent',
        'idx_jobs_priority',
        'idx_jobs_queue_avail',
        'idx_jobs_rate',
        'idx_jobs_state',
        'idx_jobs_unique',
        'idx_jobs_unique_window',
        'jobs_pkey',
      ]);
      const { rows } = await db.query('SELECT title FROM public.jobs');
      expect(rows).toEqual([{ title: "the app's own row" }]);
      const { rows: queued } = await db.query<{ count: string }>(
        'SELECT count(*) FROM queueing.jobs',
      );
      expect(Number(queued[0]!.count)).toBe(1);
    } finally {
      await booted.close();
    }
  });

  it('refuses to adopt an existing table it did not create, with a clear error', async () => {
    await db.query('CREATE SCHEMA taken');
    await db.query('CREATE TABLE taken.messages (id int)');
    const error = await bootError({
      imports: [
        QueueModule.forRoot({
          connectionString: db.url,
          poolMinSize: 2,
          schema: 'taken',
          applicationName: 'failed-boot',
        }),
      ],
    });
    // The failed boot closed the pool it had opened.
    expect(await eventually(() => db.connectionsOf('failed-boot'), 0)).toBe(0);
    expect(error).toBeInstanceOf(QueueDatabaseError);
    expect((error as QueueDatabaseError).code).toBe('42P07');
    expect((error as Error).message).toMatch(/taken\.messages already exists but was not created/);
    const { rows } = await db.query("SELECT 1 FROM pg_tables WHERE schemaname = 'taken'");
    expect(rows).toHaveLength(1);
  });

  it('ten modules booting at once on an empty database create one schema without error', async () => {
    const fresh = await createTestDatabase('boot_race');
    try {
      const modules = await Promise.all(
        Array.from({ length: 10 }, () =>
          bootApp({
            connectionString: fresh.url,
            poolMinSize: 1,
            poolMaxSize: 2,
            schema: 'raced',
          }),
        ),
      );
      await Promise.all(modules.map((m, i) => roundTrip(m.queue, `race.${i}`)));
      await Promise.all(modules.map((m) => m.close()));
      const { rows } = await fresh.query('SELECT name FROM raced.messages_migrations ORDER BY id');
      expect(rows).toEqual(MIGRATION_NAMES.map((name) => ({ name })));
      const { rows: done } = await fresh.query<{ count: string }>(
        "SELECT count(*) FROM raced.messages WHERE state = 'done'",
      );
      expect(Number(done[0]!.count)).toBe(10);
    } finally {
      await fresh.drop();
    }
  });

  it('modules of two tables booting at once into one new schema both create their table', async () => {
    const fresh = await createTestDatabase('schema_race');
    try {
      const modules = await Promise.all(
        ['left_jobs', 'right_jobs', 'left_jobs', 'right_jobs'].map((table) =>
          bootApp({ connectionString: fresh.url, poolMaxSize: 2, schema: 'shared_new', table }),
        ),
      );
      await Promise.all(modules.map((m) => m.close()));
      const { rows } = await fresh.query(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'shared_new' AND tablename NOT IN (SELECT relname FROM pg_class WHERE relispartition) ORDER BY 1",
      );
      expect(rows.map((row) => (row as { tablename: string }).tablename)).toEqual([
        'left_jobs',
        'left_jobs_archive',
        'left_jobs_migrations',
        'left_jobs_queues',
        'left_jobs_replicas',
        'left_jobs_sample_minutes',
        'left_jobs_samples',
        'left_jobs_schedules',
        'right_jobs',
        'right_jobs_archive',
        'right_jobs_migrations',
        'right_jobs_queues',
        'right_jobs_replicas',
        'right_jobs_sample_minutes',
        'right_jobs_samples',
        'right_jobs_schedules',
      ]);
    } finally {
      await fresh.drop();
    }
  });

  it('a migration never queues traffic behind a lock held elsewhere: it gives up, waits, tries again', async () => {
    const first = await bootApp({ connectionString: db.url, schema: 'locked' });
    await first.queue.enqueue('locked', { n: 1 });
    await first.close();
    // A migration left to run again, one that needs the table's ACCESS EXCLUSIVE lock.
    await db.query(
      "DELETE FROM locked.messages_migrations WHERE name = 'TimeOrderedIds1795567200000'",
    );
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT count(*) FROM locked.messages'); // ACCESS SHARE until COMMIT
      const logger = new RecordingLogger();
      const booting = bootApp(
        { connectionString: db.url, schema: 'locked', migrationLockTimeoutMs: 200 },
        [],
        { logger },
      );
      await waitFor(
        () => logger.lines.some((line) => line.includes('waits for a table lock')),
        10_000,
        'the migration to give up once',
      );
      // Readers are not stuck behind the waiting migration while the lock is still held.
      const reader = new pg.Client({ connectionString: db.url });
      await reader.connect();
      try {
        await reader.query("SET statement_timeout = '5s'");
        const { rows } = await reader.query('SELECT count(*)::int AS n FROM locked.messages');
        expect(rows).toEqual([{ n: 1 }]);
      } finally {
        await reader.end();
      }
      await holder.query('COMMIT');
      const booted = await booting;
      try {
        expect(logger.lines.join('\n')).toContain(
          'Migrated locked.messages: TimeOrderedIds1795567200000',
        );
      } finally {
        await booted.close();
      }
    } finally {
      await holder.end();
    }
  });

  it('migrationsRun: false leaves the schema alone; statements then fail with a typed error', async () => {
    const booted = await bootApp({
      connectionString: db.url,
      schema: 'unmigrated',
      migrationsRun: false,
    });
    try {
      const { rows } = await db.query("SELECT 1 FROM pg_namespace WHERE nspname = 'unmigrated'");
      expect(rows).toHaveLength(0);
      const error = await booted.queue.enqueue('q', { n: 1 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(QueueDatabaseError);
      expect((error as QueueDatabaseError).operation).toBe('enqueue');
      expect((error as QueueDatabaseError).code).toBe('42P01');
      expect((error as Error).message).not.toContain('queue-test');
    } finally {
      await booted.close();
    }
  });

  it('a second boot finds the schema up to date and keeps the data', async () => {
    const first = await bootApp({ connectionString: db.url, schema: 'reboot' });
    await first.queue.enqueue('kept', { n: 1 });
    await first.close();
    const second = await bootApp({ connectionString: db.url, schema: 'reboot' });
    try {
      expect((await second.queue.leaseNext('kept'))?.body).toEqual({ n: 1 });
      const { rows } = await db.query('SELECT count(*)::int AS n FROM reboot.messages_migrations');
      expect(rows).toEqual([{ n: MIGRATION_NAMES.length }]);
    } finally {
      await second.close();
    }
  });
});

describe('boot failures', () => {
  /** Runs test/support/failing-boot.ts; resolves with its output once it exits by itself. */
  function failingBoot(env: Record<string, string>): Promise<{ output: string; exitMs: number }> {
    const started = Date.now();
    const child = spawn('node', ['--import', 'tsx', 'test/support/failing-boot.ts'], {
      env: { ...process.env, DATABASE_URL: db.url, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`the process did not exit within 30 s; it printed: ${output}`));
      }, 30_000);
      child.on('exit', () => {
        clearTimeout(timer);
        resolve({ output, exitMs: Date.now() - started });
      });
    });
  }

  it('a bootstrap in try/catch exits when a later boot step fails after the pool opened', async () => {
    const { output } = await failingBoot({ FAIL_AT: 'later-hook', POOL_MIN: '3' });
    expect(output).toBe('caught a later boot step failed\n');
  }, 40_000);

  it('a bootstrap in try/catch exits when the queue migration itself fails', async () => {
    await db.query('CREATE TABLE IF NOT EXISTS foreign_boot (id int)');
    const { output } = await failingBoot({ QUEUE_TABLE: 'foreign_boot', POOL_MIN: '3' });
    expect(output).toMatch(/^caught .*foreign_boot already exists but was not created/);
  }, 40_000);

  it('a wrong @Processor option stops the boot before any connection opens', async () => {
    @Injectable()
    class Misconfigured {
      @Processor('boot.bad', { concurrency: 0 })
      handle(): void {}
    }
    const error = await bootError({
      imports: [
        QueueModule.forRoot({ connectionString: db.url, poolMinSize: 2, schema: 'never_opened' }),
      ],
      providers: [Misconfigured],
    });
    expect(error).toBeInstanceOf(QueueProcessorError);
    // Neither connected nor migrated: the schema the migration would have created is absent.
    const { rows } = await db.query(
      "SELECT 1 FROM information_schema.schemata WHERE schema_name = 'never_opened'",
    );
    expect(rows).toEqual([]);
  });
});
