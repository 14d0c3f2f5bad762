/** Lines a limiter held back in one window, to be written as one summary line. */
export interface HeldBack {
  readonly count: number;
  /** Whole seconds from the start of their window to when it was closed (rounded up). */
  readonly seconds: number;
}

/** What to do with one line. */
export interface Admission {
  readonly write: boolean;
  /** Lines of a window that closed before this one: summarise them first. */
  readonly heldBack?: HeldBack;
}

/**
 * At most `maxLines` lines per window of `windowMs`; the rest are counted, not written. A window
 * opens with its first line and closes once `windowMs` has passed: at the next line
 * (`admit`) or when its owner asks (`close`, from a timer set at `closesAt`).
 *
 * Pure and clock-injected: a handler that fails every message must not write a line per message,
 * yet the count of what was held back must still reach the log.
 */
export class LogRateLimiter {
  private windowStart: number | undefined;
  private written = 0;
  private held = 0;

  constructor(
    private readonly maxLines: number,
    private readonly windowMs: number,
    private readonly now: () => number,
  ) {}

  /** Asks to write one line now. */
  admit(): Admission {
    const heldBack = this.close();
    const now = this.now();
    if (this.windowStart === undefined) {
      this.windowStart = now;
      this.written = 0;
      this.held = 0;
    }
    const write = this.written < this.maxLines;
    if (write) this.written++;
    else this.held++;
    return heldBack === undefined ? { write } : { write, heldBack };
  }

  /**
   * Closes the window if it has run its length (or at once with `force`, at shutdown).
   * @returns what it held back, if anything.
   */
  close(force = false): HeldBack | undefined {
    const start = this.windowStart;
    if (start === undefined) return undefined;
    const now = this.now();
    if (!force && now - start < this.windowMs) return undefined;
    this.windowStart = undefined;
    if (this.held === 0) return undefined;
    return { count: this.held, seconds: Math.max(1, Math.ceil((now - start) / 1000)) };
  }

  /** When the open window ends, if it holds lines back; undefined otherwise. */
  get closesAt(): number | undefined {
    return this.windowStart === undefined || this.held === 0
      ? undefined
      : this.windowStart + this.windowMs;
  }
}
