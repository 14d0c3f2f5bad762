import { NOW_SECONDS, notify, secondsFromNow, type SqlStatement } from './sql-statement.js';
import { type QueueTableNames } from './table-names.js';
import { keyHolderSql, uniqueWindowStart, type UniqueRule } from './unique.sql.js';

/** A message's flow control, as validated by the service. Absent fields are the defaults. */
export interface MessageFlow {
  /** Higher first; 0 (the column's default) when absent. */
  readonly priority?: number;
  readonly unique?: { readonly key: string; readonly rule: UniqueRule };
  readonly groupKey?: string;
}

/** One value for every message of a batch, or one per message (`null`: none for that one). */
export type EachOrAll<V> = V | readonly (V | null)[];

/** A batch's flow control: as `MessageFlow`, each value for all messages or per message. */
export interface BatchFlow {
  readonly priority?: EachOrAll<number>;
  readonly unique?: { readonly key: EachOrAll<string>; readonly rule: UniqueRule };
  readonly groupKey?: EachOrAll<string>;
}

/** Binds values after the ones a statement starts with, each as `$n::type`. */
class Parameters {
  constructor(readonly values: unknown[]) {}

  bind(value: unknown, type: string): string {
    return `${this.placeholder(value)}::${type}`;
  }

  /** Without the cast, for `notify`, which adds it. */
  placeholder(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }

  /** A value of the batch's message `e.ord`: the one for all, or its own from an array. */
  each<V>(value: EachOrAll<V> | undefined, type: string, absent: string): string {
    if (value === undefined) return absent;
    if (!isArray(value)) return this.bind(value, type);
    const element = `(${this.bind(value, `${type}[]`)})[e.ord::integer]`;
    return absent === 'NULL' ? element : `coalesce(${element}, ${absent})`;
  }
}

function isArray<V>(value: EachOrAll<V>): value is readonly (V | null)[] {
  return Array.isArray(value);
}

/**
 * The columns a message's flow control fills, and the SQL of the unique key's `unique_scope` and
 * `unique_window` (NULL without a key).
 */
function uniqueColumns(
  p: Parameters,
  rule: UniqueRule | undefined,
): { readonly scope: string; readonly window: string } {
  if (rule === undefined) return { scope: 'NULL::text', window: 'NULL::bigint' };
  const scope = p.bind(rule.scope, 'text');
  const window =
    rule.scope === 'window'
      ? uniqueWindowStart(p.bind(rule.windowSeconds, 'integer'))
      : 'NULL::bigint';
  return { scope, window };
}

const FLOW_COLUMNS = 'priority, unique_key, unique_scope, unique_window, group_key';

/**
 * Inserts one message. Without flow control it is the statement the Python backend's `enqueue`
 * sends, which stays the hot path's.
 *
 * With a unique key, the insert does nothing when the key is held (the unique index decides, so
 * concurrent enqueues cannot both insert), and the statement returns the holder's id instead,
 * found as the index finds it. No row at all means the holder is a concurrent transaction's
 * message that committed after this statement's snapshot was taken: the insert waited for that
 * commit and saw the conflict, but the lookup reads the snapshot and cannot see the row. The
 * store sends the statement again then (a new statement, a new snapshot).
 */
export function enqueueSql(
  t: QueueTableNames,
  queue: string,
  bodyJson: string,
  delaySeconds: number,
  flow: MessageFlow = {},
): SqlStatement {
  // A delayed message wakes nobody: workers would find nothing due. Polling picks it up.
  const wake = delaySeconds === 0;
  const { priority = 0, unique, groupKey } = flow;
  if (priority === 0 && unique === undefined && groupKey === undefined) {
    return {
      text: `INSERT INTO ${t.qualified} (queue, body, available_at, created_at)
VALUES ($1::text, $2::jsonb, ${secondsFromNow('$3::integer')}, ${NOW_SECONDS})
RETURNING id${wake ? `, ${notify('$4', '$1::text')}` : ''}`,
      values: wake ? [queue, bodyJson, delaySeconds, t.channel] : [queue, bodyJson, delaySeconds],
    };
  }
  const p = new Parameters([queue, bodyJson, delaySeconds]);
  const key = unique === undefined ? 'NULL' : p.bind(unique.key, 'text');
  const { scope, window } = uniqueColumns(p, unique?.rule);
  const row = [p.bind(priority, 'integer'), key, scope, window, p.bind(groupKey ?? null, 'text')];
  // RETURNING runs for inserted rows only: a duplicate wakes nobody.
  const returning = `RETURNING id${wake ? `, ${notify(p.placeholder(t.channel), '$1::text')}` : ''}`;
  const insert = `INSERT INTO ${t.qualified} (queue, body, available_at, created_at, ${FLOW_COLUMNS})
VALUES ($1::text, $2::jsonb, ${secondsFromNow('$3::integer')}, ${NOW_SECONDS}, ${row.join(', ')})`;
  if (unique === undefined) return { text: `${insert}\n${returning}`, values: p.values };
  return {
    text: `WITH inserted AS (
  ${insert}
  ON CONFLICT DO NOTHING
  ${returning}
)
SELECT id FROM inserted
UNION ALL
(${keyHolderSql(t, unique.rule.scope, '$1::text', key, window)} AND NOT EXISTS (SELECT 1 FROM inserted))
LIMIT 1`,
    values: p.values,
  };
}

/**
 * One round trip for the whole batch: the bodies travel as one JSON array and are split by the
 * server. `seq` is drawn in array order (the SELECT is sorted before rows reach the INSERT), so
 * aggregating the ids by it gives them back in the caller's order, in one row: the notification
 * in that row's select list is sent once per batch.
 *
 * Without flow control the statement is the hot path's, unchanged. With priorities or groups
 * only, the same with those columns. With unique keys, see `enqueueUniqueManySql`.
 */
export function enqueueManySql(
  t: QueueTableNames,
  queue: string,
  bodiesJsonArray: string,
  delaySeconds: number,
  flow: BatchFlow = {},
): SqlStatement {
  const wake = delaySeconds === 0;
  if (flow.unique !== undefined) {
    return enqueueUniqueManySql(t, queue, bodiesJsonArray, delaySeconds, flow, flow.unique);
  }
  if (flow.priority === undefined && flow.groupKey === undefined) {
    return {
      text: `WITH inserted AS (
  INSERT INTO ${t.qualified} (queue, body, available_at, created_at)
  SELECT $1::text, e.value, ${secondsFromNow('$3::integer')}, ${NOW_SECONDS}
  FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS e(value, ord)
  ORDER BY e.ord
  RETURNING id, seq
)
SELECT array_agg(id ORDER BY seq) AS ids${wake ? `, ${notify('$4', '$1::text')}` : ''} FROM inserted`,
      values: wake
        ? [queue, bodiesJsonArray, delaySeconds, t.channel]
        : [queue, bodiesJsonArray, delaySeconds],
    };
  }
  const p = new Parameters([queue, bodiesJsonArray, delaySeconds]);
  const priority = p.each(flow.priority, 'integer', '0');
  const group = p.each(flow.groupKey, 'text', 'NULL');
  return {
    text: `WITH inserted AS (
  INSERT INTO ${t.qualified} (queue, body, available_at, created_at, priority, group_key)
  SELECT $1::text, e.value, ${secondsFromNow('$3::integer')}, ${NOW_SECONDS}, ${priority}, ${group}
  FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS e(value, ord)
  ORDER BY e.ord
  RETURNING id, seq
)
SELECT array_agg(id ORDER BY seq) AS ids${wake ? `, ${notify(p.placeholder(t.channel), '$1::text')}` : ''} FROM inserted`,
    values: p.values,
  };
}

/**
 * A batch with unique keys, in one statement. Messages of the batch with the same key become
 * one, the first: only it is offered to the INSERT, which skips it when the key is held (the
 * unique indexes decide, as for one message). Each position of `ids` then gets its message's id:
 * the row inserted for it (or for the first message with its key), or else the row that holds
 * the key, found as the index finds it; NULL when that row committed after this statement's
 * snapshot (see `enqueueSql`): nothing was inserted for that position, and the store sends
 * those positions again, alone.
 *
 * The rows reach the INSERT in key order, so that two batches sharing keys take them in the
 * same order: in the caller's order, each could wait for a key the other inserted first, a
 * deadlock. `seq` is drawn beforehand in the caller's order instead, so the messages are still
 * leased in that order, and it tells which input row each inserted row is.
 *
 * The notification is sent once, only when a row was inserted.
 */
function enqueueUniqueManySql(
  t: QueueTableNames,
  queue: string,
  bodiesJsonArray: string,
  delaySeconds: number,
  flow: BatchFlow,
  unique: NonNullable<BatchFlow['unique']>,
): SqlStatement {
  const wake = delaySeconds === 0;
  const p = new Parameters([queue, bodiesJsonArray, delaySeconds]);
  const priority = p.each(flow.priority, 'integer', '0');
  const key = p.each(unique.key, 'text', 'NULL');
  const group = p.each(flow.groupKey, 'text', 'NULL');
  const { scope, window } = uniqueColumns(p, unique.rule);
  const holder = keyHolderSql(t, unique.rule.scope, '$1::text', 'c.unique_key', window);
  const woken = wake
    ? `, (SELECT count(*) FROM (SELECT ${notify(p.placeholder(t.channel), '$1::text')} FROM inserted LIMIT 1) AS w) AS woken`
    : '';
  return {
    text: `WITH input AS MATERIALIZED (
  SELECT e.ord, e.value, ${priority} AS priority, ${key} AS unique_key, ${group} AS group_key
  FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS e(value, ord)
), chosen AS MATERIALIZED (
  SELECT i.*,
    CASE WHEN i.unique_key IS NULL THEN i.ord ELSE min(i.ord) OVER (PARTITION BY i.unique_key) END AS first
  FROM input AS i
), firsts AS MATERIALIZED (
  SELECT f.*, nextval((SELECT pg_get_serial_sequence('${t.qualified}', 'seq'))::regclass) AS seq
  FROM (SELECT c.* FROM chosen AS c WHERE c.ord = c.first ORDER BY c.ord) AS f
), inserted AS (
  INSERT INTO ${t.qualified} (queue, body, available_at, created_at, ${FLOW_COLUMNS}, seq)
  OVERRIDING SYSTEM VALUE
  SELECT $1::text, f.value, ${secondsFromNow('$3::integer')}, ${NOW_SECONDS}, f.priority, f.unique_key,
    CASE WHEN f.unique_key IS NOT NULL THEN ${scope} END,
    CASE WHEN f.unique_key IS NOT NULL THEN ${window} END,
    f.group_key, f.seq
  FROM firsts AS f
  ORDER BY f.unique_key, f.ord
  ON CONFLICT DO NOTHING
  RETURNING id, seq
)
SELECT array_agg(coalesce(n.id, (${holder} LIMIT 1)) ORDER BY c.ord) AS ids${woken}
FROM chosen AS c
JOIN firsts AS f ON f.ord = c.first
LEFT JOIN inserted AS n ON n.seq = f.seq`,
    values: p.values,
  };
}
