import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  Optional,
} from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { REPLICA_FORGET_SECONDS } from '../config/defaults.js';
import { type QueueConfig } from '../config/queue-config.js';
import { describeError } from '../errors/describe-error.js';
import { QueueDatabaseError } from '../errors/queue-database.error.js';
import { type ProcessorInfo } from '../interfaces/processor-message.interface.js';
import { type ReplicaProcessor } from '../interfaces/queue-replica.interface.js';
import { QUEUE_CONFIG } from '../queue.constants.js';
import { MessageStore } from '../store/message-store.js';
import { ProcessorRegistry } from './processor.registry.js';
import { FailureRun } from '../async/failure-run.js';

/** SQLSTATE undefined_table: the dashboard migration was not applied (`migrationsRun: false`). */
const UNDEFINED_TABLE = '42P01';

/**
 * What a heartbeat says of this process's processors: none when its workers do not run
 * (`workers: false`, a dashboard or API pod); paused when either pause stops its fetching.
 */
export function replicaProcessorsOf(
  processors: readonly ProcessorInfo[],
  workersEnabled: boolean,
): ReplicaProcessor[] {
  if (!workersEnabled) return [];
  return processors.map((processor) => ({
    queue: processor.queue,
    concurrency: processor.options.concurrency,
    running: processor.inFlight,
    paused: processor.paused || processor.pausedEverywhere,
  }));
}

/**
 * Writes this process's row of `<table>_replicas` at bootstrap and every
 * `heartbeat.intervalSeconds`, with its processors, and deletes it at shutdown; each beat also
 * deletes the rows of replicas unheard of for an hour (a pod killed without its shutdown hook).
 * The id is random per process start; the row holds the host name, the pid and the module's
 * `applicationName`. Written with `workers: false` too: a dashboard pod is a replica, with no
 * processors.
 *
 * The timer is an interval in @nestjs/schedule's `SchedulerRegistry`, named
 * `queue-heartbeat:<schema>.<table>:<id>`. A beat never overlaps the previous one; a failure is
 * logged once until a beat succeeds again, never thrown.
 */
@Injectable()
export class ReplicaHeartbeat implements OnApplicationBootstrap, BeforeApplicationShutdown {
  /** This process's row, random per start. */
  readonly id = randomUUID();
  private readonly logger = new Logger('QueueHeartbeat');
  private readonly registry: SchedulerRegistry;
  private readonly timerName: string;
  private running: Promise<boolean> | undefined;
  private started = false;
  private readonly failures: FailureRun;

  constructor(
    @Inject(MessageStore) private readonly store: MessageStore,
    @Inject(QUEUE_CONFIG) private readonly config: QueueConfig,
    @Inject(ProcessorRegistry) private readonly processors: ProcessorRegistry,
    @Optional() @Inject(SchedulerRegistry) registry?: SchedulerRegistry,
  ) {
    this.registry = registry ?? new SchedulerRegistry();
    this.failures = new FailureRun(this.logger);
    this.timerName = `queue-heartbeat:${config.names.schema}.${config.names.table}:${this.id}`;
  }

  onApplicationBootstrap(): void {
    const { heartbeat } = this.config;
    if (heartbeat === false) return;
    this.started = true;
    void this.beatNow();
    const interval = setInterval(() => void this.beatNow(), heartbeat.intervalSeconds * 1000);
    interval.unref();
    this.registry.addInterval(this.timerName, interval);
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    if (this.registry.doesExist('interval', this.timerName)) {
      this.registry.deleteInterval(this.timerName);
    }
    await this.running;
    // Gone at once from every dashboard, instead of three intervals later.
    await this.store.deleteReplica(this.id).catch((error: unknown) => {
      if (!this.failures.inRun) {
        this.logger.warn(`Could not delete this replica's heartbeat row: ${describeError(error)}`);
      }
    });
  }

  /**
   * Writes the heartbeat now (a beat in progress is joined, not doubled); what the timer calls.
   * Never throws. @returns whether the row was written.
   */
  beatNow(): Promise<boolean> {
    this.running ??= this.beat().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async beat(): Promise<boolean> {
    const { heartbeat } = this.config;
    if (heartbeat === false) return false;
    try {
      await this.store.replicaBeat(
        {
          id: this.id,
          applicationName: this.config.applicationName,
          hostname: hostname(),
          pid: process.pid,
          heartbeatSeconds: heartbeat.intervalSeconds,
          processorsJson: JSON.stringify(
            replicaProcessorsOf(this.processors.getProcessors(), this.config.workers.enabled),
          ),
        },
        REPLICA_FORGET_SECONDS,
      );
      this.failures.succeeded('The replica heartbeat works again');
      return true;
    } catch (error) {
      this.failures.failed(() =>
        error instanceof QueueDatabaseError && error.code === UNDEFINED_TABLE
          ? `${this.config.names.qualifiedReplicas} does not exist (migrations not applied): this replica is not listed until it does`
          : `The replica heartbeat failed (${describeError(error)}); told once until it works again`,
      );
      return false;
    }
  }
}
