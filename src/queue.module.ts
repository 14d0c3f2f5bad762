import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { ProcessHealthIndicator } from './health/process-health.indicator.js';
import { QueueHealthIndicator } from './health/queue.health-indicator.js';
import { MaintenanceScheduler } from './maintenance/maintenance.scheduler.js';
import { resolveQueueConfig } from './config/resolve-queue-config.js';
import { QueueConnection } from './database/queue-connection.js';
import { type QueueModuleOptions } from './interfaces/queue-module-options.interface.js';
import { QUEUE_CONFIG } from './queue.constants.js';
import { QUEUE_MODULE_OPTIONS, QueueConfigurableModule } from './queue.module-definition.js';
import { QueueService } from './queue.service.js';
import { ProcessorCatalog } from './processor/processor.catalog.js';
import { ProcessorExplorer } from './processor/processor.explorer.js';
import { MessageStore } from './store/message-store.js';
import { NotificationListener } from './workers/notification-listener.js';
import { ProcessorRegistry } from './workers/processor.registry.js';
import { RunningWorkers } from './workers/running-workers.js';
import { WorkerOrchestrator } from './workers/worker.orchestrator.js';

/**
 * The PostgreSQL queue as a Nest module.
 *
 * ```ts
 * @Module({ imports: [QueueModule.forRoot({ connectionString: process.env.DATABASE_URL })] })
 * export class AppModule {}
 * ```
 *
 * `forRootAsync({ imports, inject, useFactory | useClass | useExisting })` takes its options from
 * other providers; both accept `isGlobal: true` and `healthEndpoints`. Options are validated when the module is created
 * (a bad one stops the boot with a `QueueOptionsError`); the connection opens and migrations run
 * in `onModuleInit`; the module's own pool closes at application shutdown.
 */
@Module({
  imports: [DiscoveryModule, TerminusModule],
  providers: [
    {
      provide: QUEUE_CONFIG,
      inject: [QUEUE_MODULE_OPTIONS],
      useFactory: (options: QueueModuleOptions) => resolveQueueConfig(options),
    },
    QueueConnection,
    MessageStore,
    QueueService,
    ProcessorCatalog,
    ProcessorExplorer,
    RunningWorkers,
    ProcessorRegistry,
    NotificationListener,
    WorkerOrchestrator,
    MaintenanceScheduler,
    QueueHealthIndicator,
    ProcessHealthIndicator,
  ],
  exports: [QueueService, ProcessorRegistry, QueueHealthIndicator],
})
export class QueueModule extends QueueConfigurableModule {}
