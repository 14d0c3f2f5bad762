import { Inject, Injectable, Logger } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { type QueueConfig } from '../config/queue-config.js';
import { type QueueHealthThresholds } from '../interfaces/maintenance-options.interface.js';
import { type QueueDepth } from '../interfaces/queue-stats.interface.js';
import { ProcessorCatalog } from '../processor/processor.catalog.js';
import { QUEUE_CONFIG } from '../queue.constants.js';
import { MessageStore } from '../store/message-store.js';
import { EMPTY_QUEUE_DEPTH } from '../store/stats-rows.js';
import { HealthProbe } from './health-probe.js';

/**
 * Terminus health indicator for the queue, for applications that build their own health
 * controller. It never throws: a slow or unreachable database, or a crossed threshold, is
 * reported as `down` with the reason (Terminus 12 no longer turns a throw into a 503).
 */
@Injectable()
export class QueueHealthIndicator {
  private readonly probe: HealthProbe;

  constructor(
    @Inject(HealthIndicatorService) private readonly health: HealthIndicatorService,
    @Inject(MessageStore) private readonly store: MessageStore,
    @Inject(QUEUE_CONFIG) private readonly config: QueueConfig,
    @Inject(ProcessorCatalog) private readonly catalog: ProcessorCatalog,
  ) {
    this.probe = new HealthProbe(new Logger('QueueHealth'), config.health.timeoutMs);
  }

  /** `up` when the database answers `SELECT 1` within the health timeout. */
  async pingCheck<const Key extends string = 'database'>(
    key: Key = 'database' as Key,
  ): Promise<HealthIndicatorResult<Key>> {
    const session = this.health.check(key);
    try {
      await this.probe.within(this.store.ping(this.config.health.timeoutMs));
      this.probe.answered();
      return session.up();
    } catch (error) {
      return session.down({ message: this.probe.reasonOf(error) });
    }
  }

  /**
   * Depth of every queue holding live messages, and of every queue this process has a processor
   * for or the `health.queues` option names (zeros when empty, so a dashboard sees the queue
   * before its first message), checked against the thresholds of the module's `health` option
   * (or `thresholds`, when given): `down` when one is crossed or the database does not answer
   * in time.
   */
  async isHealthy<const Key extends string = 'queues'>(
    key: Key = 'queues' as Key,
    thresholds?: QueueHealthThresholds,
  ): Promise<HealthIndicatorResult<Key>> {
    const session = this.health.check(key);
    let queues: Record<string, QueueDepth>;
    try {
      queues = { ...this.emptyKnownQueues(), ...(await this.probe.within(this.depths())) };
    } catch (error) {
      return session.down({ message: this.probe.reasonOf(error) });
    }
    const crossed = Object.entries(queues).flatMap(([queue, depth]) =>
      crossedThresholds(queue, depth, {
        ...(thresholds ?? this.config.health.thresholds),
        ...this.config.health.queues[queue],
      }),
    );
    return crossed.length === 0 ? session.up({ queues }) : session.down({ queues, crossed });
  }

  /** Depth of every queue holding live messages, in one statement (see `queueDepthSql`). */
  depths(): Promise<Record<string, QueueDepth>> {
    return this.store.depths(this.config.health.countLimit, this.config.health.timeoutMs);
  }

  /** The queues a report always lists, each as empty; live depths replace them. */
  private emptyKnownQueues(): Record<string, QueueDepth> {
    const names = [
      ...this.catalog.definitions.map((definition) => definition.queue),
      ...Object.keys(this.config.health.queues),
    ];
    return Object.fromEntries(names.sort().map((queue) => [queue, { ...EMPTY_QUEUE_DEPTH }]));
  }
}

function crossedThresholds(
  queue: string,
  depth: QueueDepth,
  limits: QueueHealthThresholds,
): string[] {
  const crossed: string[] = [];
  // A queue paused for every replica keeps its backlog on purpose: a maintenance pause must not
  // take the pods out of service. Its dead letters still count.
  const waitsOnPurpose = depth.paused;
  if (!waitsOnPurpose && limits.maxReadyDepth !== undefined && depth.ready > limits.maxReadyDepth) {
    const ready = `${depth.ready}${depth.readyCapped ? '+' : ''}`;
    crossed.push(`${queue}: ready ${ready} > maxReadyDepth ${limits.maxReadyDepth}`);
  }
  if (
    !waitsOnPurpose &&
    limits.maxOldestReadyAgeSeconds !== undefined &&
    depth.oldestReadyAgeSeconds > limits.maxOldestReadyAgeSeconds
  ) {
    crossed.push(
      `${queue}: oldest ready ${depth.oldestReadyAgeSeconds} s > maxOldestReadyAgeSeconds ${limits.maxOldestReadyAgeSeconds}`,
    );
  }
  if (limits.maxFailed !== undefined && depth.failed > limits.maxFailed) {
    crossed.push(`${queue}: failed ${depth.failed} > maxFailed ${limits.maxFailed}`);
  }
  return crossed;
}
