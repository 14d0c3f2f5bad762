import { type DataSource, type EntityManager } from 'typeorm';
import { describeType } from '../config/argument-rules.js';
import { ManagerSender } from '../database/manager-sender.js';
import { type StatementSender } from '../database/statement-sender.js';
import { type ErrorContext } from '../database/to-queue-database-error.js';
import { QueueValidationError } from '../errors/queue-validation.error.js';

/** Which database of which server a connection reaches (see `databaseIdentitySql`). */
export interface DatabaseIdentity {
  readonly database: string;
  readonly started: string;
}

/** How the store reads the identity: of its own pool, or through a caller's manager. */
export type ReadIdentity = (via?: StatementSender) => Promise<DatabaseIdentity>;

/**
 * Turns a caller's `EntityManager` into a {@link StatementSender}, after checking that it is a
 * postgres one reaching the queue's own database: a message written elsewhere would be lost to
 * the workers, and the caller would believe it enqueued.
 *
 * The check costs one statement per DataSource, the first time (cached in a WeakMap, so a
 * DataSource dropped by the application is forgotten), and none for the DataSource the module
 * itself runs on.
 */
export class CallerTransactions {
  private readonly identities = new WeakMap<DataSource, Promise<DatabaseIdentity>>();
  private own: Promise<DatabaseIdentity> | undefined;

  constructor(
    private readonly readIdentity: ReadIdentity,
    private readonly queueDataSource: () => DataSource,
    private readonly errorContext: ErrorContext,
  ) {}

  async senderFor(manager: unknown, field: string): Promise<StatementSender> {
    const checked = assertPostgresManager(manager, field);
    const sender = new ManagerSender(checked, this.errorContext);
    const dataSource = checked.connection;
    if (dataSource === this.queueDataSource()) return sender;
    const [theirs, ours] = await Promise.all([
      this.cached(dataSource, sender),
      (this.own ??= forgetOnFailure(this.readIdentity(), () => (this.own = undefined))),
    ]);
    if (sameIdentity(theirs, ours)) return sender;
    // A restart of the server between the two cached reads changes its start time: read both
    // again before refusing.
    this.identities.delete(dataSource);
    this.own = undefined;
    const [again, oursNow] = await Promise.all([
      this.cached(dataSource, sender),
      (this.own = this.readIdentity()),
    ]);
    if (sameIdentity(again, oursNow)) return sender;
    throw new QueueValidationError(
      field,
      again.database === oursNow.database
        ? `must be connected to the queue's server: it reaches a database named "${again.database}" on another server; nothing was written`
        : `must be connected to the queue's database "${oursNow.database}": it is connected to "${again.database}"; nothing was written`,
    );
  }

  private cached(dataSource: DataSource, sender: StatementSender): Promise<DatabaseIdentity> {
    let identity = this.identities.get(dataSource);
    if (identity === undefined) {
      identity = forgetOnFailure(this.readIdentity(sender), () =>
        this.identities.delete(dataSource),
      );
      this.identities.set(dataSource, identity);
    }
    return identity;
  }
}

function sameIdentity(a: DatabaseIdentity, b: DatabaseIdentity): boolean {
  return a.database === b.database && a.started === b.started;
}

/** `promise`, after which `forget` runs if it failed, so the next call asks again. */
function forgetOnFailure<T>(promise: Promise<T>, forget: () => void): Promise<T> {
  promise.catch(forget);
  return promise;
}

/** The manager's shape, checked without `instanceof` (the application may load its own typeorm). */
function assertPostgresManager(manager: unknown, field: string): EntityManager {
  const candidate = manager as Partial<EntityManager> | null;
  const dataSource = candidate?.connection as Partial<DataSource> | undefined;
  if (
    candidate === null ||
    typeof candidate !== 'object' ||
    typeof candidate.transaction !== 'function' ||
    dataSource === undefined ||
    typeof dataSource.createQueryRunner !== 'function'
  ) {
    throw new QueueValidationError(
      field,
      `must be a TypeORM EntityManager (got ${describeType(manager)})`,
    );
  }
  const type = dataSource.options?.type;
  if (type !== 'postgres') {
    throw new QueueValidationError(
      field,
      `must be the EntityManager of a postgres DataSource (got type ${JSON.stringify(type)})`,
    );
  }
  return candidate as EntityManager;
}
