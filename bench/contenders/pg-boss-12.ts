/**
 * pg-boss 12 (installed as `pg-boss-12`), for the flow-control scenarios only: it has per-group
 * concurrency (`group` on insert, `groupConcurrency` on work), which pg-boss 10 lacks. Its
 * package asks for Node 22.12, but it loads and runs on Node 20.20; the plain scenarios keep
 * pg-boss 10 (bench/contenders/pg-boss.ts), whose figures the earlier runs have.
 */
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { PgBoss, type WorkOptions } from 'pg-boss-12';
import { type BenchBody, type Contender, type FlowHandler } from '../contender.js';

const QUEUE = 'bench';
const SCHEMA = 'pgboss';
const POOL_MAX = 20;
// pg-boss rejects anything below 0.5 s.
const POLLING_INTERVAL_SECONDS = 0.5;

const version = (createRequire(import.meta.url)('pg-boss-12/package.json') as { version: string })
  .version;

export function createContender(): Contender {
  let pool: pg.Pool | undefined;
  let boss: PgBoss | undefined;
  let workerId: string | undefined;
  // Statements pg-boss has sent and not yet seen answered: its batch completions are not
  // awaited by the loop, so this is how stopWorkers knows they are committed.
  let inFlight = 0;
  // Connections still open: pool.end() resolves before their sockets have closed.
  let open = 0;

  const requireBoss = (): PgBoss => {
    if (boss === undefined) throw new Error('pg-boss-12 contender: setup() not called');
    return boss;
  };
  const requirePool = (): pg.Pool => {
    if (pool === undefined) throw new Error('pg-boss-12 contender: setup() not called');
    return pool;
  };

  const start = async (
    concurrency: number,
    groupConcurrency: number | undefined,
    handle: FlowHandler,
  ): Promise<void> => {
    const options: WorkOptions = {
      batchSize: concurrency,
      pollingIntervalSeconds: POLLING_INTERVAL_SECONDS,
      // pg-boss 12's own answer to a backlog: fetch again at once while batches come back full.
      burstWhenBatchFull: true,
      ...(groupConcurrency === undefined ? {} : { groupConcurrency }),
    };
    workerId = await requireBoss().work<BenchBody>(QUEUE, options, async (jobs) => {
      // The batch's handlers run together, as pg-boss 10's contender's do one after another;
      // together lets the groups scenario see two jobs of one group in one batch.
      const pending = jobs.map((job) => handle(job.data)).filter((p) => p !== undefined);
      if (pending.length > 0) await Promise.all(pending);
    });
  };

  const stopLoop = async (): Promise<void> => {
    if (workerId === undefined) return;
    await requireBoss().offWork(QUEUE, { id: workerId, wait: true });
    workerId = undefined;
    do await sleep(5);
    while (inFlight > 0);
  };

  return {
    info: {
      name: 'pg-boss-12',
      version,
      settings:
        'flow scenarios only: one work() loop with batchSize = N, burstWhenBatchFull, ' +
        `pollingIntervalSeconds ${POLLING_INTERVAL_SECONDS}, queue with notify: true; ` +
        'insert() with priority p (higher first) and group { id: g }, work() with ' +
        `groupConcurrency; supervise and schedule off; a pg.Pool of max ${POOL_MAX}`,
    },

    async setup(url) {
      const p = new pg.Pool({ connectionString: url, max: POOL_MAX, application_name: 'pgboss' });
      pool = p;
      p.on('error', (err) => console.error('pg-boss-12 pool error:', err));
      p.on('connect', () => open++);
      p.on('remove', () => open--);
      boss = new PgBoss({
        schema: SCHEMA,
        db: {
          async executeSql(text: string, values?: unknown[]) {
            inFlight++;
            try {
              return await p.query(text, values);
            } finally {
              inFlight--;
            }
          },
        },
        supervise: false,
        schedule: false,
        migrate: true,
      });
      boss.on('error', (err) => console.error('pg-boss-12 error:', err));
      await boss.start();
      if ((await boss.getQueue(QUEUE)) === null) await boss.createQueue(QUEUE, { notify: true });
    },

    async enqueueOne(body) {
      await requireBoss().send(QUEUE, body);
    },

    async enqueueBatch(bodies) {
      await requireBoss().insert(
        QUEUE,
        bodies.map((data) => ({ data })),
      );
    },

    startWorkers: (concurrency, handle) => start(concurrency, undefined, handle),

    stopWorkers: () => stopLoop(),

    async remaining() {
      const { rows } = await requirePool().query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${SCHEMA}.job
         WHERE name = $1 AND state IN ('created', 'retry', 'active')`,
        [QUEUE],
      );
      return rows[0]!.n;
    },

    async teardown() {
      if (boss !== undefined) {
        await stopLoop();
        await boss.stop({ graceful: false });
        boss = undefined;
      }
      await pool?.end();
      pool = undefined;
      while (open > 0) await sleep(5);
    },

    flow: {
      unsupported: {
        globalConcurrency: `no queue-wide concurrency limit across processes in pg-boss ${version} (its singleton policy allows one active job per queue, not N)`,
        rateLimit: `no worker rate limit in pg-boss ${version} (its throttling is per send)`,
      },

      async enqueueFlow(bodies) {
        await requireBoss().insert(
          QUEUE,
          bodies.map((data) => ({
            data,
            ...(data.p === undefined ? {} : { priority: data.p }),
            ...(data.g === undefined ? {} : { group: { id: data.g } }),
          })),
        );
      },

      startFlowWorkers: (options, handle) =>
        start(options.concurrency, options.groupConcurrency, handle),

      async running() {
        const { rows } = await requirePool().query<{ n: number }>(
          `SELECT count(*)::int AS n FROM ${SCHEMA}.job WHERE name = $1 AND state = 'active'`,
          [QUEUE],
        );
        return rows[0]!.n;
      },
    },
  };
}
