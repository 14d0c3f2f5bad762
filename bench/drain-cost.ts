/**
 * What a drain cost, per message: heap and index writes and WAL bytes (from the WAL itself, with
 * pg_walinspect), and CPU split between the contender's Node process, the PostgreSQL server and
 * the rest of the machine. Used by the drain scenarios:
 *
 *   const probe = await prepareDrainCost(url);
 *   await probe.begin();                        // right before the workers start
 *   const cost = await probe.stop(messages);    // when the timed window ends
 *
 * It begins before the workers start, not at the first handler call where the rate's window
 * does: a library that fetches in batches leases its first batch (up to 2,000 messages here)
 * before any handler runs, and that is part of what each message costs.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import {
  cpuPerMessage,
  parseMachineTicks,
  parseProcStat,
  recordCounts,
  round,
  serverSnapshot,
  serverTicksBetween,
  walPerMessage,
  type CpuPerMessage,
  type ProcStat,
  type RecordCountRow,
  type ServerSnapshot,
  type WalPerMessage,
  type WalRecordCounts,
} from './drain-cost-math.js';

export interface DrainCost {
  readonly messages: number;
  readonly seconds: number;
  /** Every WAL byte the server wrote in the window (all databases: commits, full pages...). */
  readonly walBytesPerMessage: number;
  /** From pg_walinspect; `unavailable` says why not. */
  readonly wal:
    | (WalPerMessage & {
        /** `database`: records of this database only (PG 16+); `server`: every database's. */
        readonly scope: 'database' | 'server';
        /** Raw record counts over the window, by `rmgr/type`. */
        readonly records: WalRecordCounts;
        /** The same by table or index written (scope `database` only): where the writes go. */
        readonly byRelation?: Readonly<Record<string, WalRecordCounts>>;
      })
    | { readonly unavailable: string };
  readonly cpu: CpuPerMessage & { readonly postgresUnavailable?: string };
}

export interface DrainCostProbe {
  /** Takes the window's first snapshot. */
  begin(): Promise<void>;
  stop(messages: number): Promise<DrainCost>;
}

const sql = {
  extension: 'CREATE EXTENSION IF NOT EXISTS pg_walinspect',
  // Keeps the window's WAL from being recycled by a checkpoint before it is read; temporary,
  // so it goes with the session.
  slot: `SELECT pg_create_physical_replication_slot($1, true, true)`,
  lsn: 'SELECT pg_current_wal_insert_lsn()::text AS lsn',
  backendPid: 'SELECT pg_backend_pid() AS pid',
  // Superusers and pg_read_all_settings only: others go without the postmaster.pid check.
  dataDirectory: `SELECT current_setting('data_directory') AS dir`,
  hasBlockInfo: `SELECT count(*)::int AS n FROM pg_proc WHERE proname = 'pg_get_wal_block_info'`,
  // Records, not blocks: a non-HOT UPDATE touches two pages, a split three or more. The end
  // is held to the flushed WAL, which the reader needs (PG 15 refuses past it).
  // Per kind, and per kind and relation (the table or index written), in one read of the WAL.
  recordsOfDatabase: `
    SELECT resource_manager || '/' || record_type AS kind,
           CASE WHEN GROUPING(relfilenode) = 0
                THEN coalesce(pg_filenode_relation(reltablespace, relfilenode)::text,
                              'filenode ' || relfilenode) END AS rel,
           count(DISTINCT start_lsn)::int AS n
    FROM pg_get_wal_block_info($1::pg_lsn, LEAST($2::pg_lsn, pg_current_wal_flush_lsn()), false)
    WHERE reldatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
    GROUP BY GROUPING SETS ((1), (1, reltablespace, relfilenode))`,
  recordsOfServer: `
    SELECT "resource_manager/record_type" AS kind, NULL AS rel, count::int AS n
    FROM pg_get_wal_stats($1::pg_lsn, LEAST($2::pg_lsn, pg_current_wal_flush_lsn()), true)
    WHERE count > 0`,
  walBytes: 'SELECT pg_wal_lsn_diff($2::pg_lsn, $1::pg_lsn)::float8 AS bytes',
};

function readStat(path: string): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(path, 'utf8'));
  } catch {
    return undefined; // the process ended between the listing and the read
  }
}

function allProcesses(): ProcStat[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((pid) => readStat(join('/proc', pid, 'stat')) ?? []);
}

function machineBusy(): number | undefined {
  try {
    return parseMachineTicks(readFileSync('/proc/stat', 'utf8'))?.busy;
  } catch {
    return undefined;
  }
}

function ticksPerSecond(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

/**
 * The postmaster's pid, when the server runs on this machine: the parent of this session's
 * backend, itself a postgres process, and the pid the data directory's postmaster.pid names
 * when this machine can read it. A server elsewhere (or in another pid namespace) fails one of
 * these and its CPU is reported unavailable.
 */
function localPostmaster(backendPid: number, dataDirectory: string | null): number | string {
  const backend = readStat(`/proc/${backendPid}/stat`);
  if (backend === undefined || backend.comm !== 'postgres')
    return `no local postgres process ${backendPid}: the server is not on this machine`;
  const postmaster = readStat(`/proc/${backend.ppid}/stat`);
  if (postmaster === undefined || !['postgres', 'postmaster'].includes(postmaster.comm))
    return `the parent of backend ${backendPid} is not a postgres process`;
  if (dataDirectory !== null) {
    let pidFile: string | undefined;
    try {
      pidFile = readFileSync(join(dataDirectory, 'postmaster.pid'), 'utf8');
    } catch {
      pidFile = undefined; // not readable here: the parent check stands alone
    }
    if (pidFile !== undefined && Number(pidFile.split('\n')[0]) !== postmaster.pid)
      return `${dataDirectory}/postmaster.pid names another process than backend ${backendPid}'s parent`;
  }
  return postmaster.pid;
}

/** Connects to the scenario's database and gets ready; call before the workers start. */
export async function prepareDrainCost(url: string): Promise<DrainCostProbe> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const ticks = ticksPerSecond();

  // The records' scope, or why there are none.
  let walinspect: string;
  try {
    await client.query(sql.extension);
    const { rows } = await client.query<{ n: number }>(sql.hasBlockInfo);
    walinspect = rows[0]!.n > 0 ? 'database' : 'server';
    await client
      .query(sql.slot, [`bench_drain_cost_${process.pid}`])
      .catch(() => undefined /* wal_level minimal or no slots: read the WAL while it lasts */);
  } catch (error) {
    walinspect = `pg_walinspect: ${error instanceof Error ? error.message : String(error)}`;
  }
  const backendPid = (await client.query<{ pid: number }>(sql.backendPid)).rows[0]!.pid;
  const dataDirectory = await client
    .query<{ dir: string }>(sql.dataDirectory)
    .then((r) => r.rows[0]!.dir)
    .catch(() => null);
  const postmaster = localPostmaster(backendPid, dataDirectory);
  const snapshotServer = (): ServerSnapshot | undefined =>
    typeof postmaster === 'number' ? serverSnapshot(postmaster, allProcesses()) : undefined;

  let startLsn: string | undefined;
  let startedAt = 0;
  let nodeStart: NodeJS.CpuUsage = process.cpuUsage();
  let serverStart: ServerSnapshot | undefined;
  let busyStart: number | undefined;

  return {
    async begin() {
      startLsn = (await client.query<{ lsn: string }>(sql.lsn)).rows[0]!.lsn;
      startedAt = performance.now();
      nodeStart = process.cpuUsage();
      serverStart = snapshotServer();
      busyStart = machineBusy();
    },
    async stop(messages) {
      if (startLsn === undefined) throw new Error('drain cost: stop() before begin()');
      // CPU first: the WAL reads below are the probe's own work, not the drain's.
      const seconds = (performance.now() - startedAt) / 1000;
      const node = process.cpuUsage(nodeStart);
      const serverEnd = snapshotServer();
      const busyEnd = machineBusy();
      try {
        const endLsn = (await client.query<{ lsn: string }>(sql.lsn)).rows[0]!.lsn;
        const start = startLsn;
        const bytes = (await client.query<{ bytes: number }>(sql.walBytes, [start, endLsn]))
          .rows[0]!.bytes;
        let wal: DrainCost['wal'];
        if (walinspect === 'database' || walinspect === 'server') {
          const scope: 'database' | 'server' = walinspect;
          // The extension can be there without the right to read the WAL (pg_read_server_files).
          wal = await client
            .query<RecordCountRow>(
              scope === 'database' ? sql.recordsOfDatabase : sql.recordsOfServer,
              [start, endLsn],
            )
            .then(({ rows }): DrainCost['wal'] => {
              const { records, byRelation } = recordCounts(rows);
              return {
                scope,
                ...walPerMessage(records, messages),
                records,
                ...(scope === 'database' ? { byRelation } : {}),
              };
            })
            .catch((error: unknown) => ({
              unavailable: `pg_walinspect: ${error instanceof Error ? error.message : String(error)}`,
            }));
        } else {
          wal = { unavailable: walinspect };
        }
        const postgresTicks =
          serverStart !== undefined && serverEnd !== undefined
            ? serverTicksBetween(serverStart, serverEnd)
            : undefined;
        const cpu = cpuPerMessage(
          {
            nodeUs: node.user + node.system,
            postgresTicks,
            machineBusyTicks:
              busyStart !== undefined && busyEnd !== undefined ? busyEnd - busyStart : undefined,
            ticksPerSecond: ticks,
            seconds,
          },
          messages,
        );
        return {
          messages,
          seconds: round(seconds, 2),
          walBytesPerMessage: messages > 0 ? round(bytes / messages, 1) : 0,
          wal,
          cpu: typeof postmaster === 'number' ? cpu : { ...cpu, postgresUnavailable: postmaster },
        };
      } finally {
        await client.end();
      }
    },
  };
}
