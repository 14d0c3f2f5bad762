import { type LoggerService } from '@nestjs/common';
import { LogRateLimiter, type HeldBack } from './log-rate-limiter.js';

/**
 * Failure lines a worker writes per window; past them, one summary line per window. A handler
 * that fails every message would otherwise write a line per message.
 */
const FAILURE_LINES_PER_WINDOW = 5;
const FAILURE_WINDOW_MS = 30_000;

/**
 * One worker's failed-attempt lines, rate-limited: the first lines of a window are written, the
 * rest counted and summarised when the window closes (at the next line, by a timer at its end,
 * or at `close`), so the count reaches the log even if nothing fails afterwards.
 */
export class FailureLines {
  private readonly limiter: LogRateLimiter;
  /** Writes the summary of held-back lines when their window closes. */
  private summaryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly queue: string,
    private readonly logger: LoggerService,
    private readonly now: () => number,
  ) {
    this.limiter = new LogRateLimiter(FAILURE_LINES_PER_WINDOW, FAILURE_WINDOW_MS, now);
  }

  write(line: string): void {
    const { write, heldBack } = this.limiter.admit();
    this.summarise(heldBack);
    if (write) this.logger.warn(line);
    else this.scheduleSummary();
  }

  /** At the worker's stop: what is held back is counted now. */
  close(): void {
    clearTimeout(this.summaryTimer);
    this.summaryTimer = undefined;
    this.summarise(this.limiter.close(true));
  }

  private scheduleSummary(): void {
    const closesAt = this.limiter.closesAt;
    if (this.summaryTimer !== undefined || closesAt === undefined) return;
    this.summaryTimer = setTimeout(
      () => {
        this.summaryTimer = undefined;
        this.summarise(this.limiter.close());
        this.scheduleSummary();
      },
      Math.max(0, closesAt - this.now()),
    );
    this.summaryTimer.unref();
  }

  private summarise(heldBack: HeldBack | undefined): void {
    if (heldBack === undefined) return;
    this.logger.warn(
      `${heldBack.count} more failed attempt${heldBack.count === 1 ? '' : 's'} on queue "${this.queue}" in the last ${heldBack.seconds} s (at most ${FAILURE_LINES_PER_WINDOW} are logged per ${FAILURE_WINDOW_MS / 1000} s)`,
    );
  }
}
