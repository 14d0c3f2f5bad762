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
  SCHEDULE_LATE_TOLERANCE_SECONDS,
  SCHEDULE_MAX_SLEEP_MS,
  SCHEDULE_TICK_KEY_WINDOW_SECONDS,
} from '../config/defaults.js';
import { type QueueConfig } from '../config/queue-config.js';
import { describeError } from '../errors/describe-error.js';
import { QueueDatabaseError } from '../errors/queue-database.error.js';
import { QUEUE_CONFIG } from '../queue.constants.js';
import { type ScheduleDefinition } from '../sql/schedules.sql.js';
import { MessageStore, type FiredSchedule, type ScheduleTicks } from '../store/message-store.js';
import { NotificationListener } from '../workers/notification-listener.js';
import { CronSchedule, planTicks, tickUniqueKey } from './cron-ticks.js';
import { ScheduleCatalog } from './schedule.catalog.js';
import { storedMissedRule } from './schedule-rules.js';
import { SendSpan, TRACE_ATTRIBUTES, tracingLive } from '../tracing/queue-tracing.js';

/** Schedules one run enqueues before it lets the event loop breathe (and goes on at once). */
const RUN_BATCH = 100;
/** How long a schedule whose own data fails its transaction is set aside at first; doubled each time, up to an hour. */
const QUARANTINE_MS = 60_000;
/**
 * A tick found due but not claimed is held by another replica's transaction, which is about to
 * move it on: look again after this long instead of spinning on it.
 */
const HELD_RETRY_MS = 200;
/** Added to a sleep: a timer that fires a hair early would find nothing due yet. */
const TIMER_SLACK_MS = 5;
/** SQLSTATE undefined_table: the schedules migration was not applied (`migrationsRun: false`). */
const UNDEFINED_TABLE = '42P01';

/**
 * Enqueues the messages of recurring schedules (`<table>_schedules`), on every replica. The
 * guarantee that each tick is enqueued once comes from the database, not from this timer: a
 * replica claims a due schedule's row with `FOR UPDATE SKIP LOCKED` and, in the same
 * transaction, enqueues its ticks and moves `next_tick_at` past them; a replica that finds the
 * row locked skips it, and one that comes after the commit finds it not due. No leader is
 * elected, so nothing can split.
 *
 * Between runs it sleeps until the earliest `next_tick_at` of any schedule (the database's
 * clock), at most `SCHEDULE_MAX_SLEEP_MS`: so a schedule added by another replica is seen at
 * the latest then, and at once where a control notification (`{"schedules": name}`) arrives.
 * The timer is a timeout registered in @nestjs/schedule's `SchedulerRegistry` as
 * `queue-schedules:<schema>.<table>` (the application's registry when it imports
 * `ScheduleModule.forRoot()`).
 *
 * At boot, right after the migrations, it upserts the schedules declared in code (module
 * options, `@RecurringMessage`) and deletes those this application (`applicationName`) declared
 * before and no longer does; its timer starts at application bootstrap.
 */
@Injectable()
export class RecurringScheduler implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('QueueSchedules');
  private readonly registry: SchedulerRegistry;
  private readonly timerName: string;
  private readonly crons = new Map<string, CronSchedule>();
  /** Schedules set aside after their own data failed their transaction (see `quarantine`). */
  private readonly quarantined = new Map<string, { until: number; forMs: number }>();
  private running: Promise<void> | undefined;
  private again = false;
  private stopping = true;
  private failures = 0;
  private unsubscribe: (() => void) | undefined;
  /** How long after bootstrap the first run comes; undefined: recurring messages are off. */
  private firstDelayMs: number | undefined;

  constructor(
    @Inject(MessageStore) private readonly store: MessageStore,
    @Inject(ScheduleCatalog) private readonly catalog: ScheduleCatalog,
    @Inject(NotificationListener) private readonly listener: NotificationListener,
    @Inject(QUEUE_CONFIG) private readonly config: QueueConfig,
    @Optional() @Inject(SchedulerRegistry) registry?: SchedulerRegistry,
  ) {
    this.registry = registry ?? new SchedulerRegistry();
    this.timerName = `queue-schedules:${config.names.schema}.${config.names.table}`;
  }

  /**
   * Upserts the schedules declared in code and deletes those this application no longer
   * declares. Called by the module's initializer right after the migrations, on the boot's
   * connection, so a failure stops the boot as a failed migration does.
   */
  async prepare(): Promise<void> {
    const { definitions } = this.catalog;
    try {
      const { deleted } = await this.store.upsertSchedules(
        definitions.map((definition) => ({
          definition,
          origin: { source: 'code', owner: this.config.applicationName },
          firstTickAfter: (now: number) => this.cronOf(definition).nextAfter(now),
        })),
        { owner: this.config.applicationName },
      );
      if (deleted.length > 0) {
        this.logger.log(`Deleted schedules no longer declared: ${deleted.join(', ')}`);
      }
      this.firstDelayMs = this.sleepFor(await this.store.nextScheduleDueInMs());
    } catch (error) {
      // A table migrated by hand to an older release, with nothing declared: no schedules here.
      if (
        definitions.length === 0 &&
        error instanceof QueueDatabaseError &&
        error.code === UNDEFINED_TABLE
      ) {
        this.logger.warn(
          `${this.config.names.qualifiedSchedules} does not exist (migrations not applied): recurring messages are off`,
        );
        this.firstDelayMs = undefined;
        return;
      }
      throw error;
    }
  }

  onApplicationBootstrap(): void {
    if (this.firstDelayMs === undefined) return;
    this.stopping = false;
    this.unsubscribe = this.listener.addControlListener((message) => {
      if (message.kind === 'schedules') this.wake();
    });
    this.arm(this.firstDelayMs);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    this.unsubscribe?.();
    this.disarm();
    // Let a run in progress commit (or roll back) before the connection closes under it.
    await this.running;
  }

  /** Looks at the schedules now: one was added, changed or removed. */
  wake(): void {
    if (this.stopping) return;
    if (this.running !== undefined) {
      this.again = true;
      return;
    }
    this.arm(0);
  }

  private arm(delayMs: number): void {
    this.disarm();
    const timer = setTimeout(() => {
      this.disarm();
      this.running = this.run().finally(() => {
        this.running = undefined;
        if (this.again && !this.stopping) {
          this.again = false;
          this.arm(0);
        }
      });
    }, delayMs);
    this.registry.addTimeout(this.timerName, timer);
  }

  private disarm(): void {
    if (this.registry.doesExist('timeout', this.timerName)) {
      this.registry.deleteTimeout(this.timerName);
    }
  }

  /** Enqueues every due tick this replica can claim, then sleeps until the next one. */
  private async run(): Promise<void> {
    let delay: number;
    let claimed: string | undefined;
    // An error of the tick arithmetic reaches here wrapped as a database error of the
    // transaction it rolled back: kept aside to be told apart.
    let planFailed = false;
    try {
      let count = 0;
      for (; count < RUN_BATCH && !this.stopping; count++) {
        claimed = undefined;
        const fired = await this.fire((definition, next, now) => {
          claimed = definition.name;
          try {
            return this.plan(definition, next, now);
          } catch (error) {
            planFailed = true;
            throw error;
          }
        });
        if (fired === null) break;
        this.fired(fired);
      }
      claimed = undefined;
      delay =
        count === RUN_BATCH
          ? 0
          : Math.min(
              this.sleepFor(await this.store.nextScheduleDueInMs(this.excluded())),
              this.quarantineEndsInMs(),
            );
      if (this.failures > 0) this.logger.log('Enqueueing due schedules works again');
      this.failures = 0;
    } catch (error) {
      if (claimed !== undefined && (planFailed || isDataFailure(error))) {
        this.quarantine(claimed, error);
        delay = 0;
      } else {
        this.failures += 1;
        // One line for failures 1, 2, 4, 8…: an outage does not log every second.
        if ((this.failures & (this.failures - 1)) === 0) {
          this.logger.warn(
            `Enqueueing due schedules failed (${this.failures} in a row): ${describeError(error)}`,
          );
        }
        delay = Math.min(SCHEDULE_MAX_SLEEP_MS, 500 * 2 ** Math.min(this.failures - 1, 10));
      }
    }
    if (!this.stopping) this.arm(delay);
  }

  /**
   * Claims a due schedule and enqueues its ticks; in a PRODUCER `send <queue>` span when an
   * OpenTelemetry tracer provider is registered, whose context the messages carry.
   */
  private async fire(
    plan: (definition: ScheduleDefinition, nextMs: number, nowMs: number) => ScheduleTicks,
  ): Promise<FiredSchedule | null> {
    if (!tracingLive()) return this.store.fireDueSchedule(this.excluded(), plan);
    let span: SendSpan | undefined;
    try {
      const fired = await this.store.fireDueSchedule(this.excluded(), (definition, next, now) => {
        const planned = plan(definition, next, now);
        // A transaction sent again plans again: the first attempt's span ends unsent.
        span?.end();
        span = undefined;
        if (planned.ticks.length === 0) return planned;
        span = new SendSpan(definition.queue, planned.ticks.length, {
          [TRACE_ATTRIBUTES.schedule]: definition.name,
        });
        const { traceContext } = span;
        return traceContext === undefined ? planned : { ...planned, traceContext };
      });
      if (fired !== null) span?.sent(fired.ids);
      return fired;
    } catch (error) {
      span?.failed(error);
      throw error;
    } finally {
      span?.end();
    }
  }

  /** The sleep until the earliest tick `dueIn` ms away (null: there is no schedule). */
  private sleepFor(dueIn: number | null): number {
    if (dueIn === null) return SCHEDULE_MAX_SLEEP_MS;
    // Due already but not claimed by this run: another replica's transaction holds it.
    if (dueIn <= 0) return HELD_RETRY_MS;
    return Math.min(dueIn + TIMER_SLACK_MS, SCHEDULE_MAX_SLEEP_MS);
  }

  private plan(definition: ScheduleDefinition, nextMs: number, nowMs: number): ScheduleTicks {
    const plan = planTicks(
      this.cronOf(definition),
      nextMs,
      nowMs,
      storedMissedRule(definition),
      SCHEDULE_LATE_TOLERANCE_SECONDS * 1000,
    );
    if (plan.behind) {
      const policy =
        definition.missed === 'backfill' ? `backfill ${definition.backfill}` : definition.missed;
      this.logger.warn(
        `Schedule "${definition.name}" was ${Math.round((nowMs - nextMs) / 1000)} s behind (no replica ran it): missed ticks policy ${policy} enqueues ${plan.ticks.length} message(s)`,
      );
    }
    return {
      ticks: plan.ticks,
      next: plan.next,
      keyOf: (tick) => tickUniqueKey(definition.name, tick),
      keyWindowSeconds: SCHEDULE_TICK_KEY_WINDOW_SECONDS,
    };
  }

  private cronOf(definition: ScheduleDefinition): CronSchedule {
    const key = `${definition.cron}\u0000${definition.timeZone}`;
    let cron = this.crons.get(key);
    if (cron === undefined) {
      cron = new CronSchedule(definition.cron, definition.timeZone);
      this.crons.set(key, cron);
    }
    return cron;
  }

  private fired(fired: FiredSchedule): void {
    this.quarantined.delete(fired.name);
    if (fired.ticks.length === 0) return;
    this.logger.debug(
      `Schedule "${fired.name}": ${fired.ticks.length} message(s) into "${fired.queue}", next tick ${new Date(fired.next).toISOString()}`,
    );
  }

  /**
   * Sets a schedule aside whose own data failed its transaction (a row written by hand or by
   * another release, a cron expression this release cannot read): logged, tried again later,
   * and meanwhile it holds back no other schedule.
   */
  private quarantine(name: string, error: unknown): void {
    const previous = this.quarantined.get(name);
    const forMs = Math.min(3_600_000, previous === undefined ? QUARANTINE_MS : previous.forMs * 2);
    this.quarantined.set(name, { until: Date.now() + forMs, forMs });
    this.logger.error(
      `Schedule "${name}" could not be enqueued (${describeError(error)}); trying it again in ${Math.round(forMs / 1000)} s, the other schedules go on`,
    );
  }

  /** The schedules set aside right now. */
  private excluded(): string[] {
    const now = Date.now();
    return [...this.quarantined].filter(([, entry]) => entry.until > now).map(([name]) => name);
  }

  private quarantineEndsInMs(): number {
    const now = Date.now();
    let soonest = Number.POSITIVE_INFINITY;
    for (const { until } of this.quarantined.values()) {
      if (until > now) soonest = Math.min(soonest, until - now);
    }
    return soonest;
  }
}

/**
 * Whether a failed tick transaction failed for the schedule's own data (SQLSTATE class 22, data
 * exception, or 23, integrity violation) rather than for the database (a lost connection, a
 * timeout), which every schedule would meet alike.
 */
function isDataFailure(error: unknown): boolean {
  return error instanceof QueueDatabaseError && /^2[23]/.test(error.code ?? '');
}
