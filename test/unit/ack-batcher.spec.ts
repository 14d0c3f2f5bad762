import { describe, expect, it, jest } from '@jest/globals';
import { type QueueLease } from '../../src/index.js';
import { AckBatcher, MAX_ACK_BATCH, type SendAcks } from '../../src/workers/ack-batcher.js';

const lease = (n: number): QueueLease => ({
  id: `m${n}`,
  leaseToken: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
});

/** A send function whose statements the test resolves or rejects by hand. */
function manualSend() {
  const calls: Array<{
    leases: readonly QueueLease[];
    resolve: (ids: readonly string[]) => void;
    reject: (error: unknown) => void;
  }> = [];
  const send: SendAcks = (leases) =>
    new Promise((resolve, reject) => calls.push({ leases, resolve, reject }));
  return { send, calls };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('AckBatcher', () => {
  it('sends the acks of one turn in one statement', async () => {
    const { send, calls } = manualSend();
    const batcher = new AckBatcher(send, () => {});
    const outcomes = [1, 2, 3].map((n) => batcher.ack(lease(n)));
    expect(calls).toHaveLength(0);
    await turn();
    expect(calls).toHaveLength(1);
    expect(calls[0]!.leases.map((l) => l.id)).toEqual(['m1', 'm2', 'm3']);
    calls[0]!.resolve(['m1', 'm3']);
    expect(await Promise.all(outcomes)).toEqual(['acked', 'refused', 'acked']);
  });

  it('keeps one statement in flight; acks meanwhile go together when it returns', async () => {
    const { send, calls } = manualSend();
    const batcher = new AckBatcher(send, () => {});
    const first = batcher.ack(lease(1));
    await turn();
    const later = [2, 3, 4].map((n) => batcher.ack(lease(n)));
    await turn();
    expect(calls).toHaveLength(1);
    calls[0]!.resolve(['m1']);
    await first;
    await turn();
    expect(calls).toHaveLength(2);
    expect(calls[1]!.leases.map((l) => l.id)).toEqual(['m2', 'm3', 'm4']);
    calls[1]!.resolve(['m2', 'm3', 'm4']);
    expect(await Promise.all(later)).toEqual(['acked', 'acked', 'acked']);
  });

  it(`carries at most ${MAX_ACK_BATCH} leases per statement`, async () => {
    const { send, calls } = manualSend();
    const batcher = new AckBatcher(send, () => {});
    const outcomes = Array.from({ length: MAX_ACK_BATCH + 5 }, (_, n) => batcher.ack(lease(n)));
    await turn();
    expect(calls.map((call) => call.leases.length)).toEqual([MAX_ACK_BATCH]);
    calls[0]!.resolve(calls[0]!.leases.map((l) => l.id));
    await turn();
    expect(calls.map((call) => call.leases.length)).toEqual([MAX_ACK_BATCH, 5]);
    calls[1]!.resolve(calls[1]!.leases.map((l) => l.id));
    expect(new Set(await Promise.all(outcomes))).toEqual(new Set(['acked']));
  });

  it('never rejects: a failed statement is reported once and fails each of its acks', async () => {
    const { send, calls } = manualSend();
    const onBatchFailed = jest.fn();
    const batcher = new AckBatcher(send, onBatchFailed);
    const outcomes = [1, 2].map((n) => batcher.ack(lease(n)));
    await turn();
    const error = new Error('connection lost');
    calls[0]!.reject(error);
    expect(await Promise.all(outcomes)).toEqual(['failed', 'failed']);
    expect(onBatchFailed).toHaveBeenCalledTimes(1);
    expect(onBatchFailed).toHaveBeenCalledWith(error, [lease(1), lease(2)]);
  });

  it('drain sends what is pending and waits for every statement', async () => {
    const { send, calls } = manualSend();
    const batcher = new AckBatcher(send, () => {});
    const outcome = batcher.ack(lease(1));
    let drained = false;
    const drain = batcher.drain().then(() => {
      drained = true;
    });
    expect(calls).toHaveLength(1);
    await turn();
    expect(drained).toBe(false);
    calls[0]!.resolve(['m1']);
    await drain;
    expect(await outcome).toBe('acked');
  });
});
