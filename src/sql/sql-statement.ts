/** A parameterised statement, in the shape `pg` accepts. */
export interface SqlStatement {
  readonly text: string;
  readonly values: readonly unknown[];
  /**
   * Plan it for its values every time: never run it as a named prepared statement. After five
   * runs PostgreSQL may switch a prepared statement to a generic plan, made without the values;
   * for the statements that find rows by an array of ids or walk a queue in order, the generic
   * plan it chose read the whole table or backlog: 1,000 acks took 1.5 s instead of 20 ms, and
   * each lease scanned every ready message (measured in bench/pinned-horizon.ts).
   */
  readonly planEachTime?: true;
}

/**
 * The values of a statement being built, so that a builder with optional parts numbers its
 * parameters as it goes: each value is bound once, and only a value the text refers to is bound
 * (PostgreSQL refuses a parameter whose type nothing in the statement gives).
 */
export class StatementValues {
  readonly values: unknown[];

  constructor(first: readonly unknown[] = []) {
    this.values = [...first];
  }

  /** `$n::type` for a new value. */
  bind(value: unknown, type: string): string {
    return `${this.placeholder(value)}::${type}`;
  }

  /** `$n` for a new value, without a cast (for `notify`, which adds it). */
  placeholder(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/**
 * The database's clock in whole epoch seconds, rounded down. Every time comparison uses the
 * server's clock: workers on hosts whose clocks drift must still agree on what is due.
 *
 * Comparisons stay bigint against bigint so the indexes on `available_at` and `lease_until` apply;
 * since those columns hold whole seconds, `col <= floor(now)` is the same as `col <= now`.
 */
export const NOW_SECONDS = 'floor(extract(epoch from now()))::bigint';

/**
 * The epoch second at which something delayed by `seconds` (an integer parameter) becomes due.
 * Rounded up, so a delay or a lease is never shorter than asked; zero means due at once.
 */
export function secondsFromNow(seconds: string): string {
  return `(CASE WHEN ${seconds} = 0 THEN ${NOW_SECONDS} ELSE ceil(extract(epoch from now()) + ${seconds})::bigint END)`;
}

/** The columns a message is read back with (the store's `MessageRow`). */
export const MESSAGE_COLUMNS =
  'id, queue, body, attempts, state, available_at, lease_until, created_at, lease_token, last_error, origin_queue, priority, unique_key, group_key, parent_id';

/**
 * Wakes the workers listening on the table's channel; the payload is the queue name. Postgres
 * delivers it at commit and folds identical notifications of one transaction into one.
 */
export function notify(channelParameter: string, queueExpression: string): string {
  return `pg_notify(${channelParameter}::text, ${queueExpression})`;
}

/**
 * The start of a statement that changes many rows it may have to wait for: a CTE that locks the
 * rows matching `where` (on the table aliased `m`) in id order. Every such statement of the
 * package locks this way (the others skip locked rows), so two of them, say an operator's
 * `ackMany` and `clearQueue`, can wait on each other but never in a circle: no deadlock. The
 * statement then changes exactly the locked rows, found by `LOCKED_ROWS`. With `skipLocked`,
 * rows locked elsewhere are left out instead of waited for. `alsoColumns` (`, m.col AS name`)
 * are read with each locked row, for the statement to tell the rows apart.
 */
export function lockInIdOrder(
  table: string,
  where: string,
  skipLocked = false,
  alsoColumns = '',
): string {
  return `WITH target AS MATERIALIZED (
  SELECT m.id${alsoColumns} FROM ${table} AS m WHERE ${where} ORDER BY m.id FOR UPDATE${skipLocked ? ' SKIP LOCKED' : ''}
)`;
}

/**
 * The rows `lockInIdOrder` locked, by their ids (a primary-key lookup). Not by ctid: a row another
 * transaction updated while this one waited for its lock is locked in its newest version, which
 * this statement's snapshot cannot see, so a TID match found nothing and the row was silently
 * left out (a `retryFailed` returning 0, an `ackMany` missing an ack). Matched by id, the UPDATE
 * follows the row to that version, as READ COMMITTED does for any row it finds updated.
 */
export const LOCKED_ROWS = 'm.id = ANY (ARRAY(SELECT id FROM target))';

/**
 * The rows a skip-locked `lockInIdOrder` (with `alsoColumns` `, m.ctid`) locked, by their ctids: a
 * TID scan, where `LOCKED_ROWS` probes the primary key a second time for every row (about 2 µs a
 * row of a 1,000-row ack). Only where no row is waited for: a row updated and committed after
 * the statement's snapshot is still locked in its newest version, which the TID match cannot
 * see, so the statement leaves it out; a worker's batch statement then reports it `busy` (it
 * still matches the fence in the snapshot) and sends it again, where a waiting statement would
 * have lost it (see `LOCKED_ROWS`).
 */
export const LOCKED_CTIDS = 'm.ctid = ANY (ARRAY(SELECT ctid FROM target))';
