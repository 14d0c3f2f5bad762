import { QueueDatabaseError } from './queue-database.error.js';

/**
 * No host of a multi-host connection string answered as its `target_session_attrs` asks (during
 * a failover: the old primary is gone and no standby was promoted yet). Temporary by its code,
 * `08001` (libpq's "unable to establish connection"): the next connection looks again.
 */
export class NoSuitableHostError extends QueueDatabaseError {
  constructor(
    /** The `target_session_attrs` that no host satisfied. */
    readonly targetSessionAttrs: string,
    /** What each host answered, `host:port: reason`, in the order tried. Never a password. */
    readonly attempts: readonly string[],
  ) {
    super(
      'connect',
      `no host satisfies target_session_attrs=${targetSessionAttrs} (${attempts.join('; ')})`,
      { code: '08001' },
    );
  }
}
