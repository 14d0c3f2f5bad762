/**
 * Measures the health depth query on a table of 1,000,000 messages, in two shapes: a backlog of
 * 1,000,000 ready messages, and a history of 990,000 done ones with 10,000 live. Prints the
 * median of 20 runs each. Run: node --import tsx bench/health-query.ts
 */
import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startEmbeddedServer } from '../dev/embedded-postgres.js';
import { queueMigrations } from '../src/migrations/index.js';
import { queueDepthSql } from '../src/sql/stats.sql.js';
import { queueTableNames } from '../src/config/identifier-rules.js';

const dir = mkdtempSync(join(tmpdir(), 'health-bench-'));
const server = process.env.DATABASE_URL
  ? undefined
  : await startEmbeddedServer({ dataDir: join(dir, 'data'), persistent: false });
const client = new pg.Client({ connectionString: process.env.DATABASE_URL ?? server!.url });
await client.connect();
const names = queueTableNames('health_bench', 'messages');
await client.query('DROP SCHEMA IF EXISTS health_bench CASCADE; CREATE SCHEMA health_bench');
const runner = { query: (sql: string) => client.query(sql) };
for (const Migration of queueMigrations(names)) await new Migration().up(runner as never);

async function fill(ready: number, done: number): Promise<void> {
  await client.query(`TRUNCATE ${names.qualified}`);
  await client.query(
    `INSERT INTO ${names.qualified} (queue, body, available_at, created_at, state)
     SELECT 'queue.' || (g % 10), '{"n": 1}', floor(extract(epoch from now()))::bigint - (g % 600),
            floor(extract(epoch from now()))::bigint, CASE WHEN g <= $1 THEN 'ready' ELSE 'done' END
     FROM generate_series(1, $2::int) AS g`,
    [ready, ready + done],
  );
  await client.query(`VACUUM ANALYZE ${names.qualified}`);
}

async function median(label: string): Promise<void> {
  const { text, values } = queueDepthSql(names, 10_001);
  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    const started = performance.now();
    await client.query(text, values as unknown[]);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  console.log(`${label}: median ${times[10]!.toFixed(1)} ms, max ${times[19]!.toFixed(1)} ms`);
}

await fill(1_000_000, 0);
await median('1,000,000 ready in 10 queues');
await fill(10_000, 990_000);
await median('10,000 ready + 990,000 done');
await client.end();
await server?.stop();
rmSync(dir, { recursive: true, force: true });
