import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  Optional,
} from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';
import { DEFAULT_MAINTENANCE_BATCH } from '../config/defaults.js';
import { type QueueConfig } from '../config/queue-config.js';
import { describeError } from '../errors/describe-error.js';
import { ARCHIVE_PARTITIONS_AHEAD } from '../config/archive-span.js';
import { QUEUE_CONFIG } from '../queue.constants.js';
import { MessageStore } from '../store/message-store.js';
import { QueueEvents } from '../events/queue-events.js';

/**
 * Runs the lease reaper on an interval and the cleanup on a cron, both from the module options,
 * registered in @nestjs/schedule's `SchedulerRegistry` (the application's when it imports
 * `ScheduleModule.forRoot()`, so they show up beside its own jobs; a private one otherwise, so
 * importing this module never duplicates the application's `@Cron` jobs).
 *
 * Every replica runs them; the statements use SKIP LOCKED, so each row is handled once. A run
 * never overlaps the previous one, and a failure is logged, never thrown.
 */
@Injectable()
export class MaintenanceScheduler implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('QueueMaintenance');
  private readonly registry: SchedulerRegistry;
  private readonly running = new Map<string, Promise<void>>();
  private stopping = false;
  private readonly names: { readonly reaper: string; readonly cleanup: string };

  constructor(
    @Inject(MessageStore) private readonly store: MessageStore,
    @Inject(QUEUE_CONFIG) private readonly config: QueueConfig,
    @Inject(QueueEvents) private readonly events: QueueEvents,
    @Optional() @Inject(SchedulerRegistry) registry?: SchedulerRegistry,
  ) {
    this.registry = registry ?? new SchedulerRegistry();
    const table = `${config.names.schema}.${config.names.table}`;
    this.names = { reaper: `queue-reaper:${table}`, cleanup: `queue-cleanup:${table}` };
  }

  onApplicationBootstrap(): void {
    const { reaper, cleanup } = this.config.maintenance;
    if (reaper !== false) {
      const interval = setInterval(
        () => this.once(this.names.reaper, () => this.reap()),
        reaper.intervalMs,
      );
      this.registry.addInterval(this.names.reaper, interval);
    }
    if (cleanup !== false) {
      const job = CronJob.from({
        cronTime: cleanup.cron,
        onTick: () => this.once(this.names.cleanup, () => this.cleanup()),
        start: true,
      });
      this.registry.addCronJob(this.names.cleanup, job);
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    // A cleanup in progress stops after its current batch, instead of holding the shutdown
    // through a backlog of old messages.
    this.stopping = true;
    if (this.registry.doesExist('interval', this.names.reaper)) {
      this.registry.deleteInterval(this.names.reaper);
    }
    if (this.registry.doesExist('cron', this.names.cleanup)) {
      this.registry.deleteCronJob(this.names.cleanup);
    }
    // Let a run in progress finish before the connection closes under it.
    await Promise.allSettled(this.running.values());
  }

  /** The reaper's one bounded statement, with a log line of what it moved. */
  async reap(): Promise<void> {
    const { reaper } = this.config.maintenance;
    // Called by hand with the scheduled reaper off, it reaps one default batch.
    const outcomes = await this.store.reapExpiredLeases(
      reaper === false ? DEFAULT_MAINTENANCE_BATCH : reaper.batchSize,
    );
    if (outcomes.length === 0) return;
    this.events.reaped(outcomes);
    const words = {
      ready: 'back to ready',
      failed: 'dead-lettered',
      moved: 'moved to their dead-letter queue',
      cancelled: 'cancelled (a cancel was requested)',
    };
    this.logger.log(
      `Reaped expired leases: ${outcomes
        .map((o) => `${o.count} of "${o.queue}" ${words[o.outcome]}`)
        .join(', ')}`,
    );
  }

  async cleanup(): Promise<void> {
    const { cleanup } = this.config.maintenance;
    if (cleanup === false) return;
    const started = Date.now();
    // Partitions first, so that the dead letters archived below find theirs. A failure (no
    // EXECUTE on the keeper, say) is told and the cleanup goes on: rows then land in the
    // archive's default partition, and no insert fails.
    await this.keepArchivePartitions(cleanup.archiveRetentionSeconds).catch((error: unknown) => {
      this.logger.warn(
        `Archive partitions not kept: ${describeError(error)}. A role that does not own the archive needs: GRANT EXECUTE ON FUNCTION ${this.config.names.functions.archivePartitions}(integer, bigint) TO <role>`,
      );
    });
    const result = await this.store.cleanup({ ...cleanup, stopped: () => this.stopping });
    if (result.deleted + result.archived > 0) {
      this.logger.log(
        `Cleanup: deleted ${result.deleted} done message(s), archived ${result.archived} dead letter(s) in ${Date.now() - started} ms`,
      );
    }
  }

  private async keepArchivePartitions(keepSeconds: number | undefined): Promise<void> {
    const { created, dropped, moved } = await this.store.maintainArchivePartitions(
      ARCHIVE_PARTITIONS_AHEAD,
      keepSeconds,
    );
    if (created.length + dropped.length === 0) return;
    const parts = [
      created.length > 0 ? `created ${created.join(', ')}` : '',
      moved > 0 ? `moved ${moved} row(s) out of the default partition` : '',
      dropped.length > 0 ? `dropped ${dropped.join(', ')} (archive retention)` : '',
    ].filter((part) => part !== '');
    this.logger.log(`Archive partitions: ${parts.join('; ')}`);
  }

  private once(name: string, work: () => Promise<void>): void {
    if (this.running.has(name)) return;
    const run = work()
      .catch((error: unknown) => {
        this.logger.warn(`${name} failed: ${describeError(error)}`);
      })
      .finally(() => this.running.delete(name));
    this.running.set(name, run);
  }
}
