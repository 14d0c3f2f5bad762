import { CronTime } from 'cron';

/*
 * The time arithmetic of recurring messages, without a database: when a cron expression ticks in
 * a time zone, and which ticks a schedule enqueues when it is found due. Times are epoch
 * milliseconds on the database's clock.
 */

/** How a schedule's missed ticks are handled, as stored (see `MissedTicksPolicy`). */
export type MissedRule =
  | { readonly policy: 'skip' }
  | { readonly policy: 'once' }
  | { readonly policy: 'backfill'; readonly count: number };

/** A cron expression read in one IANA time zone. */
export class CronSchedule {
  private readonly time: CronTime;

  /** @throws the `cron` package's error for an expression or a time zone it cannot read. */
  constructor(
    readonly expression: string,
    readonly timeZone: string,
  ) {
    this.time = new CronTime(expression, timeZone);
  }

  /**
   * The first tick strictly after `after`. Across a daylight-saving change the `cron` package
   * fires a skipped wall-clock time at the first instant after the gap, and a repeated one once.
   *
   * @throws when no date matches in the next years (`0 0 30 2 *`).
   */
  nextAfter(after: number): number {
    return this.time.getNextDateFrom(new Date(after), this.timeZone).toMillis();
  }

  /** The first tick at or after `at`. */
  firstFrom(at: number): number {
    return this.nextAfter(at - 1);
  }
}

/** What a due schedule enqueues now, and its next tick. */
export interface TickPlan {
  /** Ticks to enqueue a message for, oldest first (epoch ms). */
  readonly ticks: readonly number[];
  /** The first tick after `now`: the schedule's next `next_tick_at`. */
  readonly next: number;
  /** Whether it was behind (its next tick older than the tolerance): the policy applied. */
  readonly behind: boolean;
}

/**
 * The ticks a schedule enqueues when found at `now` with its next tick at `nextTickAt`.
 *
 * Within `toleranceMs` of `now` the schedule is only late (a replica slept long, a statement was
 * slow): every tick from `nextTickAt` to `now` is enqueued, whatever the policy, so lag never
 * loses a tick. Older than that, no replica ran it for a while, and `missed` decides: `skip`
 * enqueues none, `once` one (the latest due tick), `backfill` the latest `count`.
 */
export function planTicks(
  schedule: CronSchedule,
  nextTickAt: number,
  now: number,
  missed: MissedRule,
  toleranceMs: number,
): TickPlan {
  if (nextTickAt > now) return { ticks: [], next: nextTickAt, behind: false };
  const next = schedule.nextAfter(now);
  if (nextTickAt >= now - toleranceMs) {
    const ticks: number[] = [];
    for (let tick = nextTickAt; tick <= now; tick = schedule.nextAfter(tick)) ticks.push(tick);
    return { ticks, next, behind: false };
  }
  const count = missed.policy === 'skip' ? 0 : missed.policy === 'once' ? 1 : missed.count;
  return { ticks: latestTicks(schedule, nextTickAt, now, count), next, behind: true };
}

/**
 * The latest `count` ticks in [`from`, `to`], oldest first. A cron cannot be walked backwards,
 * so segments ending at `to` are walked forwards, each four times longer than the one after it,
 * until enough ticks are found: the work follows the ticks wanted, not the length of an outage
 * (a year of an every-second schedule is thirty million ticks).
 */
export function latestTicks(
  schedule: CronSchedule,
  from: number,
  to: number,
  count: number,
): number[] {
  if (count <= 0 || from > to) return [];
  const found: number[][] = [];
  let total = 0;
  let end = to;
  for (let span = 60_000; total < count && end >= from; span *= 4) {
    const start = Math.max(from, end - span + 1);
    const segment: number[] = [];
    for (let tick = schedule.firstFrom(start); tick <= end; tick = schedule.nextAfter(tick)) {
      segment.push(tick);
      // Only the latest `count` of a segment can be among those returned.
      if (segment.length > count) segment.shift();
    }
    found.unshift(segment);
    total += segment.length;
    end = start - 1;
  }
  return found.flat().slice(-count);
}

/** The unique key of a schedule's message for one tick; `scheduledTickOf` reads it back. */
export function tickUniqueKey(schedule: string, tick: number): string {
  return `${TICK_KEY_PREFIX}${schedule}:${Math.floor(tick / 1000)}`;
}

const TICK_KEY_PREFIX = 'schedule:';

/** The schedule and tick a unique key names, or undefined for a key of another kind. */
export function parseTickUniqueKey(
  key: string | null | undefined,
): { readonly schedule: string; readonly tickAt: Date } | undefined {
  if (typeof key !== 'string' || !key.startsWith(TICK_KEY_PREFIX)) return undefined;
  const colon = key.lastIndexOf(':');
  const schedule = key.slice(TICK_KEY_PREFIX.length, colon);
  const seconds = key.slice(colon + 1);
  if (schedule.length === 0 || !/^\d{1,15}$/.test(seconds)) return undefined;
  return { schedule, tickAt: new Date(Number(seconds) * 1000) };
}
