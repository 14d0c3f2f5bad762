import { type QueueMessageDetail } from '../interfaces/message-detail.interface.js';
import { type QueueErrorRecord } from '../interfaces/queue-message.interface.js';
import { toMessage, type MessageRow } from './message-row.js';

/** A row of `getMessageSql` (`MESSAGE_DETAIL_COLUMNS`). */
export interface MessageDetailRow extends MessageRow {
  readonly result: unknown;
  readonly progress: unknown;
}

export function toMessageDetail<T, R>(row: MessageDetailRow): QueueMessageDetail<T, R> {
  return {
    ...toMessage<T>(row),
    result: (row.result ?? null) as R | null,
    progress: row.progress ?? null,
  };
}

/** What `waitFor` reads of an awaited message (`awaitMessageSql`, `waitStatesSql`). */
export interface WaitStateRow {
  readonly id: string;
  readonly queue: string;
  readonly state: string;
  readonly origin_queue: string | null;
  readonly last_error: QueueErrorRecord | null;
  readonly result: unknown;
}
