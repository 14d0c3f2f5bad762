/**
 * `fetchcraft-queue import-sqlite` on a large file: rows per second and the CLI process's peak
 * resident memory, for BENCHMARKS.md.
 *
 *   node --import tsx bench/import-sqlite.ts [rows]     # default 1,000,000
 *   IMPORT_CLI=dist/cli/main.js node --import tsx bench/import-sqlite.ts   # the built CLI
 *
 * Writes the Python SQLite backend's file with Python's sqlite3 (bodies shaped like the
 * pipeline's records, about 330 bytes of JSON; 70 % ready, 5 % leased, 25 % done), then runs the
 * CLI as a process of its own under `/usr/bin/time -v` against a fresh database: DATABASE_URL
 * (a superuser) when set, else an embedded PostgreSQL. It runs the import twice: the second run
 * finds every id present and imports nothing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startEmbeddedServer } from '../dev/embedded-postgres.js';

const rows = Number(process.argv[2] ?? 1_000_000);
const root = fileURLToPath(new URL('..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'import-sqlite-bench-'));
const file = join(work, 'ingestion_queue.db');
/** The CLI from the sources, or the built one (`IMPORT_CLI=dist/cli/main.js` after `npm run build`). */
const CLI =
  process.env.IMPORT_CLI === undefined
    ? ['--import', 'tsx', 'src/cli/main.ts']
    : [process.env.IMPORT_CLI];

const GENERATE = `
import json, sqlite3, sys, time, uuid
n = int(sys.argv[2]); now = int(time.time())
c = sqlite3.connect(sys.argv[1]); c.execute('PRAGMA journal_mode=WAL')
c.execute('''CREATE TABLE IF NOT EXISTS messages (id TEXT PRIMARY KEY, queue TEXT NOT NULL, body TEXT NOT NULL,
  available_at INTEGER NOT NULL, lease_until INTEGER, attempts INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL DEFAULT 'ready')''')
def rows():
    for i in range(n):
        body = {"type": "record", "record": {"id": "/data/reports/2026/file-%07d.pdf" % i,
                "payload": {"document": {"title": "Annual report %d" % i, "pages": i % 300, "lang": "en",
                "text": "Lorem ipsum dolor sit amet, consectetur adipiscing elit " * 2}},
                "meta": {"path": "/data/reports/2026/file-%07d.pdf" % i, "source": "fs"}}}
        r = i % 20
        state = 'leased' if r == 0 else 'done' if r < 6 else 'ready'
        yield (str(uuid.uuid4()), 'ingest.main' if i % 4 else 'ingest.deferred',
               json.dumps(body, ensure_ascii=False, separators=(",", ":")), now - (n - i) // 100,
               now + 60 if state == 'leased' else None, 1 if state != 'ready' else 0, state)
c.executemany('INSERT INTO messages VALUES (?,?,?,?,?,?,?)', rows())
c.commit(); c.close()
`;

interface Run {
  readonly summary: Record<string, unknown>;
  readonly wallSeconds: number;
  readonly peakRssMb: number;
}

function importOnce(url: string): Run {
  const started = performance.now();
  const result = spawnSync(
    '/usr/bin/time',
    ['-v', 'node', ...CLI, 'import-sqlite', file, '--json'],
    { cwd: root, env: { ...process.env, DATABASE_URL: url }, encoding: 'utf8', maxBuffer: 1 << 26 },
  );
  const wallSeconds = (performance.now() - started) / 1000;
  if (result.status !== 0) throw new Error(`import failed: ${result.stderr}`);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(result.stderr);
  return {
    summary: JSON.parse(result.stdout) as Record<string, unknown>,
    wallSeconds,
    peakRssMb: rss === null ? Number.NaN : Number(rss[1]) / 1024,
  };
}

async function main(): Promise<void> {
  const generated = performance.now();
  execFileSync('python3', ['-c', GENERATE, file, String(rows)]);
  const size = statSync(file).size;
  process.stdout.write(
    `file: ${rows.toLocaleString('en-US')} rows, ${(size / 1024 / 1024).toFixed(0)} MiB, written in ${((performance.now() - generated) / 1000).toFixed(1)} s\n`,
  );
  const embedded =
    process.env.DATABASE_URL === undefined
      ? await startEmbeddedServer({ dataDir: join(work, 'pg'), persistent: false })
      : undefined;
  const admin = embedded?.url ?? process.env.DATABASE_URL!;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  const { rows: versionRows } = await client.query<{ server_version: string }>(
    'SHOW server_version',
  );
  await client.query('DROP DATABASE IF EXISTS import_bench');
  await client.query('CREATE DATABASE import_bench');
  await client.end();
  const url = new URL(admin);
  url.pathname = '/import_bench';
  try {
    process.stdout.write(
      `PostgreSQL ${versionRows[0]?.server_version}, Node ${process.version}, ${cpus().length} cores\n`,
    );
    for (const label of ['first run', 'second run (all present)']) {
      const run = importOnce(url.toString());
      const { read, imported, present, invalid, seconds, rowsPerSecond } = run.summary;
      process.stdout.write(
        `${label}: read ${String(read)}, imported ${String(imported)}, present ${String(present)}, invalid ${String(invalid)}; ${Number(seconds).toFixed(1)} s reading and writing (${String(rowsPerSecond)} rows/s), ${run.wallSeconds.toFixed(1)} s for the process, peak RSS ${run.peakRssMb.toFixed(0)} MiB\n`,
      );
    }
  } finally {
    await embedded?.stop();
    if (existsSync(work)) rmSync(work, { recursive: true, force: true });
  }
}

await main();
