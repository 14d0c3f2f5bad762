import { describe, expect, it } from '@jest/globals';
import { SnoozeError, UnrecoverableError } from '../../src/index.js';
import { isOverrun, outcomeOf } from '../../src/workers/outcome.js';

const options = {
  maxAttempts: 3,
  backoff: { type: 'exponential', baseSeconds: 5, maxSeconds: 60, jitter: true },
} as const;
const failed = (error: unknown) => ({ ok: false, error }) as const;

describe('outcomeOf', () => {
  it('acks a handler that resolved, whatever the attempt', () => {
    expect(outcomeOf({ ok: true }, 1, options)).toEqual({ kind: 'ack' });
    expect(outcomeOf({ ok: true }, 3, options)).toEqual({ kind: 'ack' });
  });

  it('retries a failure before the last attempt, after the backoff', () => {
    const error = new Error('flaky');
    expect(outcomeOf(failed(error), 1, options, () => 0)).toEqual({
      kind: 'retry',
      delaySeconds: 3,
      error,
    });
    expect(outcomeOf(failed(error), 2, options, () => 0.999999)).toEqual({
      kind: 'retry',
      delaySeconds: 10,
      error,
    });
  });

  it('dead-letters a failure of the last allowed attempt', () => {
    const error = new Error('still failing');
    expect(outcomeOf(failed(error), 3, options)).toEqual({ kind: 'deadLetter', error });
  });

  it('dead-letters an UnrecoverableError at once', () => {
    const error = new UnrecoverableError('gone');
    expect(outcomeOf(failed(error), 1, options)).toEqual({ kind: 'deadLetter', error });
  });

  it('snoozes a SnoozeError with a valid delay, even on the last attempt', () => {
    expect(outcomeOf(failed(new SnoozeError(30)), 3, options)).toEqual({
      kind: 'snooze',
      delaySeconds: 30,
    });
    expect(outcomeOf(failed(new SnoozeError(0)), 1, options)).toEqual({
      kind: 'snooze',
      delaySeconds: 0,
    });
  });

  it.each([-1, 1.5, Number.NaN, 2 ** 31])(
    'treats a SnoozeError with delay %p as an ordinary failure',
    (delaySeconds) => {
      const error = new SnoozeError(delaySeconds);
      expect(outcomeOf(failed(error), 1, options, () => 0)).toMatchObject({ kind: 'retry', error });
      expect(outcomeOf(failed(error), 3, options)).toEqual({ kind: 'deadLetter', error });
    },
  );

  it('records whatever was thrown, not only Errors', () => {
    expect(outcomeOf(failed('a string'), 1, options, () => 0)).toMatchObject({
      kind: 'retry',
      error: 'a string',
    });
    expect(outcomeOf(failed(undefined), 3, options)).toEqual({
      kind: 'deadLetter',
      error: undefined,
    });
  });

  it('uses a fixed backoff as is', () => {
    const fixed = { maxAttempts: 5, backoff: { type: 'fixed', delaySeconds: 7 } } as const;
    expect(outcomeOf(failed(new Error('x')), 4, fixed)).toMatchObject({
      kind: 'retry',
      delaySeconds: 7,
    });
  });
});

describe('isOverrun', () => {
  it('is true only past maxAttempts: earlier attempts died with their worker', () => {
    expect(isOverrun(3, 3)).toBe(false);
    expect(isOverrun(4, 3)).toBe(true);
    expect(isOverrun(1, 1)).toBe(false);
  });
});
