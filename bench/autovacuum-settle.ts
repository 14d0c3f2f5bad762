/**
 * Waits, after a backlog is loaded, until autovacuum has nothing left to do in the scenario's
 * database: none of its workers runs there, and no table is past autovacuum's thresholds (which
 * would have a worker start within the launcher's naptime, in the middle of the timing).
 */
import pg from 'pg';
import { autovacuumDue, type AutovacuumSettings, type TableActivity } from './autovacuum-due.js';

export interface AutovacuumSettled {
  readonly settled: boolean;
  readonly waitedSeconds: number;
}

const SETTINGS = [
  'autovacuum',
  'autovacuum_vacuum_threshold',
  'autovacuum_vacuum_scale_factor',
  'autovacuum_vacuum_insert_threshold',
  'autovacuum_vacuum_insert_scale_factor',
  'autovacuum_analyze_threshold',
  'autovacuum_analyze_scale_factor',
];

const sql = {
  settings: `SELECT name, setting FROM pg_settings WHERE name = ANY($1)`,
  running: `
    SELECT (SELECT count(*) FROM pg_stat_activity
             WHERE backend_type = 'autovacuum worker' AND datname = current_database())
         + (SELECT count(*) FROM pg_stat_progress_vacuum WHERE datname = current_database())
           AS n`,
  tables: `
    SELECT s.relname AS name, c.reltuples::float8 AS reltuples, s.n_dead_tup::float8 AS dead,
           s.n_ins_since_vacuum::float8 AS inserted, s.n_mod_since_analyze::float8 AS modified,
           c.reloptions
    FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
    WHERE c.relkind IN ('r', 'm')`,
};

// A session sends its table counters to the statistics at most every 10 s once idle
// (PGSTAT_IDLE_INTERVAL): until then, a just-loaded table can look untouched.
const STATS_LAG_MS = 11_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function waitForAutovacuum(
  url: string,
  log: (line: string) => void,
  { quietMs = 2_000, capMs = 5 * 60_000 } = {},
): Promise<AutovacuumSettled> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const started = performance.now();
  try {
    const settings: AutovacuumSettings = Object.fromEntries(
      (await client.query<{ name: string; setting: string }>(sql.settings, [SETTINGS])).rows.map(
        (r) => [
          r.name,
          r.setting === 'on' ? true : r.setting === 'off' ? false : Number(r.setting),
        ],
      ),
    );
    let quietSince: number | undefined;
    let lastReason = '';
    while (performance.now() - started < capMs) {
      const running = Number((await client.query<{ n: string }>(sql.running)).rows[0]!.n);
      const tables: TableActivity[] = (
        await client.query<{
          name: string;
          reltuples: number;
          dead: number;
          inserted: number;
          modified: number;
          reloptions: string[] | null;
        }>(sql.tables)
      ).rows.map((r) => ({
        name: r.name,
        reltuples: r.reltuples,
        deadTuples: r.dead,
        insertedSinceVacuum: r.inserted,
        modifiedSinceAnalyze: r.modified,
        reloptions: r.reloptions,
      }));
      const due = tables.filter((t) => {
        const d = autovacuumDue(t, settings);
        return d.vacuum || d.analyze;
      });
      const now = performance.now();
      if (running === 0 && due.length === 0) {
        quietSince ??= now;
        if (now - quietSince >= quietMs && now - started >= STATS_LAG_MS)
          return { settled: true, waitedSeconds: Math.round((now - started) / 1000) };
      } else {
        quietSince = undefined;
        const reason = `${running} autovacuum worker(s), due: ${due.map((t) => t.name).join(', ') || 'none'}`;
        if (reason !== lastReason) log(`waiting for autovacuum: ${reason}`);
        lastReason = reason;
      }
      await sleep(250);
    }
    log(`autovacuum still busy after ${capMs / 1000} s: timing anyway`);
    return { settled: false, waitedSeconds: Math.round((performance.now() - started) / 1000) };
  } finally {
    await client.end();
  }
}
