import { QueueOptionsError } from '../errors/queue-options.error.js';
import { type PromClientModule } from './queue-metric-set.js';

/**
 * Loads prom-client, an optional peer dependency: only here, only when the `metrics` option is
 * on, so an application without metrics never needs it installed. Missing, it fails the boot
 * with an error naming the package to install.
 */
export async function loadPromClient(): Promise<PromClientModule> {
  try {
    // A CommonJS package: imported, its `module.exports` is the default export.
    return (await import('prom-client')).default;
  } catch (error) {
    if (!isModuleNotFound(error)) throw error;
    throw new QueueOptionsError(
      'metrics',
      'needs the prom-client package, an optional peer dependency of @fetchcraft/queue: npm install prom-client',
    );
  }
}

function isModuleNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}
