/**
 * The fault suite's second half (see faults.spec.ts): connections terminated or gone half-open,
 * rows locked and transactions held open elsewhere, handlers that hang or kill their process, an
 * exhausted pool, and many processes booting at once. Its own PostgreSQL server, as there.
 */
import { describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { QueuePoolTimeoutError } from '../../src/index.js';
import { bootApp, sleep } from '../support/boot.js';
import { MIGRATION_NAMES } from '../support/queue-migrations.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { startWorker } from './support/fault-cluster.js';
import {
  acksBetween,
  enqueueAll,
  faultRun,
  freshDatabase,
  nextAckMs,
  scale,
  settled,
  useFaultPostgres,
  verify,
  withFaultRun,
} from './support/fault-runs.js';

useFaultPostgres();

describe('faults', () => {
  it(
    '4. pg_terminate_backend of every connection of the app mid-flow, LISTEN included',
    () =>
      withFaultRun(2, { FAULT_WORK_MS: '5' }, async (run) => {
        const ids = await enqueueAll(run, scale(3_000, 20_000));
        await sleep(800);
        const client = new pg.Client({ connectionString: run.url });
        await client.connect();
        const { rows } = await client.query<{ n: number }>(
          `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
         WHERE datname = current_database() AND application_name LIKE 'fetchcraft-queue%'`,
        );
        await client.end();
        const recoveredMs = await nextAckMs(run.url, 60_000);
        const drainedMs = await settled(run.url, ids, scale(120_000, 600_000));
        for (const worker of run.workers) expect(worker.child.exitCode).toBeNull();
        expect(rows[0]!.n).toBeGreaterThan(2);
        await verify(run, 'terminate-backends', ids, {
          terminated: rows[0]!.n,
          firstAckAfterMs: Math.round(recoveredMs),
          drainedAfterMs: Math.round(recoveredMs + drainedMs),
        });
      }),
    700_000,
  );

  it(
    '5. a handler that blocks its process past the lease: another worker takes it, the late ack is refused',
    () =>
      withFaultRun(2, { FAULT_LEASE_SECONDS: '2', FAULT_CONCURRENCY: '1' }, async (run) => {
        const [id] = await run.producer.queue.enqueueMany('faults.main', [{ i: 0, kind: 'hang' }]);
        const takenOverMs = await settled(run.url, [id!], 30_000);
        await sleep(6_000); // the first handler wakes up and tries to settle
        const client = new pg.Client({ connectionString: run.url });
        await client.connect();
        const starts = await client.query('SELECT pid FROM fault_events WHERE event = $1', [
          'start',
        ]);
        const acks = await client.query('SELECT lease_token FROM fault_acks');
        await client.end();
        await verify(run, 'hang', [id!], {
          deliveries: starts.rowCount,
          acks: acks.rowCount,
          doneAfterMs: Math.round(takenOverMs),
        });
        expect(starts.rowCount).toBeGreaterThanOrEqual(2);
        expect(acks.rowCount).toBe(1);
      }),
    120_000,
  );

  it(
    '6. a poison message that kills its worker every time ends in the dead letters',
    () =>
      withFaultRun(1, { FAULT_LEASE_SECONDS: '1', FAULT_MAX_ATTEMPTS: '3' }, async (run) => {
        const [id] = await run.producer.queue.enqueueMany('faults.main', [{ i: 0, kind: 'kill' }]);
        const started = performance.now();
        // Every worker that leases the message dies, until its third attempt dead-letters it;
        // from then on none may. Waiting for the dead letter (plus a grace for a late death)
        // instead of for 20 s of no death ends the loop as soon as that is known.
        const deadLettered = settled(run.url, [id!], 90_000);
        const noMoreDeaths = deadLettered.then(() => sleep(2_000)).then(() => undefined);
        let deaths = 0;
        while (deaths < 5) {
          const worker = run.workers[0]!;
          let timer: NodeJS.Timeout | undefined;
          const exit = await Promise.race([
            worker.exited,
            noMoreDeaths,
            new Promise<undefined>(
              (resolve) => (timer = setTimeout(() => resolve(undefined), 20_000)),
            ),
          ]);
          clearTimeout(timer);
          if (exit === undefined) break;
          deaths += 1;
          run.killed.add(worker.pid);
          run.workers[0] = await startWorker(run.url, {
            FAULT_LEASE_SECONDS: '1',
            FAULT_MAX_ATTEMPTS: '3',
          });
        }
        await deadLettered;
        await verify(
          run,
          'poison-kill',
          [id!],
          { workerDeaths: deaths, deadLetteredAfterMs: Math.round(performance.now() - started) },
          1,
        );
        expect(deaths).toBe(3);
      }),
    200_000,
  );

  it('7. pool exhaustion: 500 concurrent enqueues with poolMaxSize 5 succeed or time out clearly', async () => {
    const run = await faultRun(0);
    const small = await bootApp({
      connectionString: run.url,
      workers: false,
      poolMinSize: 1,
      poolMaxSize: 5,
      connectionTimeoutMs: 200,
    });
    try {
      // A slow statement holds every connection for a while, as a saturated pool would.
      const hold = Array.from({ length: 5 }, () =>
        small.queue.getStats().then(
          () => undefined,
          () => undefined,
        ),
      );
      const started = performance.now();
      const outcomes = await Promise.all(
        Array.from({ length: 500 }, (_, i) =>
          Promise.race([
            small.queue.enqueue('faults.pool', { i }).then(
              () => 'ok',
              (error: unknown) =>
                error instanceof QueuePoolTimeoutError ? 'timeout' : `other: ${String(error)}`,
            ),
            sleep(30_000).then(() => 'hung'),
          ]),
        ),
      );
      await Promise.all(hold);
      const tally = outcomes.reduce<Record<string, number>>(
        (all, o) => ({ ...all, [o]: (all[o] ?? 0) + 1 }),
        {},
      );
      process.stdout.write(
        `[fault] ${JSON.stringify({ fault: 'pool-exhaustion', ms: Math.round(performance.now() - started), ...tally })}\n`,
      );
      expect(Object.keys(tally).every((key) => key === 'ok' || key === 'timeout')).toBe(true);
      const stats = await small.queue.getStats();
      expect(stats.byQueue['faults.pool']?.ready ?? 0).toBe(tally.ok ?? 0);
    } finally {
      await small.close();
      await run.close();
    }
  }, 120_000);

  it('8. ten worker processes booting at once on an empty database create one schema', async () => {
    const url = await freshDatabase();
    const started = performance.now();
    const workers = await Promise.all(Array.from({ length: 10 }, () => startWorker(url)));
    const bootMs = performance.now() - started;
    try {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const { rows } = await client.query('SELECT name FROM messages_migrations ORDER BY id');
      await client.end();
      process.stdout.write(
        `[fault] ${JSON.stringify({ fault: 'concurrent-boot', processes: 10, bootMs: Math.round(bootMs) })}\n`,
      );
      expect(rows.map((r: { name: string }) => r.name)).toEqual(MIGRATION_NAMES);
    } finally {
      for (const worker of workers) {
        worker.child.kill('SIGTERM');
        await worker.exited;
      }
    }
  }, 120_000);

  it(
    '9. a transaction held open elsewhere while the queue runs: correctness and throughput',
    () =>
      withFaultRun(2, { FAULT_WORK_MS: '1' }, async (run) => {
        const holdMs = scale(15_000, 60_000);
        const blocker = new pg.Client({ connectionString: run.url });
        await blocker.connect();
        const probe = new pg.Client({ connectionString: run.url });
        await probe.connect();
        const doneAmong = async (ids: readonly string[]) => {
          const { rows } = await probe.query<{ n: string }>(
            "SELECT count(*) AS n FROM messages WHERE id = ANY($1) AND state = 'done'",
            [ids],
          );
          return Number(rows[0]!.n);
        };
        try {
          const before = await enqueueAll(run, 3_000);
          const baseline = await settled(run.url, before, 120_000);
          // A snapshot held open pins the xmin horizon: no row version the queue leaves behind
          // from now on can be vacuumed or pruned until it ends.
          await blocker.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
          await blocker.query('SELECT count(*) FROM messages');
          const during: string[] = [];
          const started = performance.now();
          while (performance.now() - started < holdMs) {
            during.push(...(await enqueueAll(run, 200)));
            await sleep(100);
          }
          const processedDuringHold = await doneAmong(during);
          await blocker.query('COMMIT');
          const drainAfterCommit = await settled(run.url, during, scale(180_000, 600_000));
          await verify(run, 'long-transaction', [...before, ...during], {
            heldSeconds: holdMs / 1000,
            baselineRate: Math.round(3_000 / (baseline / 1000)),
            offeredDuringHold: during.length,
            processedDuringHold,
            rateDuringHold: Math.round(processedDuringHold / (holdMs / 1000)),
            drainAfterCommitMs: Math.round(drainAfterCommit),
          });
          expect(processedDuringHold).toBeGreaterThan(0);
        } finally {
          await probe.end().catch(() => undefined);
          await blocker.end().catch(() => undefined);
        }
      }),
    700_000,
  );

  it(
    '11. every connection of the workers goes half-open mid-flow (a NAT drop): they recover within the statement timeout',
    () =>
      withFaultRun(0, {}, async (run) => {
        // The queue's connections through a proxy that can silence them; evidence goes direct.
        const proxy = await startTcpProxy(run.url);
        try {
          const statementTimeoutMs = 3_000;
          for (let i = 0; i < 2; i++) {
            run.workers.push(
              await startWorker(run.url, {
                FAULT_WORK_MS: '5',
                FAULT_QUEUE_URL: proxy.url,
                FAULT_STATEMENT_TIMEOUT_MS: String(statementTimeoutMs),
              }),
            );
          }
          const ids = await enqueueAll(run, scale(3_000, 20_000));
          await sleep(1_000);
          // No FIN, no RST: each end keeps waiting for the other, as after a NAT or conntrack drop.
          const silenced = proxy.blackholeOpenConnections();
          const recoveredMs = await nextAckMs(run.url, 60_000);
          const drainedMs = await settled(run.url, ids, scale(120_000, 600_000));
          for (const worker of run.workers) expect(worker.child.exitCode).toBeNull();
          expect(silenced).toBeGreaterThan(2);
          await verify(run, 'half-open', ids, {
            silenced,
            statementTimeoutMs,
            firstAckAfterMs: Math.round(recoveredMs),
            drainedAfterMs: Math.round(recoveredMs + drainedMs),
          });
          // A statement on a silent socket fails at the client's deadline (statement timeout
          // plus 2 s), then the pool opens a new connection: not TCP's quarter of an hour.
          expect(recoveredMs).toBeLessThan(statementTimeoutMs + 2_000 + 5_000);
        } finally {
          await run.close();
          await proxy.close();
        }
      }),
    700_000,
  );

  it(
    '12. rows locked by another transaction for 8 s mid-flow: the other acks keep landing, the locked ones land after',
    () =>
      withFaultRun(2, { FAULT_WORK_MS: '5' }, async (run) => {
        const ids = await enqueueAll(run, scale(3_000, 20_000));
        await sleep(800);
        const holder = new pg.Client({ connectionString: run.url });
        await holder.connect();
        let locked: number;
        let acksWhileHeld: number;
        try {
          await holder.query('BEGIN');
          const from = (
            await holder.query<{ now: string }>('SELECT clock_timestamp()::text AS now')
          ).rows[0]!.now;
          // Messages in flight right now: their handlers finish and ack while the rows are held.
          const { rowCount } = await holder.query(
            `SELECT 1 FROM messages WHERE state = 'leased' LIMIT 20 FOR UPDATE SKIP LOCKED`,
          );
          locked = rowCount ?? 0;
          await sleep(8_000);
          const to = (await holder.query<{ now: string }>('SELECT clock_timestamp()::text AS now'))
            .rows[0]!.now;
          acksWhileHeld = await acksBetween(run.url, from, to);
        } finally {
          await holder.query('COMMIT');
          await holder.end();
        }
        const drainedMs = await settled(run.url, ids, scale(120_000, 600_000));
        expect(locked).toBeGreaterThan(0);
        await verify(run, 'locked-rows', ids, {
          locked,
          acksWhileHeld,
          drainedAfterMs: Math.round(drainedMs),
        });
        // The workers' ack statements skip locked rows instead of waiting behind them.
        expect(acksWhileHeld).toBeGreaterThan(100);
      }),
    700_000,
  );
});
