/**
 * What the fault spec files share: a PostgreSQL server of the file's own (they restart it), a
 * fresh database per fault, worker processes, and the checks every fault run is held to.
 */
import { afterAll, beforeAll, expect } from '@jest/globals';
import pg from 'pg';
import { bootApp, waitFor, type BootedApp } from '../../support/boot.js';
import { withDatabase } from '../../support/test-database.js';
import {
  checkFaultRun,
  FAULT_SCHEMA_SQL,
  startWorker,
  type FaultReport,
  type WorkerProcess,
} from './fault-cluster.js';
import { startFaultPostgres, type FaultPostgres } from './fault-postgres.js';

const full = process.env.FAULT_SCALE === 'full';
/** The figure of the default run (`ci`) or of FAULT_SCALE=full (`long`). */
export const scale = (ci: number, long: number) => (full ? long : ci);

// Each spec file has its own module registry under jest, so its own server and counter.
let postgres: FaultPostgres | undefined;
let databases = 0;

/** Starts the file's server before its tests and stops it after them. */
export function useFaultPostgres(): void {
  beforeAll(async () => {
    postgres = await startFaultPostgres();
  }, 60_000);
  afterAll(async () => {
    await postgres?.stop();
  });
}

/** The file's server (see {@link useFaultPostgres}); inside tests only. */
export function faultPostgres(): FaultPostgres {
  if (postgres === undefined) throw new Error('useFaultPostgres() starts the server');
  return postgres;
}

export interface FaultRun {
  readonly url: string;
  readonly producer: BootedApp;
  readonly workers: WorkerProcess[];
  readonly killed: Set<number>;
  close(): Promise<void>;
}

/** An empty database of its own on the suite's server; resolves with its URL. */
export async function freshDatabase(): Promise<string> {
  databases += 1;
  const name = `faults_${databases}`;
  const admin = new pg.Client({ connectionString: faultPostgres().url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return withDatabase(faultPostgres().url, name);
}

/** A fresh database with the queue's schema and the fault tables, a producer, and workers. */
export async function faultRun(
  workerCount: number,
  env: Record<string, string> = {},
): Promise<FaultRun> {
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

export async function enqueueAll(run: FaultRun, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let offset = 0; offset < count; offset += 1_000) {
    const bodies = Array.from({ length: Math.min(1_000, count - offset) }, (_, i) => ({
      i: offset + i,
    }));
    ids.push(...(await run.producer.queue.enqueueMany('faults.main', bodies)));
  }
  return ids;
}

export async function settled(
  url: string,
  ids: readonly string[],
  timeoutMs: number,
): Promise<number> {
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

export function report(
  fault: string,
  figures: Record<string, unknown>,
  checked: FaultReport,
): void {
  process.stdout.write(`[fault] ${JSON.stringify({ fault, ...figures, ...checked })}\n`);
}

/** Runs `body` against a fresh fault run and stops its processes whatever happens. */
export async function withFaultRun(
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
export async function verify(
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
export async function nextAckMs(url: string, timeoutMs: number): Promise<number> {
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

export function expectNothingLost(checked: FaultReport, deadLetters = 0): void {
  expect(checked.lost).toBe(0);
  expect(checked.done + checked.deadLetters).toBe(checked.accepted);
  expect(checked.deadLetters).toBe(deadLetters);
  expect(checked.unexplainedDuplicates).toBe(0);
  expect(checked.deliveredAfterAck).toBe(0);
  expect(checked.acksPerMessageAboveOne).toBe(0);
}

/** fault_acks rows recorded between two clock_timestamp() values of the server. */
export async function acksBetween(url: string, from: string, to: string): Promise<number> {
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
