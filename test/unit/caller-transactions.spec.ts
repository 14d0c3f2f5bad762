import { describe, expect, it } from '@jest/globals';
import { type DataSource, type EntityManager } from 'typeorm';
import { type StatementSender } from '../../src/database/statement-sender.js';
import { QueueValidationError } from '../../src/errors/queue-validation.error.js';
import { CallerTransactions, type DatabaseIdentity } from '../../src/store/caller-transactions.js';

function dataSource(type = 'postgres'): DataSource {
  return { options: { type }, createQueryRunner: () => undefined } as unknown as DataSource;
}

function managerOf(source: DataSource): EntityManager {
  return { connection: source, transaction: () => undefined } as unknown as EntityManager;
}

/** Identities answered in turn: the queue's own pool (no sender) and each manager's. */
function reader(answers: { ours: DatabaseIdentity[]; theirs: DatabaseIdentity[] }) {
  const calls = { ours: 0, theirs: 0 };
  const read = (via?: StatementSender): Promise<DatabaseIdentity> => {
    const side = via === undefined ? 'ours' : 'theirs';
    const answer = answers[side][Math.min(calls[side], answers[side].length - 1)]!;
    calls[side] += 1;
    return Promise.resolve(answer);
  };
  return { read, calls };
}

const QUEUE_DB = { database: 'app', started: '1790000000.123456' };
const field = 'options.manager';

describe('CallerTransactions', () => {
  it('takes a manager of the queue’s own DataSource without reading anything', async () => {
    const own = dataSource();
    const { read, calls } = reader({ ours: [QUEUE_DB], theirs: [QUEUE_DB] });
    const callers = new CallerTransactions(read, () => own, { connectionTimeoutMs: 1_000 });
    await callers.senderFor(managerOf(own), field);
    expect(calls).toEqual({ ours: 0, theirs: 0 });
  });

  it('reads each side once per DataSource, then answers from the cache', async () => {
    const other = dataSource();
    const { read, calls } = reader({ ours: [QUEUE_DB], theirs: [QUEUE_DB] });
    const callers = new CallerTransactions(read, () => dataSource(), {
      connectionTimeoutMs: 1_000,
    });
    await callers.senderFor(managerOf(other), field);
    await callers.senderFor(managerOf(other), field);
    await callers.senderFor(managerOf(other), field);
    expect(calls).toEqual({ ours: 1, theirs: 1 });
  });

  it('reads both sides again before refusing, so a server restart is not taken for another server', async () => {
    const restarted = { database: 'app', started: '1790000999.000001' };
    const { read, calls } = reader({ ours: [QUEUE_DB, restarted], theirs: [restarted] });
    const callers = new CallerTransactions(read, () => dataSource(), {
      connectionTimeoutMs: 1_000,
    });
    await callers.senderFor(managerOf(dataSource()), field);
    expect(calls).toEqual({ ours: 2, theirs: 2 });
  });

  it('refuses another database, and the same name on another server, naming the field', async () => {
    for (const [theirs, rule] of [
      [
        { database: 'billing', started: QUEUE_DB.started },
        /queue's database "app": it is connected to "billing"/,
      ],
      [
        { database: 'app', started: '1700000000.5' },
        /queue's server: it reaches a database named "app" on another server/,
      ],
    ] as const) {
      const { read } = reader({ ours: [QUEUE_DB], theirs: [theirs] });
      const callers = new CallerTransactions(read, () => dataSource(), { connectionTimeoutMs: 1 });
      const error = await callers
        .senderFor(managerOf(dataSource()), field)
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(QueueValidationError);
      expect((error as QueueValidationError).field).toBe(field);
      expect((error as QueueValidationError).rule).toMatch(rule);
    }
  });

  it('refuses what is not a postgres EntityManager before reading anything', async () => {
    const { read, calls } = reader({ ours: [QUEUE_DB], theirs: [QUEUE_DB] });
    const callers = new CallerTransactions(read, () => dataSource(), { connectionTimeoutMs: 1 });
    for (const [manager, rule] of [
      [managerOf(dataSource('mysql')), /postgres DataSource \(got type "mysql"\)/],
      [{}, /must be a TypeORM EntityManager \(got object\)/],
      ['manager', /must be a TypeORM EntityManager \(got string\)/],
    ] as const) {
      const error = await callers.senderFor(manager, field).catch((caught: unknown) => caught);
      expect((error as QueueValidationError).rule).toMatch(rule);
    }
    expect(calls).toEqual({ ours: 0, theirs: 0 });
  });

  it('forgets a failed read, so the next call asks again', async () => {
    let failures = 1;
    const read = (): Promise<DatabaseIdentity> =>
      failures-- > 0 ? Promise.reject(new Error('connection lost')) : Promise.resolve(QUEUE_DB);
    const callers = new CallerTransactions(read, () => dataSource(), { connectionTimeoutMs: 1 });
    const other = managerOf(dataSource());
    await expect(callers.senderFor(other, field)).rejects.toThrow('connection lost');
    await expect(callers.senderFor(other, field)).resolves.toBeDefined();
  });
});
