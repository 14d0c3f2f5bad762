import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { bootApp } from '../support/boot.js';
import { useQueueFixture } from '../support/queue-fixture.js';
import { MIGRATION_NAMES } from '../support/queue-migrations.js';
import { tsChildArgs } from '../support/ts-child.js';

/**
 * The package's CLI as a deploy step runs it: a process of its own, configured by the
 * environment, judged by its exit code and what it printed.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const { db } = useQueueFixture('cli', { reset: 'none' });

interface Finished {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command line to its end; a non-zero exit is an answer, not a failure. */
function run(command: string, args: string[], env: Record<string, string>): Promise<Finished> {
  // Only what the test gives: no DATABASE_URL or QUEUE_* of the developer's shell.
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => key !== 'DATABASE_URL' && !/^QUEUE_/.test(key)),
  );
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd: root, env: { ...base, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const cli = (args: string[], env: Record<string, string> = {}) =>
  run('node', [...tsChildArgs('src/cli/main.ts'), ...args], env);

describe('fetchcraft-queue migrate and migrate:status', () => {
  it('migrates a new schema from DATABASE_URL and QUEUE_SCHEMA, then finds it up to date', async () => {
    const env = { DATABASE_URL: db.url, QUEUE_SCHEMA: 'cli_env' };
    const before = await cli(['migrate:status'], env);
    expect(before).toMatchObject({ code: 0, stderr: '' });
    expect(before.stdout).toContain(`0 applied, ${MIGRATION_NAMES.length} pending`);

    const first = await cli(['migrate'], env);
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(
        /^Migrating cli_env\.messages on postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/t_cli_/,
      ),
      ...MIGRATION_NAMES.map((name) => `Applied ${name}`),
      `cli_env.messages: ${MIGRATION_NAMES.length} migrations applied`,
    ]);

    const second = await cli(['migrate'], env);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('cli_env.messages is up to date');

    const after = await cli(['migrate:status'], env);
    expect(after.code).toBe(0);
    expect(after.stdout.trim().split('\n').slice(1)).toEqual([
      ...MIGRATION_NAMES.map((name) => `  applied  ${name}`),
      `${MIGRATION_NAMES.length} applied, 0 pending`,
    ]);
    // The test server's password is its user's name: only the user-info position tells them apart.
    const password = `:${new URL(db.url).password}@`;
    for (const output of [before, first, second, after])
      expect(output.stdout).not.toContain(password);
  }, 60_000);

  it('takes --url, --schema and --table over the environment', async () => {
    const result = await cli(
      ['migrate', '--url', db.url, '--schema', 'cli_flags', '--table', 'jobs'],
      { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', QUEUE_SCHEMA: 'not_this' },
    );
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain(`cli_flags.jobs: ${MIGRATION_NAMES.length} migrations applied`);
    const { rows } = await db.query("SELECT to_regclass('cli_flags.jobs')::text AS t");
    expect(rows).toEqual([{ t: 'cli_flags.jobs' }]);
  }, 30_000);

  it('the repository scripts run it, and the module boots on what it migrated', async () => {
    const env = { DATABASE_URL: db.url, QUEUE_SCHEMA: 'cli_npm' };
    const migrated = await run('npm', ['run', '--silent', 'migration:run'], env);
    expect(migrated.code).toBe(0);
    expect(migrated.stdout).toContain(
      `cli_npm.messages: ${MIGRATION_NAMES.length} migrations applied`,
    );
    const booted = await bootApp({ connectionString: db.url, schema: 'cli_npm' });
    try {
      await booted.queue.enqueue('cli', { n: 1 });
    } finally {
      await booted.close();
    }
    const shown = await run('npm', ['run', '--silent', 'migration:show'], env);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`${MIGRATION_NAMES.length} applied, 0 pending`);
  }, 60_000);

  it('a wrong password exits 1 with the reason and the code, and no password', async () => {
    const url = new URL(db.url);
    url.password = 'Wr0ng-Secret-pw';
    const result = await cli(['migrate'], { DATABASE_URL: url.toString() });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toMatch(
      /^fetchcraft-queue migrate failed: Queue connect failed: could not connect to postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/t_cli_\w+: password authentication failed for user "postgres" \(code 28P01\)$/,
    );
    expect(`${result.stdout}${result.stderr}`).not.toContain('Wr0ng-Secret-pw');
  }, 30_000);

  it('a foreign table of the same name exits 1 saying so', async () => {
    await db.query('CREATE SCHEMA cli_taken');
    await db.query('CREATE TABLE cli_taken.messages (id int)');
    const result = await cli(['migrate', '--schema', 'cli_taken'], { DATABASE_URL: db.url });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'cli_taken.messages already exists but was not created by @fetchcraft/queue',
    );
  }, 30_000);

  it('a refused option exits 1 and a bad command line exits 2, before connecting, pointing at the problem', async () => {
    const badSchema = await cli(['migrate', '--schema', 'Queue'], { DATABASE_URL: db.url });
    expect(badSchema.code).toBe(1);
    expect(badSchema.stderr).toContain('Invalid QueueModule option "schema": must contain only');

    const noDatabase = await cli(['migrate']);
    expect(noDatabase.code).toBe(2);
    expect(noDatabase.stderr).toContain('no database given: set DATABASE_URL or pass --url');

    const unknown = await cli(['migrate-all'], { DATABASE_URL: db.url });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'migrate-all'");
    expect(unknown.stderr).toContain("Run 'fetchcraft-queue --help'");
  }, 30_000);

  it('--help lists the commands and exits 0', async () => {
    const help = await cli(['--help']);
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toMatch(/^Usage: fetchcraft-queue <command> \[options\]/);
    expect(help.stdout).toMatch(/^ {2}migrate +Create the schema/m);
    expect(help.stdout).toMatch(/^ {2}migrate:status +List applied and pending/m);
  }, 30_000);
});
