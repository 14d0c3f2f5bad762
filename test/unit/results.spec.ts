import { describe, expect, it, jest } from '@jest/globals';
import {
  MessageCancelledError,
  MessageDeletedError,
  MessageFailedError,
  type QueueLease,
} from '../../src/index.js';
import { ackBatchSql, ackBatchWithResultsSql } from '../../src/sql/settle.sql.js';
import {
  awaitMessageSql,
  getMessageSql,
  progressSql,
  waitStatesSql,
} from '../../src/sql/results.sql.js';
import { deriveTableNames } from '../../src/sql/table-names.js';
import { type WaitStateRow } from '../../src/store/message-detail-row.js';
import { AckBatcher, type SendAcks } from '../../src/workers/ack-batcher.js';
import { ProgressWriter } from '../../src/workers/progress-writer.js';
import { waitOutcomeOf } from '../../src/workers/wait-outcome.js';

const names = deriveTableNames('public', 'messages');
const turn = () => new Promise((resolve) => setImmediate(resolve));

const row = (fields: Partial<WaitStateRow>): WaitStateRow => ({
  id: 'm1',
  queue: 'q',
  state: 'ready',
  origin_queue: null,
  last_error: null,
  result: null,
  ...fields,
});

describe('waitOutcomeOf', () => {
  it('is pending while the message has not ended', () => {
    for (const state of ['ready', 'leased', 'waiting_children']) {
      expect(waitOutcomeOf('m1', row({ state }))).toEqual({ kind: 'pending' });
    }
  });

  it('resolves a done message with its result, null when none was stored', () => {
    expect(waitOutcomeOf('m1', row({ state: 'done', result: { a: 1 } }))).toEqual({
      kind: 'done',
      result: { a: 1 },
    });
    expect(waitOutcomeOf('m1', row({ state: 'done', result: null }))).toEqual({
      kind: 'done',
      result: null,
    });
  });

  it('rejects a dead letter in place, a moved one whatever its state, a cancelled and a missing one', () => {
    const lastError = { name: 'Error', message: 'boom', attempt: 3, failedAt: 1 };
    const failed = waitOutcomeOf('m1', row({ state: 'failed', last_error: lastError }));
    expect(failed).toMatchObject({ kind: 'rejected' });
    const failedError = (failed as { error: unknown }).error as MessageFailedError;
    expect(failedError).toBeInstanceOf(MessageFailedError);
    expect(failedError).toMatchObject({ messageId: 'm1', queue: 'q', lastError });
    expect(failedError.deadLetterQueue).toBeUndefined();

    for (const state of ['ready', 'leased', 'done']) {
      const moved = waitOutcomeOf(
        'm1',
        row({ state, queue: 'q.dead', origin_queue: 'q', last_error: lastError }),
      );
      expect((moved as { error: unknown }).error).toMatchObject({
        name: 'MessageFailedError',
        queue: 'q',
        deadLetterQueue: 'q.dead',
      });
    }
    const cancelled = waitOutcomeOf('m1', row({ state: 'cancelled' }));
    expect((cancelled as { error: unknown }).error).toBeInstanceOf(MessageCancelledError);
    const deleted = waitOutcomeOf('m1', undefined);
    expect((deleted as { error: unknown }).error).toBeInstanceOf(MessageDeletedError);
  });
});

describe('ProgressWriter', () => {
  function manual() {
    const calls: Array<{ json: string; settle: (recorded: boolean | Error) => void }> = [];
    const send = (json: string) =>
      new Promise<boolean>((resolve, reject) =>
        calls.push({
          json,
          settle: (recorded) => (recorded instanceof Error ? reject(recorded) : resolve(recorded)),
        }),
      );
    return { send, calls };
  }

  it('keeps one statement in flight and sends only the last value reported meanwhile', async () => {
    const { send, calls } = manual();
    const recorded: unknown[] = [];
    const writer = new ProgressWriter(
      send,
      (value) => recorded.push(value),
      () => undefined,
    );
    const first = writer.write('1', 1);
    const superseded = [writer.write('2', 2), writer.write('3', 3)];
    const last = writer.write('4', 4);
    expect(calls.map((call) => call.json)).toEqual(['1']);
    calls[0]!.settle(true);
    await expect(first).resolves.toBe(true);
    await turn();
    expect(calls.map((call) => call.json)).toEqual(['1', '4']);
    calls[1]!.settle(false);
    // The superseded calls learn the fate of the value that replaced them.
    await expect(Promise.all([...superseded, last])).resolves.toEqual([false, false, false]);
    expect(recorded).toEqual([1]);
  });

  it('resolves false when the statement fails, reports it, and goes on', async () => {
    const { send, calls } = manual();
    const failures: unknown[] = [];
    const writer = new ProgressWriter(
      send,
      () => {
        throw new Error('a listener failing is ignored');
      },
      (error) => failures.push(error),
    );
    const failed = writer.write('"a"', 'a');
    calls[0]!.settle(new Error('connection lost'));
    await expect(failed).resolves.toBe(false);
    expect(failures).toHaveLength(1);
    const next = writer.write('"b"', 'b');
    await turn();
    calls[1]!.settle(true);
    await expect(next).resolves.toBe(true);
  });
});

describe('AckBatcher with results', () => {
  const lease = (n: number): QueueLease => ({
    id: `m${n}`,
    leaseToken: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
  });

  it('sends the plain statement unless an ack of the batch carries a result', async () => {
    const send = jest.fn<SendAcks>((leases) =>
      Promise.resolve({ acked: leases.map((each) => each.id), busy: [] }),
    );
    const batcher = new AckBatcher(send, () => undefined);
    await Promise.all([batcher.ack(lease(1)), batcher.ack(lease(2), undefined)]);
    expect(send.mock.calls[0]![1]).toBeUndefined();

    await Promise.all([
      batcher.ack(lease(3)),
      batcher.ack(lease(4), '{"a":1}'),
      batcher.ack(lease(5), 'null'),
    ]);
    const json = send.mock.calls[1]![1]!;
    expect(JSON.parse(json)).toEqual({
      [lease(4).leaseToken]: { a: 1 },
      [lease(5).leaseToken]: null,
    });
  });
});

describe('results SQL', () => {
  const leases = [lease(1), lease(2)];
  function lease(n: number) {
    return { id: `m${n}`, leaseToken: `00000000-0000-4000-8000-00000000000${n}` };
  }

  it('leaves the plain ack batch at three parameters; the results variant adds one JSON object', () => {
    expect(ackBatchSql(names, 'q', leases).values).toHaveLength(3);
    const withResults = ackBatchWithResultsSql(names, 'q', leases, '{}');
    expect(withResults.values).toEqual(['q', ['m1', 'm2'], leases.map((l) => l.leaseToken), '{}']);
    expect(withResults.text).toContain('result = $4::jsonb -> m.lease_token::text');
    expect(withResults.planEachTime).toBe(true);
  });

  it('fences progress by the lease, and reads by id with result and progress', () => {
    const progress = progressSql(names, { queue: 'q', ...lease(1) }, '{"p":1}');
    expect(progress.text).toContain("state = 'leased' AND lease_token = $3::uuid");
    expect(progress.values).toEqual(['m1', 'q', lease(1).leaseToken, '{"p":1}']);
    expect(getMessageSql(names, 'm1').text).toMatch(/parent_id, result, progress FROM/);
    expect(awaitMessageSql(names, 'm1').text).toMatch(
      /^UPDATE .* SET awaited = true WHERE id = \$1::text RETURNING/,
    );
    expect(waitStatesSql(names, ['m1']).values).toEqual([['m1']]);
  });
});
