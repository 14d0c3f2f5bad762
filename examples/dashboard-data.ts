import { Inject, Injectable, Module } from '@nestjs/common';
import { QueueModule, QueueService } from '@fetchcraft/queue';

@Module({
  imports: [
    QueueModule.forRoot({
      connectionString: process.env.DATABASE_URL!,
      // Both are on by default; these are the defaults, spelled out.
      samples: { enabled: true, retentionHours: 48 },
      heartbeat: { enabled: true, intervalSeconds: 10 },
    }),
  ],
})
export class AppModule {}

@Injectable()
export class QueueOverview {
  constructor(@Inject(QueueService) private readonly queue: QueueService) {}

  /** Rate in and out of one queue over the last hour, a line per minute. */
  async lastHour(queue: string): Promise<void> {
    for (const sample of await this.queue.listSamples({ queue, sinceMinutes: 60 })) {
      console.log(
        `${sample.minute.toISOString()} ready ${sample.ready} in ${sample.enqueued} out ${sample.completed}`,
      );
    }
  }

  /** Every pod running the module, with what its processors are doing. */
  async replicas(): Promise<void> {
    for (const replica of await this.queue.listReplicas()) {
      const work = replica.processors.map((p) => `${p.queue} ${p.running}/${p.concurrency}`);
      console.log(`${replica.hostname}:${replica.pid} ${work.join(', ') || 'no processors'}`);
    }
  }

  /** All of a queue's dead letters back, 1,000 per short statement, with progress. */
  async retryAll(queue: string): Promise<number> {
    return this.queue.retryFailedInBatches(queue, {
      batchSize: 1_000,
      onBatch: (retried) => console.log(`${retried} put back so far`),
    });
  }
}
