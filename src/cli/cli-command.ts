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
  /** `--json`: print one JSON document (see {@link printJson}) instead of text lines. */
  readonly json: boolean;
}

/**
 * The CLI's exit codes, for scripts: one meaning each, the same for every command. A command
 * that returns nothing exits with `ok`; one that throws exits with `failed`.
 */
export const CLI_EXIT = {
  ok: 0,
  /** The command could not do its work: the database, a refused value, a failed migration. */
  failed: 1,
  /** The command line itself is wrong; nothing was connected to. */
  usage: 2,
  /** The message, queue or schedule named does not exist. */
  notFound: 3,
  /** `doctor` ran and found at least one problem. */
  findings: 4,
} as const;

export type CliExitCode = (typeof CLI_EXIT)[keyof typeof CLI_EXIT];

/** Prints `value` as the one JSON document of a `--json` run. */
export function printJson(output: CliOutput, value: unknown): void {
  output.out(JSON.stringify(value, null, 2));
}

/**
 * One command of the CLI. A new command is a file under `commands/` exporting one of these, added
 * to `CLI_COMMANDS`; the parser, the help text and the error handling come with it.
 */
export interface CliCommand extends CliCommandSpec {
  /**
   * Does the work and prints what it did; throws a `QueueError` when it cannot.
   * @returns the exit code when it is not {@link CLI_EXIT}.ok.
   */
  run(target: CliTarget, output: CliOutput, input: CliCommandInput): Promise<CliExitCode | void>;
}

/** `application_name` of the CLI's connection, so `pg_stat_activity` tells it from the app's. */
export const CLI_APPLICATION_NAME = 'fetchcraft-queue-cli';

/** `schema.table` of a target, defaults filled in, for the first line a command prints. */
export function targetTable(target: CliTarget): string {
  return `${target.schema ?? DEFAULT_SCHEMA}.${target.table ?? DEFAULT_TABLE}`;
}
