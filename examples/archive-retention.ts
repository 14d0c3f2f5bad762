import { Inject, Injectable, Module } from '@nestjs/common';
import { QueueModule, QueueService } from '@fetchcraft/queue';

@Module({
  imports: [
    QueueModule.forRoot({
      connectionString: process.env.DATABASE_URL!,
      cleanup: {
        cron: '0 * * * *',
        // Dead letters move to the archive after 30 days...
        failedRetentionDays: 30,
        // ...and leave it, a whole week's partition at a time, after a year.
        archiveRetentionDays: 365,
      },
    }),
  ],
})
export class AppModule {}

@Injectable()
export class ArchiveOperator {
  constructor(@Inject(QueueService) private readonly queue: QueueService) {}

  /** The scheduled cleanup's work, by hand: partitions kept first, then the usual batches. */
  async keepArchive(): Promise<void> {
    const { archived, archivePartitions } = await this.queue.cleanup({
      archiveRetentionDays: 365,
    });
    console.log(`archived ${archived} dead letter(s)`);
    console.log(`created ${archivePartitions?.created.join(', ') || 'no partition'}`);
    console.log(`dropped ${archivePartitions?.dropped.join(', ') || 'no partition'}`);
  }
}
