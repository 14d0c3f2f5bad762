/** Where a {@link FailureRun} writes: Nest's `Logger` is one. */
export interface FailureRunLogger {
  log(message: string): void;
  warn(message: string): void;
}

/**
 * One warning per run of failures of a background job that repeats (a sampler, a heartbeat),
 * and one line when it works again: a database down for an hour must not write a line every
 * interval, yet its start and its end must reach the log.
 */
export class FailureRun {
  private failing = false;

  constructor(private readonly logger: FailureRunLogger) {}

  /** Whether the last attempt failed. */
  get inRun(): boolean {
    return this.failing;
  }

  /** An attempt failed: `warning` is written if it starts a run. */
  failed(warning: () => string): void {
    if (!this.failing) this.logger.warn(warning());
    this.failing = true;
  }

  /** An attempt worked: `recovered` is written if it ends a run. */
  succeeded(recovered: string): void {
    if (this.failing) this.logger.log(recovered);
    this.failing = false;
  }
}
