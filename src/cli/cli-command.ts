import { DEFAULT_SCHEMA, DEFAULT_TABLE } from '../config/defaults.js';
import { type CliCommandSpec, type CliOptionValues, type CliTarget } from './cli-args.js';

/** Where a command prints: `out` for what it did, `err` for warnings along the way. */
export interface CliOutput {
  out(line: string): void;
  err(line: string): void;
  /**
   * Rewrites one status line in place (a progress bar); present only when that line goes to a
   * terminal. An empty text clears it.
   */
  status?(text: string): void;
}

/** What a command was given beside the target: its argument and its own options. */
export interface CliCommandInput {
  readonly argument?: string;
  readonly options: CliOptionValues;
}

/**
 * One command of the CLI. A new command is a file under `commands/` exporting one of these, added
 * to `CLI_COMMANDS`; the parser, the help text and the error handling come with it.
 */
export interface CliCommand extends CliCommandSpec {
  /** Does the work and prints what it did; throws a `QueueError` when it cannot. */
  run(target: CliTarget, output: CliOutput, input: CliCommandInput): Promise<void>;
}

/** `application_name` of the CLI's connection, so `pg_stat_activity` tells it from the app's. */
export const CLI_APPLICATION_NAME = 'fetchcraft-queue-cli';

/** `schema.table` of a target, defaults filled in, for the first line a command prints. */
export function targetTable(target: CliTarget): string {
  return `${target.schema ?? DEFAULT_SCHEMA}.${target.table ?? DEFAULT_TABLE}`;
}
