import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  Processor,
  QueueService,
  UnrecoverableError,
  type FlowChild,
  type FlowTree,
  type ProcessorMessage,
} from '@fetchcraft/queue';

export interface PageJob {
  readonly documentId: string;
  readonly page: number;
}

export interface PageText {
  readonly page: number;
  readonly text: string;
}

export interface AssembleJob {
  readonly documentId: string;
}

@Injectable()
export class DocumentFlows {
  constructor(@Inject(QueueService) private readonly queue: QueueService) {}

  /**
   * One message per page, and the assembly that runs once every page has ended: one statement,
   * all or nothing. The ids come back in the same shape.
   */
  ingest(documentId: string, pages: number): Promise<FlowTree> {
    return this.queue.enqueueFlow({
      queue: 'documents.assemble',
      body: { documentId } satisfies AssembleJob,
      // A page that fails for good does not fail the document: the assembly runs and sees it.
      options: { onChildFailure: 'ignore' },
      children: Array.from({ length: pages }, (_, page) => ({
        queue: 'documents.ocr',
        body: { documentId, page } satisfies PageJob,
      })),
    });
  }
}

@Injectable()
export class DocumentProcessors {
  private readonly logger = new Logger(DocumentProcessors.name);

  @Processor('documents.ocr', {
    concurrency: 8,
    maxAttempts: 3,
    deadLetterQueue: 'documents.ocr.failed',
  })
  async ocr(message: ProcessorMessage<PageJob>): Promise<PageText> {
    const text = await recognise(message.body, message.signal);
    // What a handler returns is kept as the message's result, for its parent to read.
    return { page: message.body.page, text };
  }

  @Processor('documents.assemble')
  async assemble(message: ProcessorMessage<AssembleJob>): Promise<{ pages: number }> {
    const children = await message.children<PageText>();
    // A page that failed is a dead letter: `failed`, or moved to its dead-letter queue
    // (`originQueue` set), where it may since have been handled.
    const failed = children.filter((child) => child.state !== 'done' || child.originQueue);
    if (failed.length > children.length / 2) {
      throw new UnrecoverableError(`${failed.length} of ${children.length} pages failed`);
    }
    const pages = children.filter(hasText).map((child) => child.result);
    this.logger.log(
      `document ${message.body.documentId}: ${pages.length} pages assembled, ${failed.length} failed`,
    );
    return { pages: pages.length };
  }
}

function hasText(child: FlowChild<PageText>): child is FlowChild<PageText> & { result: PageText } {
  return child.state === 'done' && !child.originQueue && child.result !== null;
}

/** Stands in for real work (an OCR service); honours the message's signal. */
async function recognise(job: PageJob, signal: AbortSignal): Promise<string> {
  await new Promise((resolve) => setTimeout(resolve, 5));
  signal.throwIfAborted();
  return `text of page ${job.page} of ${job.documentId}`;
}
