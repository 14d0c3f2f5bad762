import { describe, expect, it } from '@jest/globals';
import { queueTableNames } from '../../src/index.js';
import {
  cancelSql,
  pausedQueuesSql,
  queuePausedSql,
  setQueuePausedSql,
} from '../../src/sql/control.sql.js';
import { cancelLeaseSql } from '../../src/sql/settle.sql.js';
import { type MessageStore } from '../../src/store/message-store.js';
import { parseControlMessage } from '../../src/workers/control-message.js';
import { PauseWatcher } from '../../src/workers/pause-watcher.js';
import { expectBoundStatement } from '../support/bound-statement.js';

const names = queueTableNames('tenant_a', 'jobs');
const hostile = "x'); DROP TABLE jobs; --";
const token = '00000000-0000-4000-8000-000000000000';

describe('control statements', () => {
  const statements = [
    setQueuePausedSql(names, hostile, true),
    queuePausedSql(names, hostile),
    pausedQueuesSql(names, [hostile]),
    cancelSql(names, hostile, hostile, 32),
    cancelSql(names, hostile, undefined, 32),
    cancelLeaseSql(names, { queue: hostile, id: hostile, leaseToken: token }),
  ];

  it.each(statements.map((statement, index) => [index, statement] as const))(
    'statement %i interpolates only quoted identifiers and binds every value with a cast',
    (_index, statement) => {
      expectBoundStatement(statement, hostile, /"tenant_a"\."jobs(_queues)?"/);
    },
  );

  it('notifies on the control channel, never on the wake-up channel', () => {
    for (const statement of [
      setQueuePausedSql(names, 'q', false),
      cancelSql(names, 'id', 'q', 32),
    ]) {
      expect(statement.values).toContain(names.controlChannel);
      expect(statement.values).not.toContain(names.channel);
    }
  });
});

describe('parseControlMessage', () => {
  it('reads the three payloads the statements send', () => {
    expect(parseControlMessage('{"pause" : "q"}')).toEqual({ kind: 'pause', queue: 'q' });
    expect(parseControlMessage('{"resume" : "a.b"}')).toEqual({ kind: 'resume', queue: 'a.b' });
    expect(parseControlMessage('{"cancel" : "m-1"}')).toEqual({ kind: 'cancel', id: 'm-1' });
  });

  it.each([
    'q',
    '',
    'null',
    '[]',
    '"pause"',
    '{}',
    '{"pause": 1}',
    '{"pause": ""}',
    '{"stop": "q"}',
    '{"pause": "q", "cancel": "m"}',
  ])('ignores %p: anyone may NOTIFY the channel', (payload) => {
    expect(parseControlMessage(payload)).toBeUndefined();
  });
});

describe('PauseWatcher', () => {
  /** A watcher over a stand-in for the store's poll, answered by the test. */
  function watcherWith(queues: string[]) {
    const polls: Array<(paused: string[]) => void> = [];
    const applied: Array<[string, boolean]> = [];
    const store = {
      pausedQueues: () =>
        new Promise<Set<string>>((resolve) => polls.push((paused) => resolve(new Set(paused)))),
    } as unknown as MessageStore;
    const watcher = new PauseWatcher({
      queues,
      store,
      logger: { log: () => {}, error: () => {}, warn: () => {} },
      apply: (queue, paused) => applied.push([queue, paused]),
    });
    return { watcher, polls, applied };
  }

  it('applies what the poll read to every queue of this process', async () => {
    const { watcher, polls, applied } = watcherWith(['a', 'b']);
    const poll = watcher.poll();
    polls[0]!(['b']);
    await poll;
    expect(applied).toEqual([
      ['a', false],
      ['b', true],
    ]);
  });

  it('does not let a poll sent before a NOTIFY arrived overrule it', async () => {
    const { watcher, polls, applied } = watcherWith(['a', 'b']);
    const poll = watcher.poll();
    // The resume commits and its NOTIFY arrives while the poll's statement is on its way: the
    // poll may have read the row before the commit.
    watcher.heard('a', false);
    polls[0]!(['a', 'b']);
    await poll;
    expect(applied).toEqual([
      ['a', false],
      ['b', true],
    ]);
    const next = watcher.poll();
    polls[1]!(['b']);
    await next;
    expect(applied.slice(2)).toEqual([
      ['a', false],
      ['b', true],
    ]);
  });

  it('ignores a NOTIFY of a queue this process has no worker for, and survives a failed poll', async () => {
    const { watcher, applied } = watcherWith(['a']);
    watcher.heard('other', true);
    expect(applied).toEqual([]);
    const failing = new PauseWatcher({
      queues: ['a'],
      store: {
        pausedQueues: () => Promise.reject(new Error('connection lost')),
      } as unknown as MessageStore,
      logger: { log: () => {}, error: () => {}, warn: () => {} },
      apply: () => {
        throw new Error('nothing to apply');
      },
    });
    await expect(failing.poll()).resolves.toBeUndefined();
  });
});
