import { describe, expect, it } from '@jest/globals';
import { resolveQueueConfig } from '../../src/config/resolve-queue-config.js';
import { roleNameViolation } from '../../src/config/role-name.js';
import {
  QueueOptionsError,
  QueueValidationError,
  migrateQueue,
  queueGrantsSql,
  queueTableNames,
  type QueueModuleOptions,
} from '../../src/index.js';
import { thrownBy } from '../support/thrown-by.js';

const APP_URL = 'postgres://queue_app:app-secret@127.0.0.1:5432/db';
const OWNER_URL = 'postgres://queue_owner:owner-secret@127.0.0.1:5432/db?max_size=9';

function resolve(options: Partial<QueueModuleOptions>) {
  return resolveQueueConfig({ connectionString: APP_URL, ...options }, {});
}

describe('queueGrantsSql', () => {
  it('grants exactly the row privileges the package uses, on each object of the table', () => {
    expect(queueGrantsSql(queueTableNames('public', 'messages'), 'queue_app')).toEqual([
      'GRANT USAGE ON SCHEMA "public" TO "queue_app"',
      'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE "public"."messages" TO "queue_app"',
      'GRANT SELECT, INSERT, DELETE ON TABLE "public"."messages_archive" TO "queue_app"',
      'GRANT EXECUTE ON FUNCTION "public"."messages_archive_partitions"(integer, bigint) TO "queue_app"',
      'GRANT SELECT, INSERT, UPDATE ON TABLE "public"."messages_queues" TO "queue_app"',
      'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE "public"."messages_schedules" TO "queue_app"',
      'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE "public"."messages_samples" TO "queue_app"',
      'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE "public"."messages_sample_minutes" TO "queue_app"',
      'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE "public"."messages_replicas" TO "queue_app"',
      'GRANT SELECT ON TABLE "public"."messages_migrations" TO "queue_app"',
      'GRANT USAGE ON SEQUENCE "public"."messages_seq_seq" TO "queue_app"',
    ]);
  });

  it('quotes a role name of managed services as is, and names the schema and table given', () => {
    const [schema, table] = queueGrantsSql(queueTableNames('jobs', 'work'), 'App-User.1@corp');
    expect(schema).toBe('GRANT USAGE ON SCHEMA "jobs" TO "App-User.1@corp"');
    expect(table).toBe(
      'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE "jobs"."work" TO "App-User.1@corp"',
    );
  });

  it.each([
    ['', 'must be a non-empty string'],
    ['public', 'must name a role, not public'],
    ['none', 'must name a role, not none'],
    ['pg_write_all_data', 'must not be a reserved pg_ role'],
    ['app"; DROP TABLE messages; --', 'must start with a letter'],
    ['app user', 'must start with a letter'],
    ['1app', 'must start with a letter'],
    ['a'.repeat(64), 'must be at most 63 bytes'],
  ])('refuses the role %j', (role, rule) => {
    const error = thrownBy(
      () => queueGrantsSql(queueTableNames('public', 'messages'), role),
      QueueValidationError,
    );
    expect(error).toBeInstanceOf(QueueValidationError);
    expect(error.field).toBe('role');
    expect(error.rule).toContain(rule);
  });

  it('accepts the longest role name Postgres keeps whole', () => {
    expect(roleNameViolation('r'.repeat(63))).toBeUndefined();
  });
});

describe('migrationsConnectionString', () => {
  it('is absent by default: the migrations use the application connection', () => {
    expect(resolve({}).migrationsConnection).toBeUndefined();
  });

  it('resolves to one connection of its own, the module ssl option applied, password kept out of the redacted URL', () => {
    const config = resolve({ migrationsConnectionString: OWNER_URL, ssl: false });
    expect(config.migrationsConnection).toMatchObject({
      kind: 'owned',
      poolMinSize: 0,
      poolMaxSize: 1,
      hostSelection: undefined,
      config: { user: 'queue_owner', password: 'owner-secret', ssl: false },
    });
    expect(config.migrationsConnection!.redacted).not.toContain('owner-secret');
    expect(config.connection).toMatchObject({ config: { user: 'queue_app' } });
  });

  it('selects among several hosts as connectionString does', () => {
    const config = resolve({
      migrationsConnectionString:
        'postgres://o:p@h1:5432,h2:5433/db?target_session_attrs=read-write&connect_timeout=3',
    });
    expect(config.migrationsConnection!.hostSelection).toMatchObject({
      targetSessionAttrs: 'read-write',
      hostConnectTimeoutMs: 3_000,
      hosts: [
        { host: 'h1', port: 5432 },
        { host: 'h2', port: 5433 },
      ],
    });
  });

  it.each([
    ['not a url with a pass:word', 'must be a postgres:// or postgresql:// URL'],
    ['postgres://o:s3cret-pw@h/db?target_session_attrs=sometimes', 'target_session_attrs'],
  ])('is refused under its own name, never echoing it: %s', (url, rule) => {
    const error = thrownBy(() => resolve({ migrationsConnectionString: url }), QueueOptionsError);
    expect(error).toBeInstanceOf(QueueOptionsError);
    expect(error.option).toBe('migrationsConnectionString');
    expect(error.message).toContain(rule);
    expect(error.message).not.toContain('pass:word');
    expect(error.message).not.toContain('s3cret-pw');
  });

  it('is refused empty, or where no migration runs at boot', () => {
    expect(
      thrownBy(() => resolve({ migrationsConnectionString: '' }), QueueOptionsError),
    ).toMatchObject({
      option: 'migrationsConnectionString',
    });
    expect(
      thrownBy(
        () => resolve({ migrationsConnectionString: OWNER_URL, migrationsRun: false }),
        QueueOptionsError,
      ),
    ).toMatchObject({
      option: 'migrationsConnectionString',
      rule: expect.stringContaining('migrationsRun: false'),
    });
  });
});

describe('migrateQueue grantTo', () => {
  it('is refused before any connection opens', async () => {
    await expect(
      migrateQueue({ connectionString: 'postgres://o:p@127.0.0.1:1/db', grantTo: 'public' }),
    ).rejects.toMatchObject({ option: 'grantTo', rule: 'must name a role, not public' });
  });
});
