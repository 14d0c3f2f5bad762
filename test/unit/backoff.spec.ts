import { describe, expect, it } from '@jest/globals';
import { backoffSeconds } from '../../src/workers/backoff.js';
import { errorRecordJson } from '../../src/workers/error-record.js';

describe('backoffSeconds', () => {
  const exponential = {
    type: 'exponential',
    baseSeconds: 5,
    maxSeconds: 60,
    jitter: true,
  } as const;

  it('doubles per attempt up to the cap, jittered into the upper half of each step', () => {
    const steps = [5, 10, 20, 40, 60, 60];
    steps.forEach((step, index) => {
      const attempt = index + 1;
      expect(backoffSeconds(exponential, attempt, () => 0)).toBe(Math.ceil(step / 2));
      expect(backoffSeconds(exponential, attempt, () => 0.999999)).toBe(step);
      for (let i = 0; i < 50; i++) {
        const delay = backoffSeconds(exponential, attempt);
        expect(delay).toBeGreaterThanOrEqual(Math.ceil(step / 2));
        expect(delay).toBeLessThanOrEqual(step);
        expect(Number.isInteger(delay)).toBe(true);
      }
    });
  });

  it('is exact without jitter, and constant when fixed', () => {
    const plain = { ...exponential, jitter: false };
    expect([1, 2, 3, 4, 5].map((attempt) => backoffSeconds(plain, attempt))).toEqual([
      5, 10, 20, 40, 60,
    ]);
    expect(backoffSeconds({ type: 'fixed', delaySeconds: 7 }, 9)).toBe(7);
  });
});

describe('errorRecordJson', () => {
  it('bounds the message and stack and makes them storable in JSONB', () => {
    const error = new Error(`${'x'.repeat(5_000)}\u0000\ud800`);
    const record = JSON.parse(errorRecordJson(error, 3)) as Record<string, unknown>;
    expect(record.name).toBe('Error');
    expect(record.attempt).toBe(3);
    expect((record.message as string).length).toBeLessThanOrEqual(2_001);
    expect((record.stack as string).length).toBeLessThanOrEqual(4_001);
    const lone = JSON.parse(errorRecordJson(new Error('a\u0000b\udc00'), 1)) as { message: string };
    expect(lone.message).toBe('a\\u0000b\ufffd');
  });

  it('records throws that are not Errors', () => {
    expect(JSON.parse(errorRecordJson('plain', 1))).toEqual({
      name: 'string',
      message: 'plain',
      attempt: 1,
    });
    expect(JSON.parse(errorRecordJson(undefined, 2))).toEqual({
      name: 'undefined',
      message: 'undefined',
      attempt: 2,
    });
  });
});
