import {
  candidatesInOrder,
  LEASE_SET,
  LEASED_COLUMNS,
  notPaused,
  type LeaseRecordPolicy,
} from './lease.sql.js';
import { NOW_SECONDS, StatementValues, type SqlStatement } from './sql-statement.js';
import { type QueueTableNames } from './table-names.js';

/** The limits a flow-controlled lease enforces; each undefined one is not enforced. */
export interface FlowLimits {
  readonly globalConcurrency?: number;
  readonly groupConcurrency?: number;
  readonly rateLimit?: {
    readonly max: number;
    readonly perSeconds: number;
    readonly scope: 'queue' | 'group';
  };
}

/** Where a grouped lease's walk over the groups resumes, and which kind of message goes first. */
export interface GroupTurn {
  /** The last group leased by the previous lease of this worker; '' starts at the first. */
  readonly after: string;
  /** Whether messages without a group are offered before the groups' (alternate it). */
  readonly ungroupedFirst: boolean;
}

/** First half of the advisory lock key of flow-controlled leases ('flow'). */
const FLOW_LOCK_CLASS = 0x666c6f77;

/**
 * The first statement of a flow-controlled lease's transaction: every such lease of one queue
 * (on any replica) waits here for the one before it to commit. The limits count rows
 * (leased messages, recent starts), and a statement sees only what was committed before it
 * began: two leases counting at once would both see room for the same last slot. So the count
 * must start after the lock is held, which takes a statement of its own.
 */
export function flowLockSql(t: QueueTableNames, queue: string): SqlStatement {
  return {
    text: 'SELECT pg_advisory_xact_lock($1::integer, hashtext($2::text))',
    values: [FLOW_LOCK_CLASS, `${t.lockKey}:${queue}`],
  };
}

/**
 * Leases up to `want` due messages of queue `$1` within the processor's limits, as the second
 * statement of a transaction that holds `flowLockSql`'s lock (see there why).
 *
 * - `globalConcurrency`: the room is the cap minus the queue's `leased` messages, whoever leased
 *   them (the Python backend's leases count too).
 * - `rateLimit`: the room is `max` minus the messages leased by rate-limited leases (`leased_at`)
 *   within the last `perSeconds`; such leases stamp `leased_at` with the statement's start. Per
 *   group with scope `group` (messages without a group count as one group).
 * - `groupConcurrency`: the groups are walked in key order from `turn.after`, wrapping around,
 *   one index probe each (the group index), so a lease reads the groups it needs, not the
 *   backlog of a busy group; from each, its oldest ready messages (by `seq`) up to the group's
 *   own room. With a limit of 1 a group keeps strict enqueue order: only its oldest ready message
 *   may go, only once it is due, and only while nothing of the group is leased or a dead letter
 *   in place. Messages without a group go before or after the groups (`turn.ungroupedFirst`).
 *
 * Without groups, the candidates are those of a plain lease (`candidatesInOrder`): priorities
 * apply. With groups they do not: a group's order is enqueue order.
 *
 * Always returns at least one row: `room` (messages the limits allowed) and `rate_wait_ms` (when
 * the rate limit is what stopped it: how long until its oldest counted start leaves the window),
 * with the message's columns NULL when nothing was leased.
 */
export function flowLeaseSql(
  t: QueueTableNames,
  queue: string,
  want: number,
  leaseSeconds: number,
  policy: LeaseRecordPolicy,
  limits: FlowLimits,
  turn: GroupTurn,
): SqlStatement {
  // `$1`-`$5` are those of every lease (see `LEASE_SET`); the limits' values follow.
  const p = new StatementValues([
    queue,
    want,
    leaseSeconds,
    policy.maxAttempts ?? null,
    policy.deadLetterQueue ?? null,
  ]);
  const { globalConcurrency, groupConcurrency, rateLimit } = limits;
  const rooms = ['$2::integer'];
  rooms.push(`CASE WHEN ${notPaused(t)} THEN $2::integer ELSE 0 END`);
  if (globalConcurrency !== undefined) {
    rooms.push(
      `${p.bind(globalConcurrency, 'integer')} - (SELECT count(*) FROM ${t.qualified} WHERE queue = $1::text AND state = 'leased')::integer`,
    );
  }
  let window = '';
  let rateWait = 'NULL::integer';
  let rateMax = '';
  if (rateLimit !== undefined) {
    rateMax = p.bind(rateLimit.max, 'integer');
    window = `statement_timestamp() - make_interval(secs => ${p.bind(rateLimit.perSeconds, 'integer')})`;
    if (rateLimit.scope === 'queue') {
      const started = `SELECT leased_at FROM ${t.qualified} WHERE queue = $1::text AND leased_at > ${window}`;
      rooms.push(`${rateMax} - (SELECT count(*) FROM (${started}) AS started)::integer`);
      rateWait = `CASE WHEN (SELECT count(*) FROM (${started}) AS started) >= ${rateMax}
    THEN ceil(extract(epoch FROM (SELECT min(leased_at) FROM (${started}) AS started) - (${window})) * 1000)::integer END`;
    }
  }
  const room = `room AS MATERIALIZED (
  SELECT greatest(0, least(${rooms.join(',\n    ')})) AS n, ${rateWait} AS rate_wait_ms
)`;
  const limit = '(SELECT n FROM room)';
  // A rate per group needs the walk over the groups even without a group limit.
  const grouped = groupConcurrency !== undefined || rateLimit?.scope === 'group';
  // Where the walk over the groups starts: after the last group the previous lease reached.
  const after = grouped ? p.bind(turn.after, 'text') : '';
  const candidates = !grouped
    ? `next AS MATERIALIZED (
${candidatesInOrder(t, limit)}
)`
    : groupedCandidates(t, p, want, groupConcurrency, rateLimit, rateMax, window, after, turn);
  const stamp = rateLimit === undefined ? '' : ',\n      leased_at = statement_timestamp()';
  // Where the next lease's walk resumes. When this lease filled its room, after the last group it
  // leased from, in the walk's order (keys after the start, then wrapped around to those before
  // it, compared by the database's collation as the walk was). Otherwise the walk went as far as
  // it could: after the last group it visited.
  const lastGroup = !grouped
    ? 'NULL::text'
    : `(CASE WHEN (SELECT count(*) FROM leased) < room.n
    THEN (SELECT g FROM walk ORDER BY visit DESC LIMIT 1)
    ELSE (SELECT coalesce(max(group_key) FILTER (WHERE group_key <= ${after}), max(group_key)) FROM leased) END)`;
  return {
    text: `WITH RECURSIVE ${room},
${candidates},
leased AS (
  UPDATE ${t.qualified} AS m
  SET ${LEASE_SET}${stamp}
  WHERE m.ctid = ANY (ARRAY(SELECT ctid FROM next))
  RETURNING m.*
)
SELECT room.n AS room, room.rate_wait_ms, ${lastGroup} AS last_group, l.* FROM room LEFT JOIN LATERAL (
  SELECT ${LEASED_COLUMNS} FROM leased
) AS l ON true
ORDER BY l.priority DESC, l.available_at, l.seq`,
    values: p.values,
    // Prepared, unlike the plain lease: planning this statement costs 2 to 10 ms, spent while
    // every other lease of the queue waits for the lock, and its generic plan was as fast as the
    // custom ones (1,000 groups, a 200,000-message neighbour queue; it takes no array or scan
    // position, what made generic plans of the other statements read whole tables).
  };
}

/**
 * Most groups one grouped lease visits: at least 64, four per message wanted, at most 1,000. A
 * lease costs one or two index probes per group it visits, so when most groups cannot go on (each
 * running its one message, waiting for a retry), the walk stops here and the next lease goes on
 * from where it stopped, instead of visiting every group each time.
 */
export function groupsPerLease(want: number): number {
  return Math.min(1_000, Math.max(64, want * 4));
}

/**
 * How many of a grouped queue's oldest due messages a lease looks through for messages without a
 * group: they have no index of their own (it would cost every plain message an index entry), so
 * past this many grouped ones they wait until the grouped ones ahead of them are gone.
 */
export const UNGROUPED_LOOKAHEAD = 1_000;

/**
 * The `next` CTE of a grouped lease (see `flowLeaseSql`): a walk over the groups, each group's
 * heads within its room, the messages without a group, the first `room` of them in turn order,
 * locked. The walk, the heads and the Append of the two kinds run only as far as the LIMIT pulls,
 * so a lease visits the groups it needs, and at most `groupsPerLease`.
 *
 * One index scan per group answers everything about it: the group index orders a group's rows
 * by state ('failed' < 'leased' < 'ready') then `seq`, so with a limit of 1 the group's first row
 * says it all (a dead letter or a leased message holds it back; else it is the oldest ready one),
 * and with a limit K the first K rows that are not dead letters (or not yet due) are the leased
 * ones, then the ready ones that fit. (Counting the leased rows in a statement of their own let
 * the planner pick the plain state index and read every leased row of the table per group.)
 */
function groupedCandidates(
  t: QueueTableNames,
  p: StatementValues,
  want: number,
  groupConcurrency: number | undefined,
  rateLimit: FlowLimits['rateLimit'],
  rateMax: string,
  window: string,
  after: string,
  turn: GroupTurn,
): string {
  // The group index's predicate, repeated so the planner can use it.
  const inIndex = `group_key IS NOT NULL AND state IN ('ready', 'leased', 'failed')`;
  const visits = p.bind(groupsPerLease(want), 'integer');
  const firstGroup = `(SELECT group_key FROM ${t.qualified} WHERE queue = $1::text AND ${inIndex} ORDER BY group_key LIMIT 1)`;
  const groupAfter = (key: string) =>
    `(SELECT group_key FROM ${t.qualified} WHERE queue = $1::text AND ${inIndex} AND group_key > ${key} ORDER BY group_key LIMIT 1)`;
  const due = `m.available_at <= ${NOW_SECONDS}`;
  // With a limit of 1, order is strict: the group's first row, whatever its state. With a
  // limit K: its leased rows and its due ready ones, K at most (dead letters and not-yet-due
  // messages are passed over). With a rate per group and no limit: its due ready ones.
  const strict = groupConcurrency === 1;
  let scan: string;
  if (strict) {
    scan = `LIMIT 1`;
  } else if (groupConcurrency !== undefined) {
    scan = `LIMIT ${p.bind(groupConcurrency, 'integer')}`;
  } else {
    scan = `LIMIT ${rateMax}`;
  }
  const passOver = strict
    ? ''
    : groupConcurrency !== undefined
      ? ` AND m.state <> 'failed' AND (m.state = 'leased' OR ${due})`
      : ` AND m.state = 'ready' AND ${due}`;
  let rateRoom = '';
  if (rateLimit?.scope === 'group') {
    rateRoom = ` AND h.ready_rank <= ${rateMax} - (SELECT count(*) FROM ${t.qualified} AS r
      WHERE r.queue = $1::text AND r.group_key = w.g AND r.group_key IS NOT NULL AND r.leased_at > ${window})::integer`;
  }
  const heads = `SELECT h.ctid FROM walk AS w CROSS JOIN LATERAL (
    SELECT x.ctid, x.state, x.available_at,
      count(*) FILTER (WHERE x.state = 'ready') OVER (ORDER BY x.state, x.seq ROWS UNBOUNDED PRECEDING) AS ready_rank
    FROM (
      SELECT m.ctid, m.state, m.seq, m.available_at FROM ${t.qualified} AS m
      WHERE m.queue = $1::text AND m.group_key = w.g AND m.${inIndex.replace(' AND state', ' AND m.state')}${passOver}
      ORDER BY m.state, m.seq
      ${scan}
    ) AS x
  ) AS h
  WHERE h.state = 'ready' AND h.available_at <= ${NOW_SECONDS}${rateRoom}`;
  let ungroupedRoom = '';
  if (rateLimit?.scope === 'group') {
    ungroupedRoom = `
    AND (SELECT count(*) FROM ${t.qualified} AS r WHERE r.queue = $1::text AND r.group_key IS NULL AND r.leased_at > ${window}) < ${rateMax}`;
  }
  const ungrouped = `SELECT u.ctid FROM (
    SELECT ctid, group_key FROM ${t.qualified}
    WHERE queue = $1::text AND state = 'ready' AND available_at <= ${NOW_SECONDS}
    ORDER BY available_at, seq
    LIMIT ${UNGROUPED_LOOKAHEAD}
  ) AS u
  WHERE u.group_key IS NULL${ungroupedRoom}`;
  const [first, second] = turn.ungroupedFirst ? [ungrouped, heads] : [heads, ungrouped];
  return `walk (g, lap, visit) AS (
  SELECT coalesce(a.next, a.first), CASE WHEN a.next IS NULL THEN 1 ELSE 0 END, 1
  FROM (SELECT ${groupAfter(after)} AS next, ${firstGroup} AS first) AS a
  WHERE coalesce(a.next, a.first) IS NOT NULL
  UNION ALL
  SELECT s.g, s.lap, w.visit + 1 FROM walk AS w CROSS JOIN LATERAL (
    SELECT coalesce(n.next, CASE WHEN w.lap = 0 THEN ${firstGroup} END) AS g,
      CASE WHEN n.next IS NULL THEN w.lap + 1 ELSE w.lap END AS lap
    FROM (SELECT ${groupAfter('w.g')} AS next) AS n
  ) AS s
  WHERE w.visit < ${visits} AND s.g IS NOT NULL AND (s.lap = 0 OR (s.lap = 1 AND s.g <= ${after}))
),
picked AS MATERIALIZED (
  SELECT c.ctid FROM (
  ${first}
  UNION ALL
  ${second}
  ) AS c
  LIMIT (SELECT n FROM room)
),
next AS MATERIALIZED (
  SELECT m.ctid FROM ${t.qualified} AS m
  WHERE m.ctid = ANY (ARRAY(SELECT ctid FROM picked)) AND m.state = 'ready' AND ${notPaused(t)}
  FOR UPDATE SKIP LOCKED
)`;
}
