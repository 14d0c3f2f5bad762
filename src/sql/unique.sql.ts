import {
  UNIQUE_ACTIVE_PREDICATE,
  UNIQUE_WINDOW_PREDICATE,
} from '../migrations/1795570800000-add-flow-control.js';
import { type QueueTableNames } from './table-names.js';

/*
 * The statements' side of the two unique indexes on `unique_key`. The indexes' predicates stay
 * owned by the migration that created them: they are what the database enforces, whatever a
 * later edit here would say, and a lookup must repeat them word for word, so that PostgreSQL
 * proves the partial index applies and the lookup agrees with the index on which row holds a key.
 */

/** How a message holds its unique key: the stored `unique_scope`. */
export type UniqueScope = 'active' | 'active_or_failed' | 'window';

/** A key's rule: its scope, and for `window` the window's length in seconds. */
export type UniqueRule =
  | { readonly scope: 'active' | 'active_or_failed' }
  | { readonly scope: 'window'; readonly windowSeconds: number };

/**
 * The `unique_window` of a message enqueued by this statement: the epoch second at which the
 * current window of `seconds` (an integer parameter) began, on the database's clock. `now()`
 * is the statement's (its transaction's) start, so every use within one statement agrees.
 */
export function uniqueWindowStart(seconds: string): string {
  return `(floor(extract(epoch from now()) / ${seconds})::bigint * ${seconds})`;
}

/**
 * The row of `t` that holds `key` in `queue` for a message of `scope`, as the unique index
 * sees it: a subquery returning its id, or no row. `key` and `queue` are SQL expressions (a
 * parameter, or a column of an outer row); `window` is the `unique_window` expression, used
 * for the `window` scope only. `active` and `active_or_failed` share one index: a key held
 * under either blocks both.
 */
export function keyHolderSql(
  t: QueueTableNames,
  scope: UniqueScope,
  queue: string,
  key: string,
  window: string,
): string {
  const held =
    scope === 'window'
      ? `${UNIQUE_WINDOW_PREDICATE} AND h.unique_window = ${window}`
      : UNIQUE_ACTIVE_PREDICATE;
  // The predicates name bare columns: they resolve to `h`, the innermost FROM.
  return `SELECT h.id FROM ${t.qualified} AS h WHERE h.queue = ${queue} AND h.unique_key = ${key} AND ${held}`;
}

export { UNIQUE_ACTIVE_PREDICATE, UNIQUE_WINDOW_PREDICATE };
