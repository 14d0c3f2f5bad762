import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { QueueConnection } from './database/queue-connection.js';
import { ProcessorExplorer } from './processor/processor.explorer.js';

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
  ) {}

  async onModuleInit(): Promise<void> {
    this.explorer.discover();
    await this.connection.start();
  }
}
