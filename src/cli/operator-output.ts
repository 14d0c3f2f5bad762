import { redactConnectionString } from '../config/connection-string.js';
import { CLI_NAME, type CliTarget } from './cli-args.js';
import { CLI_EXIT, targetTable, type CliExitCode, type CliOutput } from './cli-command.js';
import { type CliUsageProblem } from './operator-args.js';

/** The first line of a text run: which table on which server, never with the password. */
export function targetLine(target: CliTarget): string {
  return `${targetTable(target)} on ${redactConnectionString(target.connectionString)}`;
}

/** Refuses a command line that cannot be run, as the parser does: exit 2, nothing connected. */
export function refuseUsage(output: CliOutput, problem: CliUsageProblem): CliExitCode {
  output.err(`${CLI_NAME}: ${problem.usage}`);
  output.err(`Run '${CLI_NAME} --help' for the commands and options.`);
  return CLI_EXIT.usage;
}
