import { type LoggerService } from '@nestjs/common';
import { withDeadline } from '../async/with-deadline.js';
import { describeError } from '../errors/describe-error.js';
import { QueueDatabaseError } from '../errors/queue-database.error.js';
import { QueuePoolTimeoutError } from '../errors/queue-pool-timeout.error.js';

/**
 * What the queue's health indicators share around their statements: the health timeout as a
 * deadline, and what a failed probe may answer. The answer is a fixed phrase and the error
 * code: the driver's own text can name the host, the port, the role or the database, which an
 * unauthenticated health endpoint must not hand out. That text goes to the log instead, once per
 * distinct failure, so a probe every few seconds does not repeat it.
 */
export class HealthProbe {
  /** The last failure written to the log. */
  private lastFailure: string | undefined;

  constructor(
    private readonly logger: LoggerService,
    private readonly timeoutMs: number,
  ) {}

  /** `work`, rejected when it does not settle within the health timeout. */
  within<T>(work: Promise<T>): Promise<T> {
    return withDeadline(work, this.timeoutMs, (): never => {
      throw new Error(this.notInTime());
    });
  }

  /** The database answered: the next failure is logged again, even if it is the last one. */
  answered(): void {
    this.lastFailure = undefined;
  }

  /** The reason a probe answers for `error`; its details go to the log, once. */
  reasonOf(error: unknown): string {
    const detail = describeError(error);
    if (detail !== this.lastFailure) {
      this.lastFailure = detail;
      this.logger.warn(`Health check failed: ${detail}`);
    }
    if (error instanceof QueuePoolTimeoutError) {
      return 'no database connection became available in time';
    }
    // The probe's own deadline, or the statement's (a query or statement timeout).
    if (detail === this.notInTime() || /timeout/i.test(detail)) return this.notInTime();
    const code = error instanceof QueueDatabaseError ? error.code : undefined;
    return code === undefined
      ? 'the database check failed'
      : `the database check failed (code ${code})`;
  }

  private notInTime(): string {
    return `the database did not answer within ${this.timeoutMs} ms`;
  }
}
