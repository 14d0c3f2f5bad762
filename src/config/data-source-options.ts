import { type PostgresDataSourceOptions } from 'typeorm/driver/postgres/PostgresDataSourceOptions.js';
import { type OwnedConnection, type QueueConfig } from './queue-config.js';

/**
 * TCP keepalive on every connection the module opens, so the kernel probes an idle one after
 * 10 s instead of two hours; a half-open connection in use is caught by the statement timeout.
 */
export const KEEPALIVE = Object.freeze({ keepAlive: true, keepAliveInitialDelayMillis: 10_000 });

/**
 * TypeORM options for a connection the module owns. Everything goes through `extra`, which
 * TypeORM hands to `pg.Pool` as is: the URL was parsed already (with libpq `sslmode` semantics),
 * and TypeORM's own URL parsing would drop those parameters.
 */
export function ownedDataSourceOptions(
  config: QueueConfig,
  connection: OwnedConnection,
  onIdleConnectionError: (error: Error) => void,
  /** The `pg.Client` class of the pool: a host-selecting one for a multi-host URL. */
  client?: new (config: object) => object,
): PostgresDataSourceOptions {
  return {
    type: 'postgres',
    extra: {
      ...connection.config,
      application_name: config.applicationName,
      min: connection.poolMinSize,
      max: connection.poolMaxSize,
      connectionTimeoutMillis: poolConnectTimeoutMs(config, connection),
      // A pooler in transaction mode refuses these at connect ("unsupported startup parameter"):
      // there the role's settings apply, and the client's wait stays bounded (QueueConnection).
      ...(config.statementTimeoutMs > 0 && !config.transactionPooling
        ? { statement_timeout: config.statementTimeoutMs }
        : {}),
      ...(config.lockTimeoutMs > 0 && !config.transactionPooling
        ? { lock_timeout: config.lockTimeoutMs }
        : {}),
      ...KEEPALIVE,
      // Idle pooled connections do not keep the process alive: a bootstrap that fails after the
      // module opened its pool (in another module's hook) still lets `node` exit. A running app
      // stays up through its server, its workers' timers and the LISTEN connection.
      allowExitOnIdle: true,
      ...(client === undefined ? {} : { Client: client }),
    },
    // An idle connection died (server restart, network cut): pg-pool drops it and opens a new
    // one on demand. Without a handler the pool's 'error' event would crash the process.
    poolErrorHandler: onIdleConnectionError,
  };
}

/**
 * How long the pool lets one new connection take. With several hosts the connection first scans
 * them, each bounded by its own `connect_timeout` (else `connectionTimeoutMs`), as libpq does:
 * one timer over the whole scan failed the boot whenever the first host accepted TCP and then
 * stayed silent, however healthy the next one was.
 */
export function poolConnectTimeoutMs(config: QueueConfig, connection: OwnedConnection): number {
  const selection = connection.hostSelection;
  if (selection === undefined) return config.connectionTimeoutMs;
  return config.connectionTimeoutMs + selection.hosts.length * selection.hostConnectTimeoutMs;
}
