import { expect } from '@jest/globals';

/**
 * The error `work` throws, checked to be a `type`, for a test to look at its fields (`option`,
 * `field`, `rule`…). A `work` that returns fails the test, saying what was expected.
 */
export function thrownBy<E extends Error>(
  work: () => unknown,
  type: abstract new (...args: never[]) => E,
): E {
  try {
    work();
  } catch (error) {
    expect(error).toBeInstanceOf(type);
    return error as E;
  }
  throw new Error(`expected a ${type.name}, and nothing was thrown`);
}
