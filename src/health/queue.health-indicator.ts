import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { type QueueConfig } from '../config/queue-config.js';
import { QueueConnection } from '../database/queue-connection.js';
import { type QueueHealthThresholds } from '../interfaces/maintenance-options.interface.js';
import { QUEUE_CONFIG } from '../queue.constants.js';
import { queueDepthSql } from '../sql/maintenance.sql.js';

/** One queue's depth, as the health report shows it. */
export interface QueueDepth {
  /** Ready messages, counted up to the health `countLimit`. */
  ready: number;
  /** True when `ready` stopped at the count limit: the backlog is at least that deep. */
  readyCapped: boolean;
  leased: number;
  failed: number;
  /** Age of the oldest `ready` message that is due, in seconds; 0 when none is waiting. */
  oldestReadyAgeSeconds: number;
  /** Leased messages whose lease has run out and that the reaper has not settled yet. */
  expiredLeases: number;
}

/**
 * Terminus health indicator for the queue, for applications that build their own health
 * controller. It never throws: a slow or unreachable database, or a crossed threshold, is
 * reported as `down` with the reason (Terminus 12 no longer turns a throw into a 503).
 */
@Injectable()
export class QueueHealthIndicator {
  constructor(
    @Inject(HealthIndicatorService) private readonly health: HealthIndicatorService,
    @Inject(QueueConnection) private readonly connection: QueueConnection,
    @Inject(QUEUE_CONFIG) private readonly config: QueueConfig,
  ) {}

  /** `up` when the database answers `SELECT 1` within the health timeout. */
  async pingCheck<const Key extends string = 'database'>(
    key: Key = 'database' as Key,
  ): Promise<HealthIndicatorResult<Key>> {
    const session = this.health.check(key);
    try {
      await this.withinTimeout(
        this.connection.query('healthPing', { text: 'SELECT 1', values: [] }),
      );
      return session.up();
    } catch (error) {
      return session.down({ message: reason(error) });
    }
  }

  /**
   * Depth of every queue holding live messages, checked against the thresholds of the module's
   * `health` option (or `thresholds`, when given): `down` when one is crossed or the database
   * does not answer in time.
   */
  async isHealthy<const Key extends string = 'queues'>(
    key: Key = 'queues' as Key,
    thresholds?: QueueHealthThresholds,
  ): Promise<HealthIndicatorResult<Key>> {
    const session = this.health.check(key);
    let queues: Record<string, QueueDepth>;
    try {
      queues = await this.withinTimeout(this.depths());
    } catch (error) {
      return session.down({ message: reason(error) });
    }
    const crossed = Object.entries(queues).flatMap(([queue, depth]) =>
      crossedThresholds(queue, depth, {
        ...(thresholds ?? this.config.health.thresholds),
        ...this.config.health.queues[queue],
      }),
    );
    return crossed.length === 0 ? session.up({ queues }) : session.down({ queues, crossed });
  }

  /** One grouped query over the live states; see `queueDepthSql`. */
  async depths(): Promise<Record<string, QueueDepth>> {
    const result = await this.connection.query<{
      queue: string;
      state: 'ready' | 'leased' | 'failed';
      count: string;
      oldest_due_age: string | null;
      expired: string;
    }>('healthDepth', queueDepthSql(this.config.names, this.config.health.countLimit + 1));
    const queues = Object.create(null) as Record<string, QueueDepth>;
    for (const row of result.rows) {
      const depth = (queues[row.queue] ??= {
        ready: 0,
        readyCapped: false,
        leased: 0,
        failed: 0,
        oldestReadyAgeSeconds: 0,
        expiredLeases: 0,
      });
      depth[row.state] = Number(row.count);
      if (row.state === 'ready') {
        const limit = this.config.health.countLimit;
        depth.readyCapped = depth.ready > limit;
        depth.ready = Math.min(depth.ready, limit);
        depth.oldestReadyAgeSeconds = Number(row.oldest_due_age ?? 0);
      }
      if (row.state === 'leased') depth.expiredLeases = Number(row.expired);
    }
    return queues;
  }

  private async withinTimeout<T>(work: Promise<T>): Promise<T> {
    const { timeoutMs } = this.config.health;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the database did not answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([work, timeout]);
    } finally {
      clearTimeout(timer);
      // The statement may still finish later; its outcome no longer matters.
      work.catch(() => undefined);
    }
  }
}

function crossedThresholds(
  queue: string,
  depth: QueueDepth,
  limits: QueueHealthThresholds,
): string[] {
  const crossed: string[] = [];
  if (limits.maxReadyDepth !== undefined && depth.ready > limits.maxReadyDepth) {
    const ready = `${depth.ready}${depth.readyCapped ? '+' : ''}`;
    crossed.push(`${queue}: ready ${ready} > maxReadyDepth ${limits.maxReadyDepth}`);
  }
  if (
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

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
