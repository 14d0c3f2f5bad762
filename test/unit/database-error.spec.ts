import { describe, expect, it } from '@jest/globals';
import { resolveQueueConfig } from '../../src/config/resolve-queue-config.js';
import { QueueConnection } from '../../src/database/queue-connection.js';
import { toQueueDatabaseError } from '../../src/database/to-queue-database-error.js';
import { QueueDatabaseError } from '../../src/index.js';

const occurrences = (text: string, part: string) => text.split(part).length - 1;

describe('QueueDatabaseError', () => {
  it('keeps the reason apart from the operation and the code it adds to the message', () => {
    const error = new QueueDatabaseError('enqueue', 'relation does not exist', { code: '42P01' });
    expect(error.message).toBe('Queue enqueue failed: relation does not exist (code 42P01)');
    expect(error.reason).toBe('relation does not exist');
    expect(error.code).toBe('42P01');
  });

  it('names the code once when a driver error is typed', () => {
    const driverError = Object.assign(new Error('password authentication failed'), {
      code: '28P01',
    });
    const error = toQueueDatabaseError('connect', driverError, { connectionTimeoutMs: 1_000 });
    expect(occurrences(error.message, '(code 28P01)')).toBe(1);
  });
});

describe('the connect path', () => {
  it('names the target and the code once', async () => {
    const config = resolveQueueConfig(
      { connectionString: 'postgres://u:Secr3t-pw@127.0.0.1:5432/db', poolMinSize: 1 },
      {},
    );
    // The wrapper every boot step runs in (open, warm-up); reached through a cast because the
    // lifecycle that calls it needs a server that refuses the password.
    const connection = new QueueConnection(config) as unknown as {
      run(operation: string, work: () => Promise<never>, target?: string): Promise<never>;
    };
    const refused = Object.assign(
      new Error('password authentication failed for user "u" (password Secr3t-pw)'),
      { code: '28P01' },
    );
    const error = await connection
      .run('connect', () => Promise.reject(refused), 'postgres://u:***@127.0.0.1:5432/db')
      .catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(QueueDatabaseError);
    const { message, code } = error as QueueDatabaseError;
    expect(code).toBe('28P01');
    expect(message).toBe(
      'Queue connect failed: could not connect to postgres://u:***@127.0.0.1:5432/db: password authentication failed for user "u" (password ***) (code 28P01)',
    );
  });
});
