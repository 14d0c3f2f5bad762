import { type CliTarget } from './cli-args.js';
import { type QueueOperator } from './queue-operator.js';

/**
 * Runs `work` on an operator opened for it, closed after it whatever happens. The operator is
 * loaded on first use: `QueueService` brings Nest and most of the package, which `--help`,
 * `migrate` and `import-sqlite` need not load (it doubled the bin's start-up under tsx).
 */
export async function withOperator<T>(
  target: CliTarget,
  work: (operator: QueueOperator) => Promise<T>,
): Promise<T> {
  const { QueueOperator } = await import('./queue-operator.js');
  const operator = await QueueOperator.open(target);
  try {
    return await work(operator);
  } finally {
    await operator.close();
  }
}
