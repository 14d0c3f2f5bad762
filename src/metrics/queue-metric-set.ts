import type * as PromClient from 'prom-client';
import { METRICS_DEPTH_COUNT_LIMIT, METRICS_LATENCY_BUCKETS } from '../config/defaults.js';
import { type MetricsConfig } from '../config/queue-config.js';
import { QueueOptionsError } from '../errors/queue-options.error.js';
import { type MetricHooks, type QueueMetricHooks } from '../interfaces/metric-hooks.interface.js';
import { type QueueCancelledWhen } from '../interfaces/queue-events.interface.js';
import { type QueueDepth } from '../interfaces/queue-stats.interface.js';

/** The prom-client module, as loaded. */
export type PromClientModule = Omit<typeof PromClient, 'default'>;

/** The pool of the module's DataSource, read when the registry is scraped. */
export type PoolCounts = () => { total: number; idle: number; waiting: number } | undefined;

/** The depth states a gauge reports: the live ones the health statement counts. */
const DEPTH_STATES = ['ready', 'leased', 'failed'] as const;

/**
 * The queue's Prometheus metrics in one registry, and the hooks that feed them. Per-queue
 * children (`counter.labels(queue)`) are looked up once per queue and kept, so a report is one
 * `inc` or `observe`, with no label hashing on the hot path.
 */
export class QueueMetricSet implements MetricHooks {
  private readonly metrics: PromClient.Metric[] = [];
  private readonly byQueue = new Map<string, QueueMetricHooks>();
  /** Queues a depth sample reported: zeroed, not dropped, once a later sample misses them. */
  private readonly sampledQueues = new Set<string>();
  private readonly registry: PromClient.Registry;

  readonly processed: PromClient.Counter<'queue'>;
  readonly failed: PromClient.Counter<'queue'>;
  readonly retried: PromClient.Counter<'queue'>;
  readonly deadLettered: PromClient.Counter<'queue' | 'by'>;
  readonly cancelled: PromClient.Counter<'queue' | 'when'>;
  readonly stalled: PromClient.Counter<'queue'>;
  readonly handlerDuration: PromClient.Histogram<'queue'>;
  readonly leaseToStart: PromClient.Histogram<'queue'>;
  readonly statementDuration: PromClient.Histogram<'queue' | 'statement'>;
  readonly depth: PromClient.Gauge<'queue' | 'state'>;
  readonly oldestReadyAge: PromClient.Gauge<'queue'>;

  /**
   * Creates and registers every metric. A name already registered (a second queue module on the
   * same registry, or one not closed) fails the boot, with nothing of this set left registered.
   */
  constructor(client: PromClientModule, config: MetricsConfig, poolCounts: PoolCounts) {
    this.registry = (config.registry as PromClient.Registry | undefined) ?? client.register;
    const registers = [this.registry];
    const name = (suffix: string) => `${config.prefix}fetchcraft_queue_${suffix}`;
    const buckets = [...METRICS_LATENCY_BUCKETS];
    const add = <M extends PromClient.Metric>(create: () => M): M => {
      try {
        const metric = create();
        this.metrics.push(metric);
        return metric;
      } catch (error) {
        this.unregister();
        throw new QueueOptionsError(
          'metrics',
          `could not register the queue metrics (${error instanceof Error ? error.message : String(error)}): close the previous application first, or give each queue module sharing a registry its own metrics.prefix`,
        );
      }
    };
    const counter = <L extends string>(suffix: string, help: string, labelNames: L[]) =>
      add(() => new client.Counter<L>({ name: name(suffix), help, labelNames, registers }));
    const histogram = <L extends string>(suffix: string, help: string, labelNames: L[]) =>
      add(
        () => new client.Histogram<L>({ name: name(suffix), help, labelNames, buckets, registers }),
      );

    this.processed = counter(
      'processed_total',
      'Messages whose handler succeeded and whose ack landed.',
      ['queue'],
    );
    this.failed = counter(
      'failed_total',
      'Failed attempts whose message will run again (its retry was recorded).',
      ['queue'],
    );
    this.retried = counter(
      'retried_total',
      'Attempts started after the first one of their message.',
      ['queue'],
    );
    this.deadLettered = counter(
      'dead_lettered_total',
      'Messages that failed for good: failed in place or moved to their dead-letter queue, by a worker or the reaper.',
      ['queue', 'by'],
    );
    this.cancelled = counter(
      'cancelled_total',
      'Messages settled cancelled, by when the cancel caught them.',
      ['queue', 'when'],
    );
    this.stalled = counter(
      'stalled_total',
      'Expired leases the reaper took back (their worker crashed or stalled).',
      ['queue'],
    );
    this.handlerDuration = histogram(
      'handler_duration_seconds',
      'How long handlers ran, from their call to their outcome.',
      ['queue'],
    );
    this.leaseToStart = histogram(
      'lease_to_start_seconds',
      'How long leased messages waited in the process (the prefetch buffer) before their handler started.',
      ['queue'],
    );
    this.statementDuration = histogram(
      'statement_duration_seconds',
      "Round trips of the workers' lease and ack statements.",
      ['queue', 'statement'],
    );
    this.depth = add(
      () =>
        new client.Gauge<'queue' | 'state'>({
          name: name('depth'),
          help: `Messages per queue and state (ready counted up to ${METRICS_DEPTH_COUNT_LIMIT}), at the last depth sample of this process.`,
          labelNames: ['queue', 'state'],
          registers,
        }),
    );
    this.oldestReadyAge = add(
      () =>
        new client.Gauge<'queue'>({
          name: name('oldest_ready_age_seconds'),
          help: 'Age of the oldest due ready message per queue at the last depth sample; 0 when none waits.',
          labelNames: ['queue'],
          registers,
        }),
    );
    const poolGauge = (
      suffix: string,
      help: string,
      read: (counts: NonNullable<ReturnType<PoolCounts>>) => number,
    ) =>
      add(
        () =>
          new client.Gauge({
            name: name(suffix),
            help,
            registers,
            // Read at scrape time: the pool's own counters, no round trip.
            collect() {
              const counts = poolCounts();
              this.set(counts === undefined ? 0 : read(counts));
            },
          }),
      );
    poolGauge(
      'pool_in_use_connections',
      "Connections of the module's pool checked out now.",
      (c) => c.total - c.idle,
    );
    poolGauge(
      'pool_idle_connections',
      "Open connections of the module's pool waiting in it.",
      (c) => c.idle,
    );
    poolGauge(
      'pool_waiting_requests',
      "Checkouts waiting for a connection of the module's pool.",
      (c) => c.waiting,
    );
  }

  /** The registry the metrics are in, for the `/metrics` endpoint. */
  get target(): PromClient.Registry {
    return this.registry;
  }

  forQueue(queue: string): QueueMetricHooks {
    let hooks = this.byQueue.get(queue);
    if (hooks === undefined) {
      hooks = this.hooksOf(queue);
      // Bounded by the queues this process works on or cancels in, like its workers.
      this.byQueue.set(queue, hooks);
    }
    return hooks;
  }

  /**
   * A depth sample: gauges set for every queue it reports, zeroed for a queue an earlier sample
   * reported and this one does not (its messages are all done), so a drained queue reads 0.
   */
  setDepths(depths: Readonly<Record<string, QueueDepth>>): void {
    const seen = new Set(Object.keys(depths));
    for (const queue of this.sampledQueues) {
      if (seen.has(queue)) continue;
      for (const state of DEPTH_STATES) this.depth.labels(queue, state).set(0);
      this.oldestReadyAge.labels(queue).set(0);
    }
    for (const [queue, depth] of Object.entries(depths)) {
      this.sampledQueues.add(queue);
      for (const state of DEPTH_STATES) this.depth.labels(queue, state).set(depth[state]);
      this.oldestReadyAge.labels(queue).set(depth.oldestReadyAgeSeconds);
    }
  }

  /** Takes every metric of this set out of its registry (at shutdown, or a failed boot). */
  unregister(): void {
    for (const metric of this.metrics.splice(0)) {
      this.registry.removeSingleMetric((metric as unknown as { name: string }).name);
    }
  }

  private hooksOf(queue: string): QueueMetricHooks {
    const processed = this.processed.labels(queue);
    const failed = this.failed.labels(queue);
    const retried = this.retried.labels(queue);
    const stalled = this.stalled.labels(queue);
    const handler = this.handlerDuration.labels(queue);
    const waited = this.leaseToStart.labels(queue);
    const lease = this.statementDuration.labels(queue, 'lease');
    const ack = this.statementDuration.labels(queue, 'ack');
    const deadLettered = {
      worker: this.deadLettered.labels(queue, 'worker'),
      reaper: this.deadLettered.labels(queue, 'reaper'),
    };
    // Every series of a queue exists from its first use, at 0, so that rate() and increase()
    // see the first event instead of a series appearing with it.
    for (const child of [
      processed,
      failed,
      retried,
      stalled,
      deadLettered.worker,
      deadLettered.reaper,
    ]) {
      child.inc(0);
    }
    const cancelled = this.cancelled;
    return {
      processed: () => processed.inc(),
      failed: () => failed.inc(),
      retried: () => retried.inc(),
      deadLettered: (by, count = 1) => deadLettered[by].inc(count),
      cancelled: (when: QueueCancelledWhen, count = 1) => cancelled.labels(queue, when).inc(count),
      stalled: (count) => stalled.inc(count),
      handlerSeconds: (seconds) => handler.observe(seconds),
      leaseToStartSeconds: (seconds) => waited.observe(seconds),
      leaseStatementSeconds: (seconds) => lease.observe(seconds),
      ackStatementSeconds: (seconds) => ack.observe(seconds),
    };
  }
}
