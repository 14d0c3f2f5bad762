import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { Injectable, type Provider } from '@nestjs/common';
import { Processor, QueueHealthIndicator } from '../../src/index.js';
import {
  bootHttpApp,
  RecordingLogger,
  waitFor,
  type BootExtras,
  type TestModuleOptions,
} from '../support/boot.js';
import { useQueueFixture } from '../support/queue-fixture.js';
import { startEmbeddedPostgres, type TestPostgres } from '../support/postgres-provider.js';

@Injectable()
class Idle {
  @Processor('health.worked')
  handle(): void {}
}

/** Every app here has a processor, unless a test says otherwise: the live probe looks at workers. */
const startHttp = (
  options: TestModuleOptions,
  providers: Provider[] = [Idle],
  extra: BootExtras = {},
) => bootHttpApp(options, providers, extra);

async function get(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const { db } = useQueueFixture('health', { reset: 'none' });

const EMPTY = {
  ready: 0,
  readyCapped: false,
  leased: 0,
  failed: 0,
  oldestReadyAgeSeconds: 0,
  expiredLeases: 0,
  paused: false,
};

describe('QueueHealthIndicator', () => {
  it('reports per-queue depth in one query and turns down when a threshold is crossed', async () => {
    const app = await startHttp({
      connectionString: db.url,
      schema: 'indicator',
      workers: false,
      health: { maxReadyDepth: 5, queues: { 'big.ok': { maxReadyDepth: 100 } } },
    });
    try {
      const indicator = app.get(QueueHealthIndicator);
      await app.queue.enqueueMany('small', [{ n: 1 }, { n: 2 }]);
      await app.queue.enqueue('later', { n: 3 }, { delaySeconds: 600 });
      await app.queue.leaseNext('small');
      await db.query(
        "UPDATE indicator.messages SET available_at = available_at - 30 WHERE queue = 'small' AND state = 'ready'",
      );
      await app.queue.enqueueMany(
        'big.ok',
        Array.from({ length: 20 }, (_, i) => ({ i })),
      );

      const up = await indicator.isHealthy();
      expect(up).toEqual({
        queues: {
          status: 'up',
          queues: {
            small: {
              ready: 1,
              readyCapped: false,
              leased: 1,
              failed: 0,
              oldestReadyAgeSeconds: expect.any(Number),
              expiredLeases: 0,
              paused: false,
            },
            later: {
              ready: 1,
              readyCapped: false,
              leased: 0,
              failed: 0,
              oldestReadyAgeSeconds: 0,
              expiredLeases: 0,
              paused: false,
            },
            'big.ok': {
              ready: 20,
              readyCapped: false,
              leased: 0,
              failed: 0,
              oldestReadyAgeSeconds: expect.any(Number),
              expiredLeases: 0,
              paused: false,
            },
            // Empty, but this process has a processor for it: listed with zeros.
            'health.worked': EMPTY,
          },
        },
      });
      const small = (
        up.queues as unknown as { queues: Record<string, { oldestReadyAgeSeconds: number }> }
      ).queues.small!;
      expect(small.oldestReadyAgeSeconds).toBeGreaterThanOrEqual(30);

      await app.queue.enqueueMany(
        'small',
        Array.from({ length: 10 }, (_, i) => ({ i })),
      );
      await db.query(
        "UPDATE indicator.messages SET lease_until = lease_until - 120 WHERE state = 'leased'",
      );
      const down = await indicator.isHealthy('queues', {
        maxReadyDepth: 5,
        maxOldestReadyAgeSeconds: 10,
      });
      expect(down.queues.status).toBe('down');
      expect((down.queues as unknown as { crossed: string[] }).crossed).toEqual([
        'small: ready 11 > maxReadyDepth 5',
        expect.stringMatching(/^small: oldest ready \d+ s > maxOldestReadyAgeSeconds 10$/),
      ]);
      expect(
        (down.queues as unknown as { queues: Record<string, { expiredLeases: number }> }).queues
          .small!.expiredLeases,
      ).toBe(1);
      // Paused for every replica, its backlog waits on purpose: the ready thresholds let it be.
      await app.queue.pause('small');
      const paused = await indicator.isHealthy('queues', {
        maxReadyDepth: 5,
        maxOldestReadyAgeSeconds: 10,
      });
      expect(paused.queues.status).toBe('up');
      expect(
        (paused.queues as unknown as { queues: Record<string, { paused: boolean }> }).queues,
      ).toMatchObject({ small: { paused: true }, later: { paused: false } });
      await app.queue.resume('small');
      expect((await indicator.isHealthy('queues', { maxReadyDepth: 5 })).queues.status).toBe(
        'down',
      );
      expect(await indicator.pingCheck()).toEqual({ database: { status: 'up' } });
    } finally {
      await app.close();
    }
  });
});

describe('depth on a deep backlog', () => {
  it('counts ready messages up to countLimit, and past every maxReadyDepth', async () => {
    const app = await startHttp({
      connectionString: db.url,
      schema: 'capped',
      workers: false,
      health: { countLimit: 5, queues: { deep: { maxReadyDepth: 7 } } },
    });
    try {
      await app.queue.enqueueMany(
        'deep',
        Array.from({ length: 12 }, (_, i) => ({ i })),
      );
      await app.queue.enqueueMany(
        'shallow',
        Array.from({ length: 12 }, (_, i) => ({ i })),
      );
      const indicator = app.get(QueueHealthIndicator);
      const depths = await indicator.depths();
      // The limit is raised to 8 so that maxReadyDepth 7 stays decidable.
      expect(depths.deep).toMatchObject({ ready: 8, readyCapped: true });
      expect(depths.shallow).toMatchObject({ ready: 8, readyCapped: true });
      const result = await indicator.isHealthy();
      expect((result.queues as unknown as { crossed: string[] }).crossed).toEqual([
        'deep: ready 8+ > maxReadyDepth 7',
      ]);
    } finally {
      await app.close();
    }
  });
});

describe('queues listed without messages', () => {
  it('lists every queue with a processor here or a threshold in the options, with zeros', async () => {
    const app = await startHttp({
      connectionString: db.url,
      schema: 'listed',
      workers: false,
      health: { queues: { 'watched.only': { maxFailed: 0 } } },
    });
    try {
      const report = await app.get(QueueHealthIndicator).isHealthy();
      expect(report).toEqual({
        queues: { status: 'up', queues: { 'health.worked': EMPTY, 'watched.only': EMPTY } },
      });
      await app.queue.enqueue('watched.only', { n: 1 });
      const depths = (await app.get(QueueHealthIndicator).isHealthy()).queues as unknown as {
        queues: Record<string, { ready: number }>;
      };
      expect(depths.queues).toMatchObject({ 'watched.only': { ready: 1 }, 'health.worked': EMPTY });
    } finally {
      await app.close();
    }
  });
});

describe('the vacuum check', () => {
  it('turns down with the reason while a transaction pins the horizon, and up once it ends', async () => {
    const http = await startHttp({
      connectionString: db.url,
      schema: 'vacuum',
      healthEndpoints: true,
      health: { maxHorizonAgeSeconds: 1, maxDeadTuples: 2_000 },
    });
    const pin = new pg.Client({ connectionString: db.url, application_name: 'health-pin' });
    let pinned = false;
    try {
      const before = await get(`${http.url}/health`);
      expect(before.status).toBe(200);
      expect(before.body).toMatchObject({
        info: {
          vacuum: {
            status: 'up',
            horizonAgeSeconds: expect.any(Number),
            deadTuples: expect.any(Number),
            liveTuples: expect.any(Number),
          },
        },
      });

      await pin.connect();
      await pin.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await pin.query('SELECT 1');
      pinned = true;
      await http.queue.enqueueMany(
        'vacuum.churn',
        Array.from({ length: 1_000 }, (_, i) => ({ i })),
      );
      // Each update leaves a dead version that the pinned snapshot keeps vacuum from removing.
      const churn = new pg.Client({ connectionString: db.url });
      await churn.connect();
      try {
        for (let round = 0; round < 3; round++) {
          await churn.query('UPDATE vacuum.messages SET attempts = attempts + 1');
        }
        // An idle session reports its counts up to 10 s late; this one at once.
        await churn.query('SELECT pg_stat_force_next_flush()');
      } finally {
        await churn.end();
      }
      let down: Awaited<ReturnType<typeof get>> | undefined;
      await waitFor(
        async () => {
          down = await get(`${http.url}/health`);
          const crossed = (down.body.error as { vacuum?: { crossed?: string[] } } | undefined)
            ?.vacuum?.crossed;
          return down.status === 503 && crossed?.length === 2;
        },
        20_000,
        'the vacuum check to cross both limits',
      );
      expect(down!.body).toMatchObject({
        status: 'error',
        error: {
          vacuum: {
            status: 'down',
            horizonHeldBy: 'a session (idle in transaction)',
            crossed: [
              expect.stringMatching(
                /^vacuum held back by a session \(idle in transaction\) open \d+ s > maxHorizonAgeSeconds 1$/,
              ),
              expect.stringMatching(/^dead tuples \d+ > maxDeadTuples 2000$/),
            ],
          },
        },
      });
      // Numbers only: no host, port, role or application in the answer.
      const { port } = new URL(db.url);
      expect(JSON.stringify(down!.body)).not.toMatch(
        new RegExp(`127\\.0\\.0\\.1|${port}|postgres|health-pin`),
      );

      await pin.query('ROLLBACK');
      pinned = false;
      await db.query('VACUUM vacuum.messages');
      await waitFor(
        async () => (await get(`${http.url}/health`)).status === 200,
        20_000,
        'the vacuum check to turn up again',
      );
      expect((await get(`${http.url}/health`)).body).toMatchObject({
        info: { vacuum: { status: 'up', horizonAgeSeconds: expect.any(Number) } },
      });
    } finally {
      if (pinned) await pin.query('ROLLBACK').catch(() => undefined);
      await pin.end().catch(() => undefined);
      await http.close();
    }
  });
});

describe('health endpoints over HTTP', () => {
  it('answers live, ready and the full report; 503 on a crossed threshold while live and ready stay 200', async () => {
    const http = await startHttp({
      connectionString: db.url,
      schema: 'endpoints',
      healthEndpoints: true,
      health: { maxFailed: 0 },
    });
    try {
      const live = await get(`${http.url}/health/live`);
      expect(live.status).toBe(200);
      expect(live.body).toMatchObject({
        status: 'ok',
        info: { workers: { status: 'up', running: 1 } },
      });
      expect((await get(`${http.url}/health/ready`)).body).toMatchObject({
        status: 'ok',
        info: { shutdown: { status: 'up' }, database: { status: 'up' } },
      });
      const report = await get(`${http.url}/health`);
      expect(report.status).toBe(200);
      expect(report.body).toMatchObject({
        status: 'ok',
        info: { database: { status: 'up' }, queues: { status: 'up' } },
      });

      const id = await http.queue.enqueue('health.broken', { n: 1 });
      await db.query("UPDATE endpoints.messages SET state = 'failed' WHERE id = $1", [id]);
      const crossed = await get(`${http.url}/health`);
      expect(crossed.status).toBe(503);
      expect(crossed.body).toMatchObject({
        status: 'error',
        error: { queues: { status: 'down', crossed: ['health.broken: failed 1 > maxFailed 0'] } },
      });
      expect((await get(`${http.url}/health/live`)).status).toBe(200);
      expect((await get(`${http.url}/health/ready`)).status).toBe(200);
    } finally {
      await http.close();
    }
  });

  it('serves the endpoints under a configured path', async () => {
    const http = await startHttp({
      connectionString: db.url,
      schema: 'paths',
      healthEndpoints: { path: 'probes' },
    });
    try {
      expect((await get(`${http.url}/probes/live`)).status).toBe(200);
      expect((await get(`${http.url}/probes/ready`)).status).toBe(200);
      expect((await fetch(`${http.url}/health/live`)).status).toBe(404);
    } finally {
      await http.close();
    }
  });

  it('during a drain: ready says 503 so traffic goes elsewhere, live stays 200', async () => {
    const release: Array<() => void> = [];
    @Injectable()
    class Slow {
      @Processor('health.slow')
      async handle(): Promise<void> {
        await new Promise<void>((resolve) => release.push(resolve));
      }
    }
    const http = await startHttp(
      {
        connectionString: db.url,
        schema: 'drain',
        healthEndpoints: true,
        shutdownTimeoutMs: 20_000,
      },
      [Slow],
    );
    let closed = false;
    let closing: Promise<void> | undefined;
    try {
      await http.queue.enqueue('health.slow', { n: 1 });
      await waitFor(() => release.length === 1, 10_000, 'the handler to start');
      closing = http.close().then(() => {
        closed = true;
      });
      await waitFor(
        async () => (await get(`${http.url}/health/ready`)).status === 503,
        5_000,
        'ready to turn 503',
      );
      const ready = await get(`${http.url}/health/ready`);
      expect(ready.body).toMatchObject({ error: { shutdown: { status: 'down' } } });
      const live = await get(`${http.url}/health/live`);
      expect(live.status).toBe(200);
      expect(closed).toBe(false);
    } finally {
      release.forEach((resolve) => resolve());
      await (closing ?? http.close());
    }
    expect(await db.query('SELECT state FROM drain.messages')).toMatchObject({
      rows: [{ state: 'done' }],
    });
  });

  describe('with the database down', () => {
    let postgres: TestPostgres;

    beforeAll(async () => {
      postgres = await startEmbeddedPostgres({ tls: false });
    });

    afterAll(async () => {
      await postgres?.stop().catch(() => undefined);
    });

    it('reports ready and the full report 503 within the timeout, live stays 200', async () => {
      const logger = new RecordingLogger();
      const http = await startHttp(
        {
          connectionString: postgres.url,
          healthEndpoints: true,
          health: { timeoutMs: 500 },
          connectionTimeoutMs: 500,
        },
        [Idle],
        { logger },
      );
      try {
        expect((await get(`${http.url}/health/ready`)).status).toBe(200);
        await postgres.stop();
        const started = performance.now();
        const ready = await get(`${http.url}/health/ready`);
        expect(performance.now() - started).toBeLessThan(3_000);
        expect(ready.status).toBe(503);
        expect(ready.body).toMatchObject({
          status: 'error',
          error: { database: { status: 'down' } },
        });
        const report = await get(`${http.url}/health`);
        expect(report.status).toBe(503);
        expect(report.body).toMatchObject({
          error: { database: { status: 'down' }, queues: { status: 'down' } },
        });
        const live = await get(`${http.url}/health/live`);
        expect(live.status).toBe(200);
        expect(live.body).toMatchObject({ status: 'ok', info: { workers: { status: 'up' } } });
        // The answer names no host, port or role: a fixed reason with the code; details in the log.
        const { port } = new URL(postgres.url);
        for (const body of [ready.body, report.body]) {
          expect(JSON.stringify(body)).not.toMatch(new RegExp(`127\\.0\\.0\\.1|${port}|postgres@`));
        }
        expect((ready.body.error as { database: { message: string } }).database.message).toMatch(
          /^(the database check failed|the database did not answer|no database connection)/,
        );
        const logged = logger.lines.filter((line) => line.includes('Health check failed'));
        expect(logged.length).toBeGreaterThan(0);
        expect(new Set(logged).size).toBe(logged.length);
      } finally {
        await http.close();
      }
    });
  });
});
