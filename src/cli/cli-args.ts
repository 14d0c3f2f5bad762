import { parseArgs } from 'node:util';
import { redactConnectionString } from '../config/connection-string.js';

/** The program name, as `package.json` "bin" installs it. */
export const CLI_NAME = 'fetchcraft-queue';

/** What the parser and the help text need to know of a command. */
export interface CliCommandSpec {
  /** What the user types, e.g. `migrate:status`. */
  readonly name: string;
  /** One line for the help text. */
  readonly summary: string;
}

/** Where the queue table is, from the flags, else the environment. */
export interface CliTarget {
  readonly connectionString: string;
  /** Absent: the module's default (`public`). */
  readonly schema?: string;
  /** Absent: the module's default (`messages`). */
  readonly table?: string;
}

/** What the command line asks for. */
export type CliInvocation =
  | { readonly kind: 'help' }
  | { readonly kind: 'run'; readonly command: string; readonly target: CliTarget }
  /** The command line cannot be run; `problem` says why, without echoing a password. */
  | { readonly kind: 'usage-error'; readonly problem: string };

/** The environment variables the CLI reads. */
export type CliEnv = Readonly<Record<string, string | undefined>>;

/**
 * Options every command takes. A command with options of its own would declare them in its spec
 * and have them merged here.
 */
const OPTIONS = {
  url: { type: 'string' },
  schema: { type: 'string' },
  table: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * Reads the command line and the environment; pure, so every case is a unit test. Flags win over
 * the environment (`--url` over `DATABASE_URL`, `--schema` over `QUEUE_SCHEMA`, `--table` over
 * `QUEUE_TABLE`); an empty variable counts as unset. Schema and table names are validated later,
 * by the same rules as the module's options.
 */
export function parseCliArgs(
  argv: readonly string[],
  env: CliEnv,
  commands: readonly CliCommandSpec[],
): CliInvocation {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: true });
  } catch (error) {
    // Not `instanceof Error`: node's errors come from another realm under a test runner's VM.
    const { message } = error as { message?: unknown };
    return usageError(firstSentence(typeof message === 'string' ? message : String(error)));
  }
  const { values, positionals } = parsed;
  const [command, ...extra] = positionals;
  if (values.help === true || command === 'help') return { kind: 'help' };
  if (command === undefined) return usageError('no command given');
  if (!commands.some((spec) => spec.name === command)) {
    return usageError(`unknown command '${redactConnectionString(command)}'`);
  }
  if (extra.length > 0) {
    // A URL typed as an argument must not be printed back with its password.
    return usageError(`unexpected argument '${redactConnectionString(extra[0] ?? '')}'`);
  }

  if (values.url === '') return usageError('--url must not be empty');
  const connectionString = pick(values.url, env.DATABASE_URL);
  if (connectionString === undefined) {
    return usageError('no database given: set DATABASE_URL or pass --url');
  }
  const schema = pick(values.schema, env.QUEUE_SCHEMA);
  const table = pick(values.table, env.QUEUE_TABLE);
  return {
    kind: 'run',
    command,
    target: {
      connectionString,
      ...(schema === undefined ? {} : { schema }),
      ...(table === undefined ? {} : { table }),
    },
  };
}

/** The flags every command takes, as the help text shows them. */
const OPTION_HELP: ReadonlyArray<readonly [string, string]> = [
  [
    '--url <url>',
    'PostgreSQL URL (default: DATABASE_URL; prefer it: command lines are visible in ps)',
  ],
  ['--schema <name>', 'Schema of the queue table (default: QUEUE_SCHEMA, else public)'],
  ['--table <name>', 'Queue table (default: QUEUE_TABLE, else messages)'],
  ['-h, --help', 'Show this help'],
];

/** The help text. */
export function cliUsage(commands: readonly CliCommandSpec[]): string {
  const rows = [...commands.map((spec) => [spec.name, spec.summary] as const), ...OPTION_HELP];
  const width = Math.max(...rows.map(([label]) => label.length)) + 3;
  const row = ([label, text]: readonly [string, string]) => `  ${label.padEnd(width)}${text}`;
  return [
    `Usage: ${CLI_NAME} <command> [options]`,
    '',
    'Commands:',
    ...commands.map((spec) => row([spec.name, spec.summary])),
    '',
    'Options:',
    ...OPTION_HELP.map(row),
    '',
    'Exits with 0 on success, 1 on failure. Passwords are never printed.',
  ].join('\n');
}

function pick(flag: string | undefined, variable: string | undefined): string | undefined {
  if (flag !== undefined) return flag;
  return variable === undefined || variable === '' ? undefined : variable;
}

function usageError(problem: string): CliInvocation {
  return { kind: 'usage-error', problem };
}

/** node:util's messages go on to explain `--`; the first sentence says what was wrong. */
function firstSentence(message: string): string {
  return message.split(/\.\s|\n/, 1)[0] ?? message;
}
