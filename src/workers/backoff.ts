import { type ResolvedBackoff } from '../config/processor-options.js';

/**
 * Seconds before attempt `attempt + 1`, after attempt `attempt` failed. Exponential backoff is
 * jittered into the upper half of its step ("equal jitter"): messages that failed together do
 * not retry together, and no retry comes sooner than half the step.
 */
export function backoffSeconds(
  backoff: ResolvedBackoff,
  attempt: number,
  random: () => number = Math.random,
): number {
  if (backoff.type === 'fixed') return backoff.delaySeconds;
  const step = Math.min(backoff.maxSeconds, backoff.baseSeconds * 2 ** Math.max(0, attempt - 1));
  return backoff.jitter ? Math.ceil(step / 2 + (random() * step) / 2) : step;
}
