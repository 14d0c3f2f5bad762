import { randomUUID } from 'node:crypto';
import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  Optional,
} from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import {
  DEFAULT_SAMPLE_RETENTION_HOURS,
  SAMPLE_DELAY_MS,
  SAMPLE_EXPIRE_MINUTES,
} from '../config/defaults.js';
import { type QueueConfig } from '../config/queue-config.js';
import { describeError } from '../errors/describe-error.js';
import { QueueDatabaseError } from '../errors/queue-database.error.js';
import { QUEUE_CONFIG } from '../queue.constants.js';
import { MessageStore, type RecordedSamples } from '../store/message-store.js';
import { FailureRun } from '../async/failure-run.js';

const MINUTE_MS = 60_000;
/** SQLSTATE undefined_table: the dashboard migration was not applied (`migrationsRun: false`). */
const UNDEFINED_TABLE = '42P01';

/**
 * Milliseconds from `nowMs` to the next time `delayMs` past a whole minute (of this clock),
 * never 0: the sampler wakes just after each minute closes.
 */
export function msUntilNextSample(nowMs: number, delayMs: number): number {
  const ms = (((delayMs - nowMs) % MINUTE_MS) + MINUTE_MS) % MINUTE_MS;
  return ms === 0 ? MINUTE_MS : ms;
}

/**
 * Writes the per-minute samples of every queue (`<table>_samples`, see `recordSamplesSql`),
 * once per minute for the whole cluster. Every replica wakes a couple of seconds after each
 * whole minute of its own clock; the database's clock names the minute, and the first replica
 * to claim it samples it, so replicas whose clocks drift still sample each minute once. The one
 * that samples also deletes the samples past `samples.retentionHours`.
 *
 * The timer is a timeout in @nestjs/schedule's `SchedulerRegistry` (the application's when it
 * imports `ScheduleModule.forRoot()`), named `queue-samples:<schema>.<table>:<instance>`,
 * re-armed after each run, so a run never overlaps the next and the minutes do not drift.
 * A failure is logged once until a run succeeds again, never thrown.
 */
@Injectable()
export class SampleRecorder implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('QueueSamples');
  private readonly registry: SchedulerRegistry;
  private readonly timerName: string;
  private running: Promise<RecordedSamples | undefined> | undefined;
  private stopping = true;
  private readonly failures: FailureRun;

  constructor(
    @Inject(MessageStore) private readonly store: MessageStore,
    @Inject(QUEUE_CONFIG) private readonly config: QueueConfig,
    @Optional() @Inject(SchedulerRegistry) registry?: SchedulerRegistry,
  ) {
    this.registry = registry ?? new SchedulerRegistry();
    this.failures = new FailureRun(this.logger);
    // Per instance: two modules of one table in one process (tests, a blue/green swap) may
    // share the application's registry.
    this.timerName = `queue-samples:${config.names.schema}.${config.names.table}:${randomUUID().slice(0, 8)}`;
  }

  onApplicationBootstrap(): void {
    if (this.config.samples === false) return;
    this.stopping = false;
    this.arm();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    this.disarm();
    // Let a run in progress commit before the connection closes under it.
    await this.running;
  }

  /**
   * Samples the minute that just closed now, unless a replica did already; what the timer calls.
   * Never throws: a failure is logged (once per run of failures) and reported as undefined.
   */
  recordNow(): Promise<RecordedSamples | undefined> {
    this.running ??= this.record().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async record(): Promise<RecordedSamples | undefined> {
    // Called by hand with the timer off (`samples.enabled: false`), it keeps the default retention.
    const retentionHours =
      this.config.samples === false
        ? DEFAULT_SAMPLE_RETENTION_HOURS
        : this.config.samples.retentionHours;
    try {
      const recorded = await this.store.recordSamples(retentionHours, SAMPLE_EXPIRE_MINUTES);
      this.failures.succeeded('Sampling the queues works again');
      return recorded;
    } catch (error) {
      this.failures.failed(() => this.failureMessage(error));
      return undefined;
    }
  }

  private failureMessage(error: unknown): string {
    if (error instanceof QueueDatabaseError && error.code === UNDEFINED_TABLE) {
      return `${this.config.names.qualifiedSamples} does not exist (migrations not applied): no samples until it does`;
    }
    return `Sampling the queues failed (${describeError(error)}); told once until it works again`;
  }

  private arm(): void {
    this.disarm();
    const timer = setTimeout(
      () => {
        this.disarm();
        void this.recordNow().finally(() => {
          if (!this.stopping) this.arm();
        });
      },
      msUntilNextSample(Date.now(), SAMPLE_DELAY_MS),
    );
    // The timer alone must not keep a process alive.
    timer.unref();
    this.registry.addTimeout(this.timerName, timer);
  }

  private disarm(): void {
    if (this.registry.doesExist('timeout', this.timerName)) {
      this.registry.deleteTimeout(this.timerName);
    }
  }
}
