import { describe, expect, it } from '@jest/globals';
import { cliUsage, parseCliArgs, type CliCommandSpec } from '../../src/cli/cli-args.js';
import { type CliCommand } from '../../src/cli/cli-command.js';
import { runCli } from '../../src/cli/run-cli.js';
import { QueueOptionsError } from '../../src/index.js';

const COMMANDS: CliCommandSpec[] = [
  { name: 'migrate', summary: 'Apply pending migrations' },
  { name: 'migrate:status', summary: 'List migrations' },
];
const URL = 'postgres://app:Pa55-w0rd@db.internal:5432/app';

describe('parseCliArgs', () => {
  it('runs a command on DATABASE_URL with the default table', () => {
    expect(parseCliArgs(['migrate'], { DATABASE_URL: URL }, COMMANDS)).toEqual({
      kind: 'run',
      command: 'migrate',
      target: { connectionString: URL },
    });
  });

  it('reads QUEUE_SCHEMA and QUEUE_TABLE, and the flags win over the environment', () => {
    const env = { DATABASE_URL: URL, QUEUE_SCHEMA: 'env_schema', QUEUE_TABLE: 'env_table' };
    expect(parseCliArgs(['migrate:status'], env, COMMANDS)).toEqual({
      kind: 'run',
      command: 'migrate:status',
      target: { connectionString: URL, schema: 'env_schema', table: 'env_table' },
    });
    const other = 'postgres://u@other/db';
    expect(
      parseCliArgs(
        ['migrate', '--url', other, '--schema=flag_schema', '--table', 'flag_table'],
        env,
        COMMANDS,
      ),
    ).toEqual({
      kind: 'run',
      command: 'migrate',
      target: { connectionString: other, schema: 'flag_schema', table: 'flag_table' },
    });
  });

  it('takes --database-url as --url, but not both', () => {
    const other = 'postgres://u@other/db';
    expect(
      parseCliArgs(['migrate', '--database-url', other], { DATABASE_URL: URL }, COMMANDS),
    ).toEqual({ kind: 'run', command: 'migrate', target: { connectionString: other } });
    expect(parseCliArgs(['migrate', '--database-url', other, '--url', URL], {}, COMMANDS)).toEqual({
      kind: 'usage-error',
      problem: 'give --url or --database-url, not both',
    });
  });

  it('takes the flags before the command too', () => {
    expect(parseCliArgs(['--schema', 's', 'migrate'], { DATABASE_URL: URL }, COMMANDS)).toEqual({
      kind: 'run',
      command: 'migrate',
      target: { connectionString: URL, schema: 's' },
    });
  });

  it('counts an empty variable as unset', () => {
    expect(
      parseCliArgs(['migrate'], { DATABASE_URL: URL, QUEUE_SCHEMA: '', QUEUE_TABLE: '' }, COMMANDS),
    ).toEqual({ kind: 'run', command: 'migrate', target: { connectionString: URL } });
    expect(parseCliArgs(['migrate'], { DATABASE_URL: '' }, COMMANDS)).toEqual({
      kind: 'usage-error',
      problem: 'no database given: set DATABASE_URL or pass --url',
    });
  });

  it('passes an empty --schema on, for the option rules to refuse', () => {
    expect(parseCliArgs(['migrate', '--schema='], { DATABASE_URL: URL }, COMMANDS)).toMatchObject({
      kind: 'run',
      target: { schema: '' },
    });
  });

  it.each([
    [['--help']],
    [['-h']],
    [['help']],
    [['migrate', '--help']],
    [['no-such-command', '-h']],
  ])('%j asks for help, with or without a database', (argv) => {
    expect(parseCliArgs(argv, {}, COMMANDS)).toEqual({ kind: 'help' });
  });

  it.each([
    [[], 'no command given'],
    [['migrat'], "unknown command 'migrat'"],
    [['migrate', '--url='], '--url must not be empty'],
    [['migrate', '--url'], "Option '--url <value>' argument missing"],
    [['migrate', '--force'], "Unknown option '--force'"],
    [['migrate', '-f'], "Unknown option '-f'"],
    [['migrate', '--help=yes'], "Option '-h, --help' does not take an argument"],
    [['migrate', 'now'], "unexpected argument 'now'"],
  ])('%j is a usage error: %s', (argv, problem) => {
    expect(parseCliArgs(argv, { DATABASE_URL: URL }, COMMANDS)).toEqual({
      kind: 'usage-error',
      problem,
    });
  });

  it('never echoes the password of a URL typed where it does not belong', () => {
    for (const argv of [[URL], ['migrate', URL], ['migrate', `--ulr=${URL}`]]) {
      const result = parseCliArgs(argv, {}, COMMANDS);
      expect(result.kind).toBe('usage-error');
      expect(JSON.stringify(result)).not.toContain('Pa55-w0rd');
    }
    expect(parseCliArgs([URL], {}, COMMANDS)).toEqual({
      kind: 'usage-error',
      problem: "unknown command 'postgres://app:***@db.internal:5432/app'",
    });
  });
});

describe('cliUsage', () => {
  it('lists every command with its summary, and the options', () => {
    const usage = cliUsage(COMMANDS);
    expect(usage).toMatch(/^Usage: fetchcraft-queue <command> \[options\]/);
    // One column for commands and options alike, as wide as the widest entry plus three.
    const column = '  --url, --database-url <url>   '.length;
    expect(usage).toContain(`\n${'  migrate'.padEnd(column)}Apply pending migrations\n`);
    expect(usage).toContain(`\n${'  migrate:status'.padEnd(column)}List migrations\n`);
    expect(usage).toContain(`\n${'  --schema <name>'.padEnd(column)}Schema`);
    for (const option of [
      '--url, --database-url <url>',
      '--schema <name>',
      '--table <name>',
      '-h, --help',
    ]) {
      expect(usage).toContain(option);
    }
  });
});

describe('runCli', () => {
  function capture() {
    const out: string[] = [];
    const err: string[] = [];
    return {
      out,
      err,
      output: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) },
    };
  }

  function command(run: CliCommand['run']): CliCommand {
    return { name: 'migrate', summary: 'test command', run };
  }

  it('runs the command and exits 0', async () => {
    const { out, err, output } = capture();
    const seen: unknown[] = [];
    const code = await runCli(['migrate', '--schema', 's'], { DATABASE_URL: URL }, output, [
      command(async (target, o) => {
        seen.push(target);
        o.out('done');
        return Promise.resolve();
      }),
    ]);
    expect(code).toBe(0);
    expect(seen).toEqual([{ connectionString: URL, schema: 's' }]);
    expect(out).toEqual(['done']);
    expect(err).toEqual([]);
  });

  it('prints the help on stdout and exits 0', async () => {
    const { out, output } = capture();
    expect(await runCli(['--help'], {}, output, [command(() => Promise.resolve())])).toBe(0);
    expect(out.join('\n')).toContain('Usage: fetchcraft-queue');
  });

  it('a usage error exits 2 and points at --help', async () => {
    const { out, err, output } = capture();
    expect(await runCli(['migrate'], {}, output, [command(() => Promise.resolve())])).toBe(2);
    expect(out).toEqual([]);
    expect(err).toEqual([
      'fetchcraft-queue: no database given: set DATABASE_URL or pass --url',
      "Run 'fetchcraft-queue --help' for the commands and options.",
    ]);
  });

  it("a queue error exits 1 with the error's message", async () => {
    const { err, output } = capture();
    const failing = command(() => Promise.reject(new QueueOptionsError('schema', 'is bad')));
    expect(await runCli(['migrate'], { DATABASE_URL: URL }, output, [failing])).toBe(1);
    expect(err).toEqual([
      'fetchcraft-queue migrate failed: Invalid QueueModule option "schema": is bad',
    ]);
  });

  it("any other error is reported with the URL's password masked", async () => {
    const { err, output } = capture();
    const leaky = command(() => Promise.reject(new Error(`boom at ${URL} (password Pa55-w0rd)`)));
    expect(await runCli(['migrate'], { DATABASE_URL: URL }, output, [leaky])).toBe(1);
    expect(err).toEqual([
      'fetchcraft-queue migrate failed: unexpected error: boom at postgres://app:***@db.internal:5432/app (password ***)',
    ]);
  });
});
