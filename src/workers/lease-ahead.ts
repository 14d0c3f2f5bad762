import { AUTO_PREFETCH_MAX, AUTO_PREFETCH_SECONDS } from '../config/defaults.js';

/** What decides how far a worker leases ahead of its free slots. */
export interface LeaseAheadInput {
  /** The processor's `prefetch`: a fixed count, or `'auto'`. */
  readonly prefetch: number | 'auto';
  readonly concurrency: number;
  /** How long a slot is busy per message, on average; undefined before one finished. */
  readonly meanHandlerMs: number | undefined;
}

/**
 * How many messages to keep leased ahead of the free slots now. A fixed `prefetch` is itself.
 * `'auto'` is what the slots would start in about AUTO_PREFETCH_SECONDS at the handlers'
 * measured speed (one more per slot before any handler finished), at most AUTO_PREFETCH_MAX:
 * fast handlers get big batches, so a busy queue costs few lease statements however slow each
 * one is; slow handlers get nothing ahead, so one replica does not hoard messages another could
 * run. (Leasing ahead only while the last lease came back full was tried: at 3,000 messages/s
 * most leases came back short, the batches shrank to the free slots, and a pinned horizon
 * pushed the backlog to 141,000 before it caught up.)
 */
export function leaseAhead(input: LeaseAheadInput): number {
  if (input.prefetch !== 'auto') return input.prefetch;
  if (input.meanHandlerMs === undefined) return input.concurrency;
  const perSecond = (input.concurrency * 1000) / Math.max(input.meanHandlerMs, 0.01);
  return Math.min(AUTO_PREFETCH_MAX, Math.floor(perSecond * AUTO_PREFETCH_SECONDS));
}

/** A running mean that follows recent values: each new value weighs this much. */
const SMOOTHING = 0.2;

/** Folds one more handler duration into the running mean. */
export function nextMeanMs(mean: number | undefined, durationMs: number): number {
  return mean === undefined ? durationMs : mean + SMOOTHING * (durationMs - mean);
}
