import type pg from 'pg';
import { describeError } from '../errors/describe-error.js';

/**
 * The rules both LISTEN connections (the workers' wake-ups, `waitFor`'s ends) keep while they
 * reconnect and prove they still listen, in one place.
 *
 * The longest pause between reconnect attempts is short on purpose: the listener coming back is
 * what tells backing-off workers that the database answers again (an attempt every 2 s is
 * nothing to a server), so a long outage does not add a long wait after it.
 */
export const MAX_RECONNECT_DELAY_MS = 2_000;
/** How often a listening connection proves that it still reaches the server. */
export const CHECK_INTERVAL_MS = 10_000;
const CHECK_TIMEOUT_MS = 5_000;

/** The pause before reconnect attempt `failures` (from 1): 100 ms, doubling up to the maximum. */
export function reconnectDelayMs(failures: number): number {
  return Math.min(MAX_RECONNECT_DELAY_MS, 100 * 2 ** Math.min(failures - 1, 10));
}

/** Whether attempt `failures` is worth a log line: 1, 2, 4, 8, …, so a long outage is quiet. */
export function logsAttempt(failures: number): boolean {
  return (failures & (failures - 1)) === 0;
}

/**
 * A connection that only listens never learns that it went half-open (a NAT or conntrack drop,
 * a failover): notifications just stop. A small statement with a deadline finds out.
 * @returns the error when the connection no longer answers; undefined when it does.
 */
export async function probeListening(client: pg.Client): Promise<Error | undefined> {
  try {
    await client.query({ text: 'SELECT 1', query_timeout: CHECK_TIMEOUT_MS } as pg.QueryConfig);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error : new Error(describeError(error));
  }
}

/** Lets go of a dropped connection without waiting, and without its late errors crashing. */
export function discardListening(client: pg.Client): void {
  client.removeAllListeners();
  client.on('error', () => undefined);
  client.end().catch(() => undefined);
}
