/**
 * Scenarios for this library only: a full 1,000,000-message drain with the worker's peak RSS,
 * and the 10-minute soak with cleanup running.
 */
import pg from 'pg';
import { type BenchBody } from './contender.js';
import { NOW_SECONDS } from '../src/sql/sql-statement.js';
import { bootContext, QUEUE } from './contenders/fetchcraft-common.js';
import { type Scenario, type ScenarioResult } from './scenarios.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);

export const OWN_SCENARIOS: readonly Scenario[] = [
  {
    name: 'rss.1m',
    description:
      'drain 1,000,000 at concurrency 16 (backlog inserted by SQL beforehand): rate and peak RSS of the worker process',
    fullOnly: true,
    runs: 1,
    only: ['fetchcraft-processor'],
    async run({ contender, url }) {
      // The backlog is written by PostgreSQL itself, the rows exactly as enqueueMany writes them:
      // this process is then only the worker, as in production, and its RSS is the worker's.
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(
        `INSERT INTO messages (queue, body, available_at, created_at)
         SELECT $1::text, jsonb_build_object('i', g), ${NOW_SECONDS}, ${NOW_SECONDS}
         FROM generate_series(0, 999999) AS g ORDER BY g`,
        [QUEUE],
      );
      await client.end();
      global.gc?.();
      const before = process.memoryUsage();
      let peak = before.rss;
      let peakHeap = before.heapUsed;
      let peakExternal = before.external;
      const sampler = setInterval(() => {
        const now = process.memoryUsage();
        peak = Math.max(peak, now.rss);
        peakHeap = Math.max(peakHeap, now.heapUsed);
        peakExternal = Math.max(peakExternal, now.external);
      }, 100);
      const started = performance.now();
      await contender.startWorkers(16, () => undefined);
      while ((await contender.remaining()) > 0) await sleep(250);
      const seconds = (performance.now() - started) / 1000;
      clearInterval(sampler);
      // Still running: what the worker retains once its garbage is collected.
      global.gc?.();
      const retained = process.memoryUsage();
      await contender.stopWorkers();
      return {
        value: Math.round(1_000_000 / seconds),
        unit: 'msg/s',
        details: {
          seconds: Number(seconds.toFixed(1)),
          peakRssMb: mb(peak),
          rssBeforeMb: mb(before.rss),
          peakHeapMb: mb(peakHeap),
          peakExternalMb: mb(peakExternal),
          heapAfterGcMb: mb(retained.heapUsed),
          heapBeforeMb: mb(before.heapUsed),
        },
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
