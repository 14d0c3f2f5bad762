import { Body, Controller, Get, HttpCode, Inject, Post } from '@nestjs/common';
import { QueueService, type QueueStats } from '@fetchcraft/queue';
import { IngestBatch, IngestDocument } from './ingest-document.dto.js';
import { INGEST_QUEUE, IngestProcessor } from './ingest.processor.js';

/** The demo's HTTP API: enqueue documents, read the queue's numbers. */
@Controller()
export class DocumentsController {
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

  @Get('queues/stats')
  async stats(): Promise<
    QueueStats & { processed: { parsed: number; failures: number; recentFailures: unknown } }
  > {
    return {
      ...(await this.queue.getStats()),
      processed: {
        parsed: this.processor.parsed,
        failures: this.processor.failures,
        recentFailures: this.processor.recentFailures(),
      },
    };
  }
}
