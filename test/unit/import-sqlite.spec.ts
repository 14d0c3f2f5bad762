import { describe, expect, it } from '@jest/globals';
import { cliUsage, parseCliArgs, type CliCommandSpec } from '../../src/cli/cli-args.js';
import {
  importSqliteCommand,
  importSqliteSettings,
} from '../../src/cli/commands/import-sqlite.command.js';
import { eta, progressBar, progressLine, summaryLines } from '../../src/cli/import-progress.js';
import { importRowsJson } from '../../src/database/import-writer.js';
import { type ImportProgress } from '../../src/import/import-sqlite.js';
import {
  columnPositions,
  convertSqliteRow,
  type RowRules,
} from '../../src/import/sqlite-message.js';
import { importBatchSql } from '../../src/sql/import.sql.js';
import { deriveTableNames } from '../../src/sql/table-names.js';
import { InvalidText, type SqliteValue } from '../../src/sqlite/sqlite-record.js';

const COLUMNS = ['id', 'queue', 'body', 'available_at', 'lease_until', 'attempts', 'state'].map(
  (name) => ({ name, rowidAlias: false }),
);
const AT = columnPositions('f.db', COLUMNS);
const RULES: RowRules = { skipDone: false, maxBodyBytes: 1024 };

/** A row of the Python backend's table, with `changes` by column name. */
function row(changes: Partial<Record<string, SqliteValue>> = {}): SqliteValue[] {
  const base: Record<string, SqliteValue> = {
    id: 'm-1',
    queue: 'ingest.main',
    body: '{"type":"record"}',
    available_at: 1_700_000_000,
    lease_until: null,
    attempts: 0,
    state: 'ready',
    ...changes,
  };
  return COLUMNS.map((column) => base[column.name] ?? null);
}

const convert = (changes: Partial<Record<string, SqliteValue>>, rules = RULES) =>
  convertSqliteRow(7n, row(changes), AT, rules);

describe('convertSqliteRow', () => {
  it('keeps id, queue, the body text, attempts and available_at as they are', () => {
    expect(convert({ attempts: 3 })).toEqual({
      kind: 'import',
      row: {
        id: 'm-1',
        queue: 'ingest.main',
        bodyJson: '{"type":"record"}',
        availableAt: 1_700_000_000,
        attempts: 3,
        state: 'ready',
      },
    });
  });

  it('makes a leased row ready, keeps done, and skips done with skipDone', () => {
    expect(convert({ state: 'leased', lease_until: 1_700_000_030 })).toMatchObject({
      kind: 'import',
      row: { state: 'ready' },
    });
    expect(convert({ state: 'done' })).toMatchObject({ kind: 'import', row: { state: 'done' } });
    expect(convert({ state: 'done' }, { ...RULES, skipDone: true })).toEqual({ kind: 'skip-done' });
  });

  it('rounds a fractional available_at up: never due earlier than the file said', () => {
    expect(convert({ available_at: 1_700_000_000.2 })).toMatchObject({
      row: { availableAt: 1_700_000_001 },
    });
  });

  it.each<[string, Partial<Record<string, SqliteValue>>, string]>([
    [
      'unknown state',
      { state: 'failed' },
      "unknown state 'failed' (expected ready, leased or done)",
    ],
    ['NULL state', { state: null }, 'unknown state NULL (expected ready, leased or done)'],
    ['empty queue', { queue: '' }, 'queue must not be empty'],
    [
      'queue with a control character',
      { queue: 'a\nb' },
      'queue must not contain control characters',
    ],
    ['integer queue', { queue: 5 }, 'queue must be a string (got number) (got integer 5)'],
    ['body not JSON', { body: '{"a":' }, 'body is not valid JSON'],
    ['body NaN', { body: '{"a":NaN}' }, 'body is not valid JSON'],
    [
      'body with \\u0000',
      { body: '["\\u0000"]' },
      'body[0] must not contain a string with \\u0000',
    ],
    [
      'body with a lone surrogate',
      { body: '{"k":"\\ud800"}' },
      'body.k must not contain a string with lone surrogates',
    ],
    [
      'body too big',
      { body: JSON.stringify('x'.repeat(2_000)) },
      'body must be at most 1024 bytes as JSON (got 2002)',
    ],
    ['body a blob', { body: Uint8Array.of(1, 2) }, 'body must be JSON text (got a 2-byte blob)'],
    ['body not UTF-8', { body: new InvalidText(Uint8Array.of(0xff)) }, 'body is not valid UTF-8'],
    ['body NULL', { body: null }, 'body must be JSON text (got NULL)'],
    [
      'negative attempts',
      { attempts: -1 },
      'attempts must be a whole number from 0 (got integer -1)',
    ],
    ['text attempts', { attempts: '2' }, "attempts must be a whole number from 0 (got '2')"],
    [
      'available_at as text',
      { available_at: '2024-01-01' },
      "available_at must be epoch seconds (got '2024-01-01')",
    ],
    [
      'available_at beyond 2^53',
      { available_at: 2n ** 60n },
      'available_at must be epoch seconds (got integer 1152921504606846976)',
    ],
  ])('reports %s with the id and why', (_, changes, reason) => {
    const outcome = convert(changes);
    expect(outcome).toMatchObject({ kind: 'invalid', id: 'm-1' });
    expect(outcome.kind === 'invalid' && outcome.reason).toContain(reason);
  });

  it('names a row whose id is unusable by its rowid', () => {
    expect(convert({ id: null })).toEqual({
      kind: 'invalid',
      id: 'rowid 7',
      reason: 'id must be a string (got null)',
    });
    expect(convert({ id: 42 })).toMatchObject({
      id: 'rowid 7',
      reason: expect.stringContaining('(got integer 42)'),
    });
  });

  it('refuses a table without the columns it needs, naming the one missing', () => {
    expect(() =>
      columnPositions(
        'f.db',
        COLUMNS.filter((column) => column.name !== 'body'),
      ),
    ).toThrow(
      "Cannot read f.db: its messages table has no column body (it has id, queue, available_at, lease_until, attempts, state): it is not the Python SQLite backend's file",
    );
  });
});

describe('the import statement', () => {
  it('splices each body in as JSON, and escapes ids and queues as strings', () => {
    const json = importRowsJson([
      {
        id: 'a"b',
        queue: 'q',
        bodyJson: '{"n":12345678901234567890}',
        availableAt: 5,
        attempts: 1,
        state: 'ready',
      },
      { id: 'c', queue: 'é', bodyJson: '[]', availableAt: 6, attempts: 0, state: 'done' },
    ]);
    expect(json).toBe(
      '[{"i":"a\\"b","q":"q","b":{"n":12345678901234567890},"a":5,"n":1,"s":"ready"},{"i":"c","q":"é","b":[],"a":6,"n":0,"s":"done"}]',
    );
    expect(JSON.parse(json)).toHaveLength(2);
  });

  it('inserts what is new, skips present ids, and notifies once per queue per batch', () => {
    const statement = importBatchSql(deriveTableNames('public', 'messages'), '[]');
    expect(statement.text).toContain('INSERT INTO "public"."messages"');
    expect(statement.text).toContain('ON CONFLICT (id) DO NOTHING');
    expect(statement.text).toContain('pg_notify($2::text, w.queue)');
    expect(statement.text).toContain('ORDER BY r.ord');
    expect(statement.values).toEqual(['[]', 'public.messages']);
  });
});

describe('import-sqlite on the command line', () => {
  const COMMANDS: CliCommandSpec[] = [{ name: 'migrate', summary: 'Migrate' }, importSqliteCommand];
  const env = { DATABASE_URL: 'postgres://u@h/db' };

  it('takes the file and its own options', () => {
    expect(
      parseCliArgs(
        [
          'import-sqlite',
          './q.db',
          '--skip-done',
          '--batch-size',
          '500',
          '--json',
          '--schema',
          's',
        ],
        env,
        COMMANDS,
      ),
    ).toEqual({
      kind: 'run',
      command: 'import-sqlite',
      target: { connectionString: 'postgres://u@h/db', schema: 's' },
      argument: './q.db',
      options: { 'skip-done': true, 'batch-size': '500' },
      json: true,
    });
  });

  it.each([
    [['import-sqlite'], 'import-sqlite needs <file>'],
    [['import-sqlite', 'a.db', 'b.db'], "unexpected argument 'b.db'"],
    [['migrate', '--dry-run'], "option '--dry-run' is not one of migrate's"],
    [['import-sqlite', 'a.db', '--dry-run=yes'], "Option '--dry-run' does not take an argument"],
  ])('%j is a usage error: %s', (argv, problem) => {
    expect(parseCliArgs(argv, env, COMMANDS)).toEqual({ kind: 'usage-error', problem });
  });

  it('reads the settings, with defaults, and refuses a bad number naming the option', () => {
    expect(importSqliteSettings({ argument: 'q.db', options: {}, json: false })).toEqual({
      file: 'q.db',
      skipDone: false,
      dryRun: false,
      json: false,
      batchSize: 1_000,
      maxBodyBytes: 1_048_576,
    });
    expect(
      importSqliteSettings({
        argument: 'q.db',
        options: { 'dry-run': true, 'batch-size': '10000', 'max-body-bytes': '5242880' },
        json: false,
      }),
    ).toMatchObject({ dryRun: true, batchSize: 10_000, maxBodyBytes: 5_242_880 });
    for (const value of ['0', '10001', '1e3', '-5', '']) {
      expect(() =>
        importSqliteSettings({ argument: 'q.db', options: { 'batch-size': value }, json: false }),
      ).toThrow(`Invalid --batch-size: must be a whole number from 1 to 10000 (got '${value}')`);
    }
  });

  it('shows the command with its argument and its options in the help', () => {
    const usage = cliUsage(COMMANDS);
    expect(usage).toMatch(
      /^ {2}import-sqlite <file> +Import the Python SQLite backend's messages/m,
    );
    expect(usage).toContain('Options of import-sqlite:');
    expect(usage).toMatch(
      /^ {2}--batch-size <n> +Rows per statement \(default 1000, at most 10000\)$/m,
    );
    expect(usage).toMatch(/^ {2}--skip-done +Leave out messages in state done$/m);
  });
});

describe('progress and summary lines', () => {
  const progress = (changes: Partial<ImportProgress>): ImportProgress => ({
    total: 1_000_000,
    read: 250_000,
    imported: 249_990,
    present: 0,
    invalid: 10,
    skippedDone: 0,
    seconds: 5,
    ...changes,
  });

  it('draws a bar with the rows, the rate and the time left', () => {
    expect(progressBar(progress({}))).toBe(
      '[######------------------]  25% 250,000/1,000,000 rows  50,000 rows/s  ETA 0:15',
    );
    expect(progressBar(progress({ read: 0, seconds: 0 }))).toContain('ETA --:--');
    expect(eta(progress({ read: 1, seconds: 10 }))).toBe('2777:46:30');
    expect(progressBar(progress({ total: 0, read: 0 }))).toContain('100%');
  });

  it('writes a log line where there is no terminal', () => {
    expect(progressLine(progress({}))).toBe(
      'read 250,000 of 1,000,000 (25%): imported 249,990, present 0, invalid 10, 50,000 rows/s, ETA 0:15',
    );
  });

  it('sums up, and says so when nothing was imported', () => {
    const summary = { ...progress({}), file: 'q.db', table: 'public.messages', dryRun: false };
    expect(summaryLines(summary)).toEqual([
      'Read 250,000 rows in 5.0 s (50,000 rows/s): imported 249,990, skipped as present 0, invalid 10',
    ]);
    expect(summaryLines({ ...summary, imported: 0, present: 249_990 })[1]).toBe(
      "Nothing imported: every valid row's id is in public.messages already",
    );
    expect(summaryLines({ ...summary, dryRun: true, skippedDone: 3 })).toEqual([
      'Read 250,000 rows in 5.0 s (50,000 rows/s): would import 249,990, skipped as present 0, invalid 10, done skipped 3',
      'Dry run: nothing was written to public.messages',
    ]);
  });
});
