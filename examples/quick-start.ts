import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { QueueModule, QueueService } from '@fetchcraft/queue';

interface IngestDocument {
  url: string;
}

@Injectable()
class Ingest {
  constructor(private readonly queue: QueueService) {}

  async run(): Promise<void> {
    await this.queue.enqueue<IngestDocument>('ingest.main', { url: 'https://example.com/a.pdf' });

    const message = await this.queue.leaseNext<IngestDocument>('ingest.main', { leaseSeconds: 60 });
    if (message) {
      try {
        console.log(`processing ${message.body.url} (attempt ${message.attempts})`);
        await this.queue.ack('ingest.main', message); // false if the lease was lost meanwhile
      } catch {
        await this.queue.nack('ingest.main', message, { requeueDelaySeconds: 5 });
      }
    }

    console.log(await this.queue.getStats());
  }
}

@Module({
  imports: [QueueModule.forRoot({ connectionString: process.env.DATABASE_URL })],
  providers: [Ingest],
})
class AppModule {}

const app = await NestFactory.createApplicationContext(AppModule);
await app.get(Ingest).run();
await app.close();
