/**
 * The raw-SQL baseline: this library's own lease and ack statements, driven by pgbench with no
 * library around them, one message at a time and 50 per statement; and its worker's statements
 * as a worker sends them (a lease of 1,000, then one ack batch: marking them done, or deleting
 * them as `removeOnComplete` does), from a minimal client of a few connections with nothing else
 * to do. It tells how far from what PostgreSQL itself can do on this machine the libraries are,
 * and the library's own overhead over its SQL.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { DEFAULT_LEASE_MAX_BYTES as MAX_LEASE_BYTES } from '../src/config/defaults.js';
import { migrateQueue } from '../src/database/migrate-queue.js';
import { leaseSql } from '../src/sql/lease.sql.js';
import { queueTableNames } from '../src/config/identifier-rules.js';
import { ackBatchRemovingSql, ackBatchSql, ackManySql, ackSql } from '../src/sql/settle.sql.js';
import { type SqlStatement } from '../src/sql/sql-statement.js';
import { createBenchDatabase } from './bench-database.js';

const run = promisify(execFile);

export interface BaselineResult {
  readonly name: string;
  readonly description: string;
  readonly value: number;
  readonly clients: number;
  readonly batch: number;
}

/** Inlines a statement's parameters as literals, for a pgbench script. */
function inline(statement: SqlStatement, literals: readonly string[]): string {
  return statement.text.replace(
    /\$(\d+)/g,
    (_match, index: string) => literals[Number(index) - 1]!,
  );
}

function scripts(): { single: string; batch: string } {
  const names = queueTableNames('public', 'messages');
  const lease1 = inline(leaseSql(names, 'bench', 1, 60, {}, MAX_LEASE_BYTES), [
    "'bench'",
    '1',
    '60',
    'NULL',
    'NULL',
    String(MAX_LEASE_BYTES),
  ]);
  const ack1 = inline(ackSql(names, { queue: 'bench', id: 'x', leaseToken: 'y' }), [
    "':id'",
    "'bench'",
    "':lease_token'",
  ]);
  const leaseMany = inline(leaseSql(names, 'bench', 50, 60, {}, MAX_LEASE_BYTES), [
    "'bench'",
    '50',
    '60',
    'NULL',
    'NULL',
    String(MAX_LEASE_BYTES),
  ]);
  // The same statement with its final SELECT folding the rows into two arrays for \gset.
  const lease50 = `${leaseMany.slice(0, leaseMany.lastIndexOf('\nSELECT '))}
SELECT array_agg(id)::text AS ids, array_agg(lease_token)::text AS tokens FROM leased`;
  const ack50 = inline(ackManySql(names, 'bench', []), ["'bench'", "':ids'", "':tokens'"]);
  const oneLine = (sql: string) => sql.replace(/\s+/g, ' ').trim();
  return {
    single: `${oneLine(lease1)} \\gset\n${oneLine(ack1)};\n`,
    batch: `${oneLine(lease50)} \\gset\n${oneLine(ack50)};\n`,
  };
}

export async function rawBaseline(
  adminUrl: string,
  seconds: number,
  log: (line: string) => void,
  quick = false,
): Promise<BaselineResult[]> {
  try {
    await run('pgbench', ['--version']);
  } catch {
    log('pgbench not found: the raw-SQL baseline is skipped');
    return [];
  }
  const database = await createBenchDatabase(adminUrl, `bench_raw_${process.pid}`);
  const url = new URL(database.url);
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  const dir = mkdtempSync(join(tmpdir(), 'bench-raw-'));
  const results: BaselineResult[] = [];
  try {
    // The table as the package creates it (its migrations pass values as parameters).
    await migrateQueue({ connectionString: database.url });
    const { single, batch } = scripts();
    writeFileSync(join(dir, 'single.sql'), single);
    writeFileSync(join(dir, 'batch.sql'), batch);
    const runs = [
      { name: 'raw.single.c8', file: 'single.sql', clients: 8, batch: 1 },
      { name: 'raw.single.c16', file: 'single.sql', clients: 16, batch: 1 },
      { name: 'raw.batch50.c4', file: 'batch.sql', clients: 4, batch: 50 },
      { name: 'raw.batch50.c16', file: 'batch.sql', clients: 16, batch: 50 },
    ];
    for (const ack of ['done', 'delete'] as const) {
      const clients = 4;
      const rows = quick ? 100_000 : 300_000;
      await client.query('TRUNCATE messages');
      await client.query(
        `INSERT INTO messages (queue, body, available_at, created_at)
         SELECT 'bench', jsonb_build_object('i', g), 0, floor(extract(epoch from now()))::bigint
         FROM generate_series(1, $1::int) AS g`,
        [rows],
      );
      await client.query('VACUUM ANALYZE messages');
      const value = await drainWithMinimalClients(database.url, clients, ack);
      const name = `raw.client.batch1000.${ack}.c${clients}`;
      log(`${name}: ${value} msg/s`);
      results.push({
        name,
        description: `minimal client, the worker's lease of 1,000 + its ack batch (${ack === 'done' ? 'marked done' : 'deleted, removeOnComplete'}), ${clients} connections`,
        value,
        clients,
        batch: 1_000,
      });
    }
    for (const spec of quick ? runs.filter((r) => r.clients !== 16) : runs) {
      // Enough ready rows that no client ever finds the queue empty.
      const rows = spec.batch === 1 ? 300_000 : 1_500_000;
      await client.query('TRUNCATE messages');
      await client.query(
        `INSERT INTO messages (queue, body, available_at, created_at)
         SELECT 'bench', jsonb_build_object('i', g), floor(extract(epoch from now()))::bigint,
                floor(extract(epoch from now()))::bigint
         FROM generate_series(1, $1::int) AS g`,
        [Math.round((rows * seconds) / 20)],
      );
      await client.query('VACUUM ANALYZE messages');
      const { stdout } = await run(
        'pgbench',
        [
          '-n',
          '-c',
          String(spec.clients),
          '-j',
          '2',
          '-T',
          String(seconds),
          '-f',
          join(dir, spec.file),
          '-h',
          url.hostname,
          '-p',
          url.port || '5432',
          '-U',
          decodeURIComponent(url.username),
          database.name,
        ],
        {
          env: { ...process.env, PGPASSWORD: decodeURIComponent(url.password) },
          maxBuffer: 16 * 1024 * 1024,
        },
      );
      const tps = Number(/tps = ([\d.]+)/.exec(stdout)?.[1] ?? NaN);
      const value = Math.round(tps * spec.batch);
      log(`${spec.name}: ${value} msg/s (${tps.toFixed(0)} tps, ${spec.clients} clients)`);
      results.push({
        name: spec.name,
        description: `pgbench, lease + ack ${spec.batch === 1 ? 'one at a time' : `${spec.batch} per statement`}, ${spec.clients} clients`,
        value,
        clients: spec.clients,
        batch: spec.batch,
      });
    }
  } finally {
    await client.end();
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

/**
 * Drains the `bench` queue with `clients` connections, each leasing 1,000 with the worker's lease
 * statement and settling them with one ack batch, until none is left.
 * @returns messages per second.
 */
async function drainWithMinimalClients(
  url: string,
  clients: number,
  ack: 'done' | 'delete',
): Promise<number> {
  const names = queueTableNames('public', 'messages');
  const lease = leaseSql(names, 'bench', 1_000, 60, {}, MAX_LEASE_BYTES);
  let handled = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      const connection = new pg.Client({ connectionString: url });
      await connection.connect();
      try {
        for (;;) {
          const { rows } = await connection.query<{ id: string; lease_token: string }>(
            lease.text,
            lease.values as unknown[],
          );
          if (rows.length === 0) return;
          const leases = rows.map((row) => ({ id: row.id, leaseToken: row.lease_token }));
          const settle =
            ack === 'done'
              ? ackBatchSql(names, 'bench', leases)
              : ackBatchRemovingSql(names, 'bench', leases);
          await connection.query(settle.text, settle.values as unknown[]);
          handled += rows.length;
        }
      } finally {
        await connection.end();
      }
    }),
  );
  return Math.round(handled / ((performance.now() - started) / 1000));
}
