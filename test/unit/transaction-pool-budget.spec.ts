import { describe, expect, it } from '@jest/globals';
import { type ResolvedProcessorOptions } from '../../src/config/processor-options.js';
import { type ProcessorDefinition } from '../../src/processor/processor-definition.js';
import {
  POOL_CONNECTIONS_KEPT,
  transactionPoolShortfall,
} from '../../src/workers/transaction-pool-budget.js';

function definition(queue: string, concurrency: number, transaction: boolean): ProcessorDefinition {
  return {
    queue,
    handlerName: `Handlers.${queue}`,
    handler: () => undefined,
    options: { concurrency, transaction } as ResolvedProcessorOptions,
  };
}

describe('transactionPoolShortfall', () => {
  it('keeps two connections of the pool for leasing, heartbeats and acks', () => {
    expect(POOL_CONNECTIONS_KEPT).toBe(2);
    expect(transactionPoolShortfall([definition('a', 8, true)], 10)).toBeUndefined();
    expect(transactionPoolShortfall([definition('a', 9, true)], 10)).toMatchObject({
      total: 9,
      allowed: 8,
    });
  });

  it('sums the transactional processors only, and names the one that crosses the budget', () => {
    const definitions = [
      definition('plain', 50, false),
      definition('first', 5, true),
      definition('second', 4, true),
    ];
    const shortfall = transactionPoolShortfall(definitions, 10);
    expect(shortfall?.definition.queue).toBe('second');
    expect(shortfall?.total).toBe(9);
    expect(transactionPoolShortfall(definitions, 11)).toBeUndefined();
  });

  it('refuses any transactional processor on a pool of two or fewer', () => {
    expect(transactionPoolShortfall([definition('a', 1, true)], 2)?.allowed).toBe(0);
    expect(transactionPoolShortfall([definition('a', 1, false)], 1)).toBeUndefined();
  });
});
