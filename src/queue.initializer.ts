import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { QueueConnection } from './database/queue-connection.js';
import { ProcessorExplorer } from './processor/processor.explorer.js';
import { QueueEventExplorer } from './events/queue-event.explorer.js';

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
  ) {}

  async onModuleInit(): Promise<void> {
    this.explorer.discover();
    this.events.discover();
    await this.connection.start();
  }
}
