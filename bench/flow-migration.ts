/**
 * `AddFlowControl1795570800000` on a table of the previous release with 1,000,000 rows (and an
 * archive), while Python-style producers and workers issue their own SQL throughout: first as
 * the module's runner applies it (the table prepared ahead: short transactions, concurrent index
 * builds), then, on a table filled again, as a TypeORM CLI data source applies it (everything in
 * the migration's one transaction). For each: the total time, the longest ACCESS EXCLUSIVE lock
 * on the queue table and on the archive (sampled from pg_locks), and how long the writers'
 * statements took meanwhile.
 *
 * Run: npm run bench:flow-migration -- [rows] [archived rows]   (DATABASE_URL, else an embedded
 * server)
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
import { queueMigrations } from '../src/migrations/index.js';
import { PythonBackendClient } from '../test/support/python-backend-client.js';
import { createBenchDatabase } from './bench-database.js';

const rows = Number(process.argv[2] ?? 1_000_000);
const archived = Number(process.argv[3] ?? 100_000);
const dir = mkdtempSync(join(tmpdir(), 'flow-migration-bench-'));
const server = process.env.DATABASE_URL
  ? undefined
  : await startEmbeddedServer({ dataDir: join(dir, 'data'), persistent: false });
const database = await createBenchDatabase(
  process.env.DATABASE_URL ?? server!.url,
  `flow_migration_${Date.now()}`,
);
const client = new pg.Client({ connectionString: database.url });
await client.connect();
const names = queueTableNames('public', 'messages');

async function migrateWithTypeorm(count?: number): Promise<void> {
  const dataSource = new DataSource({
    type: 'postgres',
    url: database.url,
    migrations: queueMigrations(names).slice(0, count),
    migrationsTableName: 'messages_migrations',
    migrationsTransactionMode: 'all',
    extra: { max: 2 },
  });
  await dataSource.initialize();
  try {
    await dataSource.runMigrations();
  } finally {
    await dataSource.destroy();
  }
}

/** The previous release's table: 90 % done, 8 % ready (some delayed), 2 % leased; an archive. */
async function previousRelease(): Promise<void> {
  await client.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
  await migrateWithTypeorm(4);
  await client.query(
    `INSERT INTO messages (queue, body, available_at, lease_until, attempts, state, created_at)
     SELECT 'ingest.' || (g % 4),
       jsonb_build_object('n', g, 'url', 'https://example.com/doc/' || g, 'content', repeat('x', 120)),
       e - 86400 + (g % 86400) + CASE WHEN g % 100 = 1 THEN 172800 ELSE 0 END,
       CASE WHEN g % 100 IN (2, 3) THEN e + 3600 END,
       CASE WHEN g % 100 < 90 THEN 1 ELSE 0 END + CASE WHEN g % 100 IN (2, 3) THEN 1 ELSE 0 END,
       CASE WHEN g % 100 IN (2, 3) THEN 'leased' WHEN g % 100 < 10 THEN 'ready' ELSE 'done' END,
       e - 86400 + (g % 86400)
     FROM generate_series(1, $1::int) AS g, (SELECT floor(extract(epoch from now()))::bigint AS e) AS clock`,
    [rows],
  );
  await client.query(
    `INSERT INTO messages_archive (id, queue, body, available_at, attempts, state, created_at, seq, last_error, archived_at)
     SELECT 'archived-' || g, 'ingest.error', jsonb_build_object('n', g, 'content', repeat('y', 120)),
       1000 + g, 3, 'failed', 1000 + g, g, '{"message": "boom"}'::jsonb, 2000 + g
     FROM generate_series(1, $1::int) AS g`,
    [archived],
  );
  await client.query('VACUUM ANALYZE messages, messages_archive');
}

const checksum = async () =>
  (
    await client.query<{ queue: string; archive: string }>(
      // Every column of every old row, except those the consumers change on ingest.1.
      `SELECT
         (SELECT md5(string_agg(concat_ws('|', id, queue, md5(body::text), created_at, seq,
            CASE WHEN queue <> 'ingest.1' THEN concat_ws('|', available_at, lease_until, attempts, state) END),
            ',' ORDER BY id)) FROM messages WHERE body ? 'n') AS queue,
         (SELECT md5(string_agg(concat_ws('|', id, md5(body::text), seq, last_error, archived_at), ',' ORDER BY id))
            FROM messages_archive) AS archive`,
    )
  ).rows[0]!;

interface Run {
  readonly label: string;
  readonly total: number;
  readonly phases: Array<[string, number, number]>;
  readonly statements: Array<[number, number]>;
  readonly exclusive: Map<string, number>;
  readonly unchanged: boolean;
}

/** Runs `migrate` under load; `migrate` records its phases (name, start, end). */
async function underLoad(
  label: string,
  migrate: (phases: Array<[string, number, number]>) => Promise<void>,
): Promise<Run> {
  await previousRelease();
  const before = await checksum();
  const python = new PythonBackendClient(database.url, 6);
  let running = true;
  const statements: Array<[number, number]> = [];
  const timed = async <T>(work: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await work();
    } finally {
      statements.push([started, performance.now() - started]);
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
  // Who holds ACCESS EXCLUSIVE on which table, sampled as fast as one connection can ask.
  const sampler = new pg.Client({ connectionString: database.url });
  await sampler.connect();
  const { rows: oids } = await sampler.query<{ oid: number; name: string }>(
    `SELECT oid::integer AS oid, relname AS name FROM pg_class
     WHERE oid IN ('public.messages'::regclass, 'public.messages_archive'::regclass)`,
  );
  const exclusive = new Map<string, number>();
  let sampling = true;
  const sampling$ = (async () => {
    const since = new Map<string, number>();
    while (sampling) {
      const { rows: held } = await sampler.query<{ relation: number }>(
        `SELECT relation::integer AS relation FROM pg_locks
         WHERE mode = 'AccessExclusiveLock' AND granted AND relation = ANY ($1::oid[])`,
        [oids.map((row) => row.oid)],
      );
      const now = performance.now();
      for (const { oid, name } of oids) {
        const holding = held.some((row) => row.relation === oid);
        const from = since.get(name);
        if (holding && from === undefined) since.set(name, now);
        if (!holding && from !== undefined) {
          exclusive.set(name, Math.max(exclusive.get(name) ?? 0, now - from));
          since.delete(name);
        }
      }
    }
  })();

  await new Promise((resolve) => setTimeout(resolve, 1_000));
  statements.length = 0;
  const phases: Array<[string, number, number]> = [];
  const started = performance.now();
  await migrate(phases);
  const total = performance.now() - started;
  await new Promise((resolve) => setTimeout(resolve, 500));
  running = false;
  await Promise.all(loops);
  sampling = false;
  await sampling$;
  await sampler.end();
  await python.close();
  const after = await checksum();
  return {
    label,
    total,
    phases,
    statements,
    exclusive,
    unchanged: before.queue === after.queue && before.archive === after.archive,
  };
}

const prepared = await underLoad('the module runner (table prepared ahead)', async (phases) => {
  const dataSource = new DataSource({ type: 'postgres', url: database.url, extra: { max: 2 } });
  await dataSource.initialize();
  try {
    let last = performance.now();
    await runQueueMigrations(dataSource, names, {
      lockTimeoutMs: 5_000,
      onFlowControlStep: (step, ms) => {
        phases.push([step, performance.now() - ms, performance.now()]);
        last = performance.now();
      },
    });
    phases.push(['the migration', last, performance.now()]);
  } finally {
    await dataSource.destroy();
  }
});
const inTransaction = await underLoad(
  'a TypeORM CLI data source (one transaction)',
  async (phases) => {
    const started = performance.now();
    await migrateWithTypeorm();
    phases.push(['the migration', started, performance.now()]);
  },
);

const lines = [
  `AddFlowControl1795570800000 on ${rows.toLocaleString('en')} rows, ${archived.toLocaleString('en')} archived, under load:`,
];
for (const run of [prepared, inTransaction]) {
  const sorted = run.statements.map(([, ms]) => ms).sort((a, b) => a - b);
  const pct = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
  const phaseOf = (at: number): string =>
    run.phases.find(([, from, to]) => at >= from && at <= to)?.[0] ?? 'between steps';
  const slowest = [...run.statements].sort((a, b) => b[1] - a[1]).slice(0, 5);
  lines.push(
    `${run.label}: ${(run.total / 1000).toFixed(2)} s in all; rows unchanged: ${run.unchanged ? 'yes' : 'NO'}`,
    ...collapse(run.phases).map(
      ([step, ms, count, longest]) =>
        `  ${step.padEnd(28)} ${ms.toFixed(1).padStart(9)} ms${count > 1 ? ` (${count} times, longest ${longest.toFixed(1)} ms)` : ''}`,
    ),
    `  longest ACCESS EXCLUSIVE (sampled): queue table ${(run.exclusive.get('messages') ?? 0).toFixed(0)} ms, archive ${(run.exclusive.get('messages_archive') ?? 0).toFixed(0)} ms`,
    `  writer statements: ${sorted.length}, p50 ${pct(50).toFixed(1)} ms, p99 ${pct(99).toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms`,
    `  slowest: ${slowest.map(([at, ms]) => `${ms.toFixed(0)} ms (${phaseOf(at)})`).join(', ')}`,
  );
}
process.stdout.write(`${lines.join('\n')}\n`);
await client.end();
await database.drop();
await server?.stop();
rmSync(dir, { recursive: true, force: true });

/** Phases in order, repeated ones summed: name, total, count, longest. */
function collapse(list: Array<[string, number, number]>): Array<[string, number, number, number]> {
  const out: Array<[string, number, number, number]> = [];
  for (const [step, from, to] of list) {
    const last = out.find(([name]) => name === step);
    if (last) {
      last[1] += to - from;
      last[2] += 1;
      last[3] = Math.max(last[3], to - from);
    } else out.push([step, to - from, 1, to - from]);
  }
  return out;
}
