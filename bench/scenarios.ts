/**
 * The benchmark scenarios, run one at a time inside a contender's own process
 * (bench/run-contender.ts), each against a fresh database.
 */
import { waitForAutovacuum } from './autovacuum-settle.js';
import { type BenchBody, type Contender, type FlowFeature } from './contender.js';
import { prepareDrainCost } from './drain-cost.js';

export interface ScenarioResult {
  /** The headline figure: messages/s, or milliseconds for latency. */
  readonly value: number;
  readonly unit: 'msg/s' | 'ms';
  /** Anything else worth printing (percentiles, sizes, samples). */
  readonly details?: Record<string, unknown>;
}

export interface ScenarioContext {
  readonly contender: Contender;
  /** The scenario's own database. */
  readonly url: string;
  readonly quick: boolean;
  readonly log: (line: string) => void;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  /** Not in --quick runs. */
  readonly fullOnly?: boolean;
  /** Only for these contenders (the soak and RSS need a long single run). */
  readonly only?: readonly string[];
  /** Runs per cell when fewer than the default (long scenarios run once). */
  readonly runs?: number;
  /** A flow-control feature the contender must have (Contender.flow), else it is skipped. */
  readonly requires?: FlowFeature;
  run(context: ScenarioContext): Promise<ScenarioResult>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const bodies = (count: number, offset = 0): BenchBody[] =>
  Array.from({ length: count }, (_, i) => ({ i: offset + i }));

/** Fills the queue in batches of 1,000; gives up (the cell fails) past 15 minutes. */
async function enqueueAll(contender: Contender, count: number): Promise<void> {
  const deadline = performance.now() + 15 * 60_000;
  for (let offset = 0; offset < count; offset += 1_000) {
    if (performance.now() > deadline) {
      throw new Error(`enqueued only ${offset} of ${count} messages in 15 minutes`);
    }
    await contender.enqueueBatch(bodies(Math.min(1_000, count - offset), offset));
  }
}

/**
 * Drains `count` ready messages at `concurrency`: messages/s from the first handler call to none
 * left (acks included), so that each library's start-up time is not counted. What the drain
 * cost per message (bench/drain-cost.ts) is measured from the workers' start to the same end.
 */
async function drain(
  contender: Contender,
  url: string,
  count: number,
  concurrency: number,
  capMs: number,
): Promise<ScenarioResult> {
  let handled = 0;
  let started = 0;
  const probe = await prepareDrainCost(url);
  await probe.begin();
  const booted = performance.now();
  await contender.startWorkers(concurrency, () => {
    if (handled === 0) started = performance.now();
    handled += 1;
  });
  let remaining = count;
  // Every 50 ms: counting is work for the server too, and would slow what it measures.
  while (remaining > 0 && performance.now() - booted < capMs) {
    await sleep(50);
    remaining = await contender.remaining();
  }
  const seconds = (performance.now() - (started || booted)) / 1000;
  const done = count - remaining;
  const cost = await probe.stop(done);
  await contender.stopWorkers();
  return {
    value: Math.round(done / seconds),
    unit: 'msg/s',
    details: {
      messages: done,
      seconds: Number(seconds.toFixed(2)),
      capped: remaining > 0,
      handled,
      cost,
    },
  };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'enqueue.single',
    description: 'enqueue one at a time, sequential',
    async run({ contender, quick }) {
      const count = quick ? 1_000 : 5_000;
      const started = performance.now();
      for (let i = 0; i < count; i++) await contender.enqueueOne({ i });
      return { value: Math.round(count / ((performance.now() - started) / 1000)), unit: 'msg/s' };
    },
  },
  {
    name: 'enqueue.concurrent16',
    description: 'enqueue one at a time, 16 concurrent callers',
    async run({ contender, quick }) {
      const perCaller = quick ? 100 : 500;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: 16 }, async (_, caller) => {
          for (let i = 0; i < perCaller; i++)
            await contender.enqueueOne({ i: caller * perCaller + i });
        }),
      );
      const count = perCaller * 16;
      return { value: Math.round(count / ((performance.now() - started) / 1000)), unit: 'msg/s' };
    },
  },
  {
    name: 'enqueue.batch1000',
    description: 'enqueue in batches of 1,000',
    async run({ contender, quick }) {
      const count = quick ? 10_000 : 100_000;
      const started = performance.now();
      await enqueueAll(contender, count);
      return { value: Math.round(count / ((performance.now() - started) / 1000)), unit: 'msg/s' };
    },
  },
  drainScenario(1, 2_000),
  drainScenario(16, 5_000),
  {
    name: 'latency',
    description: 'idle workers (concurrency 16), single messages: enqueue call to handler start',
    async run({ contender, quick }) {
      const samples = quick ? 50 : 500;
      let resolveHandled: (() => void) | undefined;
      const latencies: number[] = [];
      await contender.startWorkers(16, (body) => {
        if (body.sentAt !== undefined)
          latencies.push(performance.timeOrigin + performance.now() - body.sentAt);
        resolveHandled?.();
      });
      await sleep(500);
      for (let i = 0; i < samples; i++) {
        const handled = new Promise<void>((resolve) => (resolveHandled = resolve));
        await contender.enqueueOne({ i, sentAt: performance.timeOrigin + performance.now() });
        await Promise.race([handled, sleep(30_000)]);
        await sleep(5);
      }
      await contender.stopWorkers();
      const sorted = [...latencies].sort((a, b) => a - b);
      const [p50, p95, p99] = [50, 95, 99].map((p) => Number(percentile(sorted, p).toFixed(1)));
      return { value: p50!, unit: 'ms', details: { p50, p95, p99, samples: sorted.length } };
    },
  },
  {
    name: 'depth.10k',
    description:
      'rate of draining a 10,000 backlog whole, concurrency 16, once autovacuum has settled',
    fullOnly: true,
    runs: 1,
    async run({ contender, url, quick, log }) {
      const count = quick ? 2_000 : 10_000;
      await enqueueAll(contender, count);
      const autovacuum = await waitForAutovacuum(url, log);
      return withDetails(await firstHandled(contender, url, count, true), {
        backlog: count,
        autovacuum,
      });
    },
  },
  {
    name: 'depth.1m',
    description:
      'rate of the first 200,000 handled with 1,000,000 waiting, concurrency 16, once autovacuum has settled',
    fullOnly: true,
    runs: 1,
    async run({ contender, url, quick, log }) {
      const [backlog, count] = quick ? [20_000, 4_000] : [1_000_000, 200_000];
      await enqueueAll(contender, backlog);
      const autovacuum = await waitForAutovacuum(url, log);
      return withDetails(await firstHandled(contender, url, count, false), { backlog, autovacuum });
    },
  },
];

/** 50,000 ready messages (`quickCount` with --quick) drained end to end at `concurrency`. */
function drainScenario(concurrency: number, quickCount: number): Scenario {
  return {
    name: `drain.c${concurrency}`,
    description: `drain ready messages end to end (lease, no-op handler, ack), concurrency ${concurrency}`,
    async run({ contender, url, quick }) {
      const count = quick ? quickCount : 50_000;
      await enqueueAll(contender, count);
      return drain(contender, url, count, concurrency, quick ? 20_000 : 60_000);
    },
  };
}

/**
 * Messages/s over the first `count` handler calls at concurrency 16, from the first one, with
 * what they cost per message (bench/drain-cost.ts) from the workers' start to the same end.
 */
async function firstHandled(
  contender: Contender,
  url: string,
  count: number,
  wholeBacklog: boolean,
): Promise<ScenarioResult> {
  let handled = 0;
  let finishedAt = 0;
  let started = performance.now();
  const probe = await prepareDrainCost(url);
  await probe.begin();
  await contender.startWorkers(16, () => {
    if (handled === 0) started = performance.now();
    handled += 1;
    if (handled === count) finishedAt = performance.now();
  });
  while (finishedAt === 0 && performance.now() - started < 600_000) await sleep(5);
  const seconds = ((finishedAt || performance.now()) - started) / 1000;
  // The rate stops at the last handler call, before its ack; the cost of a backlog drained
  // whole takes in the acks still on their way. With a deeper backlog, handlers run on while
  // this loop wakes, and the cost is shared by all of them: a tail of well under 1% at 200,000.
  const drainedWhole = wholeBacklog && handled >= count;
  let remaining = 0;
  if (drainedWhole) {
    const deadline = performance.now() + 30_000;
    remaining = await contender.remaining();
    while (remaining > 0 && performance.now() < deadline) {
      await sleep(5);
      remaining = await contender.remaining();
    }
  }
  const cost = await probe.stop(drainedWhole ? count - remaining : handled);
  await contender.stopWorkers();
  return {
    value: Math.round(Math.min(handled, count) / seconds),
    unit: 'msg/s',
    details: {
      messages: Math.min(handled, count),
      seconds: Number(seconds.toFixed(2)),
      // A slow contender stops at the 10-minute cap: its rate is over what it handled by then.
      capped: handled < count,
      cost,
    },
  };
}

function withDetails(result: ScenarioResult, more: Record<string, unknown>): ScenarioResult {
  return { ...result, details: { ...result.details, ...more } };
}
