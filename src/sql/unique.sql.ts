import { type QueueTableNames } from './table-names.js';

/*
 * The two unique indexes on `unique_key`, from the statements' side. Their predicates are
 * defined here, once: the migration `AddFlowControl1795570800000` creates the indexes with them,
 * and every lookup repeats them word for word, so that PostgreSQL proves the partial index
 * applies and the lookup agrees with the index on which row holds a key. Changing one needs a
 * new migration that rebuilds its index: databases keep the index they were migrated with.
 */

/**
 * Which rows hold their `unique_key` for `active` and `active_or_failed` keys: the enqueue
 * statements and `retryFailed` repeat it, so they agree with the index.
 */
export const UNIQUE_ACTIVE_PREDICATE = `unique_scope IN ('active', 'active_or_failed') AND origin_queue IS NULL AND (state IN ('ready', 'leased') OR (state = 'failed' AND unique_scope = 'active_or_failed'))`;

/** Which rows hold their `unique_key` within their `unique_window`: all of them, whatever the state. */
export const UNIQUE_WINDOW_PREDICATE = `unique_scope = 'window' AND origin_queue IS NULL`;

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
