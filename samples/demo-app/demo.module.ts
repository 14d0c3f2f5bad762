import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { QueueExceptionFilter, QueueModule } from '@fetchcraft/queue';
import { DocumentsController } from './documents.controller.js';
import { LoopbackGuard } from './loopback.guard.js';
import { DEMO_WORK_MS, IngestProcessor } from './ingest.processor.js';

/**
 * The demo application: the queue, the ingestion processors, the HTTP API and health probes. The
 * queue's errors reach HTTP clients through the package's filter: 400 with `field` and `rule`
 * for a refused argument, 503 with `Retry-After` while the database cannot serve.
 */
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
          // The operator's pages at /dashboard, from this machine only (DEMO_DASHBOARD=public
          // opens them to every client, with a warning at boot).
          dashboard:
            process.env.DEMO_DASHBOARD === 'public'
              ? { path: 'dashboard', public: true, actor: () => 'demo' }
              : { path: 'dashboard', guard: LoopbackGuard, actor: () => 'local' },
        }),
      ],
      controllers: [DocumentsController],
      providers: [
        IngestProcessor,
        { provide: DEMO_WORK_MS, useValue: workMs },
        { provide: APP_FILTER, useClass: QueueExceptionFilter },
      ],
    };
  }
}
