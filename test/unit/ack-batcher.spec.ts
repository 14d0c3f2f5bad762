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
    /** The statement returns: `ids` acked, `busy` still held but locked elsewhere. */
    resolve: (ids: readonly string[], busy?: readonly string[]) => void;
    reject: (error: unknown) => void;
  }> = [];
  const send: SendAcks = (leases) =>
    new Promise((resolve, reject) =>
      calls.push({
        leases,
        resolve: (acked, busy = []) => resolve({ acked, busy }),
        reject,
      }),
    );
  return { send, calls };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

async function waitForCalls(calls: readonly unknown[], count: number): Promise<void> {
  for (let i = 0; i < 200 && calls.length < count; i++) {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  expect(calls).toHaveLength(count);
}

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

  it('never rejects: a batch that failed every try is reported once and fails each ack', async () => {
    const { send, calls } = manualSend();
    const onBatchFailed = jest.fn();
    const batcher = new AckBatcher(send, onBatchFailed, []);
    const outcomes = [1, 2].map((n) => batcher.ack(lease(n)));
    await turn();
    const error = new Error('connection lost');
    calls[0]!.reject(error);
    expect(await Promise.all(outcomes)).toEqual(['failed', 'failed']);
    expect(onBatchFailed).toHaveBeenCalledTimes(1);
    expect(onBatchFailed).toHaveBeenCalledWith(error, [lease(1), lease(2)]);
  });

  it('sends a failed batch again: a killed backend does not turn processed messages into redeliveries', async () => {
    const { send, calls } = manualSend();
    const onBatchFailed = jest.fn();
    const batcher = new AckBatcher(send, onBatchFailed, [0, 0]);
    const outcomes = [1, 2].map((n) => batcher.ack(lease(n)));
    await turn();
    calls[0]!.reject(new Error('terminating connection due to administrator command'));
    await waitForCalls(calls, 2);
    expect(calls[1]!.leases).toEqual(calls[0]!.leases);
    calls[1]!.resolve(['m1', 'm2']);
    expect(await Promise.all(outcomes)).toEqual(['acked', 'acked']);
    expect(onBatchFailed).not.toHaveBeenCalled();
  });

  it('gives up after the last retry, reporting the last error once', async () => {
    const { send, calls } = manualSend();
    const onBatchFailed = jest.fn();
    const batcher = new AckBatcher(send, onBatchFailed, [0, 0]);
    const outcome = batcher.ack(lease(1));
    await turn();
    calls[0]!.reject(new Error('first'));
    await waitForCalls(calls, 2);
    calls[1]!.reject(new Error('second'));
    await waitForCalls(calls, 3);
    const last = new Error('third');
    calls[2]!.reject(last);
    expect(await outcome).toBe('failed');
    expect(onBatchFailed).toHaveBeenCalledTimes(1);
    expect(onBatchFailed).toHaveBeenCalledWith(last, [lease(1)]);
  });

  it('keeps later acks waiting while a batch is retried, then sends them together', async () => {
    const { send, calls } = manualSend();
    const batcher = new AckBatcher(send, () => {}, [0]);
    const first = batcher.ack(lease(1));
    await turn();
    calls[0]!.reject(new Error('blip'));
    const later = batcher.ack(lease(2));
    await waitForCalls(calls, 2);
    expect(calls[1]!.leases.map((l) => l.id)).toEqual(['m1']);
    calls[1]!.resolve(['m1']);
    expect(await first).toBe('acked');
    await waitForCalls(calls, 3);
    expect(calls[2]!.leases.map((l) => l.id)).toEqual(['m2']);
    calls[2]!.resolve(['m2']);
    expect(await later).toBe('acked');
  });

  it('lists the leases whose ack has not landed, so their worker keeps them alive', async () => {
    const { send, calls } = manualSend();
    const batcher = new AckBatcher(send, () => {}, []);
    const first = batcher.ack(lease(1));
    expect(batcher.unsettled()).toEqual([lease(1)]);
    await turn();
    const second = batcher.ack(lease(2));
    expect(batcher.unsettled()).toEqual([lease(1), lease(2)]);
    calls[0]!.resolve(['m1']);
    await first;
    await turn();
    expect(batcher.unsettled()).toEqual([lease(2)]);
    calls[1]!.resolve(['m2']);
    await second;
    expect(batcher.unsettled()).toEqual([]);
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

  it('sends a busy ack again later, without holding up the acks behind it', async () => {
    const { send, calls } = manualSend();
    const batcher = new AckBatcher(send, () => {}, [], 20);
    const locked = batcher.ack(lease(1));
    const free = batcher.ack(lease(2));
    await turn();
    calls[0]!.resolve(['m2'], ['m1']);
    expect(await free).toBe('acked');
    // Still unsettled: its lease keeps being extended while it waits.
    expect(batcher.unsettled().map((l) => l.id)).toEqual(['m1']);
    const later = batcher.ack(lease(3));
    await turn();
    expect(calls[1]!.leases.map((l) => l.id)).toEqual(['m3']);
    calls[1]!.resolve(['m3']);
    expect(await later).toBe('acked');
    await waitForCalls(calls, 3);
    expect(calls[2]!.leases.map((l) => l.id)).toEqual(['m1']);
    calls[2]!.resolve(['m1']);
    expect(await locked).toBe('acked');
    expect(batcher.unsettled()).toEqual([]);
  });

  it('drain waits for busy acks to be sent again', async () => {
    const { send, calls } = manualSend();
    const batcher = new AckBatcher(send, () => {}, [], 20);
    const outcome = batcher.ack(lease(1));
    await turn();
    calls[0]!.resolve([], ['m1']);
    let drained = false;
    const draining = batcher.drain().then(() => (drained = true));
    await waitForCalls(calls, 2);
    expect(drained).toBe(false);
    calls[1]!.resolve(['m1']);
    await draining;
    expect(await outcome).toBe('acked');
  });
});
