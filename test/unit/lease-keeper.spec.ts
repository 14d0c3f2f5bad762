import { describe, expect, it } from '@jest/globals';
import { type QueueLease } from '../../src/index.js';
import { type HeartbeatResult, type MessageStore } from '../../src/store/message-store.js';
import { LeaseKeeper } from '../../src/workers/lease-keeper.js';

const lease = (n: number): QueueLease => ({ id: `m${n}`, leaseToken: `t${n}` });

/** A keeper over a stand-in for the store's heartbeat statement, answered by the test. */
function keeperWith(held: QueueLease[]) {
  const beats: Array<{
    leases: readonly QueueLease[];
    answer: (tokens: string[], cancelled?: string[]) => void;
  }> = [];
  const lost: Array<ReadonlySet<string>> = [];
  const cancels: Array<ReadonlySet<string>> = [];
  const warnings: string[] = [];
  const store = {
    heartbeat: (_queue: string, leases: readonly QueueLease[]) =>
      new Promise<HeartbeatResult>((resolve) =>
        beats.push({
          leases,
          answer: (tokens, cancelled = []) =>
            resolve({ kept: new Set(tokens), cancelRequested: new Set(cancelled) }),
        }),
      ),
  } as unknown as MessageStore;
  const keeper = new LeaseKeeper({
    queue: 'q',
    leaseSeconds: 60,
    store,
    logger: { log: () => {}, error: () => {}, warn: (line: string) => warnings.push(line) },
    held: () => held,
    onLost: (tokens) => lost.push(tokens),
    onCancelRequested: (tokens) => cancels.push(tokens),
  });
  return { keeper, beats, lost, cancels, warnings };
}

describe('LeaseKeeper', () => {
  it('extends every held lease in one statement and reports those the database no longer holds', async () => {
    const { keeper, beats, lost } = keeperWith([lease(1), lease(2), lease(3)]);
    const beat = keeper.beat();
    expect(beats).toHaveLength(1);
    expect(beats[0]!.leases).toEqual([lease(1), lease(2), lease(3)]);
    beats[0]!.answer(['t1', 't3']);
    await beat;
    expect(lost).toEqual([new Set(['t2'])]);
  });

  it('reports the held leases whose message has a cancel request', async () => {
    const { keeper, beats, lost, cancels } = keeperWith([lease(1), lease(2)]);
    const beat = keeper.beat();
    beats[0]!.answer(['t1', 't2'], ['t2']);
    await beat;
    expect(lost).toEqual([]);
    expect(cancels).toEqual([new Set(['t2'])]);
  });

  it('skips a beat while the previous statement has not returned: beats never pile up', async () => {
    const { keeper, beats } = keeperWith([lease(1)]);
    const first = keeper.beat();
    await keeper.beat();
    await keeper.beat();
    expect(beats).toHaveLength(1);
    beats[0]!.answer(['t1']);
    await first;
    const next = keeper.beat();
    expect(beats).toHaveLength(2);
    beats[1]!.answer(['t1']);
    await next;
  });

  it('sends nothing when it holds nothing, and survives a failed statement', async () => {
    const { keeper, beats } = keeperWith([]);
    await keeper.beat();
    expect(beats).toHaveLength(0);
    const failing = new LeaseKeeper({
      queue: 'q',
      leaseSeconds: 60,
      store: {
        heartbeat: () => Promise.reject(new Error('connection lost')),
      } as unknown as MessageStore,
      logger: { log: () => {}, error: () => {}, warn: () => {} },
      held: () => [lease(1)],
      onLost: () => {
        throw new Error('nothing was reported lost');
      },
    });
    await expect(failing.beat()).resolves.toBeUndefined();
  });
});
