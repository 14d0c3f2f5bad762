import { Body, Controller, Get, HttpCode, Inject, Post } from '@nestjs/common';
import { QueueService, type QueueStats } from '@fetchcraft/queue';
import { IngestBatch, IngestDocument } from './ingest-document.dto.js';
import { INGEST_QUEUE, IngestProcessor } from './ingest.processor.js';

/** How long one count of the table answers `GET /queues/stats`. */
export const STATS_TTL_MS = 1_000;

/** The demo's HTTP API: enqueue documents, read the queue's numbers. */
@Controller()
export class DocumentsController {
  private statsCache: { readonly at: number; readonly value: Promise<QueueStats> } | undefined;

  constructor(
    @Inject(QueueService) private readonly queue: QueueService,
    @Inject(IngestProcessor) private readonly processor: IngestProcessor,
  ) {}

  /** Enqueues one document; 202 with its message id. */
  @Post('documents')
  @HttpCode(202)
  async enqueue(@Body() document: IngestDocument): Promise<{ id: string }> {
    return { id: await this.queue.enqueue(INGEST_QUEUE, { ...document }) };
  }

  /** Enqueues up to 10,000 documents in one statement; 202 with their ids, in order. */
  @Post('documents/batch')
  @HttpCode(202)
  async enqueueMany(@Body() batch: IngestBatch): Promise<{ ids: string[] }> {
    const documents = batch.documents.map((document) => ({ ...document }));
    return { ids: await this.queue.enqueueMany(INGEST_QUEUE, documents) };
  }

  /**
   * Counts of every queue and state. The count scans the table and shares the workers' pool, so
   * it is computed at most once a second, however many requests ask (they share one statement).
   */
  @Get('queues/stats')
  async stats(): Promise<
    QueueStats & { processed: { parsed: number; failures: number; recentFailures: unknown } }
  > {
    return {
      ...(await this.cachedStats()),
      processed: {
        parsed: this.processor.parsed,
        failures: this.processor.failures,
        recentFailures: this.processor.recentFailures(),
      },
    };
  }

  private cachedStats(): Promise<QueueStats> {
    const now = Date.now();
    if (this.statsCache === undefined || now - this.statsCache.at >= STATS_TTL_MS) {
      const value = this.queue.getStats();
      const entry = { at: now, value };
      this.statsCache = entry;
      // A failed count is not kept: the next request tries again.
      value.catch(() => {
        if (this.statsCache === entry) this.statsCache = undefined;
      });
    }
    return this.statsCache.value;
  }
}
