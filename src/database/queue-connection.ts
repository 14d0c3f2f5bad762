import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { ownedDataSourceOptions } from '../config/data-source-options.js';
import { hostLabel, type HostAddress } from '../config/target-session-attrs.js';
import { type OwnedConnection, type QueueConfig } from '../config/queue-config.js';
import { QueueDatabaseError } from '../errors/queue-database.error.js';
import { describeError } from '../errors/describe-error.js';
import { type QueueError } from '../errors/queue.error.js';
import { QUEUE_CONFIG } from '../queue.constants.js';
import { type SqlStatement } from '../sql/sql-statement.js';
import { hostSelectingClient, hostSelectorFor, isHostBound } from './host-selecting-client.js';
import { type HostSelector } from './host-selector.js';
import { runQueueMigrations } from './migration-runner.js';
import { grantQueuePrivileges } from './queue-grants.js';
import { onMigrationsConnection } from './separate-migrations-connection.js';
import {
  couldNotConnect,
  errorContextOf,
  scrubPassword,
  toQueueDatabaseError,
  type ErrorContext,
} from './to-queue-database-error.js';
import { isServerLostError } from './transient-database-error.js';

/**
 * The module's one way to the database. It opens (or borrows) a TypeORM `DataSource` when the
 * module initialises, runs migrations through it, and sends hot-path statements straight to the
 * `pg` pool underneath, skipping TypeORM's per-query bookkeeping.
 */
/** How long the shutdown waits for the pool's sockets to close after `end()`: a local close takes a millisecond. */
const SOCKETS_CLOSE_MS = 2_000;

@Injectable()
export class QueueConnection implements OnApplicationShutdown {
  private readonly logger = new Logger('QueueModule');
  private readonly errorContext: ErrorContext;
  private dataSource: DataSource | undefined;
  private readonly statementNames = new Map<string, string>();
  private pool: pg.Pool | undefined;
  /** Which host of a multi-host URL connections go to; undefined for one host. */
  private selector: HostSelector | undefined;
  /** When the pool was adopted (`performance.now()`): the last answer of a connection not seen since. */
  private adoptedAt = 0;
  /** When a statement last got no answer at all before its deadline. */
  private silentSince = Number.NEGATIVE_INFINITY;
  /** When each pooled connection last answered, or was opened. */
  private readonly lastAnswer = new WeakMap<pg.PoolClient, number>();
  /** The pool's connections whose sockets are open: from pg-pool's `connect` to its `remove`. */
  private readonly openClients = new Set<pg.Client>();
  /** Connections the pool had opened before it was adopted (TypeORM's first), not yet removed. */
  private unseenClients = 0;
  /** Told when the last of {@link openClients} has ended. */
  private onAllEnded: (() => void) | undefined;

  constructor(@Inject(QUEUE_CONFIG) private readonly config: QueueConfig) {
    this.errorContext = errorContextOf(config);
  }

  /**
   * Opens the pool (or adopts the shared one) and runs the migrations unless turned off. Called
   * once, by the module's initializer, after every option was validated.
   */
  async start(): Promise<void> {
    try {
      await this.open();
      if (this.config.migrationsRun) await this.migrate();
    } catch (error) {
      // A failed boot must not leave a pool behind: its sockets would keep the process alive.
      await this.onApplicationShutdown();
      throw error;
    }
  }

  /**
   * Sends one statement on a pooled connection; failures become typed queue errors.
   *
   * The wait for the answer is bounded: by `timeoutMs` when given, else by the statement timeout
   * plus a grace for the server's own error to arrive. A statement that gets no answer fails, and
   * its connection is closed, which a half-open socket would otherwise hold forever; so are the
   * idle connections that have not answered since (see `checkout`).
   *
   * @internal Left out of the published declarations, with `clientConfig`: their `pg` types
   * would make a consumer compiling with `skipLibCheck: false` install `@types/pg`.
   */
  async query<Row extends object>(
    operation: string,
    statement: SqlStatement,
    options: { readonly timeoutMs?: number } = {},
  ): Promise<pg.QueryResult<Row>> {
    return this.onClient(operation, (send) => send<Row>(statement), options);
  }

  /**
   * Sends the statements `work` sends in one transaction on one pooled connection: committed when
   * `work` resolves, rolled back when it throws. Each statement is bounded as `query` bounds
   * one.
   *
   * @internal
   */
  transaction<T>(
    operation: string,
    work: (
      send: <Row extends object>(statement: SqlStatement) => Promise<pg.QueryResult<Row>>,
    ) => Promise<T>,
  ): Promise<T> {
    return this.onClient(operation, async (send) => {
      await send(BEGIN);
      const result = await work(send);
      await send(COMMIT);
      return result;
    });
  }

  /**
   * Runs `work` on a pooled connection; failures become typed queue errors, and a connection
   * that failed is closed, not reused (a transaction left open by a failure goes with it).
   */
  private async onClient<T>(
    operation: string,
    work: (
      send: <Row extends object>(statement: SqlStatement) => Promise<pg.QueryResult<Row>>,
    ) => Promise<T>,
    options: { readonly timeoutMs?: number } = {},
  ): Promise<T> {
    const pool = this.pool;
    if (pool === undefined) {
      throw new QueueDatabaseError(operation, 'the queue connection is not open');
    }
    const { statementTimeoutMs } = this.config;
    const waitMs =
      options.timeoutMs ??
      (statementTimeoutMs > 0 ? statementTimeoutMs + ANSWER_GRACE_MS : undefined);
    let client: pg.PoolClient;
    try {
      client = await this.checkout(pool);
    } catch (error) {
      throw this.toError(operation, error);
    }
    // An error event while the client is out must not crash the process. A server that ends the
    // session while the client sits between statements sends two: its FATAL message, then the
    // socket's end ("Connection terminated unexpectedly"). So the listener stays until release,
    // where `once` let the second through, unhandled.
    let failure: Error | undefined;
    const onError = (error: Error) => (failure ??= error);
    client.on('error', onError);
    const send = async <Row extends object>(
      statement: SqlStatement,
    ): Promise<pg.QueryResult<Row>> => {
      const result = await client.query<Row>({
        ...(this.config.preparedStatements && statement.planEachTime !== true
          ? { name: this.statementName(statement.text) }
          : {}),
        text: statement.text,
        values: statement.values as unknown[],
        ...(waitMs === undefined ? {} : { query_timeout: waitMs }),
      });
      this.lastAnswer.set(client, performance.now());
      return result;
    };
    try {
      return await work(send);
    } catch (error) {
      failure ??= error instanceof Error ? error : new Error(String(error));
      const host = isHostBound(client) ? client.selectedHost : undefined;
      if (host !== undefined && isServerLostError(failure)) {
        // This host is gone or turned read-only: new connections look for the right one again,
        // and checkout retires the idle ones left on it.
        this.selector?.lost(host);
        if (stringCode(failure) === READ_ONLY) throw this.readOnlyError(operation, host, failure);
      }
      // Past the statement timeout plus the grace, the server would have sent its own error: no
      // answer means the socket is dead. (A shorter caller deadline, the health probe's, proves
      // nothing about the socket.)
      if (failure.message === NO_ANSWER && options.timeoutMs === undefined) {
        this.silentSince = performance.now();
      }
      throw this.toError(operation, error);
    } finally {
      client.removeListener('error', onError);
      // With an error, as pool.query does, the connection is closed rather than reused.
      client.release(failure);
    }
  }

  /**
   * A pooled connection that has answered since the last statement that got no answer at all.
   * A socket that went silent (a NAT drop, a failover) takes the whole client deadline to
   * fail, and its idle siblings opened before are likely silent too: each would cost another
   * deadline, one retry at a time, while leases run out. They are closed instead, and the pool
   * opens fresh ones.
   */
  private async checkout(pool: pg.Pool): Promise<pg.PoolClient> {
    for (;;) {
      const client = await pool.connect();
      const fresh = (this.lastAnswer.get(client) ?? this.adoptedAt) >= this.silentSince;
      if (fresh && !this.onOldHost(client)) return client;
      client.release(true);
    }
  }

  /**
   * Whether `client` is connected to a host of a multi-host URL that new connections no longer go
   * to (after a failover): closed at checkout, so the pool replaces it; the LISTEN connection
   * asks too, as a switch may land while it connects.
   *
   * @internal
   */
  onOldHost(client: pg.Client): boolean {
    const selector = this.selector;
    if (selector === undefined || !isHostBound(client) || client.selectedHost === undefined) {
      return false;
    }
    return !selector.isCurrent(client.selectedHost);
  }

  /** A statement refused because its server turned read-only, said so with the host. */
  private readOnlyError(operation: string, host: HostAddress, cause: Error): QueueError {
    return new QueueDatabaseError(
      operation,
      `the server at ${hostLabel(host)} is read-only now (a failover demoted it?): ${this.scrub(cause.message)}; new connections look for a host that satisfies target_session_attrs=${this.selector?.targetSessionAttrs ?? 'any'}`,
      { code: READ_ONLY, cause },
    );
  }

  /**
   * A new connection outside the pool (the LISTEN connection), of the pool's own class, so with a
   * multi-host URL it goes to the host the pool uses.
   *
   * @internal
   */
  newClient(overrides: pg.ClientConfig): pg.Client {
    const config = { ...this.clientConfig(), ...overrides };
    // pg-pool keeps its `Client` option as `pool.Client`: the host-selecting class, or pg's own.
    const Client = (this.pool as { Client?: typeof pg.Client } | undefined)?.Client ?? pg.Client;
    return new Client(config);
  }

  /**
   * A new connection for LISTEN: to `listenConnectionString` when given (a direct one, while the
   * statements go through a pooler in transaction mode), else as {@link newClient}.
   *
   * @internal
   */
  listenClient(overrides: pg.ClientConfig): pg.Client {
    const direct = this.config.listenConnection;
    if (direct === undefined) return this.newClient(overrides);
    return new pg.Client({
      ...(direct.config as pg.ClientConfig),
      application_name: this.config.applicationName,
      ...overrides,
    });
  }

  /**
   * Calls `listener` with the host's label each time a multi-host URL's connections move to
   * another host; never for one host.
   *
   * @internal
   */
  onHostSwitch(listener: (host: string) => void): () => void {
    return this.selector?.onSwitch((host) => listener(hostLabel(host))) ?? (() => undefined);
  }

  /**
   * Settings for a connection outside the pool (the LISTEN connection), taken from the pool in
   * use, so a shared DataSource's credentials and TLS apply as well.
   *
   * @internal
   */
  clientConfig(): pg.ClientConfig {
    const pool = this.pool;
    if (pool === undefined) {
      throw new QueueDatabaseError('listen', 'the queue connection is not open');
    }
    const { min: _min, max: _max, idleTimeoutMillis: _idle, ...client } = pool.options;
    // pg-pool keeps the password as a non-enumerable property, which spreading skips.
    return { ...client, password: pool.options.password };
  }

  /**
   * A stable name per statement text, so each pooled connection parses and plans a statement
   * once and then only binds values. The texts are few (they vary by table, not by value).
   */
  private statementName(text: string): string {
    let name = this.statementNames.get(text);
    if (name === undefined) {
      name = `fetchcraft_queue_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
      this.statementNames.set(text, name);
    }
    return name;
  }

  /**
   * The pool's connections now, for the metrics gauges (read at scrape time, no round trip):
   * open ones, idle ones, and checkouts waiting for one. Undefined before the pool opens.
   */
  poolCounts(): { total: number; idle: number; waiting: number } | undefined {
    const pool = this.pool;
    if (pool === undefined) return undefined;
    return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount };
  }

  /**
   * The most connections the pool opens: `poolMaxSize`, or a shared DataSource's pool size (pg's
   * default 10 when it set none).
   */
  poolMaxSize(): number {
    return this.pool?.options.max ?? PG_DEFAULT_POOL_MAX;
  }

  /** The DataSource in use: the module's own, or the application's shared one. */
  requireDataSource(): DataSource {
    if (this.dataSource === undefined) {
      throw new QueueDatabaseError('connect', 'the queue connection is not open');
    }
    return this.dataSource;
  }

  async onApplicationShutdown(): Promise<void> {
    const dataSource = this.dataSource;
    this.dataSource = undefined;
    this.pool = undefined;
    // Close only what this module opened; a shared DataSource belongs to the application.
    if (dataSource !== undefined && this.config.connection.kind === 'owned') {
      await dataSource.destroy();
      await this.connectionsEnded(SOCKETS_CLOSE_MS);
    }
  }

  /**
   * Resolves once every connection of the pool has ended, or after `timeoutMs`. pg-pool's `end()`
   * resolves as soon as it has asked the last connection to end, before its socket closed; a
   * server stopped right after the application (the demo's embedded one, a test's) would then
   * end those sessions itself, and each would be logged as a lost connection.
   */
  private async connectionsEnded(timeoutMs: number): Promise<void> {
    if (this.openClients.size + this.unseenClients === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.onAllEnded = resolve;
      timer = setTimeout(resolve, timeoutMs);
    });
    clearTimeout(timer);
    this.onAllEnded = undefined;
  }

  private async migrate(): Promise<void> {
    const { names, migrationsConnection } = this.config;
    const migrateOn = (dataSource: DataSource, scrub: (text: string) => string) =>
      runQueueMigrations(dataSource, names, {
        lockTimeoutMs: this.config.migrationLockTimeoutMs,
        onRetry: (error, delayMs) =>
          this.logger.warn(
            `Migrating ${names.schema}.${names.table} waits for a table lock another transaction holds (${scrub(describeError(error))}); trying again in ${delayMs} ms`,
          ),
      });
    // With migrationsConnectionString, the owner's role migrates on a connection of its own,
    // then grants the application's role (as the server names it) what it needs.
    const applied =
      migrationsConnection === undefined
        ? await this.run('migrate', () =>
            migrateOn(this.requireDataSource(), (text) => this.scrub(text)),
          )
        : await this.migrateAsOwner(migrationsConnection, migrateOn);
    this.logger.log(
      applied.length > 0
        ? `Migrated ${names.schema}.${names.table}: ${applied.join(', ')}`
        : `Table ${names.schema}.${names.table} is up to date`,
    );
  }

  private async migrateAsOwner(
    connection: OwnedConnection,
    migrateOn: (dataSource: DataSource, scrub: (text: string) => string) => Promise<string[]>,
  ): Promise<string[]> {
    const { names } = this.config;
    const [row] = await this.run('migrate', () =>
      this.requireDataSource().query<Array<{ role: string }>>('SELECT current_user AS role'),
    );
    const appRole = row!.role;
    return onMigrationsConnection(this.config, connection, async (dataSource, scrub) => {
      const applied = await migrateOn(dataSource, scrub);
      await grantQueuePrivileges(dataSource, names, appRole);
      return applied;
    });
  }

  private async open(): Promise<void> {
    const { connection } = this.config;
    if (connection.kind === 'shared') {
      this.dataSource = connection.dataSource;
      this.adopt(masterPool(connection.dataSource));
      return;
    }
    this.selector = hostSelectorFor(this.config, connection, this.logger, (error) =>
      this.scrub(messageOf(error)),
    );
    const dataSource = new DataSource(
      ownedDataSourceOptions(
        this.config,
        connection,
        (error) => this.logger.warn(`Idle database connection lost: ${this.scrub(error.message)}`),
        this.selector === undefined ? undefined : hostSelectingClient(this.selector),
      ),
    );
    await this.run('connect', () => dataSource.initialize(), connection.redacted);
    this.dataSource = dataSource;
    this.adopt(masterPool(dataSource));
    await this.run('connect', () => this.warmUp(connection.poolMinSize), connection.redacted);
    this.logger.log(
      `Connected to ${connection.redacted} (pool ${connection.poolMinSize}-${connection.poolMaxSize})${this.config.listenConnection === undefined ? '' : `; LISTEN on ${this.config.listenConnection.redacted}`}`,
    );
    if (this.config.transactionPooling) {
      this.logger.log(
        "Behind a transaction pooler: statement_timeout and lock_timeout are the role's (ALTER ROLE … SET statement_timeout = …), not sent at connect; migrations run on a direct URL",
      );
    }
  }

  private adopt(pool: pg.Pool): void {
    this.pool = pool;
    this.adoptedAt = performance.now();
    pool.on('connect', (client) => {
      this.lastAnswer.set(client, performance.now());
      this.openClients.add(client);
    });
    this.unseenClients = pool.totalCount;
    pool.on('remove', (client) => {
      if (!this.openClients.delete(client))
        this.unseenClients = Math.max(0, this.unseenClients - 1);
      if (this.openClients.size + this.unseenClients === 0) this.onAllEnded?.();
    });
    // An idle connection that dies with its server (a failover) starts the search for the new
    // host at once, instead of the next connection trying the dead one first.
    pool.on('error', (error, client) => {
      const host = isHostBound(client) ? client.selectedHost : undefined;
      if (host !== undefined && isServerLostError(error)) this.selector?.lost(host);
    });
  }

  /** Opens `poolMinSize` connections at boot, as asyncpg does, so the first burst does not wait. */
  private async warmUp(count: number): Promise<void> {
    const pool = this.pool;
    if (pool === undefined || count === 0) return;
    const results = await Promise.allSettled(Array.from({ length: count }, () => pool.connect()));
    for (const result of results) {
      if (result.status === 'fulfilled') result.value.release();
    }
    const failure = results.find((result) => result.status === 'rejected');
    if (failure !== undefined) throw failure.reason;
  }

  private async run<T>(operation: string, work: () => Promise<T>, target?: string): Promise<T> {
    try {
      return await work();
    } catch (error) {
      const typed = this.toError(operation, error);
      throw target === undefined ? typed : couldNotConnect(typed, error, target);
    }
  }

  private toError(operation: string, error: unknown): QueueError {
    return toQueueDatabaseError(operation, error, this.errorContext);
  }

  private scrub(text: string): string {
    return scrubPassword(text, this.errorContext.password);
  }
}

const BEGIN: SqlStatement = { text: 'BEGIN', values: [] };
const COMMIT: SqlStatement = { text: 'COMMIT', values: [] };

/** pg-pool's `max` when none is given. */
const PG_DEFAULT_POOL_MAX = 10;

/** SQLSTATE read_only_sql_transaction: a write reached a standby or a demoted primary. */
const READ_ONLY = '25006';

/** An error's own message; a socket error from another realm (a test VM) is no `instanceof Error`. */
function messageOf(error: unknown): string {
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : describeError(error);
}

function stringCode(error: Error): string | undefined {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** What `pg` rejects a statement with when its `query_timeout` passed without an answer. */
const NO_ANSWER = 'Query read timeout';

/** How much longer than the statement timeout the client waits for the server's own error. */
const ANSWER_GRACE_MS = 2_000;

/** The `pg.Pool` TypeORM's postgres driver keeps as `master`. */
function masterPool(dataSource: DataSource): pg.Pool {
  const pool = (dataSource.driver as unknown as { master?: pg.Pool }).master;
  if (pool === undefined) {
    throw new QueueDatabaseError('connect', 'the DataSource has no open postgres pool');
  }
  return pool;
}
