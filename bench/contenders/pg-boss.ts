/**
 * pg-boss 12 with its throughput settings: one work() loop fetching a batch of N per statement,
 * fetching again at once while batches come back full, and LISTEN/NOTIFY so an idle worker
 * wakes when a job is sent instead of at its next poll. Its package asks for Node 22.12 (for
 * require(esm) by CommonJS callers); this benchmark imports it as ESM, which Node 20.20 runs.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { PgBoss, type Db, type WorkOptions } from 'pg-boss';
import { type BenchBody, type Contender, type FlowHandler } from '../contender.js';
import { installedVersion } from './package-version.js';

const QUEUE = 'bench';
const SCHEMA = 'pgboss';
const POOL_MAX = 20;
// pg-boss rejects anything below 0.5 s, for both intervals.
const POLLING_INTERVAL_SECONDS = 0.5;

const version = installedVersion('pg-boss', import.meta.url);

/**
 * The contender's own pool as pg-boss's database, so teardown can wait for every socket to
 * close (pg-boss never closes a pool it was given, and pool.end() resolves before the sockets
 * are gone), with the optional `listen` a pg-boss-owned pool would have: without it pg-boss
 * falls back to polling and `useListenNotify` does nothing.
 */
function poolDatabase(url: string): { db: Db; pool: pg.Pool; close(): Promise<void> } {
  const pool = new pg.Pool({ connectionString: url, max: POOL_MAX, application_name: 'pgboss' });
  let open = 0;
  const listeners = new Set<pg.Client>();
  // An idle client dropped by the server would otherwise crash the process.
  pool.on('error', (err) => console.error('pg-boss pool error:', err));
  pool.on('connect', () => open++);
  pool.on('remove', () => open--);
  return {
    pool,
    db: {
      executeSql: (text, values) => pool.query(text, values),
      async listen(channel, onNotification, onReconnect) {
        const client = new pg.Client({ connectionString: url, application_name: 'pgboss' });
        client.on('error', (err) => console.error('pg-boss listener error:', err));
        client.on('notification', (message) => {
          if (message.channel === channel) onNotification(message.payload ?? '');
        });
        await client.connect();
        listeners.add(client);
        await client.query(`LISTEN ${client.escapeIdentifier(channel)}`);
        // pg-boss re-fetches on each (re)subscription, for notifications sent before it.
        onReconnect();
        return {
          async close() {
            listeners.delete(client);
            await client.end();
          },
        };
      },
    },
    async close() {
      await Promise.all([...listeners].map((client) => client.end()));
      listeners.clear();
      await pool.end();
      while (open > 0) await sleep(5);
    },
  };
}

export function createContender(): Contender {
  let database: ReturnType<typeof poolDatabase> | undefined;
  let boss: PgBoss | undefined;
  let workerId: string | undefined;

  const requireBoss = (): PgBoss => {
    if (boss === undefined) throw new Error('pg-boss contender: setup() not called');
    return boss;
  };
  const requirePool = (): pg.Pool => {
    if (database === undefined) throw new Error('pg-boss contender: setup() not called');
    return database.pool;
  };

  const countInState = async (states: string): Promise<number> => {
    const { rows } = await requirePool().query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${SCHEMA}.job WHERE name = $1 AND ${states}`,
      [QUEUE],
    );
    return rows[0]!.n;
  };

  const start = async (
    concurrency: number,
    groupConcurrency: number | undefined,
    handle: FlowHandler,
  ): Promise<void> => {
    const options: WorkOptions = {
      batchSize: concurrency,
      // pg-boss 12's own answer to a backlog: fetch again at once while batches come back full.
      burstWhenBatchFull: true,
      pollingIntervalSeconds: POLLING_INTERVAL_SECONDS,
      // With NOTIFY on, the poll is only a backstop; kept at the minimum all the same.
      notifyPollingIntervalSeconds: POLLING_INTERVAL_SECONDS,
      ...(groupConcurrency === undefined ? {} : { groupConcurrency }),
    };
    const b = requireBoss();
    workerId = await b.work<BenchBody>(QUEUE, options, async (jobs) => {
      // The batch's handlers run together: the flow groups scenario needs two jobs of one group
      // in one batch to overlap if pg-boss let them. The plain handlers are synchronous.
      const pending = jobs.map((job) => handle(job.data)).filter((p) => p !== undefined);
      if (pending.length > 0) await Promise.all(pending);
      // burstWhenBatchFull ignores a batchSize of 1, where the loop would then wait out the
      // polling interval after every job whatever the backlog; notifyWorker is pg-boss's way
      // to skip that wait.
      if (concurrency === 1 && jobs.length === 1 && workerId !== undefined)
        b.notifyWorker(workerId);
    });
  };

  const stopLoop = async (): Promise<void> => {
    if (workerId === undefined) return;
    // pg-boss 12 awaits each batch's completion inside the loop, and wait: true awaits the loop,
    // so every completion is committed once this resolves.
    await requireBoss().offWork(QUEUE, { id: workerId, wait: true });
    workerId = undefined;
  };

  return {
    info: {
      name: 'pg-boss',
      version,
      settings:
        'one work() loop with batchSize = N (fetches up to N jobs per statement, so N in flight; ' +
        'the batch handlers run together), each batch completed in one statement when its ' +
        'handler resolves (pg-boss default); burstWhenBatchFull (fetches again at once while ' +
        'batches come back full; at N = 1, which it ignores, notifyWorker(id) after each job ' +
        `instead); pollingIntervalSeconds and notifyPollingIntervalSeconds ${POLLING_INTERVAL_SECONDS} ` +
        '(the minimum); useListenNotify with the queue created notify: true (an idle worker is ' +
        'woken by NOTIFY on send); standard queue policy; supervise and schedule off (no ' +
        'maintenance, so completed jobs stay in the table for the run, deleteAfterSeconds at its ' +
        'default); send() / insert(); a pg.Pool of max ' +
        `${POOL_MAX} passed as its db (plus one LISTEN connection); remaining() counts the ` +
        "queue's jobs before completed; flow scenarios: insert() with priority p (higher first, " +
        'always fetched in priority order) and group { id: g }, work() with groupConcurrency',
    },

    async setup(url) {
      const db = poolDatabase(url);
      database = db;
      boss = new PgBoss({
        schema: SCHEMA,
        db: db.db,
        useListenNotify: true,
        supervise: false,
        schedule: false,
        migrate: true,
      });
      // Without a listener the EventEmitter would throw on 'error' and end the run.
      boss.on('error', (err) => console.error('pg-boss error:', err));
      // A listener that could not start is a warning, and the figures would be polling's.
      boss.on('warning', (warning) => console.error('pg-boss warning:', warning.message));
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

    // Within pg-boss's partial index on live jobs (those states and failed), so no scan of the
    // completed ones, which stay in the table for the run.
    remaining: () => countInState(`state IN ('created', 'retry', 'active')`),

    async teardown() {
      if (boss !== undefined) {
        // Stopping the loop first keeps a late completion from reaching an ended pool.
        await stopLoop();
        await boss.stop({ graceful: false });
        boss = undefined;
      }
      await database?.close();
      database = undefined;
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
            // pg-boss runs the highest priority first, as the benchmark's scale.
            ...(data.p === undefined ? {} : { priority: data.p }),
            ...(data.g === undefined ? {} : { group: { id: data.g } }),
          })),
        );
      },

      startFlowWorkers: (options, handle) =>
        start(options.concurrency, options.groupConcurrency, handle),

      running: () => countInState(`state = 'active'`),
    },
  };
}
