/**
 * Archive retention on 5,000,000 expired archived rows (plus 500,000 recent ones kept), two ways:
 *
 * - drop: the partitioned archive (`PartitionArchive1795585200000`), the keeper dropping the
 *   weekly partitions past retention, as the scheduled cleanup does;
 * - delete: the archive as it was (one plain table, primary key on id, index on archived_at),
 *   batched DELETE of 10,000 rows per statement with the cleanup's pattern (ctid of a
 *   `FOR UPDATE SKIP LOCKED` selection), then VACUUM.
 *
 * Reports time, WAL written (pg_current_wal_lsn before and after) and the table's size (heap and
 * indexes) before, after, and after VACUUM for the delete. A CHECKPOINT before each measured
 * phase, so both pay the full-page images a real run pays. Not run in CI.
 *
 * Needs a scratch server: DATABASE_URL (default: the socket in /tmp, port 55442, user postgres).
 * Run: npm run bench:archive
 */
import 'reflect-metadata';
import pg from 'pg';
import { queueTableNames } from '../src/config/identifier-rules.js';
import { ARCHIVE_SPAN_SECONDS, archiveSpanStart } from '../src/config/archive-span.js';
import { queueMigrations } from '../src/migrations/index.js';

const EXPIRED = Number(process.env.BENCH_EXPIRED ?? 5_000_000);
const KEPT = Number(process.env.BENCH_KEPT ?? 500_000);
const BATCH = 10_000;
/** Expired rows are spread over ten weeks ending five weeks ago; retention is 30 days. */
const EXPIRED_WEEKS = 10;
const RETENTION_SECONDS = 30 * 86_400;

const url = process.env.DATABASE_URL ?? 'postgres://postgres@/postgres?host=/tmp&port=55442';
const client = new pg.Client({ connectionString: url });
await client.connect();
const names = queueTableNames('archive_bench', 'messages');
const { rows: versionRows } = await client.query<{ v: string }>('SELECT version() AS v');
console.log(versionRows[0]!.v);
console.log(`${EXPIRED.toLocaleString('en')} expired + ${KEPT.toLocaleString('en')} kept rows`);

const now = Number(
  (await client.query<{ n: string }>('SELECT floor(extract(epoch FROM now()))::bigint AS n'))
    .rows[0]!.n,
);
const thisWeek = archiveSpanStart(now);
const firstExpired = thisWeek - (EXPIRED_WEEKS + 5) * ARCHIVE_SPAN_SECONDS;
const expiredSpan = EXPIRED_WEEKS * ARCHIVE_SPAN_SECONDS;

async function scalar(sql: string): Promise<string> {
  const { rows } = await client.query<{ v: string }>(sql);
  return rows[0]!.v;
}

const lsn = () => scalar('SELECT pg_current_wal_lsn()::text AS v');
const walSince = (from: string) =>
  scalar(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '${from}')::bigint::text AS v`).then(Number);
const size = (table: string) =>
  scalar(
    `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint::text AS v FROM pg_class AS c
     WHERE c.oid = '${table}'::regclass OR c.oid IN (SELECT relid FROM pg_partition_tree('${table}'::regclass))`,
  ).then(Number);

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

/** The rows: expired ones spread over their ten weeks, then the kept ones in the last 3 weeks. */
async function fill(table: string): Promise<void> {
  const started = performance.now();
  for (const [count, from, span, offset] of [
    [EXPIRED, firstExpired, expiredSpan, 0],
    [KEPT, thisWeek - 3 * ARCHIVE_SPAN_SECONDS, 3 * ARCHIVE_SPAN_SECONDS, EXPIRED],
  ] as const) {
    // In archive order (archived_at rising), as the cleanup fills it.
    await client.query(
      `INSERT INTO ${table} (id, queue, body, available_at, attempts, state, created_at, seq,
         last_error, archived_at)
       SELECT 'msg-' || (g + $4::bigint), 'ingest.error', jsonb_build_object('url', 'https://example.com/page/' || g, 'n', g),
         $2::bigint, 3, 'failed', $2::bigint, g + $4::bigint,
         '{"name": "Error", "message": "upstream answered 503"}',
         $2::bigint + ((g - 1)::bigint * $3::bigint) / $1::bigint
       FROM generate_series(1, $1::bigint) AS g`,
      [count, from, span, offset],
    );
  }
  await client.query(`VACUUM ANALYZE ${table}`);
  console.log(`  filled in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

async function measured<T>(work: () => Promise<T>): Promise<{ ms: number; wal: number; value: T }> {
  await client.query('CHECKPOINT');
  const from = await lsn();
  const started = performance.now();
  const value = await work();
  const ms = performance.now() - started;
  return { ms, wal: await walSince(from), value };
}

await client.query('DROP SCHEMA IF EXISTS archive_bench CASCADE');
await client.query('CREATE SCHEMA archive_bench');
await client.query('BEGIN');
// A TypeORM query runner answers rows.
const runner = {
  query: async (sql: string, values?: unknown[]): Promise<unknown[]> =>
    (await client.query(sql, values)).rows as unknown[],
};
for (const Migration of queueMigrations(names)) await new Migration().up(runner as never);
await client.query('COMMIT');
// The archive as it was, for the delete: the same columns, one plain table.
const plain = `archive_bench.messages_archive_plain`;
await client.query(`CREATE TABLE ${plain} (LIKE ${names.qualifiedArchive} INCLUDING DEFAULTS)`);

// --- drop: the partitioned archive and its keeper ------------------------------------------
console.log('drop partitions (partitioned archive, the keeper):');
for (let week = firstExpired; week < thisWeek; week += ARCHIVE_SPAN_SECONDS) {
  await client.query(
    `CREATE TABLE IF NOT EXISTS archive_bench."messages_archive_w${week}" PARTITION OF ${names.qualifiedArchive}
     FOR VALUES FROM (${week}) TO (${week + ARCHIVE_SPAN_SECONDS})`,
  );
}
await fill(names.qualifiedArchive);
const dropBefore = await size(names.qualifiedArchive);
// As the maintenance calls it: one partition a call, until none is dropped. The longest call
// is how long the archive was held exclusively at most.
const calls: number[] = [];
const drop = await measured(async () => {
  let dropped = 0;
  for (;;) {
    const started = performance.now();
    const { rows } = await client.query<{ dropped: string[] }>(
      `SELECT dropped FROM ${names.functions.archivePartitions}(4, $1::bigint)`,
      [RETENTION_SECONDS],
    );
    calls.push(performance.now() - started);
    dropped += rows[0]!.dropped.length;
    if (rows[0]!.dropped.length === 0) return dropped;
  }
});
const dropLeft = Number(await scalar(`SELECT count(*)::text AS v FROM ${names.qualifiedArchive}`));
const dropAfter = await size(names.qualifiedArchive);
console.log(
  `  ${drop.value} partitions dropped in ${drop.ms.toFixed(0)} ms (${calls.length} calls, longest ${Math.max(...calls).toFixed(0)} ms), WAL ${(drop.wal / 1024).toFixed(0)} kB; ` +
    `size ${mb(dropBefore)} -> ${mb(dropAfter)}; rows left ${dropLeft}`,
);
await client.query(`DROP TABLE ${names.qualifiedArchive}`);
if (process.env.BENCH_ONLY === 'drop') {
  await client.query('DROP SCHEMA archive_bench CASCADE');
  await client.end();
  process.exit(0);
}

// --- delete: the plain archive, batched DELETE, VACUUM -------------------------------------
console.log('batched DELETE (plain archive, 10,000 rows a statement):');
await client.query(`ALTER TABLE ${plain} ADD PRIMARY KEY (id)`);
await client.query(`CREATE INDEX ON ${plain} (archived_at)`);
await fill(plain);
const deleteBefore = await size(plain);
const cutoff = now - RETENTION_SECONDS;
const del = await measured(async () => {
  let total = 0;
  for (;;) {
    const result = await client.query(
      `WITH old AS MATERIALIZED (
  SELECT ctid FROM ${plain} WHERE archived_at < $1::bigint LIMIT $2::integer FOR UPDATE SKIP LOCKED
)
DELETE FROM ${plain} WHERE ctid = ANY (ARRAY(SELECT ctid FROM old))`,
      [cutoff, BATCH],
    );
    total += result.rowCount ?? 0;
    if ((result.rowCount ?? 0) < BATCH) return total;
  }
});
const deleteAfter = await size(plain);
const vacuum = await measured(() => client.query(`VACUUM ${plain}`));
const vacuumAfter = await size(plain);
const deleteLeft = Number(await scalar(`SELECT count(*)::text AS v FROM ${plain}`));
console.log(
  `  ${del.value} rows deleted in ${(del.ms / 1000).toFixed(1)} s, WAL ${mb(del.wal)}; ` +
    `size ${mb(deleteBefore)} -> ${mb(deleteAfter)}; rows left ${deleteLeft}`,
);
console.log(
  `  VACUUM ${(vacuum.ms / 1000).toFixed(1)} s, WAL ${mb(vacuum.wal)}; size after ${mb(vacuumAfter)}`,
);
await client.query('DROP SCHEMA archive_bench CASCADE');
await client.end();
