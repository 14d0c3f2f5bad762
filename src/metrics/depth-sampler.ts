import { type LoggerService } from '@nestjs/common';
import { describeError } from '../errors/describe-error.js';
import { type QueueDepth } from '../interfaces/queue-stats.interface.js';
import { FailureRun } from '../async/failure-run.js';

export interface DepthSamplerDependencies {
  /** One depth statement. */
  readonly sample: () => Promise<Record<string, QueueDepth>>;
  /** Where a sample goes: the gauges. */
  readonly apply: (depths: Record<string, QueueDepth>) => void;
  readonly intervalMs: number;
  readonly logger: LoggerService;
}

/**
 * Samples the depth gauges on a timer: one statement per interval in this process, whatever
 * the number of scrapes, never two at once. A failed sample leaves the last values in place and
 * logs one warning per run of failures, not one per interval.
 */
export class DepthSampler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly failures: FailureRun;

  constructor(private readonly deps: DepthSamplerDependencies) {
    this.failures = new FailureRun(deps.logger);
  }

  /** Samples now, then every interval, until {@link stop}. */
  start(): void {
    if (this.timer !== undefined) return;
    this.tick();
    this.timer = setInterval(() => this.tick(), this.deps.intervalMs);
    // The timer alone must not keep a process alive.
    this.timer.unref();
  }

  /** Stops the timer and waits for a sample in flight, so it never outlives the pool. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private tick(): void {
    if (this.running !== undefined) return;
    this.running = this.sampleOnce().finally(() => {
      this.running = undefined;
    });
  }

  private async sampleOnce(): Promise<void> {
    try {
      this.deps.apply(await this.deps.sample());
      this.failures.succeeded('Queue metrics: depth sampling works again');
    } catch (error) {
      this.failures.failed(
        () =>
          `Queue metrics: could not sample queue depths (${describeError(error)}); the depth gauges keep their last values until a sample succeeds`,
      );
    }
  }
}
