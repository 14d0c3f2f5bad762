/**
 * One queue's counts at the end of one minute (`QueueService.listSamples`), written once per
 * minute for the whole cluster, whichever replica gets there first.
 */
export interface QueueSample {
  readonly queue: string;
  /** The minute the sample closes, at a whole minute of the database's clock. */
  readonly minute: Date;
  readonly ready: number;
  readonly leased: number;
  readonly failed: number;
  readonly done: number;
  readonly cancelled: number;
  /** Messages enqueued during that minute (rate in). */
  readonly enqueued: number;
  /**
   * Messages that left the active states (ready, leased) during that minute (rate out): enqueued
   * during it, plus the active ones of the minute before, minus the active ones now. `null` when
   * the minute before was not sampled (every replica down).
   */
  readonly completed: number | null;
}

/** `QueueService.listSamples`' options. */
export interface ListSamplesOptions {
  /** Only this queue's samples; default every queue's. */
  readonly queue?: string;
  /** How far back, in minutes: 1 to 10,080 (a week). Default 180. */
  readonly sinceMinutes?: number;
}
