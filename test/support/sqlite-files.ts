import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * SQLite files made by Python's own sqlite3 module (the one the Python backend uses), so the
 * reader is tested on what SQLite writes, not on what we think it writes.
 */

/** The Python SQLite backend's table, as its `_init_db` creates it. */
export const PYTHON_MESSAGES_TABLE = `CREATE TABLE IF NOT EXISTS messages
(
    id           TEXT PRIMARY KEY,
    queue        TEXT    NOT NULL,
    body         TEXT    NOT NULL,
    available_at INTEGER NOT NULL,
    lease_until  INTEGER,
    attempts     INTEGER NOT NULL DEFAULT 0,
    state        TEXT    NOT NULL DEFAULT 'ready'
)`;

export interface SqliteSpec {
  /** Run before anything else (`PRAGMA page_size=1024`, `PRAGMA journal_mode=WAL`). */
  readonly pragmas?: readonly string[];
  /** Default: the Python backend's table. */
  readonly schema?: string;
  /** Rows of `messages`: id, queue, body, available_at, lease_until, attempts, state. */
  readonly rows?: readonly (readonly unknown[])[];
  /** Statements run after the rows (with `x'..'` literals for bytes JSON cannot carry). */
  readonly sql?: readonly string[];
  /** Leave the process without closing the connection: a WAL keeps its content. */
  readonly exitWithoutClosing?: boolean;
}

const SCRIPT = `
import json, os, sqlite3, sys
spec = json.load(sys.stdin)
c = sqlite3.connect(spec['path'], isolation_level=None)
for s in spec.get('pragmas', []): c.execute(s)
c.execute('BEGIN')
c.execute(spec['schema'])
if spec.get('rows'):
    c.executemany('INSERT INTO messages(id, queue, body, available_at, lease_until, attempts, state) VALUES (?,?,?,?,?,?,?)', spec['rows'])
for s in spec.get('sql', []): c.execute(s)
c.execute('COMMIT')
if spec.get('exitWithoutClosing'):
    sys.stdout.flush(); os._exit(0)
c.close()
`;

/** Writes a SQLite file with Python's sqlite3. */
export function writeSqlite(path: string, spec: SqliteSpec): void {
  execFileSync('python3', ['-c', SCRIPT], {
    input: JSON.stringify({ ...spec, schema: spec.schema ?? PYTHON_MESSAGES_TABLE, path }),
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** Runs Python on a file and answers what it printed as JSON: the reference to compare with. */
export function pythonJson<T>(path: string, code: string): T {
  const script = `import json, sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\n${code}`;
  return JSON.parse(
    execFileSync('python3', ['-c', script, path], { maxBuffer: 256 * 1024 * 1024 }).toString(),
  ) as T;
}

/** A directory of its own, removed by the returned function. */
export function tempDir(label: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `fetchcraft-${label}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
