/**
 * Fault 13: a failover under load. Worker processes consume through a multi-host connection
 * string (`standby,primary?target_session_attrs=read-write`) while the producer keeps enqueuing;
 * the standby is promoted, the old primary stopped (fast or immediate), then brought back as a
 * standby. With synchronous replication nothing the clients saw committed may be lost; with
 * asynchronous replication the figures say what was.
 *
 * The evidence (every handler start, table fault_events) is written to a third server, so it
 * survives whatever the failover loses; every ack is recorded by a trigger on the queue's own
 * servers, and the old primary's record is read from a copy of its data directory.
 *
 * FAULT_SCALE=full runs the long version (RELIABILITY.md); figures are `[fault] {...}` lines.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { bootApp, sleep, waitFor, type BootedApp } from '../support/boot.js';
import { startEmbeddedPostgres, type TestPostgres } from '../support/postgres-provider.js';
import { startReplicatedPair, type ReplicatedPair } from '../support/replicated-postgres.js';
import { withDatabase } from '../support/test-database.js';
import {
  FAULT_ACKS_SQL,
  FAULT_EVENTS_SQL,
  startWorker,
  type WorkerProcess,
} from './support/fault-cluster.js';

const full = process.env.FAULT_SCALE === 'full';
const scale = (ci: number, long: number) => (full ? long : ci);

let evidenceServer: TestPostgres;
let runs = 0;

beforeAll(async () => {
  evidenceServer = await startEmbeddedPostgres({ tls: false });
}, 60_000);

afterAll(async () => {
  await evidenceServer?.stop();
});

async function sql<Row extends object>(url: string, text: string, values: unknown[] = []) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<Row>(text, values)).rows;
  } finally {
    await client.end();
  }
}

interface FailoverFigures {
  readonly replication: 'synchronous' | 'asynchronous';
  readonly stop: 'fast' | 'immediate';
  readonly accepted: number;
  readonly acceptedDuringFailover: number;
  /** From the old primary's stop signal to the first ack the new primary committed. */
  readonly firstAckAfterDeathMs: number;
  readonly drainedAfterDeathMs: number;
  /** Enqueues the producer saw succeed that the new primary does not have. */
  readonly lost: number;
  /** Acks the old primary committed that the new primary does not have. */
  readonly acksMissingOnNewPrimary: number;
  /** ...of which committed before the promotion began (with synchronous replication: none). */
  readonly acksMissingBeforePromotion: number;
  /** Messages acked on the old primary and started again after the failover. */
  readonly ackedDeliveredAgain: number;
  /** Messages started more than once in all (killed leases, lost acks). */
  readonly duplicates: number;
  readonly notDone: number;
  /** Whether the old primary, restarted as a standby, streams from the new one. */
  readonly oldPrimaryFollows: boolean;
}

async function failover(
  synchronous: boolean,
  stop: 'fast' | 'immediate',
  messages: number,
): Promise<FailoverFigures> {
  runs += 1;
  const pair: ReplicatedPair = await startReplicatedPair({ synchronous });
  const evidenceDb = `failover_${runs}`;
  await sql(evidenceServer.url, `CREATE DATABASE ${evidenceDb}`);
  const evidence = withDatabase(evidenceServer.url, evidenceDb);
  await sql(evidence, FAULT_EVENTS_SQL);
  await pair.primary.query('CREATE DATABASE queue');
  const queueUrl = `postgresql://postgres:postgres@127.0.0.1:${pair.standby.port},127.0.0.1:${pair.primary.port}/queue?target_session_attrs=read-write&connect_timeout=2`;
  let producer: BootedApp | undefined;
  const workers: WorkerProcess[] = [];
  let producing = false;
  let stream: Promise<void> | undefined;
  try {
    producer = await bootApp({
      connectionString: queueUrl,
      workers: false,
      connectionTimeoutMs: 2_000,
    });
    await sql(pair.primary.url('queue'), FAULT_ACKS_SQL);
    const accepted: string[] = [];
    for (let offset = 0; offset < messages; offset += 1_000) {
      const bodies = Array.from({ length: Math.min(1_000, messages - offset) }, (_, i) => ({
        i: offset + i,
      }));
      accepted.push(...(await producer.queue.enqueueMany('faults.main', bodies)));
    }
    workers.push(
      ...(await Promise.all(
        [0, 1].map(() => startWorker(evidence, { FAULT_QUEUE_URL: queueUrl })),
      )),
    );
    // The producer keeps enqueuing through the failover; what it saw accepted must survive.
    let acceptedDuringFailover = 0;
    let failingOver = false;
    producing = true;
    const live = producer;
    stream = (async () => {
      let i = messages;
      while (producing) {
        const bodies = Array.from({ length: 10 }, () => ({ i: i++ }));
        try {
          const ids = await live.queue.enqueueMany('faults.main', bodies);
          accepted.push(...ids);
          if (failingOver) acceptedDuringFailover += ids.length;
        } catch {
          // Refused during the failover: a producer tries again; these bodies were not accepted.
        }
        await sleep(20);
      }
    })();
    await waitFor(
      async () =>
        Number(
          (
            await pair.primary.query<{ n: string }>('SELECT count(*) AS n FROM fault_acks', 'queue')
          )[0]!.n,
        ) >=
        messages / 3,
      60_000,
      'a third of the messages acked',
    );

    failingOver = true;
    const promotedAt = new Date();
    await pair.standby.promote();
    const deathAt = new Date();
    await pair.primary.stop(stop);
    const deathMs = performance.now();
    await waitFor(
      async () =>
        Number(
          (
            await pair.standby.query<{ n: string }>(
              `SELECT count(*) AS n FROM fault_acks WHERE at > '${deathAt.toISOString()}'`,
              'queue',
            )
          )[0]!.n,
        ) > 0,
      30_000,
      'the first ack on the new primary',
    );
    const [first] = await pair.standby.query<{ ms: number }>(
      `SELECT extract(epoch FROM min(at) - '${deathAt.toISOString()}'::timestamptz) * 1000 AS ms FROM fault_acks WHERE at > '${deathAt.toISOString()}'`,
      'queue',
    );
    await sleep(scale(2_000, 10_000));
    producing = false;
    await stream;
    failingOver = false;
    await waitFor(
      async () =>
        Number(
          (
            await pair.standby.query<{ n: string }>(
              "SELECT count(*) AS n FROM messages WHERE state IN ('ready', 'leased')",
              'queue',
            )
          )[0]!.n,
        ) === 0,
      scale(90_000, 300_000),
      'every message settled on the new primary',
    );
    const drainedAfterDeathMs = performance.now() - deathMs;

    // What the old primary had committed, read from a copy, before it comes back as a standby.
    const oldAcks = await pair.primary.queryCopy<{
      message_id: string;
      lease_token: string;
      at: Date;
    }>('SELECT message_id, lease_token::text, at FROM fault_acks', 'queue');
    await pair.primary.rejoinAsStandbyOf(pair.standby);
    let oldPrimaryFollows = true;
    await waitFor(
      async () =>
        Number(
          (
            await pair.standby.query<{ n: string }>(
              "SELECT count(*) AS n FROM pg_stat_replication WHERE state = 'streaming'",
            )
          )[0]!.n,
        ) > 0,
      5_000,
      'the old primary to stream from the new one',
    ).catch(() => {
      oldPrimaryFollows = false;
    });

    const newQueue = pair.standby.url('queue');
    const present = await sql<{ id: string; state: string }>(
      newQueue,
      'SELECT id, state FROM messages WHERE id = ANY($1)',
      [accepted],
    );
    const newAcks = new Set(
      (
        await sql<{ lease_token: string }>(newQueue, 'SELECT lease_token::text FROM fault_acks')
      ).map((row) => row.lease_token),
    );
    const missing = oldAcks.filter((ack) => !newAcks.has(ack.lease_token));
    const starts = await sql<{ message_id: string; lease_token: string; at: Date }>(
      evidence,
      "SELECT message_id, lease_token::text, at FROM fault_events WHERE event = 'start'",
    );
    const startsOf = new Map<string, typeof starts>();
    for (const start of starts) {
      startsOf.set(start.message_id, [...(startsOf.get(start.message_id) ?? []), start]);
    }
    const deliveredAgain = missing.filter((ack) =>
      (startsOf.get(ack.message_id) ?? []).some(
        (start) => start.lease_token !== ack.lease_token && start.at > ack.at,
      ),
    );
    return {
      replication: synchronous ? 'synchronous' : 'asynchronous',
      stop,
      accepted: accepted.length,
      acceptedDuringFailover,
      firstAckAfterDeathMs: Math.round(Number(first!.ms)),
      drainedAfterDeathMs: Math.round(drainedAfterDeathMs),
      lost: accepted.length - present.length,
      acksMissingOnNewPrimary: missing.length,
      acksMissingBeforePromotion: missing.filter((ack) => ack.at < promotedAt).length,
      ackedDeliveredAgain: deliveredAgain.length,
      duplicates: [...startsOf.values()].reduce((sum, list) => sum + list.length - 1, 0),
      notDone: present.filter((row) => row.state !== 'done').length,
      oldPrimaryFollows,
    };
  } finally {
    producing = false;
    await stream;
    for (const worker of workers) {
      if (worker.child.exitCode === null && worker.child.signalCode === null) {
        worker.child.kill('SIGTERM');
        await worker.exited;
      }
    }
    await producer?.close();
    await pair.stop();
  }
}

describe('fault 13: failover to a promoted standby under load', () => {
  it.each([
    [true, 'fast'],
    [true, 'immediate'],
    [false, 'fast'],
    [false, 'immediate'],
  ] as const)(
    'synchronous %s, old primary stopped %s: workers move to the new primary',
    async (synchronous, stop) => {
      const figures = await failover(synchronous, stop, scale(3_000, 20_000));
      process.stdout.write(`[fault] ${JSON.stringify({ fault: '13 failover', ...figures })}\n`);
      expect(figures.notDone).toBe(0);
      if (synchronous) {
        // Every commit a client saw had reached the standby before it was promoted.
        expect(figures.lost).toBe(0);
        expect(figures.acksMissingBeforePromotion).toBe(0);
      }
    },
    600_000,
  );
});
