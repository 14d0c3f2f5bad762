import { type DynamicModule, Module } from '@nestjs/common';
import { QueueModule } from '@fetchcraft/queue';
import { DocumentsController } from './documents.controller.js';
import { DEMO_WORK_MS, IngestProcessor } from './ingest.processor.js';

/** The demo application: the queue, the ingestion processors, the HTTP API and health probes. */
@Module({})
export class DemoModule {
  /**
   * @param workMs simulated work per document, so that handlers are seen in flight.
   * @param migrationsRun false where a migration Job applies them first (see kubernetes.yaml).
   */
  static register(connectionString: string, workMs = 0, migrationsRun = true): DynamicModule {
    return {
      module: DemoModule,
      imports: [
        QueueModule.forRoot({
          connectionString,
          migrationsRun,
          poolMinSize: 2,
          poolMaxSize: 10,
          healthEndpoints: true,
          health: { maxOldestReadyAgeSeconds: 600 },
        }),
      ],
      controllers: [DocumentsController],
      providers: [IngestProcessor, { provide: DEMO_WORK_MS, useValue: workMs }],
    };
  }
}
