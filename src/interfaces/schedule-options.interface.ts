/**
 * What happens to the ticks of a schedule that fell due while no replica ran it (every replica
 * down, or the database unreachable, for longer than `SCHEDULE_LATE_TOLERANCE_SECONDS`):
 *
 * - `'skip'`: none of them is enqueued; the schedule goes on from its next future tick.
 * - `'once'` (the default): one message for all of them, stamped with the latest missed tick.
 * - `{ backfill: n }`: one message per missed tick, the latest `n` of them (1 to 1,000), oldest
 *   first.
 *
 * A schedule that is merely late (a busy replica, a slow statement) is not behind: each of its
 * due ticks is enqueued, whatever the policy.
 */
export type MissedTicksPolicy = 'skip' | 'once' | { readonly backfill: number };

/**
 * How each message of a schedule is enqueued: the options of `enqueue` except the unique key,
 * which the schedule owns (`schedule:<name>:<tick epoch seconds>`, see `scheduledTickOf`).
 */
export interface ScheduleEnqueueOptions {
  /**
   * Seconds after it is enqueued (at its tick, or later for a late or missed tick) that the
   * message becomes due; default 0.
   */
  readonly delaySeconds?: number;
  /** See `EnqueueOptions.priority`; default 0. */
  readonly priority?: number;
  /** See `EnqueueOptions.groupKey`. */
  readonly groupKey?: string;
}

/** A recurring message: what `QueueService.schedule` takes. */
export interface ScheduleOptions<TBody = unknown> {
  /** The queue each tick's message goes to. */
  readonly queue: string;
  /**
   * A cron expression of five fields (minute, hour, day of month, month, day of week) or six
   * (seconds first), as the `cron` package reads it: `0 9 * * 1-5` is 09:00 on weekdays,
   * `*\/10 * * * * *` every ten seconds. It must match some date in the next few years.
   */
  readonly cron: string;
  /**
   * The IANA time zone the expression is read in, e.g. `Europe/Paris`; default `UTC`. Across a
   * daylight-saving change a wall-clock time that does not exist fires once at the first
   * instant after it, and one that happens twice fires once (the first).
   */
  readonly timeZone?: string;
  /** The body of every message, any JSON data; default `null`. Stored with the schedule. */
  readonly body?: TBody;
  /** How each message is enqueued. */
  readonly enqueueOptions?: ScheduleEnqueueOptions;
  /** What to do with ticks missed while no replica ran; default `'once'`. */
  readonly missed?: MissedTicksPolicy;
}

/** A schedule declared in `QueueModule.forRoot({ schedules: [...] })`. */
export interface ScheduleDeclaration<TBody = unknown> extends ScheduleOptions<TBody> {
  /**
   * The schedule's name, its identity in `<table>_schedules`: 1 to 200 printable characters.
   * A schedule added by `QueueService.schedule` with the same name is replaced at boot.
   */
  readonly name: string;
}

/**
 * Options of `@RecurringMessage`: those of a schedule, its queue taken from the `@Processor` of
 * the same method (`queue` is needed only when the method has several).
 */
export interface RecurringMessageOptions<TBody = unknown> extends Omit<
  ScheduleOptions<TBody>,
  'queue'
> {
  readonly queue?: string;
}

/**
 * Who declared a schedule: `'code'` (module options or `@RecurringMessage`: upserted at every
 * boot, deleted at boot once no longer declared) or `'api'` (`QueueService.schedule`: kept until
 * `unschedule`).
 */
export type ScheduleSource = 'code' | 'api';

/** A schedule as stored, listed by `QueueService.listSchedules`. */
export interface ScheduleInfo<TBody = unknown> {
  readonly name: string;
  readonly queue: string;
  readonly cron: string;
  readonly timeZone: string;
  readonly body: TBody;
  readonly enqueueOptions: ScheduleEnqueueOptions;
  readonly missed: MissedTicksPolicy;
  readonly source: ScheduleSource;
  /** The next tick to enqueue (it may be past while a replica is about to enqueue it). */
  readonly nextTickAt: Date;
  /** The latest tick a message was enqueued for; `null` before the first. */
  readonly lastTickAt: Date | null;
  readonly createdAt: Date;
  /** When the definition last changed (not when it last ticked). */
  readonly updatedAt: Date;
}

/** The schedule and tick a message was enqueued for, read from its unique key. */
export interface ScheduledTick {
  readonly schedule: string;
  readonly tickAt: Date;
}
