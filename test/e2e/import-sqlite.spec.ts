import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { importSqlite } from '../../src/import/import-sqlite.js';
import { Processor, type ProcessorMessage } from '../../src/index.js';
import { bootApp, waitFor } from '../support/boot.js';
import { useQueueFixture } from '../support/queue-fixture.js';
import { tempDir, writeSqlite } from '../support/sqlite-files.js';
import { tsChildArgs } from '../support/ts-child.js';

/**
 * `fetchcraft-queue import-sqlite` as a user runs it: a process of its own, on files written by
 * Python's sqlite3 in the Python SQLite backend's schema, into a real PostgreSQL. Each test
 * imports into a schema of its own.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const { db } = useQueueFixture('import_sqlite', { reset: 'none' });
const { dir, remove } = tempDir('import-sqlite');
afterAll(remove);

interface Finished {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}): Promise<Finished> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => key !== 'DATABASE_URL' && !/^QUEUE_/.test(key)),
  );
  return new Promise((resolve) => {
    execFile(
      'node',
      [...tsChildArgs('src/cli/main.ts'), ...args],
      { cwd: root, env: { ...base, DATABASE_URL: db.url, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const NOW = Math.floor(Date.now() / 1000);
type Row = readonly [string | null, string, string, number, number | null, number, string];

/** A file with one message in each state, in a known rowid order. */
function fileOf(name: string, rows: readonly Row[], sql: readonly string[] = []): string {
  const path = join(dir, name);
  writeSqlite(path, { pragmas: ['PRAGMA journal_mode=WAL'], rows, sql });
  return path;
}

const STATES: readonly Row[] = [
  [
    'r-1',
    'ingest.main',
    '{"type":"record","record":{"id":"a","n":12345678901234567890}}',
    NOW - 60,
    null,
    0,
    'ready',
  ],
  ['r-2', 'ingest.main', '{"type":"record","later":true}', NOW + 3_600, null, 1, 'ready'],
  ['l-1', 'ingest.main', '{"type":"record","leased":true}', NOW - 30, NOW + 600, 2, 'leased'],
  ['d-1', 'ingest.deferred', '{"type":"deferred","é":"😀"}', NOW - 900, null, 1, 'done'],
];

interface StoredRow {
  id: string;
  queue: string;
  body: unknown;
  body_text: string;
  state: string;
  attempts: number;
  available_at: string;
  lease_until: string | null;
  lease_token: string | null;
  created_at: string;
}

async function stored(schema: string): Promise<StoredRow[]> {
  const { rows } = await db.query<StoredRow>(
    `SELECT id, queue, body, body::text AS body_text, state, attempts, available_at, lease_until, lease_token, created_at
     FROM ${schema}.messages ORDER BY seq`,
  );
  return rows;
}

describe('fetchcraft-queue import-sqlite', () => {
  it('imports every state as the rules say, and a second run imports nothing and says so', async () => {
    const file = fileOf('states.db', STATES);
    const first = await cli(['import-sqlite', file, '--schema', 'imp_states']);
    expect(first).toMatchObject({ code: 0, stderr: '' });
    const lines = first.stdout.trim().split('\n');
    expect(lines[0]).toMatch(
      new RegExp(`^Importing ${file} into imp_states\\.messages on postgres://postgres:\\*\\*\\*@`),
    );
    expect(lines).toContain('Applied CreateQueueTable1795556400000');
    expect(lines).toContain('4 rows to read');
    // Not a terminal: plain progress lines, no bar.
    expect(lines).toContainEqual(
      expect.stringMatching(/^read 4 of 4 \(100%\): imported 4, present 0, invalid 0, /),
    );
    expect(lines.at(-1)).toMatch(
      /^Read 4 rows in \d+\.\d s \([\d,]+ rows\/s\): imported 4, skipped as present 0, invalid 0$/,
    );

    const rows = await stored('imp_states');
    expect(
      rows.map((row) => [row.id, row.queue, row.state, row.attempts, Number(row.available_at)]),
    ).toEqual([
      ['r-1', 'ingest.main', 'ready', 0, NOW - 60],
      ['r-2', 'ingest.main', 'ready', 1, NOW + 3_600],
      // Its lease belonged to a process of the old system: ready again, attempts kept.
      ['l-1', 'ingest.main', 'ready', 2, NOW - 30],
      ['d-1', 'ingest.deferred', 'done', 1, NOW - 900],
    ]);
    for (const row of rows) {
      expect(row.lease_until).toBeNull();
      expect(row.lease_token).toBeNull();
    }
    // Not in the file: when it last became due, but never in the future.
    for (const row of rows.filter((row) => row.id !== 'r-2')) {
      expect(row.created_at).toBe(row.available_at);
    }
    expect(Number(rows[1]!.created_at)).toBeGreaterThanOrEqual(NOW);
    expect(Number(rows[1]!.created_at)).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
    // Every digit of a number beyond 2^53 is kept: the body text went to the server as it was.
    expect(rows[0]!.body_text).toBe(
      '{"type": "record", "record": {"n": 12345678901234567890, "id": "a"}}',
    );
    expect(rows[3]!.body).toEqual({ type: 'deferred', é: '😀' });

    const second = await cli(['import-sqlite', file, '--schema', 'imp_states']);
    expect(second).toMatchObject({ code: 0, stderr: '' });
    expect(second.stdout).toContain('imported 0, skipped as present 4, invalid 0');
    expect(second.stdout.trim().split('\n').at(-1)).toBe(
      "Nothing imported: every valid row's id is in imp_states.messages already",
    );
    expect(await stored('imp_states')).toEqual(rows);
  }, 60_000);

  it('never overwrites an id already present', async () => {
    const migrated = await cli(['migrate', '--schema', 'imp_present']);
    expect(migrated.code).toBe(0);
    await db.query(
      `INSERT INTO imp_present.messages (id, queue, body, available_at, created_at, state, attempts)
       VALUES ('r-1', 'ingest.main', '{"mine":true}', 1, 1, 'done', 7)`,
    );
    const result = await cli([
      'import-sqlite',
      fileOf('present.db', STATES),
      '--schema',
      'imp_present',
    ]);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain('imported 3, skipped as present 1, invalid 0');
    const rows = await stored('imp_present');
    expect(rows[0]).toMatchObject({ id: 'r-1', body: { mine: true }, state: 'done', attempts: 7 });
    expect(rows.map((row) => row.id)).toEqual(['r-1', 'r-2', 'l-1', 'd-1']);
  }, 60_000);

  it('with several hosts, writes to the host it migrated (the first one listed is down)', async () => {
    const url = new URL(db.url);
    const multiHost = db.url.replace(`@${url.host}`, `@127.0.0.1:1,${url.host}`);
    const result = await cli(
      ['import-sqlite', fileOf('hosts.db', STATES), '--schema', 'imp_hosts'],
      {
        DATABASE_URL: multiHost,
      },
    );
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain('imported 4, skipped as present 0, invalid 0');
    expect(await stored('imp_hosts')).toHaveLength(4);
  }, 60_000);

  it('--skip-done leaves done rows out; --dry-run writes nothing, not even the table', async () => {
    const file = fileOf('skip.db', STATES);
    const dry = await cli([
      'import-sqlite',
      file,
      '--schema',
      'imp_skip',
      '--dry-run',
      '--skip-done',
    ]);
    expect(dry).toMatchObject({ code: 0, stderr: '' });
    expect(dry.stdout).toMatch(/^Checking /);
    expect(dry.stdout).toContain('would import 3, skipped as present 0, invalid 0, done skipped 1');
    expect(dry.stdout).toContain('Dry run: nothing was written to imp_skip.messages');
    const { rows: tables } = await db.query("SELECT to_regclass('imp_skip.messages') AS t");
    expect(tables).toEqual([{ t: null }]);

    const real = await cli(['import-sqlite', file, '--schema', 'imp_skip', '--skip-done']);
    expect(real.stdout).toContain('imported 3, skipped as present 0, invalid 0, done skipped 1');
    expect((await stored('imp_skip')).map((row) => row.id)).toEqual(['r-1', 'r-2', 'l-1']);

    // A dry run on the filled table counts what is present, and still writes nothing.
    const again = await cli(['import-sqlite', file, '--schema', 'imp_skip', '--dry-run']);
    expect(again.stdout).toContain('would import 1, skipped as present 3, invalid 0');
    expect(await stored('imp_skip')).toHaveLength(3);
  }, 60_000);

  it('reports each bad row with its id and reason, skips it and imports the rest', async () => {
    const file = fileOf(
      'bad.db',
      [
        ['ok-1', 'q', '{"n":1}', NOW, null, 0, 'ready'],
        ['bad-json', 'q', '{"n":', NOW, null, 0, 'ready'],
        ['bad-nan', 'q', '{"n":NaN}', NOW, null, 0, 'ready'],
        ['bad-nul', 'q', '{"s":"a\\u0000b"}', NOW, null, 0, 'ready'],
        ['bad-state', 'q', '{}', NOW, null, 0, 'failed'],
        ['bad-queue', ' q', '{}', NOW, null, 0, 'ready'],
        ['bad-attempts', 'q', '{}', NOW, null, -1, 'ready'],
        ['ok-2', 'q', '{"n":2}', NOW, null, 0, 'done'],
      ],
      [
        "INSERT INTO messages VALUES ('bad-utf8', 'q', CAST(x'7bff7d' AS TEXT), 1, NULL, 0, 'ready')",
        "INSERT INTO messages VALUES (NULL, 'q', '{}', 1, NULL, 0, 'ready')",
      ],
    );
    const result = await cli(['import-sqlite', file, '--schema', 'imp_bad']);
    expect(result.code).toBe(0);
    expect(result.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^invalid bad-json: body is not valid JSON \(/),
      expect.stringMatching(/^invalid bad-nan: body is not valid JSON \(/),
      'invalid bad-nul: body.s must not contain a string with \\u0000 (JSONB cannot store it)',
      "invalid bad-state: unknown state 'failed' (expected ready, leased or done)",
      'invalid bad-queue: queue must not start or end with white space',
      'invalid bad-attempts: attempts must be a whole number from 0 (got integer -1)',
      'invalid bad-utf8: body is not valid UTF-8',
      'invalid rowid 10: id must be a string (got null)',
    ]);
    expect(result.stdout).toContain('imported 2, skipped as present 0, invalid 8');
    expect((await stored('imp_bad')).map((row) => row.id)).toEqual(['ok-1', 'ok-2']);
  }, 60_000);

  it('--json prints one JSON summary and nothing else', async () => {
    const file = fileOf('json.db', [...STATES, ['bad', 'q', 'nope', NOW, null, 0, 'ready']]);
    const result = await cli([
      'import-sqlite',
      file,
      '--schema',
      'imp_json',
      '--json',
      '--batch-size',
      '2',
    ]);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(result.stdout)).toEqual({
      file,
      table: 'imp_json.messages',
      dryRun: false,
      total: 5,
      read: 5,
      imported: 4,
      present: 0,
      invalid: 1,
      skippedDone: 0,
      seconds: expect.any(Number),
      rowsPerSecond: expect.any(Number),
      invalidRows: [{ id: 'bad', reason: expect.stringMatching(/^body is not valid JSON/) }],
      invalidRowsOmitted: 0,
    });
  }, 60_000);

  it('wakes a running worker at once: one NOTIFY per batch', async () => {
    const handled: string[] = [];
    @Injectable()
    class Ingest {
      @Processor('imp.wake')
      handle(message: ProcessorMessage<{ n: number }>): void {
        handled.push(message.id);
      }
    }
    // A 30 s poll: a handler that starts sooner was woken by the import's notification.
    const app = await bootApp(
      { connectionString: db.url, schema: 'imp_wake', pollIntervalMs: 30_000 },
      [Ingest],
    );
    try {
      await waitFor(
        async () =>
          (
            await db.query(
              "SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND application_name = 'fetchcraft-queue:listen'",
              [db.name],
            )
          ).rowCount === 1,
        5_000,
        'the LISTEN connection',
      );
      const rows: Row[] = Array.from({ length: 25 }, (_, n) => [
        `w-${n}`,
        'imp.wake',
        `{"n":${n}}`,
        NOW - 5,
        null,
        0,
        'ready',
      ]);
      const started = Date.now();
      const result = await cli([
        'import-sqlite',
        fileOf('wake.db', rows),
        '--schema',
        'imp_wake',
        '--batch-size',
        '10',
      ]);
      expect(result.code).toBe(0);
      await waitFor(() => handled.length === 25, 10_000, 'the imported messages to be handled');
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(new Set(handled).size).toBe(25);
    } finally {
      await app.close();
    }
  }, 60_000);

  it('a body JSON.parse accepts but PostgreSQL refuses is reported and skipped; the rest of its batch is imported', async () => {
    const file = fileOf('pg-refuses.db', [
      ['p-1', 'q', '{"n":1}', NOW, null, 0, 'ready'],
      ['p-dup', 'q', '{"a":"\\u0000","a":1}', NOW, null, 0, 'ready'],
      ['p-3', 'q', '{"n":3}', NOW, null, 0, 'ready'],
      ['p-tiny', 'q', '{"x":1e-16384}', NOW, null, 0, 'ready'],
      ['p-5', 'q', '{"n":5}', NOW, null, 0, 'ready'],
    ]);
    const result = await cli(['import-sqlite', file, '--schema', 'imp_pg', '--batch-size', '5']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('imported 3, skipped as present 0, invalid 2');
    expect(result.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^invalid p-dup: PostgreSQL refused the body \(.*code 22P05\)$/),
      expect.stringMatching(/^invalid p-tiny: PostgreSQL refused the body \(.*code 22003\)$/),
    ]);
    expect((await stored('imp_pg')).map((row) => row.id)).toEqual(['p-1', 'p-3', 'p-5']);
  }, 60_000);

  it('a batch the server refuses stops the run; the batches before it stay, and a re-run finishes', async () => {
    expect((await cli(['migrate', '--schema', 'imp_fail'])).code).toBe(0);
    await db.query(`CREATE FUNCTION imp_fail.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.id = 'boom' THEN RAISE EXCEPTION 'refused %', NEW.id; END IF; RETURN NEW; END $$`);
    await db.query(
      'CREATE TRIGGER refuse BEFORE INSERT ON imp_fail.messages FOR EACH ROW EXECUTE FUNCTION imp_fail.refuse()',
    );
    const rows: Row[] = ['a', 'b', 'c', 'boom', 'e'].map((id) => [
      id,
      'q',
      '{}',
      NOW,
      null,
      0,
      'ready',
    ]);
    const file = fileOf('fail.db', rows);
    const failed = await cli(['import-sqlite', file, '--schema', 'imp_fail', '--batch-size', '2']);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(
      'fetchcraft-queue import-sqlite failed: Queue importSqlite failed: refused boom (code P0001)',
    );
    expect((await stored('imp_fail')).map((row) => row.id)).toEqual(['a', 'b']);

    await db.query('DROP TRIGGER refuse ON imp_fail.messages');
    const again = await cli(['import-sqlite', file, '--schema', 'imp_fail', '--batch-size', '2']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('imported 3, skipped as present 2, invalid 0');
    expect((await stored('imp_fail')).map((row) => row.id)).toEqual(['a', 'b', 'c', 'boom', 'e']);
  }, 60_000);

  it('closes a batch early when its bodies reach the text budget', async () => {
    const rows: Row[] = Array.from({ length: 10 }, (_, n) => [
      `big-${n}`,
      'q',
      JSON.stringify({ n, pad: 'x'.repeat(400) }),
      NOW,
      null,
      0,
      'ready',
    ]);
    const batches: number[] = [];
    const summary = await importSqlite({
      connectionString: db.url,
      schema: 'imp_chars',
      file: fileOf('chars.db', rows),
      skipDone: false,
      dryRun: false,
      batchSize: 1_000,
      batchChars: 1_000,
      maxBodyBytes: 1_048_576,
      onProgress: (progress) => batches.push(progress.imported),
    });
    expect(summary).toMatchObject({ read: 10, imported: 10, present: 0, invalid: 0 });
    // About 420 characters a body: a batch closes at its third.
    expect(batches).toEqual([0, 3, 6, 9, 10]);
  }, 60_000);

  it('a command line it cannot run exits 2 (a refused value 1) before connecting, saying why', async () => {
    const missing = await cli(['import-sqlite']);
    expect(missing).toMatchObject({ code: 2 });
    expect(missing.stderr).toContain('fetchcraft-queue: import-sqlite needs <file>');

    const batch = await cli(['import-sqlite', 'x.db', '--batch-size', '0']);
    expect(batch.code).toBe(1);
    expect(batch.stderr).toContain(
      "import-sqlite failed: Invalid --batch-size: must be a whole number from 1 to 10000 (got '0')",
    );

    const notThere = await cli(['import-sqlite', join(dir, 'nothing.db')]);
    expect(notThere.code).toBe(1);
    expect(notThere.stderr).toContain(`Cannot read ${join(dir, 'nothing.db')}: no such file`);

    const misplaced = await cli(['migrate', '--skip-done']);
    expect(misplaced.code).toBe(2);
    expect(misplaced.stderr).toContain("option '--skip-done' is not one of migrate's");
  }, 60_000);
});
