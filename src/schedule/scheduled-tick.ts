import { type ScheduledTick } from '../interfaces/schedule-options.interface.js';
import { parseTickUniqueKey } from './cron-ticks.js';

/**
 * The schedule and tick a message was enqueued for, read from its `uniqueKey`
 * (`schedule:<name>:<tick epoch seconds>`); `null` for a message no schedule enqueued.
 *
 * ```ts
 * @Processor('reports.nightly')
 * async run(message: ProcessorMessage): Promise<void> {
 *   const tick = scheduledTickOf(message);
 *   await this.reports.build({ upTo: tick?.tickAt ?? new Date() });
 * }
 * ```
 */
export function scheduledTickOf(message: {
  readonly uniqueKey: string | null;
}): ScheduledTick | null {
  return parseTickUniqueKey(message.uniqueKey) ?? null;
}
