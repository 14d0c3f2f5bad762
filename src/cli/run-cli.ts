import { redactConnectionString } from '../config/connection-string.js';
import { isKeywordConnectionString, keywordsToUrl } from '../config/keyword-connection-string.js';
import { scrubPassword } from '../database/to-queue-database-error.js';
import { QueueError } from '../errors/queue.error.js';
import { CLI_NAME, cliUsage, parseCliArgs, type CliEnv } from './cli-args.js';
import { CLI_EXIT, type CliCommand, type CliOutput } from './cli-command.js';
import { CLI_COMMANDS } from './commands/index.js';

/**
 * Runs one command line and answers the process's exit code (see {@link CLI_EXIT}): 0 when the
 * command did its work, 1 when it could not (an option refused, the database unreachable, a
 * migration failed), 2 for a command line that cannot be run, or the command's own code. Failures
 * are one line on `err`, with `--json` too: the error's message, which the package's errors keep
 * free of passwords.
 */
export async function runCli(
  argv: readonly string[],
  env: CliEnv,
  output: CliOutput,
  commands: readonly CliCommand[] = CLI_COMMANDS,
): Promise<number> {
  const invocation = parseCliArgs(argv, env, commands);
  if (invocation.kind === 'help') {
    output.out(cliUsage(commands));
    return CLI_EXIT.ok;
  }
  if (invocation.kind === 'usage-error') {
    output.err(`${CLI_NAME}: ${invocation.problem}`);
    output.err(`Run '${CLI_NAME} --help' for the commands and options.`);
    return CLI_EXIT.usage;
  }
  const command = commands.find((candidate) => candidate.name === invocation.command);
  if (command === undefined) throw new Error(`unreachable: ${invocation.command} was parsed`);
  try {
    const code = await command.run(invocation.target, output, {
      ...(invocation.argument === undefined ? {} : { argument: invocation.argument }),
      options: invocation.options ?? {},
      json: invocation.json === true,
    });
    return code ?? CLI_EXIT.ok;
  } catch (error) {
    output.err(
      `${CLI_NAME} ${command.name} failed: ${failureText(error, invocation.target.connectionString)}`,
    );
    return CLI_EXIT.failed;
  }
}

/**
 * The package's own errors never hold a password. Anything else is a bug, reported with its
 * message, in which the URL and its password are masked all the same.
 */
function failureText(error: unknown, connectionString: string): string {
  if (error instanceof QueueError) return error.message;
  const message = error instanceof Error ? error.message : String(error);
  const text = message.split(connectionString).join(redactConnectionString(connectionString));
  return `unexpected error: ${scrubPassword(text, passwordOf(connectionString))}`;
}

function passwordOf(connectionString: string): string | undefined {
  try {
    const { password } = new URL(
      isKeywordConnectionString(connectionString)
        ? keywordsToUrl(connectionString)
        : connectionString,
    );
    return password === '' ? undefined : decodeURIComponent(password);
  } catch {
    return undefined;
  }
}
