/**
 * Scenarios for this library only: a full 1,000,000-message drain with the worker's peak RSS,
 * and the 10-minute soak with cleanup running.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { benchChildArgs } from './child-args.js';
import { openMemoryCgroup } from './memory-cgroup.js';
import { type BenchBody } from './contender.js';
import { NOW_SECONDS } from '../src/sql/sql-statement.js';
import { bootContext, QUEUE } from './contenders/fetchcraft-common.js';
import { type Scenario, type ScenarioResult } from './scenarios.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const OWN_SCENARIOS: readonly Scenario[] = [
  {
    name: 'rss.1m',
    description:
      "drain 1,000,000 at concurrency 16 (backlog inserted by SQL beforehand): rate and peak RSS of the worker process, at Node's default flags on this machine, then again inside a 2 GiB memory cgroup as a container runs it",
    fullOnly: true,
    runs: 1,
    only: ['fetchcraft-processor'],
    async run({ url }) {
      const host = await drainMillion(url, (args) => ['node', args]);
      const cgroup = openMemoryCgroup(
        CONTAINER_LIMIT_MB * 1024 * 1024,
        `fetchcraft-rss-${process.pid}`,
      );
      let container: Record<string, unknown>;
      if (typeof cgroup === 'string') container = { skipped: cgroup };
      else {
        try {
          container = await drainMillion(url, (args) => cgroup.command(args));
        } finally {
          cgroup.remove();
        }
      }
      return {
        value: Math.round(1_000_000 / host.seconds),
        unit: 'msg/s',
        details: { ...host, [`memoryLimit${CONTAINER_LIMIT_MB}Mb`]: container },
      };
    },
  },
  {
    name: 'soak',
    description:
      '10 minutes at a steady rate with cleanup every minute (done retention 1 minute): throughput, table and index size, dead tuples per minute',
    fullOnly: true,
    runs: 1,
    only: ['fetchcraft-processor'],
    async run({ contender, url, log }): Promise<ScenarioResult> {
      const minutes = Number(process.env.SOAK_MINUTES ?? 10);
      const rate = Number(process.env.SOAK_RATE ?? 5_000);
      const maintenance = await bootContext({
        connectionString: url,
        poolMinSize: 1,
        poolMaxSize: 4,
        workers: false,
        reaper: { intervalMs: 5_000 },
        cleanup: { cron: '* * * * *', doneRetentionDays: 1 / 1440, failedRetentionDays: 1 / 1440 },
      });
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      let handled = 0;
      await contender.startWorkers(16, () => {
        handled += 1;
      });
      const samples: Array<{
        minute: number;
        throughput: number;
        tableMb: number;
        indexMb: number;
        deadTuples: number;
        liveTuples: number;
      }> = [];
      const started = Date.now();
      let sent = 0;
      let lastHandled = 0;
      let nextSample = started + 60_000;
      while (Date.now() - started < minutes * 60_000) {
        // Enqueue in 100 ms slices of rate/10 messages, one batch each.
        const due = Math.floor(((Date.now() - started) / 1000) * rate);
        if (due > sent) {
          const count = Math.min(due - sent, 5_000);
          await contender.enqueueBatch(
            Array.from({ length: count }, (_, i): BenchBody => ({ i: sent + i })),
          );
          sent += count;
        }
        if (Date.now() >= nextSample) {
          const { rows } = await client.query<{
            table: string;
            indexes: string;
            dead: string;
            live: string;
          }>(
            `SELECT pg_table_size('messages') AS table, pg_indexes_size('messages') AS indexes,
                    n_dead_tup AS dead, n_live_tup AS live
             FROM pg_stat_user_tables WHERE relname = 'messages'`,
          );
          const row = rows[0]!;
          const sample = {
            minute: samples.length + 1,
            throughput: Math.round((handled - lastHandled) / 60),
            tableMb: Number((Number(row.table) / 1024 / 1024).toFixed(1)),
            indexMb: Number((Number(row.indexes) / 1024 / 1024).toFixed(1)),
            deadTuples: Number(row.dead),
            liveTuples: Number(row.live),
          };
          samples.push(sample);
          log(`soak ${JSON.stringify(sample)}`);
          lastHandled = handled;
          nextSample += 60_000;
        }
        await sleep(100);
      }
      await contender.stopWorkers();
      await client.end();
      await maintenance.close();
      const first = samples[0]?.throughput ?? 0;
      const last = samples.at(-1)?.throughput ?? 0;
      return {
        value: last,
        unit: 'msg/s',
        details: {
          rate,
          samples,
          throughputChange: first === 0 ? null : Number(((last - first) / first).toFixed(3)),
          maxTableMb: Math.max(...samples.map((s) => s.tableMb)),
          maxIndexMb: Math.max(...samples.map((s) => s.indexMb)),
        },
      };
    },
  },
];

/**
 * A Kubernetes-sized pod: Node gives a process limited to this a heap limit of about half of it
 * (1,048 MB here), where this 24 GiB machine gives 4,144 MB.
 */
const CONTAINER_LIMIT_MB = 2048;

/**
 * Inserts a backlog of 1,000,000 and drains it in a worker process of its own
 * (bench/rss-worker.ts), started by `command` from node's arguments.
 */
async function drainMillion(
  url: string,
  command: (nodeArgs: string[]) => [string, string[]],
): Promise<{ seconds: number } & Record<string, number>> {
  // The backlog is written by PostgreSQL itself, the rows exactly as enqueueMany writes them,
  // and drained by a process that loads this library and nothing else of the bench, compiled
  // as production runs it: without a source map in its source text.
  // Each drain starts from an empty, vacuumed table, so the second is not slowed by the first's
  // million done rows.
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('TRUNCATE messages');
  await client.query(
    `INSERT INTO messages (queue, body, available_at, created_at)
     SELECT $1::text, jsonb_build_object('i', g), ${NOW_SECONDS}, ${NOW_SECONDS}
     FROM generate_series(0, 999999) AS g ORDER BY g`,
    [QUEUE],
  );
  await client.query('VACUUM ANALYZE messages');
  await client.end();
  // RSS_NODE_ARGS: more node flags for the worker (a heap limit, say), to compare.
  const extra = (process.env.RSS_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');
  const args = await benchChildArgs('bench/rss-worker.ts', ['--expose-gc', ...extra], {
    sourceMap: false,
  });
  const [file, argv] = command([...args, url, '1000000']);
  const { stdout } = await run(file, argv, {
    cwd: new URL('..', import.meta.url),
    maxBuffer: 16 * 1024 * 1024,
  });
  const line = stdout.split('\n').find((text) => text.startsWith('RSS '));
  if (line === undefined) throw new Error(`rss-worker printed no RSS line: ${stdout}`);
  return JSON.parse(line.slice(4)) as { seconds: number } & Record<string, number>;
}
