import { type GroupTurn } from '../sql/flow-lease.sql.js';

/** Where a worker's first grouped lease starts: the first group, groups before ungrouped. */
export const FIRST_TURN: GroupTurn = Object.freeze({ after: '', ungroupedFirst: false });

/**
 * The turn after a grouped lease whose walk over the groups reached `lastGroup` (null when it
 * leased no grouped message): the next lease resumes after it, so groups take turns across
 * leases and a busy group cannot keep the others waiting; messages without a group alternate
 * between going first and going last. The database finds `lastGroup`, as only it orders the
 * keys by their collation.
 */
export function nextGroupTurn(previous: GroupTurn, lastGroup: string | null): GroupTurn {
  return { after: lastGroup ?? previous.after, ungroupedFirst: !previous.ungroupedFirst };
}
