import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { QueueConnection } from './database/queue-connection.js';
import { ProcessorExplorer } from './processor/processor.explorer.js';
import { QueueEventExplorer } from './events/queue-event.explorer.js';
import { RecurringScheduler } from './schedule/recurring-scheduler.js';
import { ScheduleExplorer } from './schedule/schedule.explorer.js';

/**
 * The one owner of the module's boot order. Nest runs the `onModuleInit` hooks of one module's
 * providers concurrently, level by level, so two hooks (discovery, connection) had no order: a
 * misspelt `@Processor` option was reported only after the pool had opened and the migrations had
 * run. Here every declaration is validated first, and only then is anything opened.
 */
@Injectable()
export class QueueInitializer implements OnModuleInit {
  constructor(
    @Inject(ProcessorExplorer) private readonly explorer: ProcessorExplorer,
    @Inject(QueueConnection) private readonly connection: QueueConnection,
    @Inject(QueueEventExplorer) private readonly events: QueueEventExplorer,
    @Inject(ScheduleExplorer) private readonly schedules: ScheduleExplorer,
    @Inject(RecurringScheduler) private readonly scheduler: RecurringScheduler,
  ) {}

  async onModuleInit(): Promise<void> {
    this.explorer.discover();
    this.events.discover();
    this.schedules.discover();
    await this.connection.start();
    try {
      await this.scheduler.prepare();
    } catch (error) {
      // As after a failed migration: no pool left behind to keep the process alive.
      await this.connection.onApplicationShutdown();
      throw error;
    }
  }
}
