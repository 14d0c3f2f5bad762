import {
  type BeforeApplicationShutdown,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type Provider,
} from '@nestjs/common';
import { METRICS_DEPTH_COUNT_LIMIT } from '../config/defaults.js';
import { type QueueConfig } from '../config/queue-config.js';
import { QueueConnection } from '../database/queue-connection.js';
import { QueueEvents } from '../events/queue-events.js';
import { type PrometheusRegistry } from '../interfaces/metrics-options.interface.js';
import { QUEUE_CONFIG } from '../queue.constants.js';
import { MessageStore } from '../store/message-store.js';
import { DepthSampler } from './depth-sampler.js';
import { loadPromClient } from './load-prom-client.js';
import { QueueMetricSet } from './queue-metric-set.js';

/**
 * The module's Prometheus metrics, when its `metrics` option is on; an empty shell otherwise,
 * and then prom-client is never loaded. Made by {@link QUEUE_METRICS_PROVIDER}'s async factory,
 * so a missing prom-client fails the boot before any connection opens; the hooks are attached to
 * the events system there, before any worker is built. The depth sampler starts at bootstrap
 * and stops before the connection closes; the metrics leave their registry at shutdown, so an
 * application created again in the same process (a test, a hot reload) can register them anew.
 */
export class QueueMetrics
  implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  private readonly logger = new Logger('QueueMetrics');
  private sampler: DepthSampler | undefined;

  constructor(
    /** The metrics and their hooks; undefined when the `metrics` option is off. */
    readonly set: QueueMetricSet | undefined,
    private readonly config: QueueConfig,
    private readonly store: MessageStore,
  ) {}

  /** The registry the metrics are in; undefined when they are off. */
  get registry(): PrometheusRegistry | undefined {
    return this.set?.target;
  }

  onApplicationBootstrap(): void {
    const { metrics, health } = this.config;
    if (this.set === undefined || metrics === false || metrics.depthIntervalMs === false) return;
    const set = this.set;
    this.sampler = new DepthSampler({
      // The health check's statement: its cost follows the number of queues, not their depth.
      sample: () => this.store.depths(METRICS_DEPTH_COUNT_LIMIT, health.timeoutMs),
      apply: (depths) => set.setDepths(depths),
      intervalMs: metrics.depthIntervalMs,
      logger: this.logger,
    });
    this.sampler.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.sampler?.stop();
  }

  onApplicationShutdown(): void {
    this.set?.unregister();
  }
}

/** The provider of {@link QueueMetrics}: prom-client is loaded here, and only when needed. */
export const QUEUE_METRICS_PROVIDER: Provider = {
  provide: QueueMetrics,
  inject: [QUEUE_CONFIG, QueueConnection, MessageStore, QueueEvents],
  useFactory: async (
    config: QueueConfig,
    connection: QueueConnection,
    store: MessageStore,
    events: QueueEvents,
  ): Promise<QueueMetrics> => {
    if (config.metrics === false) return new QueueMetrics(undefined, config, store);
    const client = await loadPromClient();
    const set = new QueueMetricSet(client, config.metrics, () => connection.poolCounts());
    events.attachMetrics(set);
    return new QueueMetrics(set, config, store);
  },
};
