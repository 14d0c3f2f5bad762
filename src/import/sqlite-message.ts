import { serializeBody } from '../body/serialize-body.js';
import { assertMessageId, assertQueueName } from '../config/argument-rules.js';
import { type ImportRow } from '../database/import-writer.js';
import { QueueValidationError } from '../errors/queue-validation.error.js';
import { SqliteReadError } from '../errors/sqlite-read.error.js';
import { type SqliteColumn } from '../sqlite/create-table.js';
import { InvalidText, type SqliteValue } from '../sqlite/sqlite-record.js';

/** The Python SQLite backend's columns the import reads (`lease_until` is not kept). */
export const SQLITE_MESSAGE_COLUMNS = [
  'id',
  'queue',
  'body',
  'available_at',
  'attempts',
  'state',
] as const;
type MessageColumn = (typeof SQLITE_MESSAGE_COLUMNS)[number];

/** Where each column the import reads sits in a record. */
export type ColumnPositions = Readonly<Record<MessageColumn, number>>;

/** What became of one row of the file. */
export type RowOutcome =
  | { readonly kind: 'import'; readonly row: ImportRow }
  /** A `done` row, with `skipDone`. */
  | { readonly kind: 'skip-done' }
  /** Not importable; `id` is the row's id, or `rowid <n>` when the id itself is unusable. */
  | { readonly kind: 'invalid'; readonly id: string; readonly reason: string };

export interface RowRules {
  readonly skipDone: boolean;
  /** As the module's `maxBodyBytes`, which `enqueue` applies. */
  readonly maxBodyBytes: number;
}

/** Largest `attempts`: the column is a Postgres `integer`. */
const MAX_ATTEMPTS = 2_147_483_647;

/**
 * Finds the columns in the table's definition.
 * @throws {SqliteReadError} one is missing: the file is not the Python backend's.
 */
export function columnPositions(file: string, columns: readonly SqliteColumn[]): ColumnPositions {
  const names = columns.map((column) => column.name.toLowerCase());
  const positions = {} as Record<MessageColumn, number>;
  for (const name of SQLITE_MESSAGE_COLUMNS) {
    const index = names.indexOf(name);
    if (index < 0) {
      throw new SqliteReadError(
        file,
        `its messages table has no column ${name} (it has ${names.join(', ')}): it is not the Python SQLite backend's file`,
      );
    }
    positions[name] = index;
  }
  return positions;
}

/**
 * The import's rules for one row of the Python backend's `messages` table; pure.
 *
 * - `id`, `queue`: the rules of `enqueue`'s and `ack`'s arguments (non-empty text, no control
 *   characters, length limits; a queue name without surrounding white space).
 * - `state`: `ready` and `done` are kept; `leased` becomes `ready`, since its lease belonged to a
 *   process of the old system, which will never ack it here; anything else is invalid.
 * - `body`: text that parses as JSON and keeps `enqueue`'s body rules (no `\u0000`, no lone
 *   surrogates, finite numbers, depth, size). The text itself is what is written.
 * - `available_at`: whole epoch seconds as stored, kept absolute (a fractional value is rounded
 *   up: never due earlier than the file said). `attempts`: a whole number from 0.
 */
export function convertSqliteRow(
  rowid: bigint,
  values: readonly SqliteValue[],
  at: ColumnPositions,
  rules: RowRules,
): RowOutcome {
  const rawId = values[at.id] ?? null;
  let id: string;
  try {
    id = assertMessageId(rawId);
  } catch (error) {
    return invalid(`rowid ${rowid}`, ruleOf(error, 'id', rawId));
  }
  const fail = (reason: string): RowOutcome => invalid(id, reason);

  const state = values[at.state] ?? null;
  if (state !== 'ready' && state !== 'leased' && state !== 'done') {
    return fail(`unknown state ${describe(state)} (expected ready, leased or done)`);
  }
  if (state === 'done' && rules.skipDone) return { kind: 'skip-done' };

  const rawQueue = values[at.queue] ?? null;
  let queue: string;
  try {
    queue = assertQueueName(rawQueue);
  } catch (error) {
    return fail(ruleOf(error, 'queue', rawQueue));
  }

  const availableAt = wholeSeconds(values[at.available_at] ?? null);
  if (availableAt === undefined) {
    return fail(
      `available_at must be epoch seconds (got ${describe(values[at.available_at] ?? null)})`,
    );
  }
  const attempts = values[at.attempts] ?? null;
  if (typeof attempts !== 'number' || !Number.isInteger(attempts) || attempts < 0) {
    return fail(`attempts must be a whole number from 0 (got ${describe(attempts)})`);
  }
  if (attempts > MAX_ATTEMPTS) return fail(`attempts must be at most ${MAX_ATTEMPTS}`);

  const body = values[at.body] ?? null;
  if (body instanceof InvalidText) return fail('body is not valid UTF-8');
  if (typeof body !== 'string') return fail(`body must be JSON text (got ${describe(body)})`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (error) {
    return fail(
      `body is not valid JSON (${error instanceof Error ? error.message : 'unreadable'})`,
    );
  }
  try {
    serializeBody(parsed, 'body', rules.maxBodyBytes);
  } catch (error) {
    if (error instanceof QueueValidationError) return fail(`${error.field} ${error.rule}`);
    throw error;
  }
  return {
    kind: 'import',
    row: {
      id,
      queue,
      bodyJson: body,
      availableAt,
      attempts,
      state: state === 'done' ? 'done' : 'ready',
    },
  };
}

/** Whole epoch seconds that fit a Postgres `bigint` and a JavaScript number; else undefined. */
function wholeSeconds(value: SqliteValue): number | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
  const seconds = Math.ceil(value);
  return seconds >= 0 && Number.isSafeInteger(seconds) ? seconds : undefined;
}

function invalid(id: string, reason: string): RowOutcome {
  return { kind: 'invalid', id, reason };
}

function ruleOf(error: unknown, field: string, value: SqliteValue): string {
  if (error instanceof QueueValidationError) {
    return `${field} ${error.rule}${value === null || typeof value === 'string' ? '' : ` (got ${describe(value)})`}`;
  }
  throw error;
}

/** A stored value for a message: its type, and short values themselves. */
export function describe(value: SqliteValue): string {
  if (value === null) return 'NULL';
  if (value instanceof InvalidText) return 'text that is not UTF-8';
  if (value instanceof Uint8Array) return `a ${value.length}-byte blob`;
  if (typeof value === 'string') {
    return value.length > 40 ? `text ${JSON.stringify(`${value.slice(0, 40)}…`)}` : `'${value}'`;
  }
  if (typeof value === 'bigint') return `integer ${value}`;
  return Number.isInteger(value) ? `integer ${value}` : `real ${value}`;
}
