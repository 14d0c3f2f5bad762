/**
 * Adopting the Python backend's table at 1,000,000 rows, while its workers run: how long the
 * adoption takes, how long each step holds its locks, and how long the Python backend's own
 * statements wait meanwhile. Then, for contrast, how long the one-statement alternative (an
 * identity column added by a table rewrite) locks the table.
 *
 * Run: node --import tsx bench/adoption.ts [rows]   (DATABASE_URL, else an embedded server)
 */
import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { startEmbeddedServer } from '../dev/embedded-postgres.js';
import { queueTableNames } from '../src/config/identifier-rules.js';
import { runQueueMigrations } from '../src/database/migration-runner.js';
import { PythonBackendClient } from '../test/support/python-backend-client.js';
import { createBenchDatabase } from './bench-database.js';

const rows = Number(process.argv[2] ?? 1_000_000);
const dir = mkdtempSync(join(tmpdir(), 'adoption-bench-'));
const server = process.env.DATABASE_URL
  ? undefined
  : await startEmbeddedServer({ dataDir: join(dir, 'data'), persistent: false });
const database = await createBenchDatabase(
  process.env.DATABASE_URL ?? server!.url,
  `adoption_${Date.now()}`,
);
const client = new pg.Client({ connectionString: database.url });
await client.connect();
const python = new PythonBackendClient(database.url, 6);

/** Fills the Python backend's table: 90 % done, 8 % ready (some delayed), 2 % leased. */
async function fill(): Promise<void> {
  await client.query(
    'DROP TABLE IF EXISTS messages, messages_migrations, messages_archive, messages_queues',
  );
  await python.initDb();
  await client.query(
    `INSERT INTO messages (id, queue, body, available_at, lease_until, attempts, state, created_at)
     SELECT gen_random_uuid()::text, 'ingest.' || (g % 4),
       jsonb_build_object('n', g, 'url', 'https://example.com/doc/' || g, 'content', repeat('x', 120)),
       e - 86400 + (g % 86400) + CASE WHEN g % 100 = 1 THEN 172800 ELSE 0 END,
       CASE WHEN g % 100 IN (2, 3) THEN e + 3600 END,
       CASE WHEN g % 100 < 90 THEN 1 ELSE 0 END + CASE WHEN g % 100 IN (2, 3) THEN 1 ELSE 0 END,
       CASE WHEN g % 100 IN (2, 3) THEN 'leased' WHEN g % 100 < 10 THEN 'ready' ELSE 'done' END,
       e - 86400 + (g % 86400)
     FROM generate_series(1, $1::int) AS g, (SELECT floor(extract(epoch from now()))::bigint AS e) AS clock`,
    [rows],
  );
  await client.query('VACUUM ANALYZE messages');
}

const checksum = async () =>
  (
    await client.query<{ sum: string; n: string }>(
      // Every column of every old row, except those the Python consumers change on ingest.1.
      `SELECT md5(string_agg(concat_ws('|', id, queue, md5(body::text), created_at,
           CASE WHEN queue <> 'ingest.1' THEN concat_ws('|', available_at, lease_until, attempts, state) END),
           ',' ORDER BY id)) AS sum,
         count(*) AS n FROM messages WHERE body ? 'n'`,
    )
  ).rows[0]!;

await fill();
const before = await checksum();

// The Python side at work: one producer, two consumers, every statement timed.
let running = true;
const latencies: number[] = [];
/** Each Python statement: when it started (ms, performance clock) and how long it took. */
const timeline: Array<[number, number]> = [];
const timed = async <T>(work: () => Promise<T>): Promise<T> => {
  const started = performance.now();
  try {
    return await work();
  } finally {
    latencies.push(performance.now() - started);
    timeline.push([started, performance.now() - started]);
  }
};
const loops = [
  (async () => {
    while (running) await timed(() => python.enqueue('ingest.0', { late: true }));
  })(),
  ...[1, 2].map(async () => {
    while (running) {
      const message = await timed(() => python.leaseNext('ingest.1', 600));
      if (message !== null) await timed(() => python.ack('ingest.1', message.id));
    }
  }),
];

await new Promise((resolve) => setTimeout(resolve, 1_000));
latencies.length = 0;
timeline.length = 0;
const dataSource = new DataSource({ type: 'postgres', url: database.url, extra: { max: 2 } });
await dataSource.initialize();
const steps: Array<[string, number]> = [];
/** Each step: name, start and end on the performance clock. */
const phases: Array<[string, number, number]> = [];
const started = performance.now();
const applied = await runQueueMigrations(dataSource, queueTableNames('public', 'messages'), {
  lockTimeoutMs: 5_000,
  onAdoptionStep: (step, ms) => {
    steps.push([step, ms]);
    phases.push([step, performance.now() - ms, performance.now()]);
  },
});
const migrated = performance.now();
const total = performance.now() - started;
await new Promise((resolve) => setTimeout(resolve, 500));
running = false;
await Promise.all(loops);
await dataSource.destroy();

const after = await checksum();
const { rows: check } = await client.query<{ nulls: string; distinct: string; total: string }>(
  `SELECT count(*) FILTER (WHERE seq IS NULL) AS nulls, count(DISTINCT seq) AS distinct, count(*) AS total FROM messages`,
);
// Where the Python side waited longest: in which phase did its slowest statements start?
const phaseOf = (at: number): string => {
  const inside = phases.find(([, from, to]) => at >= from && at <= to);
  if (inside) return inside[0];
  if (at < (phases[0]?.[1] ?? 0)) return 'inspection before the first step';
  if (at > (phases.at(-1)?.[2] ?? 0) && at <= migrated) return 'numbered migrations 2-4';
  if (at > migrated) return 'after';
  return 'between steps';
};
const slowest = [...timeline].sort((a, b) => b[1] - a[1]).slice(0, 5);
const numberedStart = phases.at(-1)?.[2] ?? 0;
const sorted = [...latencies].sort((a, b) => a - b);
const pct = (p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;

const lines = [
  `adoption of ${rows.toLocaleString('en')} rows: ${(total / 1000).toFixed(2)} s in all (${applied.join(', ')})`,
  ...collapse(steps).map(
    ([step, ms, count]) =>
      `  ${step.padEnd(20)} ${ms.toFixed(1).padStart(9)} ms${count > 1 ? ` (${count} times, longest ${Math.max(...steps.filter(([s]) => s === step).map(([, d]) => d)).toFixed(1)} ms)` : ''}`,
  ),
  `  (the rest: the numbered migrations after the first, in one transaction: ${(total - steps.reduce((sum, [, ms]) => sum + ms, 0)).toFixed(0)} ms)`,
  `rows unchanged: ${before.sum === after.sum && before.n === after.n ? 'yes' : 'NO'} (${after.n} old rows); seq: ${check[0]!.nulls} NULL, ${check[0]!.distinct} distinct of ${check[0]!.total}`,
  `Python statements during the adoption: ${sorted.length}, p50 ${pct(50).toFixed(1)} ms, p99 ${pct(99).toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms`,
  `  slowest: ${slowest.map(([at, ms]) => `${ms.toFixed(0)} ms (${phaseOf(at)})`).join(', ')}`,
  `  numbered migrations 2-4 after the adoption: ${(migrated - numberedStart).toFixed(0)} ms`,
];

// The alternative: one ALTER TABLE that adds the identity column, rewriting the table.
await fill();
const rewriteStarted = performance.now();
await client.query('ALTER TABLE messages ADD COLUMN seq BIGINT GENERATED ALWAYS AS IDENTITY');
lines.push(
  `for contrast, ADD COLUMN seq … GENERATED ALWAYS AS IDENTITY holds ACCESS EXCLUSIVE for ${((performance.now() - rewriteStarted) / 1000).toFixed(2)} s`,
);

process.stdout.write(`${lines.join('\n')}\n`);
await python.close();
await client.end();
await database.drop();
await server?.stop();
rmSync(dir, { recursive: true, force: true });

/** Steps in order, repeated ones summed. */
function collapse(list: Array<[string, number]>): Array<[string, number, number]> {
  const out: Array<[string, number, number]> = [];
  for (const [step, ms] of list) {
    const last = out.find(([name]) => name === step);
    if (last) {
      last[1] += ms;
      last[2] += 1;
    } else out.push([step, ms, 1]);
  }
  return out;
}
