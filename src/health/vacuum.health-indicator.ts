import { Inject, Injectable, Logger } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { type QueueConfig } from '../config/queue-config.js';
import { QUEUE_CONFIG } from '../queue.constants.js';
import { MessageStore } from '../store/message-store.js';
import { HealthProbe } from './health-probe.js';
import { judgeVacuum } from './vacuum-limits.js';

/**
 * Terminus health indicator for what keeps the queue table clean: the age of the oldest
 * transaction holding back vacuum (the xmin horizon; while it stays open, no row version a
 * queue table's churn leaves behind can be removed, on any table of the database) and the queue
 * table's dead tuples, against the `health` option's `maxHorizonAgeSeconds` and
 * `maxDeadTuples`. It never throws: a crossed limit or a failed query is `down` with the
 * reason, which names no host, role or statement.
 *
 * The application's role sees the transactions of other roles only with `pg_read_all_stats`;
 * without it `hiddenSessions` counts those it could not inspect. `fetchcraft-queue doctor`
 * names the holder and what to do.
 */
@Injectable()
export class QueueVacuumHealthIndicator {
  private readonly probe: HealthProbe;

  constructor(
    @Inject(HealthIndicatorService) private readonly health: HealthIndicatorService,
    @Inject(MessageStore) private readonly store: MessageStore,
    @Inject(QUEUE_CONFIG) private readonly config: QueueConfig,
  ) {
    this.probe = new HealthProbe(new Logger('QueueHealth'), config.health.timeoutMs);
  }

  /** `down` when the horizon is older, or the dead tuples more, than the limits allow. */
  async isHealthy<const Key extends string = 'vacuum'>(
    key: Key = 'vacuum' as Key,
  ): Promise<HealthIndicatorResult<Key>> {
    const session = this.health.check(key);
    const { timeoutMs, vacuum } = this.config.health;
    try {
      const facts = await this.probe.within(this.store.vacuumFacts(timeoutMs));
      this.probe.answered();
      const { details, crossed } = judgeVacuum(facts, vacuum);
      return crossed.length === 0
        ? session.up({ ...details })
        : session.down({ ...details, crossed });
    } catch (error) {
      return session.down({ message: this.probe.reasonOf(error) });
    }
  }
}
