import { type MessageState } from '../interfaces/queue-message.interface.js';
import {
  MESSAGE_COLUMNS,
  NOW_SECONDS,
  StatementValues,
  type SqlStatement,
} from './sql-statement.js';
import { type QueueTableNames } from './table-names.js';

/** Which messages of one queue an operator lists, and the page. */
export interface MessageListFilter {
  readonly queue: string;
  readonly state?: MessageState;
  /** Only messages created at least this many seconds ago. */
  readonly olderThanSeconds?: number;
  /** JSON text; only messages whose body contains it (`body @> $n::jsonb`). */
  readonly bodyContains?: string;
  /** The last message of the previous page: only messages enqueued after it (by `seq`). */
  readonly afterId?: string;
  /** Messages per page. */
  readonly limit: number;
}

/**
 * One page of a queue's messages in enqueue order (`seq`), filtered. Keyset paging: the page
 * starts after the `seq` of the message `afterId` names, so a page costs the same however deep
 * it is, and messages added or deleted meanwhile never shift a page. One row more than `limit`
 * is read, to tell whether a next page exists.
 *
 * Only the filters given are in the text (each a parameter): a `$n IS NULL OR …` for each would
 * keep the planner from using the state or ready indexes. A body filter has no index of its own
 * (`@>` on `body` would need a GIN index the hot path would pay for on every write): it filters
 * the queue's rows one by one, which is an operator's tool's cost, not a worker's.
 */
export function listMessagesSql(t: QueueTableNames, filter: MessageListFilter): SqlStatement {
  const values = new StatementValues([filter.queue]);
  const bind = (value: unknown, type: string): string => values.bind(value, type);
  const where = ['m.queue = $1::text'];
  if (filter.state !== undefined) where.push(`m.state = ${bind(filter.state, 'text')}`);
  if (filter.olderThanSeconds !== undefined) {
    where.push(`m.created_at <= ${NOW_SECONDS} - ${bind(filter.olderThanSeconds, 'bigint')}`);
  }
  if (filter.bodyContains !== undefined) {
    where.push(`m.body @> ${bind(filter.bodyContains, 'jsonb')}`);
  }
  if (filter.afterId !== undefined) {
    where.push(
      `m.seq > (SELECT a.seq FROM ${t.qualified} AS a WHERE a.id = ${bind(filter.afterId, 'text')})`,
    );
  }
  const limit = bind(filter.limit + 1, 'integer');
  return {
    text: `SELECT ${MESSAGE_COLUMNS} FROM ${t.qualified} AS m
WHERE ${where.join(' AND ')}
ORDER BY m.seq
LIMIT ${limit}`,
    values: values.values,
    // The filters vary the text from call to call; an operator's occasional read is planned anew.
    planEachTime: true,
  };
}
