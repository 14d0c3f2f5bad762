import { type Contender } from '../contender.js';

/** Every contender, by name; each module exports `createContender()`. */
const modules: Record<string, () => Promise<{ createContender(): Contender }>> = {
  'fetchcraft-processor': () => import('./fetchcraft-processor.js'),
  'fetchcraft-defaults': async () => ({
    createContender: (await import('./fetchcraft-processor.js')).createDefaultsContender,
  }),
  'fetchcraft-remove': async () => ({
    createContender: (await import('./fetchcraft-processor.js')).createRemovingContender,
  }),
  'fetchcraft-service': () => import('./fetchcraft-service.js'),
  'pg-boss': () => import('./pg-boss.js'),
  'graphile-worker': () => import('./graphile-worker.js'),
  bullmq: () => import('./bullmq.js'),
};

export const CONTENDERS = Object.keys(modules);

/**
 * Contenders of the flow-control scenarios only (Scenario.requires set). None today: pg-boss 12,
 * once flow-only beside pg-boss 10, now runs every scenario as `pg-boss`.
 */
export const FLOW_ONLY: ReadonlySet<string> = new Set<string>();

/**
 * Runs of this library with other options than its main contender's (its defaults,
 * `removeOnComplete`): they run the draining scenarios only, where the options matter.
 */
export const VARIANTS: ReadonlySet<string> = new Set(['fetchcraft-defaults', 'fetchcraft-remove']);
/** The scenarios the variants run. */
export const VARIANT_SCENARIO = /^(drain\.|depth\.|latency$)/;

export async function loadContender(name: string): Promise<Contender> {
  const load = modules[name];
  if (load === undefined)
    throw new Error(`unknown contender ${name}; known: ${CONTENDERS.join(', ')}`);
  return (await load()).createContender();
}
