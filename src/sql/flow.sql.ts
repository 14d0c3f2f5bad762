import { NOW_SECONDS, notify, secondsFromNow, type SqlStatement } from './sql-statement.js';
import { type QueueTableNames } from './table-names.js';

/** A flow laid out for its insert: one entry per message in each column, parents first. */
export interface FlowRows {
  readonly ids: readonly string[];
  readonly queues: readonly string[];
  /** Each body's JSON text. */
  readonly bodies: readonly string[];
  readonly parentIds: readonly (string | null)[];
  readonly waiting: readonly boolean[];
  readonly delays: readonly number[];
  readonly priorities: readonly number[];
  readonly groupKeys: readonly (string | null)[];
  readonly childFailures: readonly (string | null)[];
  /** The trace context every message of the flow carries (one send span): see `MessageFlow`. */
  readonly traceContext?: string;
}

/**
 * Inserts a whole flow in one statement, so it is all or nothing without a transaction of its
 * own. The ids come with the rows (drawn by the caller, see `flowIds`), so a child names its
 * parent directly: no join of the rows to each other, whose size the planner cannot estimate.
 * The columns are unnested beside the bodies (ROWS FROM walks them in step), and the rows reach
 * the INSERT in the caller's order, so `seq` is drawn parents first, in tree order.
 *
 * A message with children is stored `waiting_children`: nothing leases it, and the table's
 * triggers make it `ready` when its last child ends. The others are `ready`; each queue that
 * got one due now is woken once. Returns one row: how many were inserted.
 */
export function enqueueFlowSql(t: QueueTableNames, rows: FlowRows): SqlStatement {
  return {
    text: `WITH inserted AS (
  INSERT INTO ${t.qualified} (id, queue, body, state, available_at, created_at, priority, group_key, parent_id, child_failure, trace_context)
  SELECT e.id, e.queue, e.value,
    CASE WHEN e.waiting THEN 'waiting_children' ELSE 'ready' END,
    ${secondsFromNow('e.delay')}, ${NOW_SECONDS}, e.priority, e.group_key, e.parent_id, e.child_failure,
    $11::text
  FROM ROWS FROM (
    jsonb_array_elements($1::jsonb), unnest($2::text[]), unnest($3::text[]), unnest($4::text[]),
    unnest($5::boolean[]), unnest($6::integer[]), unnest($7::integer[]), unnest($8::text[]),
    unnest($9::text[])
  ) WITH ORDINALITY AS e(value, id, queue, parent_id, waiting, delay, priority, group_key, child_failure, ord)
  ORDER BY e.ord
  RETURNING queue, state, available_at
)
SELECT (SELECT count(*) FROM inserted)::integer AS inserted,
  (SELECT count(${notify('$10', 'w.queue')}) FROM (
    SELECT DISTINCT queue FROM inserted WHERE state = 'ready' AND available_at <= ${NOW_SECONDS}
  ) AS w)::integer AS woken`,
    values: [
      `[${rows.bodies.join(',')}]`,
      rows.ids,
      rows.queues,
      rows.parentIds,
      rows.waiting,
      rows.delays,
      rows.priorities,
      rows.groupKeys,
      rows.childFailures,
      t.channel,
      rows.traceContext ?? null,
    ],
  };
}

/**
 * The children of message `parentId`, in the order the flow gave them (their ids increase in
 * tree order): what a parent reads once they have ended. The parent index finds them.
 */
export function childrenSql(t: QueueTableNames, parentId: string): SqlStatement {
  return {
    text: `SELECT id, queue, state, result, last_error, origin_queue FROM ${t.qualified}
WHERE parent_id = $1::text
ORDER BY id`,
    values: [parentId],
  };
}

/**
 * CTEs (to follow others in a `WITH RECURSIVE`) that find and lock the descendants of the
 * message `root` (an expression giving its id, or NULL), at most `maxDepth` (an integer
 * expression: the flows' depth bound) levels below it, that have not ended: `flow_tree` walks
 * the parent index down the flow, through ended messages too (a failed parent's other children
 * run on), and `flow_pending` locks those still `ready`, `waiting_children` or `leased`, in id
 * order like every statement of the package that waits for many row locks.
 *
 * The walk is UNION ALL bounded by the flow depth, not UNION: UNION's hash table is sized by
 * the planner's guess of the walk (a million rows), and allocating it tripled the time of a
 * plain message's cancel. The bound also ends the walk on a cycle of parent ids, which only a
 * hand-written UPDATE could make.
 */
export function pendingDescendantsSql(t: QueueTableNames, root: string, maxDepth: string): string {
  return `flow_tree AS (
  SELECT c.id, 1 AS depth FROM ${t.qualified} AS c WHERE c.parent_id = ${root}
  UNION ALL
  SELECT c.id, f.depth + 1 FROM ${t.qualified} AS c JOIN flow_tree AS f ON c.parent_id = f.id
  WHERE f.depth < ${maxDepth}
), flow_pending AS MATERIALIZED (
  SELECT m.id FROM ${t.qualified} AS m
  WHERE m.id = ANY (ARRAY(SELECT id FROM flow_tree)) AND m.state IN ('ready', 'waiting_children', 'leased')
  ORDER BY m.id FOR UPDATE
)`;
}
