import { describe, expect, it } from '@jest/globals';
import promClient from 'prom-client';
import { type MetricsConfig } from '../../src/config/queue-config.js';
import { resolveQueueConfig } from '../../src/config/resolve-queue-config.js';
import { QueueOptionsError, type QueueModuleOptions } from '../../src/index.js';
import { QueueMetricSet } from '../../src/metrics/queue-metric-set.js';
import { thrownBy } from '../support/thrown-by.js';

const URL = 'postgres://unit:secret@127.0.0.1:5432/db';

function resolveMetrics(metrics: unknown) {
  return resolveQueueConfig({ connectionString: URL, metrics } as QueueModuleOptions, {}).metrics;
}

function refusal(metrics: unknown): { option: string; rule: string } {
  const { option, rule } = thrownBy(() => resolveMetrics(metrics), QueueOptionsError);
  return { option, rule };
}

describe('the metrics option', () => {
  it('is off by default; true takes the defaults; given options win', () => {
    expect(resolveMetrics(undefined)).toBe(false);
    expect(resolveMetrics(false)).toBe(false);
    expect(resolveMetrics(true)).toEqual({
      registry: undefined,
      prefix: '',
      depthIntervalMs: 15_000,
    });
    const registry = new promClient.Registry();
    const config = resolveMetrics({ registry, prefix: 'app_', depthIntervalMs: false });
    expect(config).toEqual({ registry, prefix: 'app_', depthIntervalMs: false });
    // The application's registry is referenced, never frozen.
    expect(config !== false && config.registry).toBe(registry);
    expect(Object.isFrozen(registry)).toBe(false);
  });

  it('refuses what would fail later, naming the field', () => {
    expect(refusal('yes')).toEqual({
      option: 'metrics',
      rule: 'must be a boolean or a metrics options object',
    });
    expect(refusal({ prefix: '1app' }).option).toBe('metrics.prefix');
    expect(refusal({ prefix: 'my-app_' }).option).toBe('metrics.prefix');
    expect(refusal({ depthIntervalMs: 50 })).toEqual({
      option: 'metrics.depthIntervalMs',
      rule: 'must not be less than 100, or false',
    });
    expect(refusal({ depthIntervalMs: true }).option).toBe('metrics.depthIntervalMs');
    expect(refusal({ registry: {} })).toEqual({
      option: 'metrics.registry',
      rule: 'must be a prom-client Registry',
    });
    expect(refusal({ path: '/metrics' })).toEqual({
      option: 'metrics.path',
      rule: 'is not a known option (check its spelling)',
    });
  });
});

describe('QueueMetricSet', () => {
  const config = (
    registry: InstanceType<typeof promClient.Registry>,
    prefix = '',
  ): MetricsConfig => ({
    registry,
    prefix,
    depthIntervalMs: false,
  });

  async function series(registry: InstanceType<typeof promClient.Registry>, name: string) {
    const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
    return (metric?.values ?? []).map(({ labels, value }) => ({ labels, value }));
  }

  it('registers every metric under its prefix, feeds them through per-queue hooks, and leaves on unregister', async () => {
    const registry = new promClient.Registry();
    const set = new QueueMetricSet(promClient, config(registry, 'app_'), () => ({
      total: 5,
      idle: 3,
      waiting: 1,
    }));
    expect((await registry.getMetricsAsJSON()).map((m) => m.name).sort()).toEqual([
      'app_fetchcraft_queue_cancelled_total',
      'app_fetchcraft_queue_dead_lettered_total',
      'app_fetchcraft_queue_depth',
      'app_fetchcraft_queue_failed_total',
      'app_fetchcraft_queue_handler_duration_seconds',
      'app_fetchcraft_queue_lease_to_start_seconds',
      'app_fetchcraft_queue_oldest_ready_age_seconds',
      'app_fetchcraft_queue_pool_idle_connections',
      'app_fetchcraft_queue_pool_in_use_connections',
      'app_fetchcraft_queue_pool_waiting_requests',
      'app_fetchcraft_queue_processed_total',
      'app_fetchcraft_queue_retried_total',
      'app_fetchcraft_queue_stalled_total',
      'app_fetchcraft_queue_statement_duration_seconds',
    ]);
    const hooks = set.forQueue('a');
    expect(set.forQueue('a')).toBe(hooks);
    hooks.processed();
    hooks.processed();
    hooks.deadLettered('reaper', 3);
    hooks.cancelled('waiting');
    hooks.handlerSeconds(0.002);
    expect(await series(registry, 'app_fetchcraft_queue_processed_total')).toEqual([
      { labels: { queue: 'a' }, value: 2 },
    ]);
    expect(await series(registry, 'app_fetchcraft_queue_dead_lettered_total')).toEqual([
      { labels: { queue: 'a', by: 'worker' }, value: 0 },
      { labels: { queue: 'a', by: 'reaper' }, value: 3 },
    ]);
    expect(await series(registry, 'app_fetchcraft_queue_cancelled_total')).toEqual([
      { labels: { queue: 'a', when: 'waiting' }, value: 1 },
    ]);
    expect(await series(registry, 'app_fetchcraft_queue_pool_in_use_connections')).toEqual([
      { labels: {}, value: 2 },
    ]);
    expect(await series(registry, 'app_fetchcraft_queue_pool_waiting_requests')).toEqual([
      { labels: {}, value: 1 },
    ]);
    const text = await registry.metrics();
    expect(text).toContain(
      'app_fetchcraft_queue_handler_duration_seconds_bucket{le="0.0025",queue="a"} 1',
    );

    set.unregister();
    expect(await registry.getMetricsAsJSON()).toEqual([]);
  });

  it('a depth sample sets the gauges; a queue that a later sample misses reads 0', async () => {
    const registry = new promClient.Registry();
    const set = new QueueMetricSet(promClient, config(registry), () => undefined);
    const depth = (ready: number, age: number) => ({
      ready,
      readyCapped: false,
      leased: 1,
      failed: 2,
      oldestReadyAgeSeconds: age,
      expiredLeases: 0,
      paused: false,
    });
    set.setDepths({ a: depth(7, 30), b: depth(1, 0) });
    set.setDepths({ b: depth(4, 5) });
    expect(await series(registry, 'fetchcraft_queue_depth')).toEqual([
      { labels: { queue: 'a', state: 'ready' }, value: 0 },
      { labels: { queue: 'a', state: 'leased' }, value: 0 },
      { labels: { queue: 'a', state: 'failed' }, value: 0 },
      { labels: { queue: 'b', state: 'ready' }, value: 4 },
      { labels: { queue: 'b', state: 'leased' }, value: 1 },
      { labels: { queue: 'b', state: 'failed' }, value: 2 },
    ]);
    expect(await series(registry, 'fetchcraft_queue_oldest_ready_age_seconds')).toEqual([
      { labels: { queue: 'a' }, value: 0 },
      { labels: { queue: 'b' }, value: 5 },
    ]);
    // Before the pool opens, its gauges read 0.
    expect(await series(registry, 'fetchcraft_queue_pool_idle_connections')).toEqual([
      { labels: {}, value: 0 },
    ]);
  });

  it('a name already registered fails with a QueueOptionsError and leaves nothing of its own behind', async () => {
    const registry = new promClient.Registry();
    new promClient.Gauge({
      name: 'fetchcraft_queue_depth',
      help: 'somebody else',
      registers: [registry],
    });
    expect(() => new QueueMetricSet(promClient, config(registry), () => undefined)).toThrow(
      QueueOptionsError,
    );
    expect((await registry.getMetricsAsJSON()).map((m) => m.name)).toEqual([
      'fetchcraft_queue_depth',
    ]);
    // With its own prefix, a second set fits beside the first.
    const prefixed = new QueueMetricSet(promClient, config(registry, 'b_'), () => undefined);
    expect((await registry.getMetricsAsJSON()).length).toBe(15);
    prefixed.unregister();
  });
});
