/**
 * A run is noisy when other processes of the machine kept the CPU busy while it was timed: on a
 * small machine their work takes cores from the contender and from PostgreSQL. bench/run.ts
 * runs a noisy run again, up to MAX_NOISE_REPEATS more times, and keeps the quietest.
 */

/** Other processes' CPU, in cores busy on average over the window, past which a run is noisy. */
export const NOISE_THRESHOLD_CORES = 0.25;
export const MAX_NOISE_REPEATS = 2;

/**
 * Below this window, the other processes' share is not judged: /proc counts CPU in ticks of
 * 10 ms per core, so a window of a few tenths of a second can read as more than the machine has.
 */
export const MIN_JUDGED_SECONDS = 1;

function cpuCost(
  details: Record<string, unknown> | undefined,
): { seconds: number; otherCores: number } | undefined {
  const cost = details?.cost;
  if (typeof cost !== 'object' || cost === null) return undefined;
  const { seconds, cpu } = cost as { seconds?: unknown; cpu?: unknown };
  if (typeof seconds !== 'number' || typeof cpu !== 'object' || cpu === null) return undefined;
  const other = (cpu as { otherCores?: unknown }).otherCores;
  return typeof other === 'number' ? { seconds, otherCores: other } : undefined;
}

/** The other processes' share of a run's result (bench/drain-cost.ts), when it measured one. */
export function otherCoresOf(details: Record<string, unknown> | undefined): number | undefined {
  return cpuCost(details)?.otherCores;
}

export function isNoisy(details: Record<string, unknown> | undefined): boolean {
  const cpu = cpuCost(details);
  return (
    cpu !== undefined && cpu.seconds >= MIN_JUDGED_SECONDS && cpu.otherCores > NOISE_THRESHOLD_CORES
  );
}

/** The first quiet attempt, else the least noisy one. */
export function quietest<T extends { details?: Record<string, unknown> }>(
  attempts: readonly T[],
): T | undefined {
  const quiet = attempts.find((a) => !isNoisy(a.details));
  if (quiet !== undefined) return quiet;
  return [...attempts].sort(
    (a, b) => (otherCoresOf(a.details) ?? 0) - (otherCoresOf(b.details) ?? 0),
  )[0];
}
