/**
 * pg-boss 10 (the last major that runs on Node 20) with its throughput settings: batch fetch
 * through `work({ batchSize })`, each batch completed in one statement, minimum polling interval.
 */
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import PgBoss from 'pg-boss';
import { type BenchBody, type Contender, type FlowHandler } from '../contender.js';

const QUEUE = 'bench';
const SCHEMA = 'pgboss';
const POOL_MAX = 20;
// pg-boss rejects anything below 0.5 s.
const POLLING_INTERVAL_SECONDS = 0.5;

const requireCjs = createRequire(import.meta.url);
// pg-boss has no exports map, so its package.json tells the version actually loaded.
const version = (requireCjs('pg-boss/package.json') as { version: string }).version;

// The exact statements pg-boss sends to insert and to complete jobs, so the wrapped pool can
// keep an exact count of unfinished jobs (see remaining()).
interface Plans {
  insertJob(schema: string): string;
  insertJobs(schema: string): string;
  completeJobs(schema: string): string;
}
const plans = requireCjs('pg-boss/src/plans.js') as Plans;
const INSERT_SQL = new Set([plans.insertJob(SCHEMA), plans.insertJobs(SCHEMA)]);
const COMPLETE_SQL = plans.completeJobs(SCHEMA);

export function createContender(): Contender {
  let pool: pg.Pool | undefined;
  let boss: PgBoss | undefined;
  let workerId: string | undefined;
  // Statements pg-boss has sent and not yet seen answered. Its workers fire each batch's
  // completion without awaiting it, so this is how stopWorkers knows they are committed.
  let inFlight = 0;
  // Jobs inserted minus jobs completed, from the answers to pg-boss's own statements.
  let unfinished = 0;
  // Connections still open: pool.end() resolves before their sockets have closed.
  let open = 0;

  const requireBoss = (): PgBoss => {
    if (boss === undefined) throw new Error('pg-boss contender: setup() not called');
    return boss;
  };

  // getQueueSize counts the jobs in states before `before`: created, retry and active. It
  // scans every row of the queue's partition, completed ones included (pg-boss keeps them
  // until archiving), so it costs milliseconds per call once a run has sent many jobs.
  const countUnfinished = (): Promise<number> =>
    requireBoss().getQueueSize(QUEUE, { before: 'completed' });

  const stopLoop = async (): Promise<void> => {
    if (workerId === undefined) return;
    await requireBoss().offWork({ id: workerId });
    workerId = undefined;
    // offWork only flags the loop. A loop caught mid-fetch still runs its handler and sends
    // the completion from promise callbacks, so once a timer tick finds nothing in flight the
    // loop has ended and every completion has been committed.
    do await sleep(5);
    while (inFlight > 0);
  };

  const startLoop = async (
    concurrency: number,
    priority: boolean,
    handle: FlowHandler,
  ): Promise<void> => {
    const b = requireBoss();
    workerId = await b.work<BenchBody>(
      QUEUE,
      { batchSize: concurrency, pollingIntervalSeconds: POLLING_INTERVAL_SECONDS, priority },
      async (jobs) => {
        for (const job of jobs) {
          // Awaited only when it is a promise: the plain scenarios' handlers stay synchronous.
          const pending = handle(job.data);
          if (pending !== undefined) await pending;
        }
        // A full batch means more jobs are likely waiting; without this the loop would
        // sleep the polling interval after every batch, whatever the backlog.
        if (jobs.length === concurrency && workerId !== undefined) b.notifyWorker(workerId);
      },
    );
  };

  return {
    info: {
      name: 'pg-boss',
      version,
      settings:
        'one work() loop with batchSize = N (fetches up to N jobs per statement, so N in flight), ' +
        'the batch completed in one statement when its handler resolves (pg-boss default); ' +
        'the loop is woken with notifyWorker(id) after a full batch instead of sleeping ' +
        `pollingIntervalSeconds ${POLLING_INTERVAL_SECONDS} (the minimum) while a backlog remains; ` +
        'priority: false (no priority sort key); standard queue policy; supervise and schedule ' +
        'off (no maintenance, archiving or cron timers during the run); completed jobs kept (no ' +
        'delete-on-complete in 10.x); send() / insert(); a pg.Pool of max ' +
        `${POOL_MAX} passed as its db option; remaining() = exact ledger of pg-boss's insert and ` +
        'complete statements, getQueueSize(before: completed) to confirm zero; flow scenarios: ' +
        'job option priority p (higher first), work() with priority: true',
    },

    async setup(url) {
      const p = new pg.Pool({ connectionString: url, max: POOL_MAX, application_name: 'pgboss' });
      pool = p;
      // An idle client dropped by the server would otherwise crash the process.
      p.on('error', (err) => console.error('pg-boss pool error:', err));
      p.on('connect', () => open++);
      p.on('remove', () => open--);
      boss = new PgBoss({
        schema: SCHEMA,
        db: {
          async executeSql(text: string, values?: unknown[]) {
            inFlight++;
            try {
              const result = await p.query<{ count?: string }>(text, values);
              if (INSERT_SQL.has(text)) unfinished += result.rowCount ?? 0;
              else if (text === COMPLETE_SQL) unfinished -= Number(result.rows[0]?.count ?? 0);
              return result;
            } finally {
              inFlight--;
            }
          },
        },
        supervise: false,
        schedule: false,
        migrate: true,
      });
      // Without a listener the EventEmitter would throw on 'error' and end the run.
      boss.on('error', (err) => console.error('pg-boss error:', err));
      await boss.start();
      await boss.createQueue(QUEUE);
      unfinished = await countUnfinished();
    },

    async enqueueOne(body) {
      await requireBoss().send(QUEUE, body);
    },

    async enqueueBatch(bodies) {
      await requireBoss().insert(bodies.map((data) => ({ name: QUEUE, data })));
    },

    startWorkers: (concurrency, handle) => startLoop(concurrency, false, handle),

    stopWorkers: () => stopLoop(),

    async remaining() {
      // The ledger is exact while this pg-boss instance is the only one writing the queue, as
      // in the benchmark; a zero is still confirmed by the scan before it is reported.
      if (unfinished > 0) return unfinished;
      return countUnfinished();
    },

    async teardown() {
      if (boss !== undefined) {
        // Stopping the loop first keeps a late completion from reaching an ended pool.
        await stopLoop();
        await boss.stop({ graceful: false, wait: true });
        boss = undefined;
      }
      // pg-boss never closes a pool it was given. Waiting for the sockets to close keeps a
      // following DROP DATABASE from terminating live connections.
      await pool?.end();
      pool = undefined;
      while (open > 0) await sleep(5);
    },

    flow: {
      unsupported: {
        groups: `no per-group concurrency in pg-boss ${version} (pg-boss 12 has it: see pg-boss-12)`,
        globalConcurrency: `no queue-wide concurrency limit across processes in pg-boss ${version}`,
        rateLimit: `no worker rate limit in pg-boss ${version} (its throttling is per send)`,
      },

      async enqueueFlow(bodies) {
        await requireBoss().insert(
          bodies.map((data) => ({
            name: QUEUE,
            data,
            // pg-boss runs the highest priority first, as the benchmark's scale.
            ...(data.p === undefined ? {} : { priority: data.p }),
          })),
        );
      },

      // The priority sort key on: the plain scenarios leave it off for speed.
      startFlowWorkers: (options, handle) => startLoop(options.concurrency, true, handle),

      async running() {
        const { rows } = await pool!.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM ${SCHEMA}.job WHERE name = $1 AND state = 'active'`,
          [QUEUE],
        );
        return rows[0]!.n;
      },
    },
  };
}
