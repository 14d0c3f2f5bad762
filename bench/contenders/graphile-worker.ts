import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Logger,
  makeWorkerUtils,
  run,
  type Runner,
  type WorkerEvents,
  type WorkerUtils,
} from 'graphile-worker';
import pg from 'pg';
import {
  type BenchBody,
  type Contender,
  type FlowHandler,
  type FlowWorkerOptions,
} from '../contender.js';
import { installedVersion } from './package-version.js';

const TASK = 'bench';
/** Worker's default schema; `remaining()` reads its private tables directly. */
const SCHEMA = 'graphile_worker';
/**
 * Worker's performance page quotes its numbers with a 500-job local queue and says very fast
 * tasks may want much more; with these no-op handlers throughput kept rising up to about 2,000
 * (+25-50% over 500 at concurrency 1-64) and flattened beyond.
 */
const LOCAL_QUEUE_SIZE = 2000;
/**
 * The enqueueing pool: room for the 16 concurrent callers of enqueue.concurrent16, as the other
 * contenders' pools (20) have.
 */
const PRODUCER_POOL_MAX = 20;
/** Worker ignores `jobs:insert` notifications with a zero count, so this probe wakes nothing. */
const LISTEN_PROBE = '{"count":0}';

const VERSION = installedVersion('graphile-worker', import.meta.url);

/**
 * Drops Worker's info/warning chatter ("Worker connected...", "Runner stopping") so it does
 * not pollute benchmark output, but keeps errors: the runner swallows failures during
 * shutdown after logging them, so they would otherwise go unnoticed.
 */
const quietLogger = new Logger(() => (level, message) => {
  const name: string = level;
  if (name === 'error') console.error(`[graphile-worker] ${message}`);
});

interface OwnedPool {
  readonly pool: pg.Pool;
  /** Resolves only once every connection is closed, unlike `pool.end()`. */
  close(): Promise<void>;
}

/**
 * Worker's own pools are ended without being awaited and lose their error handlers first, so a
 * connection still closing when the harness drops the database crashes the process with an
 * unhandled 'error'. Owning the pools lets teardown wait for every socket and keep handlers on.
 */
function openPool(connectionString: string, max: number): OwnedPool {
  const pool = new pg.Pool({ connectionString, max });
  const open = new Set<pg.PoolClient>();
  let closing = false;
  const onError = (error: Error): void => {
    if (!closing) console.error(`[graphile-worker] pg: ${error.message}`);
  };
  pool.on('error', onError);
  pool.on('connect', (client) => {
    open.add(client);
    client.on('error', onError);
  });
  pool.on('remove', (client) => open.delete(client));
  return {
    pool,
    async close() {
      if (closing) return;
      closing = true;
      await pool.end();
      while (open.size > 0) await sleep(5);
    },
  };
}

/**
 * `run()` resolves before its LISTEN connection is up; a job enqueued in that gap, after the
 * first local-queue fetch came back empty, would wait for the 2 s poll. Resolves once a
 * notification sent now is heard, i.e. every later `jobs:insert` will be.
 */
async function untilListening(events: WorkerEvents, pool: pg.Pool): Promise<void> {
  let heard = false;
  const onNotification = ({ message }: { message: pg.Notification }): void => {
    if (message.channel === 'jobs:insert' && message.payload === LISTEN_PROBE) heard = true;
  };
  events.on('pool:listen:notification', onNotification);
  try {
    const deadline = performance.now() + 10_000;
    while (!heard) {
      if (performance.now() > deadline) throw new Error('graphile-worker never started listening');
      await pool.query(`select pg_notify('jobs:insert', $1)`, [LISTEN_PROBE]);
      await sleep(5);
    }
  } finally {
    events.off('pool:listen:notification', onNotification);
  }
}

/**
 * graphile-worker 0.18 with the batching settings of its performance page: a local queue that
 * locks and fetches jobs in batches, and batched completion. 0.18 declares Node >= 22.18 (Node
 * 20 being end of life, and for loading .ts task files through Node's type stripping), but the
 * benchmark passes its tasks in code, and the rest runs on Node 20.20, whose require(esm) and
 * ESM loading cover the package's move to pure ESM.
 */
export function createContender(): Contender {
  let url = '';
  let producerPool: OwnedPool | undefined;
  let utils: WorkerUtils | undefined;
  let runner: Runner | undefined;
  let runnerPool: OwnedPool | undefined;

  const requireUtils = (): WorkerUtils => {
    if (utils === undefined) throw new Error('graphile-worker contender: setup() not called');
    return utils;
  };
  const requirePool = (): pg.Pool => {
    if (producerPool === undefined)
      throw new Error('graphile-worker contender: setup() not called');
    return producerPool.pool;
  };

  const stop = async (): Promise<void> => {
    const current = runner;
    const pool = runnerPool;
    runner = undefined;
    runnerPool = undefined;
    // Graceful shutdown releases the completeJobs batcher, which flushes pending completions.
    await current?.stop();
    await pool?.close();
  };

  const start = async (options: FlowWorkerOptions, handle: FlowHandler): Promise<void> => {
    const { concurrency } = options;
    // Our own emitter, so the probe listener exists before Worker can emit anything.
    const events: WorkerEvents = new EventEmitter();
    // Worker's guidance: 10 or concurrentJobs + 2, whichever is larger.
    runnerPool = openPool(url, Math.max(10, concurrency + 2));
    runner = await run({
      pgPool: runnerPool.pool,
      noHandleSignals: true,
      taskList: {
        // Returned as is: the plain scenarios' handlers stay synchronous.
        [TASK]: (payload) => handle(payload as BenchBody),
      },
      // Not reading a crontab file from the working directory.
      parsedCronItems: [],
      preset: {
        worker: {
          logger: quietLogger,
          events,
          concurrentJobs: concurrency,
          // With groups (named queues) too: 0.18's batch fetch keeps one job per named queue,
          // where 0.17.3's could lock several of one queue at once (two of a queue running
          // together tens of times per 5,000) and its batched completions of them deadlocked.
          localQueue: { size: Math.max(LOCAL_QUEUE_SIZE, concurrency + 1) },
          completeJobBatchDelay: 0,
          failJobBatchDelay: 0,
        },
      },
    });
    await untilListening(events, requirePool());
  };

  return {
    info: {
      name: 'graphile-worker',
      version: VERSION,
      settings:
        `run() with concurrentJobs N, localQueue.size max(${LOCAL_QUEUE_SIZE}, N+1) (batch fetch+lock), ` +
        'completeJobBatchDelay 0 / failJobBatchDelay 0 (batched completion), LISTEN/NOTIFY wake-ups, ' +
        'default pollInterval 2 s, prepared statements on, runner pool max(10, N+2); ' +
        `addJob / addJobs (bulk) via WorkerUtils on a pool of max ${PRODUCER_POOL_MAX}; flow scenarios: job priority ` +
        '9 - p (lower runs first), one named queue (queueName, run serially) per group, with the same local queue and batched completion (0.18 fetches one job per named queue per batch)',
    },

    async setup(connectionString) {
      url = connectionString;
      producerPool = openPool(url, PRODUCER_POOL_MAX);
      utils = await makeWorkerUtils({ pgPool: producerPool.pool, logger: quietLogger });
      await utils.migrate();
    },

    async enqueueOne(body) {
      await requireUtils().addJob(TASK, body);
    },

    async enqueueBatch(bodies) {
      await requireUtils().addJobs(bodies.map((payload) => ({ identifier: TASK, payload })));
    },

    startWorkers: (concurrency, handle) => start({ concurrency }, handle),

    stopWorkers: stop,

    async remaining() {
      // Completed jobs are deleted, so every row left (queued, locked or awaiting retry) counts.
      const { rows } = await requirePool().query<{ n: number }>(
        `select count(*)::int as n
           from ${SCHEMA}._private_jobs
          where task_id = (select id from ${SCHEMA}._private_tasks where identifier = $1)`,
        [TASK],
      );
      return rows[0]?.n ?? 0;
    },

    async teardown() {
      await stop();
      await utils?.release();
      utils = undefined;
      await producerPool?.close();
      producerPool = undefined;
    },

    flow: {
      unsupported: {
        globalConcurrency:
          'no queue-wide concurrency limit across processes (concurrentJobs is per process; a named queue runs one job at a time)',
        rateLimit: 'no rate limit in graphile-worker',
      },

      async enqueueFlow(bodies) {
        await requireUtils().addJobs(
          bodies.map((payload) => ({
            identifier: TASK,
            payload,
            // Worker runs the numerically smallest priority first.
            ...(payload.p === undefined ? {} : { priority: 9 - payload.p }),
            // Jobs of one named queue run one at a time, in order: Worker's groups.
            ...(payload.g === undefined ? {} : { queueName: payload.g }),
          })),
        );
      },

      async startFlowWorkers(options, handle) {
        // Named queues are serial whatever the setting: groupConcurrency 1 is all they offer.
        if (options.groupConcurrency !== undefined && options.groupConcurrency !== 1)
          throw new Error('graphile-worker named queues run one job at a time');
        await start(options, handle);
      },

      async running() {
        const { rows } = await requirePool().query<{ n: number }>(
          `select count(*)::int as n from ${SCHEMA}._private_jobs where locked_at is not null`,
        );
        return rows[0]?.n ?? 0;
      },
    },
  };
}
