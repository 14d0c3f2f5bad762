import { Inject, Injectable, Module } from '@nestjs/common';
import {
  Processor,
  QueueModule,
  QueueService,
  RecurringMessage,
  scheduledTickOf,
  type ProcessorMessage,
  type ScheduleInfo,
} from '@fetchcraft/queue';

interface DigestRequest {
  readonly kind: 'daily' | 'weekly';
}

@Injectable()
export class DigestProcessor {
  /** Every weekday at 07:30 in Paris, summer and winter; one message however many replicas run. */
  @RecurringMessage('weekday-digest', {
    cron: '0 30 7 * * 1-5',
    timeZone: 'Europe/Paris',
    body: { kind: 'daily' },
    missed: { backfill: 3 },
  })
  @Processor('digests', { maxAttempts: 3 })
  send(message: ProcessorMessage<DigestRequest>): void {
    // The tick the message stands for, not the time the handler happens to run.
    const tick = scheduledTickOf(message);
    const upTo = tick?.tickAt ?? message.createdAt;
    console.log(`${message.body.kind} digest up to ${upTo.toISOString()}`);
  }
}

@Injectable()
export class TenantReports {
  constructor(@Inject(QueueService) private readonly queue: QueueService) {}

  /** Added at run time: stored in the table, run by every replica until removed. */
  enable(tenantId: string, timeZone: string): Promise<void> {
    return this.queue.schedule(`tenant-report:${tenantId}`, {
      queue: 'reports',
      cron: '0 0 6 1 * *',
      timeZone,
      body: { tenantId },
      enqueueOptions: { groupKey: `tenant:${tenantId}` },
      missed: 'once',
    });
  }

  disable(tenantId: string): Promise<boolean> {
    return this.queue.unschedule(`tenant-report:${tenantId}`);
  }

  /** Every schedule of the table with its next and last tick. */
  list(): Promise<ScheduleInfo[]> {
    return this.queue.listSchedules();
  }
}

@Module({
  imports: [
    QueueModule.forRoot({
      connectionString: process.env.DATABASE_URL,
      schedules: [
        {
          name: 'hourly-cleanup-check',
          queue: 'maintenance',
          cron: '0 5 * * * *',
          body: { check: 'orphans' },
          missed: 'skip',
        },
      ],
    }),
  ],
  providers: [DigestProcessor, TenantReports],
})
export class RecurringMessagesModule {}
