import { spawn } from 'node:child_process';
import { describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import promClient from 'prom-client';
import {
  Processor,
  QueueModule,
  QueueOptionsError,
  type ProcessorMessage,
} from '../../src/index.js';
import { QueueEvents } from '../../src/events/queue-events.js';
import { bootError, bootHttpApp, waitFor } from '../support/boot.js';
import { useQueueFixture } from '../support/queue-fixture.js';
import { tsChildArgsKeepingUrls } from '../support/ts-child.js';

const fixture = useQueueFixture('metrics');
const { db } = fixture;

type Registry = InstanceType<typeof promClient.Registry>;

/** One series' value from the registry, or undefined when it does not exist. */
async function valueOf(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
  series = name,
): Promise<number | undefined> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  // Histograms name each value (`<name>_count`, `_sum`, `_bucket`); other metrics do not.
  const values = (metric?.values ?? []) as { metricName?: string; value: number; labels: object }[];
  const found = values.find(
    (value) =>
      (value.metricName ?? name) === series &&
      Object.entries(labels).every(
        ([key, wanted]) => (value.labels as Record<string, unknown>)[key] === wanted,
      ),
  );
  return found?.value;
}

/** A histogram's observation count for `labels`. */
const countOf = (registry: Registry, name: string, labels: Record<string, string>) =>
  valueOf(registry, name, labels, `${name}_count`);

describe('Prometheus metrics', () => {
  it('counts, times and samples what the workers, the reaper and cancel did, and serves it', async () => {
    const started: string[] = [];
    @Injectable()
    class Handlers {
      @Processor('m.ok')
      ok(): void {}

      @Processor('m.flaky', { maxAttempts: 3, backoff: { type: 'fixed', delaySeconds: 0 } })
      flaky(message: ProcessorMessage): void {
        if (message.attempts === 1) throw new Error('the first attempt fails');
      }

      @Processor('m.dead', { maxAttempts: 1 })
      dead(): void {
        throw new Error('always fails');
      }

      @Processor('m.cancel', { concurrency: 1, prefetch: 0 })
      async waits(message: ProcessorMessage): Promise<void> {
        started.push(message.id);
        await new Promise((resolve) => message.signal.addEventListener('abort', resolve));
      }
    }
    const registry = new promClient.Registry();
    const http = await bootHttpApp(
      {
        connectionString: db.url,
        metrics: { registry, depthIntervalMs: 200 },
        metricsEndpoint: true,
      },
      [Handlers],
    );
    try {
      const { queue } = http;
      await queue.enqueueMany('m.ok', [1, 2, 3, 4, 5]);
      await queue.enqueueMany('m.flaky', [1, 2]);
      await queue.enqueue('m.dead', 1);
      const running = await queue.enqueue('m.cancel', 1);
      await waitFor(() => started.length === 1, 10_000, 'the handler to cancel');
      expect(await queue.cancel(running)).toBe('requested');
      const waiting = await queue.enqueue('m.cancel', 2, { delaySeconds: 60 });
      expect(await queue.cancel(waiting)).toBe('cancelled');

      // The reaper: a lease of a last attempt expires, the message becomes a dead letter.
      await queue.enqueueMany('m.idle', [1, 2, 3]);
      await queue.leaseNext('m.idle', { maxAttempts: 1 });
      await db.query(
        "UPDATE messages SET lease_until = lease_until - 120 WHERE queue = 'm.idle' AND state = 'leased'",
      );
      expect(await queue.reapExpiredLeases()).toBe(1);
      // The two left have waited 100 s.
      await db.query(
        "UPDATE messages SET available_at = available_at - 100 WHERE queue = 'm.idle' AND state = 'ready'",
      );

      const total = (suffix: string, labels: Record<string, string>) =>
        valueOf(registry, `fetchcraft_queue_${suffix}`, labels);
      await waitFor(
        async () =>
          (await total('processed_total', { queue: 'm.ok' })) === 5 &&
          (await total('processed_total', { queue: 'm.flaky' })) === 2 &&
          (await total('dead_lettered_total', { queue: 'm.dead', by: 'worker' })) === 1 &&
          (await total('cancelled_total', { queue: 'm.cancel', when: 'running' })) === 1,
        15_000,
        'the counters',
      );
      expect(await total('failed_total', { queue: 'm.flaky' })).toBe(2);
      expect(await total('retried_total', { queue: 'm.flaky' })).toBe(2);
      // Series exist from a worker's start, at 0, so rate() sees them before the first event.
      expect(await total('failed_total', { queue: 'm.ok' })).toBe(0);
      expect(await total('retried_total', { queue: 'm.ok' })).toBe(0);
      expect(await total('failed_total', { queue: 'm.dead' })).toBe(0);
      expect(await total('cancelled_total', { queue: 'm.cancel', when: 'waiting' })).toBe(1);
      expect(await total('stalled_total', { queue: 'm.idle' })).toBe(1);
      expect(await total('dead_lettered_total', { queue: 'm.idle', by: 'reaper' })).toBe(1);

      const histogram = (suffix: string, labels: Record<string, string>) =>
        countOf(registry, `fetchcraft_queue_${suffix}`, labels);
      expect(await histogram('handler_duration_seconds', { queue: 'm.ok' })).toBe(5);
      // Two messages, each failing once: four runs.
      expect(await histogram('handler_duration_seconds', { queue: 'm.flaky' })).toBe(4);
      expect(await histogram('handler_duration_seconds', { queue: 'm.dead' })).toBe(1);
      expect(await histogram('lease_to_start_seconds', { queue: 'm.ok' })).toBe(5);
      expect(await histogram('lease_to_start_seconds', { queue: 'm.flaky' })).toBe(4);
      const leases = await histogram('statement_duration_seconds', {
        queue: 'm.ok',
        statement: 'lease',
      });
      const acks = await histogram('statement_duration_seconds', {
        queue: 'm.ok',
        statement: 'ack',
      });
      // Leases batch up to the free slots, acks coalesce: at least one statement each, at most
      // one per message (a lease that found nothing counts too, so leases are not bounded).
      expect(leases).toBeGreaterThanOrEqual(1);
      expect(acks).toBeGreaterThanOrEqual(1);
      expect(acks).toBeLessThanOrEqual(5);

      // Depth: sampled every 200 ms from the table.
      const depth = (queueName: string, state: string) =>
        valueOf(registry, 'fetchcraft_queue_depth', { queue: queueName, state });
      await waitFor(
        async () =>
          (await depth('m.idle', 'ready')) === 2 &&
          (await depth('m.idle', 'failed')) === 1 &&
          (await depth('m.dead', 'failed')) === 1 &&
          ((await valueOf(registry, 'fetchcraft_queue_oldest_ready_age_seconds', {
            queue: 'm.idle',
          })) ?? 0) >= 100,
        10_000,
        'the depth sample',
      );
      expect(await depth('m.idle', 'leased')).toBe(0);
      const age = await valueOf(registry, 'fetchcraft_queue_oldest_ready_age_seconds', {
        queue: 'm.idle',
      });
      expect(age).toBeLessThan(200);
      // A queue drained after a sample saw it reads 0, it does not vanish; one never seen is absent.
      for (const state of ['ready', 'leased', 'failed']) {
        expect([0, undefined]).toContain(await depth('m.ok', state));
      }

      // The pool of the module: at least its one warm connection, nobody waiting.
      const inUse = (await valueOf(registry, 'fetchcraft_queue_pool_in_use_connections')) ?? -1;
      const idle = (await valueOf(registry, 'fetchcraft_queue_pool_idle_connections')) ?? -1;
      expect(inUse).toBeGreaterThanOrEqual(0);
      expect(idle).toBeGreaterThanOrEqual(0);
      expect(inUse + idle).toBeGreaterThanOrEqual(1);
      expect(await valueOf(registry, 'fetchcraft_queue_pool_waiting_requests')).toBe(0);

      // The endpoint serves the same registry, in the text format.
      const response = await fetch(`${http.url}/metrics`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe(registry.contentType);
      expect(response.headers.get('cache-control')).toBe('no-store');
      const text = await response.text();
      expect(text).toContain('fetchcraft_queue_processed_total{queue="m.ok"} 5');
      expect(text).toContain('# TYPE fetchcraft_queue_handler_duration_seconds histogram');
      expect(text).toContain('fetchcraft_queue_depth{queue="m.idle",state="ready"} 2');
    } finally {
      await http.close();
    }
    // Closed, the module takes its metrics out of the registry: a new app can register them.
    expect((await registry.getMetricsAsJSON()).map((m) => m.name)).toEqual([]);
  });

  it('off: nothing registered, no hooks; the endpoint without the option fails the boot', async () => {
    const app = await fixture.boot({ connectionString: db.url, workers: false });
    expect(app.get(QueueEvents).metrics).toBeUndefined();
    const names = (await promClient.register.getMetricsAsJSON()).map((m) => m.name);
    expect(names.filter((name) => name.includes('fetchcraft'))).toEqual([]);

    const error = await bootError({
      imports: [QueueModule.forRoot({ connectionString: db.url, metricsEndpoint: true })],
    });
    expect(error).toBeInstanceOf(QueueOptionsError);
    expect((error as QueueOptionsError).option).toBe('metricsEndpoint');
  });

  it('prom-client missing: metrics off never tries to load it; metrics on fails the boot naming it', async () => {
    // A bundle that keeps the child's import.meta.url, from which it registers its module hooks.
    const child = spawn('node', await tsChildArgsKeepingUrls('test/support/metrics-child.ts'), {
      env: { ...process.env, DATABASE_URL: db.url },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
    const result = JSON.parse(output.trim()) as {
      whenOff: number;
      whenOn: number;
      error: { name: string; message: string } | null;
    };
    expect(result.whenOff).toBe(0);
    expect(result.whenOn).toBeGreaterThanOrEqual(1);
    expect(result.error?.name).toBe('QueueOptionsError');
    expect(result.error?.message).toContain('npm install prom-client');
  });
});
