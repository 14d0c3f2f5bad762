/**
 * The pinned-horizon scenario: messages offered at a steady rate (3,000/s) to one `@Processor`
 * (concurrency 32, 1 ms handlers) through three phases: clean, then another transaction holding
 * the xmin horizon (so no dead row or index entry can be removed), then clean again. For each
 * phase it prints completions per second, the backlog at its end and its peak, and pickup
 * latency (enqueue to handler start). It runs the processor at its defaults (`prefetch: 'auto'`),
 * tuned (`prefetch: 1000`) and leasing for free slots only (`prefetch: 0`, the default before
 * `'auto'`), each on a fresh database of one PostgreSQL server.
 *
 * Run: npm run bench:horizon [-- --quick] (quick: 20 s / 30 s / 30 s instead of 60 / 90 / 120).
 * Environment: DATABASE_URL (else an embedded server), HORIZON_RATE, HORIZON_SETTINGS
 * (comma-separated, of defaults,tuned,slots-only; default all three).
 */
import 'reflect-metadata';
import { type INestApplicationContext } from '@nestjs/common';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startEmbeddedServer } from '../dev/embedded-postgres.js';
import {
  Processor,
  type ProcessorMessage,
  type ProcessorOptions,
  QueueService,
} from '../src/index.js';
import { MessageStore } from '../src/store/message-store.js';
import { ackBatchSql } from '../src/sql/settle.sql.js';
import { queueTableNames } from '../src/config/identifier-rules.js';
import { createBenchDatabase } from './bench-database.js';
import { bootContext, QUEUE } from './contenders/fetchcraft-common.js';

const quick = process.argv.includes('--quick');
const RATE = Number(process.env.HORIZON_RATE ?? 3_000);
const CONCURRENCY = 32;
const JOB_MS = 1;
const TICK_MS = 100;
const PHASES = quick
  ? [
      { name: 'clean', seconds: 20, pinned: false },
      { name: 'pinned', seconds: 30, pinned: true },
      { name: 'after', seconds: 30, pinned: false },
    ]
  : [
      { name: 'clean', seconds: 60, pinned: false },
      { name: 'pinned', seconds: 90, pinned: true },
      { name: 'after', seconds: 120, pinned: false },
    ];

const SETTINGS: Readonly<Record<string, ProcessorOptions>> = {
  defaults: { concurrency: CONCURRENCY },
  tuned: { concurrency: CONCURRENCY, prefetch: 1_000 },
  /** The default before `'auto'`: leases for free slots only. */
  'slots-only': { concurrency: CONCURRENCY, prefetch: 0 },
};
const chosen = (process.env.HORIZON_SETTINGS ?? 'defaults,tuned,slots-only').split(',');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface PhaseFigures {
  phase: string;
  offeredPerSecond: number;
  completedPerSecond: number;
  backlogAtEnd: number;
  peakBacklog: number;
  pickupP50Ms: number;
  pickupP99Ms: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

async function runSetting(adminUrl: string, setting: string): Promise<PhaseFigures[]> {
  const database = await createBenchDatabase(adminUrl, `horizon_${setting}_${Date.now()}`);
  let completed = 0;
  let pickups: number[] = [];
  const options = SETTINGS[setting]!;
  class HorizonHandlers {
    @Processor(QUEUE, options)
    async handle(message: ProcessorMessage<{ sentAt: number }>): Promise<void> {
      pickups.push(Date.now() - message.body.sentAt);
      await sleep(JOB_MS);
      completed += 1;
    }
  }
  const producer = await bootContext({ connectionString: database.url, workers: false });
  const workers: INestApplicationContext = await bootContext({ connectionString: database.url }, [
    HorizonHandlers,
  ]);
  const queue = producer.get(QueueService);
  const trace = process.env.HORIZON_TRACE
    ? traceLeases(workers.get(MessageStore), setting, database.url)
    : undefined;
  const holder = new pg.Client({ connectionString: database.url });
  await holder.connect();
  const figures: PhaseFigures[] = [];
  let enqueued = 0;
  const started = Date.now();
  try {
    for (const phase of PHASES) {
      if (phase.pinned) {
        // A transaction with an xid, left open: the xmin horizon cannot pass it.
        await holder.query('BEGIN');
        await holder.query('SELECT txid_current()');
      }
      const phaseStart = Date.now();
      const completedAtStart = completed;
      let peakBacklog = 0;
      pickups = [];
      while (Date.now() - phaseStart < phase.seconds * 1000) {
        const due = Math.floor(((Date.now() - started) / 1000) * RATE);
        const count = due - enqueued;
        if (count > 0) {
          const now = Date.now();
          await queue.enqueueMany(
            QUEUE,
            Array.from({ length: count }, () => ({ sentAt: now })),
          );
          enqueued += count;
        }
        peakBacklog = Math.max(peakBacklog, enqueued - completed);
        await sleep(TICK_MS);
      }
      if (phase.pinned) await holder.query('COMMIT');
      const seconds = (Date.now() - phaseStart) / 1000;
      const sorted = [...pickups].sort((a, b) => a - b);
      const row: PhaseFigures = {
        phase: phase.name,
        offeredPerSecond: RATE,
        completedPerSecond: Math.round((completed - completedAtStart) / seconds),
        backlogAtEnd: enqueued - completed,
        peakBacklog,
        pickupP50Ms: percentile(sorted, 50),
        pickupP99Ms: percentile(sorted, 99),
      };
      figures.push(row);
      console.log(`  ${setting} ${JSON.stringify(row)}`);
    }
  } finally {
    trace?.stop();
    await holder.end();
    await workers.close();
    await producer.close();
    await database.drop();
  }
  return figures;
}

/** Every 5 s: the workers' lease and ack statements, their rows and time (HORIZON_TRACE). */
function traceLeases(store: MessageStore, setting: string, explainUrl?: string): { stop(): void } {
  const stats = { lease: newStat(), ack: newStat() };
  const lease = store.lease.bind(store);
  store.lease = (async (...args: Parameters<MessageStore['lease']>) => {
    const started = performance.now();
    const batch = await lease(...args);
    record(stats.lease, batch.messages.length, performance.now() - started);
    return batch;
  }) as MessageStore['lease'];
  const ack = store.ackBatch.bind(store);
  let explained = false;
  let slowSeen = false;
  store.ackBatch = async (...args: Parameters<MessageStore['ackBatch']>) => {
    if (slowSeen && !explained && explainUrl !== undefined) {
      // Once, after a slow ack: the plan of the statement about to run, executed and rolled back.
      explained = true;
      const client = new pg.Client({ connectionString: explainUrl });
      await client.connect();
      const { text, values } = ackBatchSql(queueTableNames('public', 'messages'), args[0], args[1]);
      await client.query('BEGIN');
      const plan = await client.query(`EXPLAIN (ANALYZE, BUFFERS) ${text}`, values as unknown[]);
      await client.query('ROLLBACK');
      await client.end();
      console.log(
        plan.rows
          .map((r: Record<string, string>) =>
            (r['QUERY PLAN'] ?? '').replace(/'\{[^}]*\}'/g, "'{…}'"),
          )
          .join('\n'),
      );
    }
    const started = performance.now();
    const result = await ack(...args);
    const took = performance.now() - started;
    record(stats.ack, args[1].length, took);
    if (took > 300) slowSeen = true;
    return result;
  };
  const timer = setInterval(() => {
    console.log(`    ${setting} trace: lease ${show(stats.lease)}; ack ${show(stats.ack)}`);
    stats.lease = newStat();
    stats.ack = newStat();
  }, 5_000);
  return { stop: () => clearInterval(timer) };
}

interface Stat {
  count: number;
  rows: number;
  ms: number;
  maxMs: number;
}
const newStat = (): Stat => ({ count: 0, rows: 0, ms: 0, maxMs: 0 });
function record(stat: Stat, rows: number, ms: number): void {
  stat.count += 1;
  stat.rows += rows;
  stat.ms += ms;
  stat.maxMs = Math.max(stat.maxMs, ms);
}
const show = (s: Stat) =>
  `${s.count} × ${s.count ? Math.round(s.rows / s.count) : 0} rows, ${s.count ? (s.ms / s.count).toFixed(1) : 0} ms avg, ${s.maxMs.toFixed(0)} max`;

const dir = mkdtempSync(join(tmpdir(), 'horizon-bench-'));
const server = process.env.DATABASE_URL
  ? undefined
  : await startEmbeddedServer({ dataDir: join(dir, 'data'), persistent: false });
const adminUrl = process.env.DATABASE_URL ?? server!.url;
try {
  console.log(
    `pinned horizon: ${RATE}/s offered, concurrency ${CONCURRENCY}, ${JOB_MS} ms handlers, phases ${PHASES.map((p) => `${p.name} ${p.seconds} s`).join(', ')}`,
  );
  const results: Record<string, PhaseFigures[]> = {};
  for (const setting of chosen) {
    console.log(`${setting}: ${JSON.stringify(SETTINGS[setting])}`);
    results[setting] = await runSetting(adminUrl, setting);
  }
  console.log(
    '\n| setting | phase | offered/s | completed/s | backlog at end | peak backlog | pickup p50 | pickup p99 |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const [setting, rows] of Object.entries(results)) {
    for (const r of rows) {
      console.log(
        `| ${setting} | ${r.phase} | ${r.offeredPerSecond} | ${r.completedPerSecond} | ${r.backlogAtEnd} | ${r.peakBacklog} | ${r.pickupP50Ms} ms | ${r.pickupP99Ms} ms |`,
      );
    }
  }
} finally {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
}
