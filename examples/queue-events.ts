import { Injectable, Logger } from '@nestjs/common';
import {
  OnQueueEvent,
  type QueueCompletedEvent,
  type QueueDeadLetteredEvent,
  type QueueFailedEvent,
  type QueueStalledEvent,
} from '@fetchcraft/queue';

/** Add it to a module's providers; its methods are found at boot, like processors. */
@Injectable()
export class IngestMonitor {
  private readonly logger = new Logger(IngestMonitor.name);
  /** Messages of ingest.main done since this process started. */
  ingested = 0;

  @OnQueueEvent('completed', 'ingest.main')
  completed(event: QueueCompletedEvent): void {
    this.ingested += 1;
    this.logger.debug(`ingested ${event.id} after ${event.message.attempts} attempt(s)`);
  }

  @OnQueueEvent('failed', 'ingest.main')
  failed(event: QueueFailedEvent): void {
    this.logger.warn(
      `${event.id}: attempt ${event.attempt} of ${event.maxAttempts} failed; again in ${event.delaySeconds} s`,
    );
  }

  // No queue: every queue's dead letters. A promise is fine; it is not awaited.
  @OnQueueEvent('dead-lettered')
  async deadLettered(event: QueueDeadLetteredEvent): Promise<void> {
    const why =
      event.by === 'worker'
        ? String(event.error)
        : 'the lease of its last attempt expired (its worker died or stalled)';
    await this.alert(`${event.queue}: gave up on ${event.id} (${why})`);
  }

  @OnQueueEvent('stalled')
  stalled(event: QueueStalledEvent): void {
    this.logger.warn(
      `${event.queue}: ${event.id} was taken back from a dead worker (${event.outcome})`,
    );
  }

  private async alert(text: string): Promise<void> {
    // Page someone here; a throw would only be logged.
    this.logger.error(text);
    await Promise.resolve();
  }
}
