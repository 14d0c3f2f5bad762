import { candidatesInOrder, LEASE_SET, LEASED_COLUMNS, notPaused } from './lease.sql.js';
import { NOW_SECONDS, type SqlStatement } from './sql-statement.js';
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

/** The parameter holding where the walk over the groups starts (bound once, on first use). */
function startAfter(p: Parameters, after?: string): string {
  p.start ??= p.bind(after, 'text');
  return p.start;
}

/** Binds values from `$6` on (`$1`–`$5` are those of every lease; see `LEASE_SET`). */
class Parameters {
  readonly values: unknown[];
  start: string | undefined;

  constructor(first: readonly unknown[]) {
    this.values = [...first];
  }

  bind(value: unknown, type: 'integer' | 'text'): string {
    this.values.push(value);
    return `$${this.values.length}::${type}`;
  }
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
  policy: { readonly maxAttempts?: number; readonly deadLetterQueue?: string },
  limits: FlowLimits,
  turn: GroupTurn,
): SqlStatement {
  const p = new Parameters([
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
  const candidates = !grouped
    ? `next AS MATERIALIZED (
${candidatesInOrder(t, limit)}
)`
    : groupedCandidates(t, p, groupConcurrency, rateLimit, rateMax, window, turn);
  const stamp = rateLimit === undefined ? '' : ',\n      leased_at = statement_timestamp()';
  // The last group the walk reached, in its order (keys after the start, then wrapped around to
  // those before it), compared by the database's collation as the walk was.
  const lastGroup = !grouped
    ? 'NULL::text'
    : `(SELECT coalesce(max(group_key) FILTER (WHERE group_key <= ${startAfter(p)}), max(group_key)) FROM leased)`;
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
    planEachTime: true,
  };
}

/**
 * The `next` CTE of a grouped lease (see `flowLeaseSql`): a walk over the groups, each group's
 * heads within its room, the messages without a group, the first `room` of them in turn order,
 * locked. The walk, the heads and the Append of the two kinds run only as far as the LIMIT pulls,
 * so a lease visits the groups it needs and no more.
 */
function groupedCandidates(
  t: QueueTableNames,
  p: Parameters,
  groupConcurrency: number | undefined,
  rateLimit: FlowLimits['rateLimit'],
  rateMax: string,
  window: string,
  turn: GroupTurn,
): string {
  // The group index's predicate, repeated so the planner can use it.
  const inIndex = `group_key IS NOT NULL AND state IN ('ready', 'leased', 'failed')`;
  const after = startAfter(p, turn.after);
  const firstGroup = `(SELECT group_key FROM ${t.qualified} WHERE queue = $1::text AND ${inIndex} ORDER BY group_key LIMIT 1)`;
  const groupAfter = (key: string) =>
    `(SELECT group_key FROM ${t.qualified} WHERE queue = $1::text AND ${inIndex} AND group_key > ${key} ORDER BY group_key LIMIT 1)`;
  const ofGroup = (alias: string) =>
    `${alias}.queue = $1::text AND ${alias}.group_key = w.g AND ${alias}.group_key IS NOT NULL`;
  const roomOfGroup: string[] = [];
  // A group's heads are taken up to its limit, or up to its rate (a rate per group without a
  // group limit).
  let cap = rateMax;
  if (groupConcurrency !== undefined) {
    cap = p.bind(groupConcurrency, 'integer');
    roomOfGroup.push(
      `${cap} - (SELECT count(*) FROM ${t.qualified} AS l WHERE ${ofGroup('l')} AND l.state = 'leased')::integer`,
    );
  }
  if (rateLimit?.scope === 'group') {
    roomOfGroup.push(
      `${rateMax} - (SELECT count(*) FROM ${t.qualified} AS r WHERE ${ofGroup('r')} AND r.leased_at > ${window})::integer`,
    );
  }
  // With a limit of 1, order is strict: the oldest ready message must be due, and a dead letter
  // in place holds the group back. With more, the oldest due ones go.
  const strict = groupConcurrency === 1;
  const heads = `SELECT h.ctid FROM walk AS w CROSS JOIN LATERAL (
    SELECT x.ctid, x.available_at FROM (
      SELECT m.ctid, m.available_at, row_number() OVER (ORDER BY m.seq) AS rn FROM (
        SELECT m.ctid, m.seq, m.available_at FROM ${t.qualified} AS m
        WHERE ${ofGroup('m')} AND m.state = 'ready'${strict ? '' : ` AND m.available_at <= ${NOW_SECONDS}`}
        ORDER BY m.seq
        LIMIT ${cap}
      ) AS m
    ) AS x
    WHERE ${roomOfGroup.map((term) => `x.rn <= ${term}`).join(' AND ')}
  ) AS h
  WHERE ${
    strict
      ? `h.available_at <= ${NOW_SECONDS}
    AND NOT EXISTS (SELECT 1 FROM ${t.qualified} AS f WHERE ${ofGroup('f')} AND f.state = 'failed')`
      : 'true'
  }`;
  let ungroupedRoom = '';
  if (rateLimit?.scope === 'group') {
    ungroupedRoom = `
    AND (SELECT count(*) FROM ${t.qualified} AS r WHERE r.queue = $1::text AND r.group_key IS NULL AND r.leased_at > ${window}) < ${rateMax}`;
  }
  const ungrouped = `SELECT u.ctid FROM (
    SELECT ctid FROM ${t.qualified}
    WHERE queue = $1::text AND state = 'ready' AND group_key IS NULL AND available_at <= ${NOW_SECONDS}${ungroupedRoom}
    ORDER BY available_at, seq
    LIMIT (SELECT n FROM room)
  ) AS u`;
  const [first, second] = turn.ungroupedFirst ? [ungrouped, heads] : [heads, ungrouped];
  return `walk (g, lap) AS (
  SELECT coalesce(a.next, a.first), CASE WHEN a.next IS NULL THEN 1 ELSE 0 END
  FROM (SELECT ${groupAfter(after)} AS next, ${firstGroup} AS first) AS a
  WHERE coalesce(a.next, a.first) IS NOT NULL
  UNION ALL
  SELECT s.g, s.lap FROM walk AS w CROSS JOIN LATERAL (
    SELECT coalesce(n.next, CASE WHEN w.lap = 0 THEN ${firstGroup} END) AS g,
      CASE WHEN n.next IS NULL THEN w.lap + 1 ELSE w.lap END AS lap
    FROM (SELECT ${groupAfter('w.g')} AS next) AS n
  ) AS s
  WHERE s.g IS NOT NULL AND (s.lap = 0 OR (s.lap = 1 AND s.g <= ${after}))
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
