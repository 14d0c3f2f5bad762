/**
 * Waits for `work` at most `ms`: its own outcome, or `onTimeout()`'s once the time is up (a
 * throw there rejects). The timer is cleared either way. `work` runs on after a timeout; its
 * outcome is dropped, a rejection included.
 */
export async function withDeadline<T, U>(
  work: Promise<T>,
  ms: number,
  onTimeout: () => U,
): Promise<T | U> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<U>((resolve, reject) => {
    timer = setTimeout(
      () => {
        try {
          resolve(onTimeout());
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      },
      Math.max(0, ms),
    );
  });
  try {
    return await Promise.race([work, timedOut]);
  } finally {
    clearTimeout(timer);
    work.catch(() => undefined);
  }
}
