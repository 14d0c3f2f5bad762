import { describe, expect, it } from '@jest/globals';
import { ownedDataSourceOptions } from '../../src/config/data-source-options.js';
import { type OwnedConnection } from '../../src/config/queue-config.js';
import { resolveQueueConfig } from '../../src/config/resolve-queue-config.js';
import { QueueOptionsError, type QueueModuleOptions } from '../../src/index.js';
import { thrownBy } from '../support/thrown-by.js';

const POOLED = 'postgres://app:s3cret-pw@127.0.0.1:6432/db';
const DIRECT = 'postgres://app:s3cret-pw@127.0.0.1:5432/db';

function resolve(options: Partial<QueueModuleOptions>) {
  return resolveQueueConfig({ connectionString: POOLED, ...options }, {});
}

function refusal(options: Partial<QueueModuleOptions>): QueueOptionsError {
  return thrownBy(() => resolve(options), QueueOptionsError);
}

function startupParameters(options: Partial<QueueModuleOptions>): Record<string, unknown> {
  const config = resolve(options);
  const extra = ownedDataSourceOptions(config, config.connection as OwnedConnection, () => {})
    .extra as Record<string, unknown>;
  return extra;
}

describe('transactionPooling', () => {
  it('leaves everything as it was when off', () => {
    const config = resolve({});
    expect(config).toMatchObject({
      transactionPooling: false,
      preparedStatements: true,
      migrationsRun: true,
      listenConnection: undefined,
      workers: { listen: true },
    });
    expect(startupParameters({})).toMatchObject({ statement_timeout: 30_000, lock_timeout: 5_000 });
  });

  it('turns off what a transaction pooler cannot carry, unless told otherwise where it can', () => {
    expect(resolve({ transactionPooling: true })).toMatchObject({
      transactionPooling: true,
      preparedStatements: false,
      migrationsRun: false,
      workers: { listen: false },
    });
    // PgBouncer 1.21+ with max_prepared_statements routes named statements.
    expect(resolve({ transactionPooling: true, preparedStatements: true })).toMatchObject({
      preparedStatements: true,
    });
    expect(
      resolve({ transactionPooling: true, listenConnectionString: DIRECT }).workers.listen,
    ).toBe(true);
  });

  it('does not send statement_timeout and lock_timeout at connect, which PgBouncer refuses', () => {
    const extra = startupParameters({ transactionPooling: true });
    expect(extra).not.toHaveProperty('statement_timeout');
    expect(extra).not.toHaveProperty('lock_timeout');
    expect(extra).toMatchObject({ application_name: 'fetchcraft-queue', port: 6432 });
  });

  it('refuses LISTEN through the pooler and migrations at boot', () => {
    expect(refusal({ transactionPooling: true, listen: true })).toMatchObject({
      option: 'listen',
    });
    expect(refusal({ transactionPooling: true, listen: true }).rule).toContain(
      'listenConnectionString',
    );
    expect(refusal({ transactionPooling: true, migrationsRun: true })).toMatchObject({
      option: 'migrationsRun',
    });
    expect(refusal({ transactionPooling: true, migrationsRun: true }).rule).toContain(
      'fetchcraft-queue migrate',
    );
  });
});

describe('listenConnectionString', () => {
  it('is parsed by the connection string rules, with the ssl option, and kept apart', () => {
    const config = resolve({
      listenConnectionString: `${DIRECT}?sslmode=disable&application_name=ignored`,
      ssl: false,
    });
    expect(config.listenConnection).toMatchObject({
      config: { host: '127.0.0.1', port: 5432, user: 'app', password: 's3cret-pw', ssl: false },
      redacted: 'postgres://app:***@127.0.0.1:5432/db?sslmode=disable&application_name=ignored',
    });
    expect(config.connection).toMatchObject({ config: { port: 6432 } });
  });

  it('refuses a bad URL by its own name, never echoing the password', () => {
    for (const [url, rule] of [
      ['mysql://app:s3cret-pw@host/db', 'postgres://'],
      ['postgres://app:s3cret-pw@host:99999/db', 'not a valid connection URL'],
      ['postgres://app:s3cret-pw@a:5432,b:5432/db', 'one host'],
      [`${DIRECT}?target_session_attrs=read-write`, 'one host'],
      [`${DIRECT}?max_size=5`, 'no min_size/max_size'],
    ] as const) {
      const error = refusal({ listenConnectionString: url });
      expect(error.option).toBe('listenConnectionString');
      expect(error.rule).toContain(rule);
      expect(error.message).not.toContain('s3cret-pw');
    }
    expect(refusal({ listenConnectionString: '' }).option).toBe('listenConnectionString');
    expect(refusal({ listenConnectionString: DIRECT, listen: false }).option).toBe(
      'listenConnectionString',
    );
  });
});
