import { type ProcessorDefinition } from '../processor/processor-definition.js';

/**
 * Pooled connections kept for what every worker needs besides its handlers: lease statements,
 * heartbeats and settling (acks, retries). With fewer, transactional handlers holding every
 * connection would starve the heartbeats until their leases ran out, and a handler that also
 * reads through another connection of the pool would wait for itself.
 */
export const POOL_CONNECTIONS_KEPT = 2;

/** The processor whose transactional handlers no longer fit the pool, and the total they reach. */
export interface PoolShortfall {
  readonly definition: ProcessorDefinition;
  readonly total: number;
  readonly allowed: number;
}

/**
 * Each running handler of a `transaction: true` processor holds one pooled connection until it
 * commits, so their `concurrency` in one process must total at most the pool's size minus
 * {@link POOL_CONNECTIONS_KEPT}. @returns the first processor past that, or undefined.
 */
export function transactionPoolShortfall(
  definitions: readonly ProcessorDefinition[],
  poolMaxSize: number,
): PoolShortfall | undefined {
  const allowed = poolMaxSize - POOL_CONNECTIONS_KEPT;
  let total = 0;
  for (const definition of definitions) {
    if (!definition.options.transaction) continue;
    total += definition.options.concurrency;
    if (total > allowed) return { definition, total, allowed };
  }
  return undefined;
}
