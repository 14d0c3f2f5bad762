import { type ConnectionOptions } from 'node:tls';
import { type DataSource } from 'typeorm';

/**
 * Options of `QueueModule.forRoot` / `forRootAsync`. Validated once at boot; a bad option stops
 * the application with a {@link QueueOptionsError} naming it.
 */
export interface QueueModuleOptions {
  /**
   * `postgres://` or `postgresql://` URL. Defaults to `process.env.DATABASE_URL`. Understands the
   * seed's forms: `sslmode` (libpq meaning) with `sslcert`/`sslkey`/`sslrootcert`, and the pool
   * hints `min_size`/`max_size` (explicit `poolMinSize`/`poolMaxSize` win over them).
   * Multi-host URLs are refused: node-postgres cannot fail over between hosts.
   */
  readonly connectionString?: string;
  /**
   * An initialised TypeORM `DataSource` (postgres driver) to share, for example the one
   * `@nestjs/typeorm` created. The module uses its pool and never closes it.
   * Mutually exclusive with `connectionString` and the pool options.
   */
  readonly dataSource?: DataSource;
  /** Connections kept open, opened at boot. Default 10 (or `min_size` from the URL), never above `poolMaxSize`. */
  readonly poolMinSize?: number;
  /** Most connections open at once. Default 20 (or `max_size` from the URL). */
  readonly poolMaxSize?: number;
  /**
   * How long a statement may wait for a pooled connection (or a new connection may take to open)
   * before failing with `QueuePoolTimeoutError`. Default 10,000 ms.
   */
  readonly connectionTimeoutMs?: number;
  /** TLS settings passed to node-postgres; they replace what `sslmode` in the URL implies. */
  readonly ssl?: boolean | ConnectionOptions;
  /** `application_name` shown in `pg_stat_activity`. Default `fetchcraft-queue`. */
  readonly applicationName?: string;
  /** Schema of the queue table, created if missing. Lower-case identifier; default `public`. */
  readonly schema?: string;
  /** Name of the queue table. Lower-case identifier of at most 40 characters; default `messages`. */
  readonly table?: string;
  /** Apply pending migrations at boot under an advisory lock. Default `true`. */
  readonly migrationsRun?: boolean;
  /** Largest message body accepted, in bytes of JSON text. Default 1 MiB. */
  readonly maxBodyBytes?: number;
}

/** Implemented by a class given to `forRootAsync({ useClass })`. */
export interface QueueOptionsFactory {
  createQueueOptions(): QueueModuleOptions | Promise<QueueModuleOptions>;
}
