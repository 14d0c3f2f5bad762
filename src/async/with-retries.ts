/** When a failed try is made again, and what the caller hears before each new try. */
export interface RetryPolicy {
  /** The pause before each new try; one try more than there are delays, at most. */
  readonly delaysMs: readonly number[];
  /** Whether this failure is worth another try; default: every failure. */
  readonly retryable?: (error: unknown) => boolean;
  readonly onRetry?: (error: unknown, delayMs: number) => void;
}

/** Runs `work`, trying again after each delay while it fails retryably; the last failure throws. */
export async function withRetries<T>(work: () => Promise<T>, policy: RetryPolicy): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      const delay = policy.delaysMs[attempt];
      if (delay === undefined || policy.retryable?.(error) === false) throw error;
      policy.onRetry?.(error, delay);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
