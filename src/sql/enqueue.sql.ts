import {
  NOW_SECONDS,
  notify,
  secondsFromNow,
  StatementValues,
  type SqlStatement,
} from './sql-statement.js';
import { type QueueTableNames } from './table-names.js';
import { keyHolderSql, uniqueWindowStart, type UniqueRule } from './unique.sql.js';

/** A message's flow control, as validated by the service. Absent fields are the defaults. */
export interface MessageFlow {
  /** Higher first; 0 (the column's default) when absent. */
  readonly priority?: number;
  readonly unique?: { readonly key: string; readonly rule: UniqueRule };
  readonly groupKey?: string;
  /**
   * The W3C trace context to store in `trace_context` (see `src/tracing/trace-context.ts`);
   * only while an OpenTelemetry tracer provider is registered.
   */
  readonly traceContext?: string;
}

/** One value for every message of a batch, or one per message (`null`: none for that one). */
export type EachOrAll<V> = V | readonly (V | null)[];

/** A batch's flow control: as `MessageFlow`, each value for all messages or per message. */
export interface BatchFlow {
  readonly priority?: EachOrAll<number>;
  readonly unique?: { readonly key: EachOrAll<string>; readonly rule: UniqueRule };
  readonly groupKey?: EachOrAll<string>;
  /** As `MessageFlow.traceContext`: one batch, one send span, one context for all. */
  readonly traceContext?: string;
}

/** Binds values after the ones a statement starts with, and lays out a batch's rows. */
class Parameters extends StatementValues {
  /**
   * The batch's rows: each body with its position `e.ord` and, for each option given per
   * message, its own value. The arrays are unnested beside the bodies (ROWS FROM walks them in
   * step), not subscripted: `array[ord]` reads the whole parameter again for every message.
   */
  rows(options: readonly BatchColumn[]): { readonly from: string; readonly columns: string[] } {
    const functions = ['jsonb_array_elements($2::jsonb)'];
    const names = ['value'];
    const columns = options.map(({ value, type, name, absent }) => {
      if (value === undefined) return `${absent} AS ${name}`;
      if (!isArray(value)) return `${this.bind(value, type)} AS ${name}`;
      functions.push(`unnest(${this.bind(value, `${type}[]`)})`);
      names.push(`each_${name}`);
      return `${absent === 'NULL' ? `e.each_${name}` : `coalesce(e.each_${name}, ${absent})`} AS ${name}`;
    });
    return {
      from: `ROWS FROM (${functions.join(', ')}) WITH ORDINALITY AS e(${names.join(', ')}, ord)`,
      columns,
    };
  }
}

/** A column of a batch's rows: its SQL type, and its value when no message has one. */
interface BatchColumn {
  readonly value: EachOrAll<string | number> | undefined;
  readonly type: string;
  readonly name: string;
  readonly absent: string;
}

function isArray(value: EachOrAll<string | number>): value is readonly (string | number | null)[] {
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
 * Inserts one message. Without flow control and without a trace context it is the statement the
 * Python backend's `enqueue` sends, which stays the hot path's.
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
  const { priority = 0, unique, groupKey, traceContext } = flow;
  if (
    priority === 0 &&
    unique === undefined &&
    groupKey === undefined &&
    traceContext === undefined
  ) {
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
  const row = [
    p.bind(priority, 'integer'),
    key,
    scope,
    window,
    p.bind(groupKey ?? null, 'text'),
    p.bind(traceContext ?? null, 'text'),
  ];
  // RETURNING runs for inserted rows only: a duplicate wakes nobody.
  const returning = `RETURNING id${wake ? `, ${notify(p.placeholder(t.channel), '$1::text')}` : ''}`;
  const insert = `INSERT INTO ${t.qualified} (queue, body, available_at, created_at, ${FLOW_COLUMNS}, trace_context)
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
  if (
    flow.priority === undefined &&
    flow.groupKey === undefined &&
    flow.traceContext === undefined
  ) {
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
  const { from, columns } = p.rows([
    { value: flow.priority, type: 'integer', name: 'priority', absent: '0' },
    { value: flow.groupKey, type: 'text', name: 'group_key', absent: 'NULL' },
  ]);
  const traceContext = p.bind(flow.traceContext ?? null, 'text');
  return {
    text: `WITH inserted AS (
  INSERT INTO ${t.qualified} (queue, body, available_at, created_at, priority, group_key, trace_context)
  SELECT $1::text, e.value, ${secondsFromNow('$3::integer')}, ${NOW_SECONDS}, ${columns.join(', ')}, ${traceContext}
  FROM ${from}
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
 * Rows are matched by window functions over `seq`, not by joins: the planner cannot estimate a
 * CTE's rows and chose nested loops, quadratic in the batch (23 s for 10,000 new keys).
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
  const { from, columns } = p.rows([
    { value: flow.priority, type: 'integer', name: 'priority', absent: '0' },
    { value: unique.key, type: 'text', name: 'unique_key', absent: 'NULL' },
    { value: flow.groupKey, type: 'text', name: 'group_key', absent: 'NULL' },
  ]);
  const { scope, window } = uniqueColumns(p, unique.rule);
  const traceContext = p.bind(flow.traceContext ?? null, 'text');
  const holder = keyHolderSql(t, unique.rule.scope, '$1::text', 'x.unique_key', window);
  const woken = wake
    ? `, (SELECT count(*) FROM (SELECT ${notify(p.placeholder(t.channel), '$1::text')} FROM inserted LIMIT 1) AS w) AS woken`
    : '';
  return {
    text: `WITH input AS MATERIALIZED (
  SELECT e.ord, e.value, ${columns.join(', ')}
  FROM ${from}
), chosen AS MATERIALIZED (
  SELECT i.*,
    CASE WHEN i.unique_key IS NULL THEN i.ord ELSE min(i.ord) OVER (PARTITION BY i.unique_key) END AS first
  FROM input AS i
), drawn AS MATERIALIZED (
  SELECT c.*, CASE WHEN c.ord = c.first THEN nextval((SELECT pg_get_serial_sequence('${t.qualified}', 'seq'))::regclass) END AS seq
  FROM (SELECT * FROM chosen ORDER BY ord) AS c
), inserted AS (
  INSERT INTO ${t.qualified} (queue, body, available_at, created_at, ${FLOW_COLUMNS}, seq, trace_context)
  OVERRIDING SYSTEM VALUE
  SELECT $1::text, d.value, ${secondsFromNow('$3::integer')}, ${NOW_SECONDS}, d.priority, d.unique_key,
    CASE WHEN d.unique_key IS NOT NULL THEN ${scope} END,
    CASE WHEN d.unique_key IS NOT NULL THEN ${window} END,
    d.group_key, d.seq, ${traceContext}
  FROM drawn AS d
  WHERE d.seq IS NOT NULL
  ORDER BY d.unique_key, d.ord
  ON CONFLICT DO NOTHING
  RETURNING id, seq
), matched AS (
  SELECT r.ord, r.unique_key, max(r.id) OVER (PARTITION BY r.seq) AS id
  FROM (
    SELECT d.ord, d.unique_key, max(d.seq) OVER (PARTITION BY d.first) AS seq, NULL::text AS id
    FROM drawn AS d
    UNION ALL
    SELECT NULL, NULL, n.seq, n.id FROM inserted AS n
  ) AS r
)
SELECT array_agg(coalesce(x.id, (${holder} LIMIT 1)) ORDER BY x.ord) AS ids${woken}
FROM matched AS x
WHERE x.ord IS NOT NULL`,
    values: p.values,
  };
}
