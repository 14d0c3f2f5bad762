import { QueueOptionsError } from '../errors/queue-options.error.js';
import { deriveTableNames, type QueueTableNames } from '../sql/table-names.js';
import { MAX_SCHEMA_NAME_LENGTH, MAX_TABLE_NAME_LENGTH } from './limits.js';

/**
 * Lower-case SQL identifiers only, so that the operator's unquoted SQL (the Python backend's
 * monitoring queries, `psql` sessions) names the same objects the module created.
 */
const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;
const IDENTIFIER_RULE =
  'must contain only lower-case letters, digits and underscores, and start with a letter or underscore';

function assertIdentifier(value: unknown, option: string, maxLength: number): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new QueueOptionsError(option, 'must be a non-empty string');
  }
  if (value.length > maxLength) {
    throw new QueueOptionsError(option, `must be at most ${maxLength} characters`);
  }
  if (!IDENTIFIER.test(value)) {
    throw new QueueOptionsError(option, IDENTIFIER_RULE);
  }
  return value;
}

/**
 * Validates `schema` and `table` (the module's options of those names) and derives every quoted
 * name the statements and migrations use. Throws {@link QueueOptionsError} naming the option.
 */
export function queueTableNames(schema: string, table: string): QueueTableNames {
  assertIdentifier(schema, 'schema', MAX_SCHEMA_NAME_LENGTH);
  assertIdentifier(table, 'table', MAX_TABLE_NAME_LENGTH);
  return deriveTableNames(schema, table);
}
