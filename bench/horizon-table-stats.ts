/** Looks at the queue table's size, tuple counts and the server's WAL for the pinned-horizon bench. */
import pg from 'pg';
import type { TableSample } from './horizon-figures.js';
import type { HorizonPhaseName } from './horizon-options.js';

// Sizes come from the files and are exact; tuple counts come from the cumulative statistics,
// which backends flush about once a second, so they trail the table a little.
const SAMPLE_SQL = `
SELECT pg_relation_size(c.oid) AS heap,
       pg_indexes_size(c.oid) AS indexes,
       pg_total_relation_size(c.oid) AS total,
       coalesce(s.n_live_tup, 0) AS live,
       coalesce(s.n_dead_tup, 0) AS dead,
       coalesce(s.autovacuum_count, 0) + coalesce(s.vacuum_count, 0) AS vacuums,
       (SELECT wal_bytes FROM pg_stat_wal) AS wal,
       pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') AS lsn
  FROM pg_class c
  LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
 WHERE c.oid = $1::regclass`;

interface SampleRow {
  heap: string;
  indexes: string;
  total: string;
  live: string;
  dead: string;
  vacuums: string;
  wal: string;
  lsn: string;
}

export interface TableWatcher {
  /** The looks so far, oldest first. */
  readonly samples: readonly TableSample[];
  /** Tags the looks that follow with this phase. */
  setPhase(phase: HorizonPhaseName): void;
  /** Looks now (besides the timer), and returns that look. */
  sampleNow(): Promise<TableSample>;
  stop(): Promise<void>;
}

/** Looks every `everyMs` on a connection of its own, so the offer loop never waits for it. */
export async function watchTable(
  url: string,
  table: string,
  startedAt: number,
  everyMs = 5_000,
): Promise<TableWatcher> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const samples: TableSample[] = [];
  let phase: HorizonPhaseName = 'clean';
  // One query at a time on the connection: pg queues them anyway, this keeps the order of looks.
  let last: Promise<unknown> = Promise.resolve();
  const look = (): Promise<TableSample> => {
    const next = last.then(async () => {
      // Fresh statistics for this look rather than ones cached earlier in the session.
      await client.query('SELECT pg_stat_clear_snapshot()');
      const { rows } = await client.query<SampleRow>(SAMPLE_SQL, [table]);
      const row = rows[0]!;
      const sample: TableSample = {
        at: Date.now() - startedAt,
        phase,
        heapBytes: Number(row.heap),
        indexBytes: Number(row.indexes),
        totalBytes: Number(row.total),
        liveTuples: Number(row.live),
        deadTuples: Number(row.dead),
        vacuums: Number(row.vacuums),
        walBytes: Number(row.wal),
        walLsnBytes: Number(row.lsn),
      };
      samples.push(sample);
      return sample;
    });
    last = next.catch(() => undefined);
    return next;
  };
  const timer = setInterval(() => {
    look().catch((error: unknown) => console.error(`    table look failed: ${String(error)}`));
  }, everyMs);
  return {
    samples,
    setPhase: (next) => {
      phase = next;
    },
    sampleNow: look,
    async stop() {
      clearInterval(timer);
      await last;
      await client.end();
    },
  };
}
