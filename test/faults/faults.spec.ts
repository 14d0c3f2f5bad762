/**
 * The fault suite: real worker processes against a PostgreSQL of the suite's own, faults injected
 * while messages flow, and a checker that proves, from what the database recorded, that nothing
 * accepted was lost, every extra delivery is explained, and no acked message came back.
 *
 * FAULT_SCALE=full (npm run test:faults:full) runs the long version by hand; the default is the
 * few-minute version that .ci/run runs. Figures are printed as `[fault] {...}` lines.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { QueuePoolTimeoutError } from '../../src/index.js';
import { bootApp, sleep, waitFor, type BootedApp } from '../support/boot.js';
import { withDatabase } from '../support/test-database.js';
import {
  checkFaultRun,
  FAULT_SCHEMA_SQL,
  startWorker,
  type FaultReport,
  type WorkerProcess,
} from './support/fault-cluster.js';
import { startFaultPostgres, type FaultPostgres } from './support/fault-postgres.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { MIGRATION_NAMES } from '../support/queue-migrations.js';

const full = process.env.FAULT_SCALE === 'full';
const scale = (ci: number, long: number) => (full ? long : ci);

let postgres: FaultPostgres;
let databases = 0;

beforeAll(async () => {
  postgres = await startFaultPostgres();
}, 60_000);

afterAll(async () => {
  await postgres?.stop();
});

interface FaultRun {
  readonly url: string;
  readonly producer: BootedApp;
  readonly workers: WorkerProcess[];
  readonly killed: Set<number>;
  close(): Promise<void>;
}

/** An empty database of its own on the suite's server; resolves with its URL. */
async function freshDatabase(): Promise<string> {
  databases += 1;
  const name = `faults_${databases}`;
  const admin = new pg.Client({ connectionString: postgres.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return withDatabase(postgres.url, name);
}

/** A fresh database with the queue's schema and the fault tables, a producer, and workers. */
async function faultRun(workerCount: number, env: Record<string, string> = {}): Promise<FaultRun> {
  const url = await freshDatabase();
  const producer = await bootApp({
    connectionString: url,
    workers: false,
    connectionTimeoutMs: 2_000,
  });
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(FAULT_SCHEMA_SQL);
  await client.end();
  const workers = await Promise.all(
    Array.from({ length: workerCount }, () => startWorker(url, env)),
  );
  const killed = new Set<number>();
  return {
    url,
    producer,
    workers,
    killed,
    async close() {
      for (const worker of workers) {
        if (worker.child.exitCode === null && worker.child.signalCode === null) {
          worker.child.kill('SIGTERM');
          await worker.exited;
        }
      }
      await producer.close();
    },
  };
}

async function enqueueAll(run: FaultRun, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let offset = 0; offset < count; offset += 1_000) {
    const bodies = Array.from({ length: Math.min(1_000, count - offset) }, (_, i) => ({
      i: offset + i,
    }));
    ids.push(...(await run.producer.queue.enqueueMany('faults.main', bodies)));
  }
  return ids;
}

async function settled(url: string, ids: readonly string[], timeoutMs: number): Promise<number> {
  const started = performance.now();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await waitFor(
      async () => {
        const { rows } = await client.query<{ n: string }>(
          "SELECT count(*) AS n FROM messages WHERE id = ANY($1) AND state IN ('ready', 'leased')",
          [ids],
        );
        return Number(rows[0]!.n) === 0;
      },
      timeoutMs,
      'every message to be settled',
    );
  } finally {
    await client.end();
  }
  return performance.now() - started;
}

function report(fault: string, figures: Record<string, unknown>, checked: FaultReport): void {
  process.stdout.write(`[fault] ${JSON.stringify({ fault, ...figures, ...checked })}\n`);
}

/** Runs `body` against a fresh fault run and stops its processes whatever happens. */
async function withFaultRun(
  workerCount: number,
  env: Record<string, string>,
  body: (run: FaultRun) => Promise<void>,
): Promise<void> {
  const run = await faultRun(workerCount, env);
  try {
    await body(run);
  } finally {
    await run.close();
  }
}

/** Checks the run over `ids`, prints its figures, and holds it to the queue's promises. */
async function verify(
  run: FaultRun,
  fault: string,
  ids: readonly string[],
  figures: Record<string, unknown>,
  deadLetters = 0,
): Promise<FaultReport> {
  const checked = await checkFaultRun(run.url, ids, run.killed);
  report(fault, figures, checked);
  expectNothingLost(checked, deadLetters);
  return checked;
}

/** Milliseconds from now until PostgreSQL records the next ack: how long the workers took to recover. */
async function nextAckMs(url: string, timeoutMs: number): Promise<number> {
  const started = performance.now();
  let since: string | undefined;
  await waitFor(
    async () => {
      const client = new pg.Client({ connectionString: url });
      try {
        await client.connect();
        if (since === undefined) {
          since = (await client.query<{ now: string }>('SELECT clock_timestamp()::text AS now'))
            .rows[0]!.now;
        }
        // Or nothing left to ack: a fault that landed after the last message must not hang here.
        const { rows } = await client.query<{ recovered: boolean }>(
          `SELECT EXISTS (SELECT 1 FROM fault_acks WHERE at > $1)
              OR NOT EXISTS (SELECT 1 FROM messages WHERE state IN ('ready', 'leased')) AS recovered`,
          [since],
        );
        return rows[0]!.recovered;
      } catch {
        return false; // the server is still coming back
      } finally {
        await client.end().catch(() => undefined);
      }
    },
    timeoutMs,
    'the first ack after the fault',
  );
  return performance.now() - started;
}

function expectNothingLost(checked: FaultReport, deadLetters = 0): void {
  expect(checked.lost).toBe(0);
  expect(checked.done + checked.deadLetters).toBe(checked.accepted);
  expect(checked.deadLetters).toBe(deadLetters);
  expect(checked.unexplainedDuplicates).toBe(0);
  expect(checked.deliveredAfterAck).toBe(0);
  expect(checked.acksPerMessageAboveOne).toBe(0);
}

/** fault_acks rows recorded between two clock_timestamp() values of the server. */
async function acksBetween(url: string, from: string, to: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(
      'SELECT count(*) AS n FROM fault_acks WHERE at > $1 AND at <= $2',
      [from, to],
    );
    return Number(rows[0]!.n);
  } finally {
    await client.end();
  }
}

describe('faults', () => {
  it(
    '1. SIGKILL of random workers while messages flow; replacements start',
    () =>
      withFaultRun(3, { FAULT_WORK_MS: '2' }, async (run) => {
        const ids = await enqueueAll(run, scale(5_000, 20_000));
        const started = performance.now();
        let kills = 0;
        const flowing = settled(run.url, ids, scale(120_000, 600_000));
        let done = false;
        void flowing.finally(() => (done = true));
        while (!done && kills < scale(4, 12)) {
          await sleep(1_500);
          const victim = run.workers.splice(Math.floor(Math.random() * run.workers.length), 1)[0]!;
          run.killed.add(victim.pid);
          victim.child.kill('SIGKILL');
          await victim.exited;
          kills += 1;
          run.workers.push(await startWorker(run.url, { FAULT_WORK_MS: '2' }));
        }
        await flowing;
        const seconds = (performance.now() - started) / 1000;
        await verify(run, 'sigkill', ids, { kills, seconds: Number(seconds.toFixed(1)) });
      }),
    700_000,
  );

  it(
    '2. SIGTERM mid-flow: in-flight work finishes or is returned, nothing waits for a lease',
    () =>
      withFaultRun(2, { FAULT_WORK_MS: '300', FAULT_LEASE_SECONDS: '60' }, async (run) => {
        const ids = await enqueueAll(run, scale(400, 2_000));
        await sleep(1_000);
        const victim = run.workers[0]!;
        const sent = performance.now();
        victim.child.kill('SIGTERM');
        const exit = await victim.exited;
        const exitMs = performance.now() - sent;
        // Nothing of the stopped worker may stay leased: with a 60 s lease, that would be a wait.
        const client = new pg.Client({ connectionString: run.url });
        await client.connect();
        const { rows } = await client.query<{ n: string }>(
          `SELECT count(*) AS n FROM messages m
         WHERE m.state = 'leased' AND m.lease_token IN (
           SELECT lease_token FROM fault_events WHERE pid = $1 AND event = 'start')`,
          [victim.pid],
        );
        await client.end();
        expect(Number(rows[0]!.n)).toBe(0);
        expect(exit.signal ?? exit.code).toBeDefined();
        const waited = await settled(run.url, ids, scale(60_000, 300_000));
        const checked = await verify(run, 'sigterm', ids, {
          exitMs: Math.round(exitMs),
          drainedAfterMs: Math.round(waited),
        });
        expect(checked.duplicates).toBe(0);
      }),
    400_000,
  );

  it.each(['fast', 'immediate'] as const)(
    '3. PostgreSQL restarted (%s shutdown) mid-flow: workers reconnect on their own',
    (mode) =>
      withFaultRun(2, { FAULT_WORK_MS: '5' }, async (run) => {
        const ids = await enqueueAll(run, scale(3_000, 20_000));
        await sleep(1_000);
        const downMs = await postgres.restart(mode, 1_500);
        const recoveredMs = await nextAckMs(run.url, 60_000);
        const drainedMs = await settled(run.url, ids, scale(120_000, 600_000));
        for (const worker of run.workers) expect(worker.child.exitCode).toBeNull();
        await verify(run, `postgres-restart-${mode}`, ids, {
          downMs: Math.round(downMs),
          firstAckAfterRestartMs: Math.round(recoveredMs),
          drainedAfterMs: Math.round(recoveredMs + drainedMs),
        });
      }),
    700_000,
  );

  it(
    '3b. a long PostgreSQL outage (20 s): leasing resumes when the database answers, not after the backoff',
    () =>
      withFaultRun(2, { FAULT_WORK_MS: '5' }, async (run) => {
        const ids = await enqueueAll(run, scale(3_000, 20_000));
        await sleep(1_000);
        // 20 s of failed leases back the fetch loops off to waits of 16 s; the LISTEN connection,
        // back within 2 s of the restart, must end that wait.
        const downMs = await postgres.restart('fast', 20_000);
        const recoveredMs = await nextAckMs(run.url, 60_000);
        const drainedMs = await settled(run.url, ids, scale(120_000, 600_000));
        for (const worker of run.workers) expect(worker.child.exitCode).toBeNull();
        await verify(run, 'postgres-long-outage', ids, {
          downMs: Math.round(downMs),
          firstAckAfterRestartMs: Math.round(recoveredMs),
          drainedAfterMs: Math.round(recoveredMs + drainedMs),
        });
        expect(recoveredMs).toBeLessThan(8_000);
      }),
    700_000,
  );

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
