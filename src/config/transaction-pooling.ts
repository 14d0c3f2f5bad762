import { QueueOptionsError } from '../errors/queue-options.error.js';
import { type QueueModuleOptions } from '../interfaces/queue-module-options.interface.js';
import { parseConnectionString, type PgConnectionConfig } from './connection-string.js';

/** The direct connection the LISTEN connections open, apart from the pooled statements. */
export interface ListenConnection {
  readonly config: PgConnectionConfig;
  /** The URL without its password, for log lines. */
  readonly redacted: string;
}

/** What a transaction pooler in front of the database changes in the module's settings. */
export interface PoolingSettings {
  readonly transactionPooling: boolean;
  readonly preparedStatements: boolean;
  readonly listen: boolean;
  readonly migrationsRun: boolean;
  /** Where LISTEN goes when not through `connectionString`. */
  readonly listenConnection: ListenConnection | undefined;
}

/**
 * Resolves the options a pooler in transaction mode (PgBouncer's `pool_mode = transaction`)
 * bears on. Such a pooler hands each transaction, or each statement outside one, to whichever
 * server connection is free, so nothing of a session survives from one to the next:
 *
 * - a named prepared statement is unknown on the next server connection (PgBouncer before 1.21),
 *   so they are off unless asked for;
 * - a LISTEN stays behind on a server connection that other clients then use, and its
 *   notifications never reach the listener, so LISTEN needs `listenConnectionString`, a direct
 *   connection, or is off (the workers poll);
 * - the migrations hold session advisory locks and session settings while they upgrade a big
 *   table in steps, and build indexes outside a transaction, so they run on a direct URL (the
 *   CLI's `migrate`), not at boot through the pooler.
 *
 * A choice that cannot work there is refused, never quietly changed.
 */
export function resolvePooling(options: QueueModuleOptions): PoolingSettings {
  const transactionPooling = options.transactionPooling ?? false;
  const listenConnection =
    options.listenConnectionString === undefined
      ? undefined
      : parseListenConnection(options.listenConnectionString, options);
  if (listenConnection !== undefined && options.listen === false) {
    throw new QueueOptionsError(
      'listenConnectionString',
      'cannot be combined with listen: false (it is where LISTEN goes)',
    );
  }
  if (transactionPooling) {
    if (options.listen === true && listenConnection === undefined) {
      throw new QueueOptionsError(
        'listen',
        'needs listenConnectionString behind a transaction pooler: a LISTEN sent through it stays on a server connection other clients use, and its notifications never arrive (or set listen: false, and the workers poll)',
      );
    }
    if (options.migrationsRun === true && options.migrationsConnectionString === undefined) {
      throw new QueueOptionsError(
        'migrationsRun',
        'cannot be true behind a transaction pooler without migrationsConnectionString: migrations hold session advisory locks and settings, which the pooler does not keep; give them a direct URL there, or run `fetchcraft-queue migrate` with one',
      );
    }
  }
  return {
    transactionPooling,
    preparedStatements: options.preparedStatements ?? !transactionPooling,
    listen: options.listen ?? (!transactionPooling || listenConnection !== undefined),
    // Through the pooler they cannot run; over their own direct URL they can.
    migrationsRun:
      options.migrationsRun ??
      (!transactionPooling || options.migrationsConnectionString !== undefined),
    listenConnection,
  };
}

/**
 * The listen URL, read by the connection string's own rules; a failure names this option. One
 * host only: NOTIFY is heard where it is committed, the primary the pooler sends to.
 */
function parseListenConnection(url: string, options: QueueModuleOptions): ListenConnection {
  const option = 'listenConnectionString';
  let parsed: ReturnType<typeof parseConnectionString>;
  try {
    parsed = parseConnectionString(url.trim());
  } catch (error) {
    if (error instanceof QueueOptionsError) throw new QueueOptionsError(option, error.rule);
    throw error;
  }
  if (parsed.hosts.length > 1 || parsed.targetSessionAttrs !== 'any') {
    throw new QueueOptionsError(
      option,
      'must name one host (the primary, where NOTIFY is committed), without target_session_attrs',
    );
  }
  for (const hint of ['poolMinSize', 'poolMaxSize'] as const) {
    if (parsed[hint] !== undefined) {
      throw new QueueOptionsError(option, 'takes no min_size/max_size: it opens no pool');
    }
  }
  const config = options.ssl === undefined ? parsed.config : { ...parsed.config, ssl: options.ssl };
  return Object.freeze({ config: Object.freeze(config), redacted: parsed.redacted });
}
