import { parseArgs } from 'node:util';
import { redactConnectionString } from '../config/connection-string.js';

/** The program name, as `package.json` "bin" installs it. */
export const CLI_NAME = 'fetchcraft-queue';

/** An option of one command, beside the options every command takes. */
export interface CliOptionSpec {
  /** Without the dashes, e.g. `skip-done`. */
  readonly name: string;
  /** A flag (`boolean`) or an option with a value (`string`, checked by the command). */
  readonly type: 'boolean' | 'string';
  /** How the help text shows the value, e.g. `<n>`. */
  readonly valueName?: string;
  /** One line for the help text. */
  readonly summary: string;
}

/** What the parser and the help text need to know of a command. */
export interface CliCommandSpec {
  /** What the user types, e.g. `migrate:status`. */
  readonly name: string;
  /** One line for the help text. */
  readonly summary: string;
  /** One argument the command requires, e.g. a file (`<file>` in the help text). */
  readonly argument?: string;
  /** Options of this command alone. */
  readonly options?: readonly CliOptionSpec[];
}

/** A command's own options as given: `true` for a flag, the text for a value. */
export type CliOptionValues = Readonly<Record<string, string | boolean>>;

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
  | {
      readonly kind: 'run';
      readonly command: string;
      readonly target: CliTarget;
      /** The command's argument, when it takes one. */
      readonly argument?: string;
      /** The command's own options that were given; absent when none was. */
      readonly options?: CliOptionValues;
      /** `--json`: the command prints one JSON document on stdout instead of its text lines. */
      readonly json?: true;
    }
  /** The command line cannot be run; `problem` says why, without echoing a password. */
  | { readonly kind: 'usage-error'; readonly problem: string };

/** The environment variables the CLI reads. */
export type CliEnv = Readonly<Record<string, string | undefined>>;

/** Options every command takes; a command's own are declared in its spec and merged in. */
const OPTIONS = {
  url: { type: 'string' },
  // libpq tools and the Python backend's docs say "database URL"; both spellings are taken.
  'database-url': { type: 'string' },
  schema: { type: 'string' },
  table: { type: 'string' },
  json: { type: 'boolean' },
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
  const options = allOptions(commands);
  let parsed: ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: true });
  } catch (error) {
    // Not `instanceof Error`: node's errors come from another realm under a test runner's VM.
    const { message } = error as { message?: unknown };
    return usageError(firstSentence(typeof message === 'string' ? message : String(error)));
  }
  const { values, positionals } = parsed;
  const [command, ...extra] = positionals;
  if (values.help === true || command === 'help') return { kind: 'help' };
  if (command === undefined) return usageError('no command given');
  const spec = commands.find((candidate) => candidate.name === command);
  if (spec === undefined) {
    return usageError(`unknown command '${redactConnectionString(command)}'`);
  }
  const argument = spec.argument === undefined ? undefined : extra.shift();
  if (spec.argument !== undefined && argument === undefined) {
    return usageError(`${command} needs ${spec.argument}`);
  }
  if (extra.length > 0) {
    // A URL typed as an argument must not be printed back with its password.
    return usageError(`unexpected argument '${redactConnectionString(extra[0] ?? '')}'`);
  }
  const own: Record<string, string | boolean> = {};
  for (const [name, value] of Object.entries(values)) {
    if (name in OPTIONS || value === undefined) continue;
    if (!(spec.options ?? []).some((option) => option.name === name)) {
      return usageError(`option '--${name}' is not one of ${command}'s`);
    }
    own[name] = value;
  }

  if (values.url !== undefined && values['database-url'] !== undefined) {
    return usageError('give --url or --database-url, not both');
  }
  const urlFlag = values.url ?? values['database-url'];
  if (urlFlag === '') return usageError('--url must not be empty');
  const connectionString = pick(stringOf(urlFlag), env.DATABASE_URL);
  if (connectionString === undefined) {
    return usageError('no database given: set DATABASE_URL or pass --url');
  }
  const schema = pick(stringOf(values.schema), env.QUEUE_SCHEMA);
  const table = pick(stringOf(values.table), env.QUEUE_TABLE);
  return {
    kind: 'run',
    command,
    target: {
      connectionString,
      ...(schema === undefined ? {} : { schema }),
      ...(table === undefined ? {} : { table }),
    },
    ...(argument === undefined ? {} : { argument }),
    ...(Object.keys(own).length === 0 ? {} : { options: own }),
    ...(values.json === true ? { json: true as const } : {}),
  };
}

type ParseArgsOption = { type: 'string' | 'boolean'; short?: string };

/**
 * The common options and every command's own, for one strict parse: the command is known only
 * once its name is found among the positionals. Two commands may share an option name only
 * with one type.
 */
function allOptions(commands: readonly CliCommandSpec[]): Record<string, ParseArgsOption> {
  const options: Record<string, ParseArgsOption> = { ...OPTIONS };
  for (const spec of commands) {
    for (const option of spec.options ?? []) {
      const known = options[option.name];
      if (known !== undefined && known.type !== option.type) {
        throw new Error(`CLI option --${option.name} is declared with two types`);
      }
      options[option.name] = { type: option.type };
    }
  }
  return options;
}

function stringOf(value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** The flags every command takes, as the help text shows them. */
const OPTION_HELP: ReadonlyArray<readonly [string, string]> = [
  [
    '--url, --database-url <url>',
    'PostgreSQL URL (default: DATABASE_URL; prefer it: command lines are visible in ps)',
  ],
  ['--schema <name>', 'Schema of the queue table (default: QUEUE_SCHEMA, else public)'],
  ['--table <name>', 'Queue table (default: QUEUE_TABLE, else messages)'],
  ['--json', 'Print one JSON document on stdout instead of text'],
  ['-h, --help', 'Show this help'],
];

/** The help text. */
export function cliUsage(commands: readonly CliCommandSpec[]): string {
  const commandRows = commands.map(
    (spec) =>
      [
        spec.argument === undefined ? spec.name : `${spec.name} ${spec.argument}`,
        spec.summary,
      ] as const,
  );
  const ownRows = commands
    .filter((spec) => (spec.options ?? []).length > 0)
    .map((spec) => ({
      name: spec.name,
      rows: (spec.options ?? []).map(
        (option) =>
          [
            option.valueName === undefined
              ? `--${option.name}`
              : `--${option.name} ${option.valueName}`,
            option.summary,
          ] as const,
      ),
    }));
  const rows = [...commandRows, ...OPTION_HELP, ...ownRows.flatMap((own) => own.rows)];
  const width = Math.max(...rows.map(([label]) => label.length)) + 3;
  const row = ([label, text]: readonly [string, string]) => `  ${label.padEnd(width)}${text}`;
  return [
    `Usage: ${CLI_NAME} <command> [options]`,
    '',
    'Commands:',
    ...commandRows.map(row),
    '',
    'Options:',
    ...OPTION_HELP.map(row),
    ...ownRows.flatMap((own) => ['', `Options of ${own.name}:`, ...own.rows.map(row)]),
    '',
    'Exit codes: 0 done, 1 failed, 2 usage error, 3 not found, 4 doctor found problems.',
    'Passwords are never printed.',
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
