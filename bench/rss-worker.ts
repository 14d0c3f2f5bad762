/**
 * The worker process of the `rss.1m` scenario: one `@Processor` (concurrency 16, the bench's
 * prefetch) in a Nest application context and nothing else, so that its RSS is what a worker of
 * this library takes in production, not the bench's (whose process also loads the peers'
 * packages). It boots, drains the queue, then prints `RSS <json>`: the RSS once its modules are
 * loaded, the peak RSS and heap sampled every 100 ms through boot and drain, and the heap a full
 * collection leaves at the end (run it with --expose-gc), and the heap limit Node chose.
 *
 *   node --expose-gc bench/rss-worker.ts <database-url> <count>
 */
import 'reflect-metadata';
import { getHeapStatistics } from 'node:v8';
import pg from 'pg';
import { Processor } from '../src/index.js';
import { bootContext, QUEUE } from './contenders/fetchcraft-common.js';

const [url, countText] = process.argv.slice(2);
if (url === undefined || countText === undefined) {
  throw new Error('usage: rss-worker.ts <database-url> <count>');
}
const count = Number(countText);
const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let handled = 0;
class RssHandlers {
  @Processor(QUEUE, { concurrency: 16, prefetch: Number(process.env.BENCH_PREFETCH ?? 1_000) })
  handle(): void {
    handled += 1;
  }
}

const probe = new pg.Client({ connectionString: url });
await probe.connect();
const remaining = async () =>
  Number(
    (
      await probe.query<{ n: string }>(
        "SELECT count(*) AS n FROM messages WHERE queue = $1 AND state IN ('ready', 'leased')",
        [QUEUE],
      )
    ).rows[0]!.n,
  );
// From here on every sample counts: the worker's boot, its drain, its idle end.
const before = process.memoryUsage();
let peak = before.rss;
let peakHeap = before.heapUsed;
const sampler = setInterval(() => {
  const now = process.memoryUsage();
  peak = Math.max(peak, now.rss);
  peakHeap = Math.max(peakHeap, now.heapUsed);
}, 100);
const started = performance.now();
const workers = await bootContext({ connectionString: url }, [RssHandlers]);
while ((await remaining()) > 0) await sleep(250);
const seconds = (performance.now() - started) / 1000;
clearInterval(sampler);
global.gc?.();
const after = process.memoryUsage();
await workers.close();
await probe.end();
process.stdout.write(
  `RSS ${JSON.stringify({
    handled,
    count,
    seconds: Number(seconds.toFixed(1)),
    rssBeforeMb: mb(before.rss),
    peakRssMb: mb(peak),
    heapBeforeMb: mb(before.heapUsed),
    peakHeapMb: mb(peakHeap),
    heapAfterGcMb: mb(after.heapUsed),
    rssAfterMb: mb(after.rss),
    // What Node chose from the memory it may use (a cgroup's limit, else the machine's).
    heapLimitMb: mb(getHeapStatistics().heap_size_limit),
  })}\n`,
);
process.exit(0);
