/**
 * Flow-control scenarios: priorities, groups, a concurrency limit shared by several processes,
 * and a rate limit. Each contender runs what it supports (Contender.flow); a contender without
 * the feature is skipped (bench/run-contender.ts prints SKIP) and the report shows "—".
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { benchChildArgs } from './child-args.js';
import { type BenchBody, type Contender, type FlowSupport } from './contender.js';
import { type Scenario, type ScenarioResult } from './scenarios.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** The clock every process agrees on, in milliseconds. */
const epochNow = () => performance.timeOrigin + performance.now();

/** mulberry32: every contender gets the same "random" priorities and groups. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function flowOf(contender: Contender): FlowSupport {
  if (contender.flow === undefined) throw new Error(`${contender.info.name} has no flow support`);
  return contender.flow;
}

/** Enqueues in batches of 1,000; returns the messages/s, priorities and groups included. */
async function enqueueFlowAll(flow: FlowSupport, bodies: readonly BenchBody[]): Promise<number> {
  const started = performance.now();
  for (let offset = 0; offset < bodies.length; offset += 1_000)
    await flow.enqueueFlow(bodies.slice(offset, offset + 1_000));
  return Math.round(bodies.length / ((performance.now() - started) / 1000));
}

/** Polls until nothing is left or the cap passes; seconds from the first handler start. */
async function untilDrained(
  contender: Contender,
  count: number,
  booted: number,
  firstStart: () => number,
  capMs: number,
): Promise<{ done: number; seconds: number; capped: boolean }> {
  let remaining = count;
  // Every 50 ms, as the plain drain: counting is work for the server too.
  while (remaining > 0 && performance.now() - booted < capMs) {
    await sleep(50);
    remaining = await contender.remaining();
  }
  const seconds = (performance.now() - (firstStart() || booted)) / 1000;
  return { done: count - remaining, seconds, capped: remaining > 0 };
}

const PRIORITY_LEVELS = 10;

/** Drains messages of random priorities 0..9 and counts the handler starts that jumped a queue. */
const priorityScenario: Scenario = {
  name: 'flow.priority',
  description:
    'drain ready messages of random priorities 0..9 (20,000; 5,000 quick) at concurrency 16; inverted = share of handler starts while a message of higher priority was still waiting',
  requires: 'priority',
  async run({ contender, quick }): Promise<ScenarioResult> {
    const flow = flowOf(contender);
    const count = quick ? 5_000 : 20_000;
    const random = seeded(7);
    const bodies = Array.from({ length: count }, (_, i): BenchBody => ({
      i,
      p: Math.floor(random() * PRIORITY_LEVELS),
    }));
    const enqueueRate = await enqueueFlowAll(flow, bodies);
    const waiting = new Array<number>(PRIORITY_LEVELS).fill(0);
    for (const body of bodies) waiting[body.p!]! += 1;
    let inverted = 0;
    let handled = 0;
    let started = 0;
    const booted = performance.now();
    await flow.startFlowWorkers({ concurrency: 16 }, (body) => {
      if (handled === 0) started = performance.now();
      handled += 1;
      const p = body.p ?? 0;
      if (waiting.some((n, q) => q > p && n > 0)) inverted += 1;
      waiting[p]! -= 1;
    });
    const drained = await untilDrained(
      contender,
      count,
      booted,
      () => started,
      quick ? 30_000 : 120_000,
    );
    await contender.stopWorkers();
    return {
      value: Math.round(drained.done / drained.seconds),
      unit: 'msg/s',
      details: {
        messages: drained.done,
        seconds: Number(drained.seconds.toFixed(2)),
        capped: drained.capped,
        handled,
        inverted: Number((inverted / Math.max(1, handled)).toFixed(4)),
        enqueueRate,
      },
    };
  },
};

/**
 * Drains messages spread at random over 1,000 groups, one message of a group at a time. Each
 * handler yields one macrotask (setImmediate) before it returns, so that two messages of one
 * group given out together would overlap in the handler and be counted; the plain drain's
 * handlers return at once, so its rate is not the same measure.
 */
const groupsScenario: Scenario = {
  name: 'flow.groups',
  description:
    'drain ready messages spread at random over 1,000 groups (20,000; 5,000 quick), concurrency 16, at most 1 running per group; each handler yields one macrotask; overlaps = handler starts while another message of its group was running (must be 0)',
  requires: 'groups',
  async run({ contender, quick }): Promise<ScenarioResult> {
    const flow = flowOf(contender);
    const count = quick ? 5_000 : 20_000;
    const groups = 1_000;
    const random = seeded(11);
    const bodies = Array.from({ length: count }, (_, i): BenchBody => ({
      i,
      g: `g${Math.floor(random() * groups)}`,
    }));
    const enqueueRate = await enqueueFlowAll(flow, bodies);
    const running = new Map<string, number>();
    let overlaps = 0;
    let handled = 0;
    let started = 0;
    let maxRunning = 0;
    let inFlight = 0;
    const booted = performance.now();
    await flow.startFlowWorkers({ concurrency: 16, groupConcurrency: 1 }, async (body) => {
      if (handled === 0) started = performance.now();
      handled += 1;
      const group = body.g ?? '';
      const now = (running.get(group) ?? 0) + 1;
      if (now > 1) overlaps += 1;
      running.set(group, now);
      inFlight += 1;
      maxRunning = Math.max(maxRunning, inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      inFlight -= 1;
      running.set(group, running.get(group)! - 1);
    });
    // The database's view too, where the library can tell: a group with two leased at once.
    let groupsOverLimit = 0;
    let sampling = flow.groupsOverLimit !== undefined;
    const sampler = (async () => {
      while (sampling) {
        groupsOverLimit = Math.max(groupsOverLimit, await flow.groupsOverLimit!());
        await sleep(20);
      }
    })();
    const drained = await untilDrained(
      contender,
      count,
      booted,
      () => started,
      quick ? 60_000 : 300_000,
    );
    sampling = false;
    await sampler;
    await contender.stopWorkers();
    return {
      value: Math.round(drained.done / drained.seconds),
      unit: 'msg/s',
      details: {
        messages: drained.done,
        seconds: Number(drained.seconds.toFixed(2)),
        capped: drained.capped,
        handled,
        overlaps,
        maxHandlersRunning: maxRunning,
        ...(flow.groupsOverLimit === undefined ? {} : { groupsOverLimitSampled: groupsOverLimit }),
        enqueueRate,
      },
    };
  },
};

const PROCESSES = 4;
const PER_PROCESS = 4;
const GLOBAL = 8;

/** A worker process of bench/flow-worker.ts; resolves once its workers run. */
interface WorkerProcess {
  readonly child: ChildProcess;
  /** Epoch ms of its first handler start, 0 before. */
  firstStart: number;
  readonly exited: Promise<number | null>;
}

async function startWorkerProcess(
  name: string,
  url: string,
  options: object,
  log: (line: string) => void,
): Promise<WorkerProcess> {
  const child = spawn(
    'node',
    [...(await benchChildArgs('bench/flow-worker.ts')), name, url, JSON.stringify(options)],
    { cwd: new URL('..', import.meta.url), stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const worker: WorkerProcess = { child, firstStart: 0, exited };
  const ready = new Promise<void>((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`worker process exited with ${code}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line === 'READY') resolve();
      else if (line.startsWith('FIRST ')) worker.firstStart = Number(line.slice(6));
      else log(line);
    });
  });
  await ready;
  return worker;
}

/**
 * Four worker processes of concurrency 4 share a limit of 8: the rate, and the most messages
 * held at once across the processes, sampled from the database every 20 ms.
 */
const globalScenario: Scenario = {
  name: 'flow.global',
  description: `drain ready messages (20,000; 5,000 quick) with ${PROCESSES} worker processes of concurrency ${PER_PROCESS} under a global concurrency of ${GLOBAL}; max running = most messages held by workers at once, sampled from the database every 20 ms (must be <= ${GLOBAL})`,
  requires: 'globalConcurrency',
  async run({ contender, url, quick, log }): Promise<ScenarioResult> {
    const flow = flowOf(contender);
    const count = quick ? 5_000 : 20_000;
    await enqueueFlowAll(
      flow,
      Array.from({ length: count }, (_, i): BenchBody => ({ i })),
    );
    let maxRunning = 0;
    let samples = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        maxRunning = Math.max(maxRunning, await flow.running());
        samples += 1;
        await sleep(20);
      }
    })();
    const options = { concurrency: PER_PROCESS, globalConcurrency: GLOBAL };
    const booted = performance.now();
    const workers = await Promise.all(
      Array.from({ length: PROCESSES }, () =>
        startWorkerProcess(contender.info.name, url, options, log),
      ),
    );
    let remaining = count;
    const cap = quick ? 60_000 : 300_000;
    while (remaining > 0 && performance.now() - booted < cap) {
      await sleep(50);
      remaining = await contender.remaining();
    }
    const finished = epochNow();
    sampling = false;
    await sampler;
    for (const worker of workers) worker.child.stdin!.end();
    await Promise.all(workers.map((w) => w.exited));
    const starts = workers.map((w) => w.firstStart).filter((t) => t > 0);
    const seconds = (finished - (starts.length > 0 ? Math.min(...starts) : finished)) / 1000;
    const done = count - remaining;
    return {
      value: Math.round(done / seconds),
      unit: 'msg/s',
      details: {
        messages: done,
        seconds: Number(seconds.toFixed(2)),
        capped: remaining > 0,
        maxRunning,
        limit: GLOBAL,
        samples,
      },
    };
  },
};

const RATE = 200;

/** The most of the sorted times `times` within any `span` ms. */
function maxWithin(times: readonly number[], span: number): number {
  let max = 0;
  for (let from = 0, to = 0; to < times.length; to++) {
    while (times[to]! - times[from]! >= span) from += 1;
    max = Math.max(max, to - from + 1);
  }
  return max;
}

/**
 * A rate limit of 200 per second with a backlog far beyond it: handler starts per second over
 * the window, against the target, and the most starts within any one second (a fixed-window
 * limiter may let up to twice the limit through across a window boundary).
 */
const rateScenario: Scenario = {
  name: 'flow.ratelimit',
  description: `rate limit ${RATE} per second, concurrency 16, backlog never empty, for 60 s (10 s quick) from the first handler start: started/s, its ratio to ${RATE}, and the most starts within any sliding second`,
  requires: 'rateLimit',
  runs: 1,
  async run({ contender, quick }): Promise<ScenarioResult> {
    const flow = flowOf(contender);
    const seconds = quick ? 10 : 60;
    const count = Math.ceil(RATE * seconds * 1.5) + 1_000;
    await enqueueFlowAll(
      flow,
      Array.from({ length: count }, (_, i): BenchBody => ({ i })),
    );
    const starts: number[] = [];
    await flow.startFlowWorkers(
      { concurrency: 16, rateLimit: { max: RATE, perSeconds: 1 } },
      () => {
        starts.push(performance.now());
      },
    );
    const booted = performance.now();
    while (starts.length === 0 && performance.now() - booted < 30_000) await sleep(5);
    if (starts.length === 0) throw new Error('no handler started in 30 s');
    const first = starts[0]!;
    await sleep(first + seconds * 1_000 - performance.now());
    await contender.stopWorkers();
    const window = starts.filter((t) => t < first + seconds * 1_000);
    const rate = window.length / seconds;
    // Handler starts lag their leases by varying amounts, so the library's own record, where it
    // keeps one, is the exact check of the limit.
    const leased = (await flow.leaseTimes?.()) ?? undefined;
    return {
      value: Number(rate.toFixed(1)),
      unit: 'msg/s',
      details: {
        target: RATE,
        ratio: Number((rate / RATE).toFixed(3)),
        started: window.length,
        seconds,
        maxInSecond: maxWithin(window, 1_000),
        ...(leased === undefined ? {} : { maxLeasedInSecond: maxWithin(leased, 1_000) }),
      },
    };
  },
};

export const FLOW_SCENARIOS: readonly Scenario[] = [
  priorityScenario,
  groupsScenario,
  globalScenario,
  rateScenario,
];
