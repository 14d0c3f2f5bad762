/**
 * A multi-host connection string against a real primary and its streaming standby (PostgreSQL 18
 * on loopback, test/support/replicated-postgres.ts): the module lands on the writable host even
 * when the standby is listed first, and after a failover (the standby promoted, the old primary
 * stopped) it moves there: workers continue, the LISTEN connection follows, readiness goes down
 * and up again, and one log line names the new host.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import {
  migrateQueue,
  Processor,
  QueueDatabaseError,
  type ProcessorMessage,
} from '../../src/index.js';
import { bootHttpApp, RecordingLogger, waitFor, type BootedApp } from '../support/boot.js';
import { startReplicatedPair, type ReplicatedPair } from '../support/replicated-postgres.js';

const handled = new Set<number>();

@Injectable()
class Recorder {
  @Processor('ha.jobs', { concurrency: 4 })
  handle(message: ProcessorMessage<{ i: number }>): void {
    handled.add(message.body.i);
  }
}

let pair: ReplicatedPair | undefined;
let app: (BootedApp & { readonly url: string }) | undefined;

afterEach(async () => {
  await app?.close();
  app = undefined;
  await pair?.stop();
  pair = undefined;
  handled.clear();
});

/** The standby first: libpq's read-write must skip it. */
function haUrl(pair: ReplicatedPair): string {
  return `postgresql://postgres:postgres@127.0.0.1:${pair.standby.port},127.0.0.1:${pair.primary.port}/queue?target_session_attrs=read-write&connect_timeout=2`;
}

async function ready(url: string): Promise<number> {
  return (await fetch(`${url}/health/ready`)).status;
}

/** Enqueues as a producer would during a failover: a refused attempt is tried again. */
async function enqueueRetrying(booted: BootedApp, from: number, count: number): Promise<void> {
  const bodies = Array.from({ length: count }, (_, k) => ({ i: from + k }));
  await waitFor(
    () =>
      booted.queue.enqueueMany('ha.jobs', bodies).then(
        () => true,
        () => false,
      ),
    30_000,
    'an enqueue to be accepted',
  );
}

async function boot(target: ReplicatedPair, logger: RecordingLogger) {
  await target.primary.query('CREATE DATABASE queue');
  const booted = await bootHttpApp(
    {
      connectionString: haUrl(target),
      healthEndpoints: true,
      // Long enough that work enqueued after the switch is found through LISTEN, not polling.
      pollIntervalMs: 60_000,
      connectionTimeoutMs: 3_000,
    },
    [Recorder],
    { logger },
  );
  app = booted;
  return booted;
}

async function backendsOn(
  node: ReplicatedPair['primary'],
): Promise<Array<{ application_name: string }>> {
  return node.query<{ application_name: string }>(
    "SELECT application_name FROM pg_stat_activity WHERE datname = 'queue' AND application_name LIKE 'fetchcraft-queue%'",
  );
}

describe('multi-host connection string with a primary and a streaming standby', () => {
  it('lands on the primary when the standby is listed first (target_session_attrs=read-write)', async () => {
    pair = await startReplicatedPair({ synchronous: false });
    const logger = new RecordingLogger();
    const booted = await boot(pair, logger);
    await enqueueRetrying(booted, 0, 20);
    await waitFor(() => handled.size === 20, 10_000, 'the first 20 messages');
    await pair.caughtUp();
    // The probe of the standby closed; the pool and the LISTEN connection are on the primary.
    await waitFor(
      async () => (await backendsOn(pair!.standby)).length === 0,
      5_000,
      'no connection on the standby',
    );
    const onPrimary = (await backendsOn(pair.primary)).map((row) => row.application_name);
    expect(onPrimary).toContain('fetchcraft-queue');
    expect(onPrimary).toContain('fetchcraft-queue:listen');
    expect(logger.lines.filter((line) => line.includes('host is now'))).toEqual([
      `log Queue database host is now 127.0.0.1:${pair.primary.port} (target_session_attrs=read-write)`,
    ]);
  });

  it.each(['fast', 'immediate'] as const)(
    'follows a failover: standby promoted, old primary stopped (%s); workers continue, LISTEN follows, readiness up after',
    async (mode) => {
      pair = await startReplicatedPair({ synchronous: false });
      const logger = new RecordingLogger();
      const booted = await boot(pair, logger);
      await enqueueRetrying(booted, 0, 50);
      await waitFor(() => handled.size === 50, 10_000, 'the first 50 messages');
      expect(await ready(booted.url)).toBe(200);

      // Readiness, sampled every 25 ms through the failover.
      const statuses: number[] = [];
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          statuses.push(await ready(booted.url).catch(() => 0));
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
      })();

      await pair.caughtUp();
      await pair.standby.promote();
      await pair.primary.stop(mode);
      await enqueueRetrying(booted, 50, 50);
      await waitFor(() => handled.size === 100, 20_000, 'the 50 enqueued after the failover');
      // Found through the LISTEN connection on the new primary (polling is 60 s).
      await enqueueRetrying(booted, 100, 10);
      await waitFor(() => handled.size === 110, 5_000, 'work notified on the new primary');
      await waitFor(async () => (await ready(booted.url)) === 200, 10_000, 'readiness up again');
      sampling = false;
      await sampler;

      // With the standby promoted before the old primary stops, the window without a writable
      // host can fall between two samples; when readiness went down, it came back.
      const firstDown = statuses.indexOf(503);
      if (firstDown !== -1) expect(statuses.slice(firstDown)).toContain(200);
      const onNew = (await backendsOn(pair.standby)).map((row) => row.application_name);
      expect(onNew).toContain('fetchcraft-queue:listen');
      expect(logger.lines.filter((line) => line.includes('host is now'))).toEqual([
        `log Queue database host is now 127.0.0.1:${pair.primary.port} (target_session_attrs=read-write)`,
        `log Queue database host is now 127.0.0.1:${pair.standby.port} (target_session_attrs=read-write; was 127.0.0.1:${pair.primary.port})`,
      ]);
      expect(logger.lines.join('\n')).not.toContain(':postgres@');

      // The old primary comes back as a standby: the module stays where it is.
      await pair.primary.rejoinAsStandbyOf(pair.standby);
      await enqueueRetrying(booted, 110, 10);
      await waitFor(() => handled.size === 120, 5_000, 'work after the old primary came back');
      expect(logger.lines.filter((line) => line.includes('host is now'))).toHaveLength(2);
    },
    60_000,
  );

  it('is not ready while no host is writable (the primary died, the standby not yet promoted), and ready after the promotion', async () => {
    pair = await startReplicatedPair({ synchronous: false });
    const logger = new RecordingLogger();
    const booted = await boot(pair, logger);
    await enqueueRetrying(booted, 0, 10);
    await waitFor(() => handled.size === 10, 10_000, 'the first 10 messages');
    await pair.caughtUp();
    await pair.primary.stop('immediate');

    await waitFor(async () => (await ready(booted.url)) === 503, 10_000, 'readiness down');
    const down = await fetch(`${booted.url}/health/ready`);
    const body = JSON.stringify(await down.json());
    // The probe answers with a code, never a host or a password.
    expect(body).toContain('code 08001');
    expect(body).not.toContain('127.0.0.1');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await ready(booted.url)).toBe(503);

    // One warning for the outage, however many connections failed.
    expect(logger.lines.filter((line) => line.startsWith('warn no host'))).toEqual([
      `warn no host satisfies target_session_attrs=read-write (127.0.0.1:${pair.standby.port}: is a standby (in recovery); 127.0.0.1:${pair.primary.port}: connect ECONNREFUSED 127.0.0.1:${pair.primary.port}); looking again at the next connection`,
    ]);

    await pair.standby.promote();
    await waitFor(async () => (await ready(booted.url)) === 200, 10_000, 'readiness up');
    await enqueueRetrying(booted, 10, 10);
    await waitFor(() => handled.size === 20, 10_000, 'work on the promoted standby');
  }, 60_000);

  it('a primary that turns read-only (25006): the write fails naming the host, the next goes to the new primary', async () => {
    pair = await startReplicatedPair({ synchronous: false });
    await pair.primary.query('CREATE DATABASE queue');
    const logger = new RecordingLogger();
    const booted = await bootHttpApp(
      { connectionString: haUrl(pair), workers: false, poolMinSize: 3 },
      [],
      { logger },
    );
    app = booted;
    await booted.queue.enqueue('ha.jobs', { i: 0 });
    await pair.caughtUp();
    // Demoted in place: its sessions stay open and refuse writes, as after a switchover.
    await pair.primary.query('ALTER SYSTEM SET default_transaction_read_only = on');
    await pair.primary.query('SELECT pg_reload_conf()');
    await pair.standby.promote();

    const refused = await booted.queue
      .enqueue('ha.jobs', { i: 1 })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(QueueDatabaseError);
    expect((refused as QueueDatabaseError).code).toBe('25006');
    expect((refused as Error).message).toMatch(
      new RegExp(
        `the server at 127\\.0\\.0\\.1:${pair.primary.port} is read-only now .*; new connections look for a host that satisfies target_session_attrs=read-write`,
      ),
    );
    await booted.queue.enqueue('ha.jobs', { i: 2 });
    const rows = await pair.standby.query<{ n: string }>(
      "SELECT count(*) AS n FROM messages WHERE queue = 'ha.jobs'",
      'queue',
    );
    expect(Number(rows[0]!.n)).toBe(2);
    expect(logger.lines.filter((line) => line.includes('host is now'))).toHaveLength(2);
  }, 60_000);

  it('migrateQueue (the CLI migrate) goes to the read-write host as well', async () => {
    pair = await startReplicatedPair({ synchronous: false });
    await pair.primary.query('CREATE DATABASE queue');
    const result = await migrateQueue({ connectionString: haUrl(pair) });
    expect(result.applied.length).toBeGreaterThan(0);
    const rows = await pair.primary.query<{ n: string }>(
      "SELECT count(*) AS n FROM pg_tables WHERE tablename = 'messages'",
      'queue',
    );
    expect(Number(rows[0]!.n)).toBe(1);
  }, 60_000);

  it('takes the keyword/value form too (host=a,b port=1,2 …)', async () => {
    pair = await startReplicatedPair({ synchronous: false });
    await pair.primary.query('CREATE DATABASE queue');
    const logger = new RecordingLogger();
    app = await bootHttpApp(
      {
        connectionString: `host=127.0.0.1,127.0.0.1 port=${pair.standby.port},${pair.primary.port} dbname=queue user=postgres password='postgres' target_session_attrs=primary connect_timeout=2`,
        workers: false,
      },
      [],
      { logger },
    );
    await app.queue.enqueue('ha.jobs', { i: 0 });
    expect(logger.lines.filter((line) => line.includes('host is now'))).toEqual([
      `log Queue database host is now 127.0.0.1:${pair.primary.port} (target_session_attrs=primary)`,
    ]);
  }, 60_000);
});
