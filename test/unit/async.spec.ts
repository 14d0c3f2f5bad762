import { describe, expect, it } from '@jest/globals';
import { withDeadline } from '../../src/async/with-deadline.js';
import { withRetries } from '../../src/async/with-retries.js';

describe('withDeadline', () => {
  it("gives the work's own outcome when it is in time", async () => {
    await expect(withDeadline(Promise.resolve(1), 1_000, () => 2)).resolves.toBe(1);
    await expect(withDeadline(Promise.reject(new Error('own')), 1_000, () => 2)).rejects.toThrow(
      'own',
    );
  });

  it("gives onTimeout's value, or its throw, once the time is up", async () => {
    const never = new Promise<number>(() => undefined);
    await expect(withDeadline(never, 5, () => 'late')).resolves.toBe('late');
    await expect(
      withDeadline(never, 5, (): never => {
        throw new Error('too slow');
      }),
    ).rejects.toThrow('too slow');
  });

  it('drops a rejection that comes after the deadline', async () => {
    let fail: (error: Error) => void = () => undefined;
    const work = new Promise<number>((_resolve, reject) => (fail = reject));
    await expect(withDeadline(work, 5, () => 0)).resolves.toBe(0);
    fail(new Error('after the deadline')); // no unhandled rejection
  });
});

describe('withRetries', () => {
  it('tries again after each delay until the work succeeds', async () => {
    const heard: number[] = [];
    let tries = 0;
    const result = await withRetries(
      () => (++tries < 3 ? Promise.reject(new Error(`try ${tries}`)) : Promise.resolve(tries)),
      { delaysMs: [0, 0, 0], onRetry: (_error, delay) => heard.push(delay) },
    );
    expect(result).toBe(3);
    expect(heard).toEqual([0, 0]);
  });

  it('throws the last failure once the delays are used up', async () => {
    let tries = 0;
    await expect(
      withRetries(() => Promise.reject(new Error(`try ${++tries}`)), { delaysMs: [0, 0] }),
    ).rejects.toThrow('try 3');
  });

  it('throws at once a failure that is not retryable', async () => {
    let tries = 0;
    await expect(
      withRetries(() => Promise.reject(new Error(`try ${++tries}`)), {
        delaysMs: [0, 0],
        retryable: () => false,
      }),
    ).rejects.toThrow('try 1');
  });
});
