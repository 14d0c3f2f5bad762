import { Injectable } from '@nestjs/common';
import { IsString, IsUrl } from 'class-validator';
import { Processor, UnrecoverableError, type ProcessorMessage } from '@fetchcraft/queue';

class IngestDocument {
  @IsUrl()
  url!: string;

  @IsString()
  title!: string;
}

@Injectable()
export class IngestHandlers {
  @Processor('ingest.main', {
    concurrency: 8,
    leaseSeconds: 60,
    maxAttempts: 5,
    body: IngestDocument,
    deadLetterQueue: 'ingest.error',
  })
  async ingest(message: ProcessorMessage<IngestDocument>): Promise<void> {
    const response = await fetch(message.body.url, { signal: message.signal });
    if (response.status === 404) throw new UnrecoverableError('document is gone');
    // ... parse and store
  }

  @Processor('ingest.error')
  recordFailure(message: ProcessorMessage): void {
    console.warn(
      `gave up on ${message.id} from ${message.originQueue}: ${message.lastError?.message}`,
    );
  }
}
