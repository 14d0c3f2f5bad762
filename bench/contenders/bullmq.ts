/**
 * BullMQ on its PostgreSQL backend (`createPostgresBackend`), wired as in
 * https://docs.bullmq.io/guide/postgresql with the throughput advice of its "Tuning tips".
 */
import { createRequire } from 'node:module';
import { createPostgresBackend, runMigrations, withBackend, type JobType } from 'bullmq';
import pg from 'pg';
import {
  type BenchBody,
  type Contender,
  type FlowHandler,
  type FlowWorkerOptions,
} from '../contender.js';

const QUEUE = 'bench';
const JOB_NAME = 'bench';
const QUEUE_POOL_MAX = 20;

// Every state a job passes through before it is completed. 'wait' is left out because it
// aliases 'waiting' (getJobCountByTypes would count those jobs twice), and 'paused' because
// the queue is never paused. On PostgreSQL all of it is one COUNT ... FILTER query.
const NOT_COMPLETED: JobType[] = [
  'waiting',
  'prioritized',
  'active',
  'delayed',
  'waiting-children',
];

// withBackend keeps the PostgreSQL connection type while letting us name the job data type.
const { Queue, Worker } = withBackend(createPostgresBackend);
type BenchQueue = InstanceType<typeof Queue<BenchBody>>;
type BenchWorker = InstanceType<typeof Worker<BenchBody>>;

// bullmq has no exports map, so its package.json is resolvable and tells the loaded version.
const version = (createRequire(import.meta.url)('bullmq/package.json') as { version: string })
  .version;

export function createContender(): Contender {
  let url = '';
  let queue: BenchQueue | undefined;
  let worker: BenchWorker | undefined;
  // For running(): BullMQ's own counts would take a pool connection from the queue.
  let probe: pg.Client | undefined;
  // pg-pool's end() resolves before its sockets are gone, so a DROP DATABASE right after
  // teardown can still reach a closing connection: errors past that point are expected.
  let closing = false;
  const logError = (source: string) => (err: Error) => {
    if (!closing) console.error(`bullmq ${source} error:`, err);
  };

  const requireQueue = (): BenchQueue => {
    if (queue === undefined) throw new Error('bullmq contender: setup() not called');
    return queue;
  };

  const startWorker = async (options: FlowWorkerOptions, handle: FlowHandler): Promise<void> => {
    const { concurrency, rateLimit } = options;
    const started = new Worker<BenchBody>(QUEUE, (job) => handle(job.data) ?? Promise.resolve(), {
      // Each in-flight job finishes with its own query, so the pool must cover the
      // concurrency or slots would queue on the pg pool (the guide's sizing advice).
      connection: { connectionString: url, max: concurrency },
      concurrency,
      ...(rateLimit === undefined
        ? {}
        : { limiter: { max: rateLimit.max, duration: rateLimit.perSeconds * 1_000 } }),
    });
    started.on('error', logError('worker'));
    worker = started;
    await started.waitUntilReady();
  };

  return {
    info: {
      name: 'bullmq',
      version,
      settings:
        'PostgreSQL backend (createPostgresBackend, schema "bullmq", migrations via runMigrations); ' +
        'one Worker with concurrency = N and a pg pool of N connections (plus its LISTEN connection); ' +
        'completion and next-job claim fused in one transaction (fetchNext, BullMQ default); ' +
        'no batch fetch (not in open-source BullMQ); removeOnComplete: true (queue defaultJobOptions); ' +
        `the Queue (producer) on a pg pool of max ${QUEUE_POOL_MAX}; addBulk for batches; stalled check, lock duration and drainDelay at defaults; ` +
        'flow scenarios: job option priority 10 - p, Worker limiter { max, duration }, ' +
        'Queue.setGlobalConcurrency',
    },

    async setup(databaseUrl) {
      url = databaseUrl;
      // The guide's way: connections no longer migrate on their own, one deployment step does.
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await runMigrations(client);
      } finally {
        await client.end();
      }
      queue = new Queue(QUEUE, {
        // The guide's tuning tip, a pool sized for the concurrency: room for the 16 concurrent
        // callers of enqueue.concurrent16 (pg's default is 10), as the other contenders' 20.
        connection: { connectionString: url, max: QUEUE_POOL_MAX },
        // BullMQ's documented auto-removal; also keeps its per-queue count query small.
        defaultJobOptions: { removeOnComplete: true },
      });
      queue.on('error', logError('queue'));
      await queue.waitUntilReady();
    },

    async enqueueOne(body) {
      await requireQueue().add(JOB_NAME, body);
    },

    async enqueueBatch(bodies) {
      await requireQueue().addBulk(bodies.map((data) => ({ name: JOB_NAME, data })));
    },

    startWorkers: (concurrency, handle) => startWorker({ concurrency }, handle),

    async stopWorkers() {
      await worker?.close();
      worker = undefined;
    },

    async remaining() {
      return requireQueue().getJobCountByTypes(...NOT_COMPLETED);
    },

    async teardown() {
      closing = true;
      await worker?.close();
      worker = undefined;
      await queue?.close();
      queue = undefined;
      await probe?.end();
      probe = undefined;
    },

    flow: {
      unsupported: {
        groups:
          'groups (per-group concurrency) are a BullMQ Pro feature, not in open-source BullMQ',
      },

      async enqueueFlow(bodies) {
        await requireQueue().addBulk(
          bodies.map((data) => ({
            name: JOB_NAME,
            data,
            // BullMQ runs priority 1 first and 0 (no priority) before any prioritized job: 9..0
            // becomes 1..10.
            ...(data.p === undefined ? {} : { opts: { priority: 10 - data.p } }),
          })),
        );
      },

      async startFlowWorkers(options, handle) {
        // A queue-wide setting kept in its meta row, checked by every worker's claim.
        if (options.globalConcurrency !== undefined)
          await requireQueue().setGlobalConcurrency(options.globalConcurrency);
        await startWorker(options, handle);
      },

      async running() {
        if (probe === undefined) {
          probe = new pg.Client({ connectionString: url });
          probe.on('error', logError('probe'));
          await probe.connect();
        }
        const { rows } = await probe.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM bullmq.job WHERE queue = $1 AND state = 'active'`,
          [QUEUE],
        );
        return rows[0]!.n;
      },
    },
  };
}
