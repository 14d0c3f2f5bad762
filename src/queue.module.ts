import { type DynamicModule, Module, type Provider } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { assertQueueName } from './config/argument-rules.js';
import { resolveQueueConfig } from './config/resolve-queue-config.js';
import { QueueConnection } from './database/queue-connection.js';
import { ProcessHealthIndicator } from './health/process-health.indicator.js';
import { QueueHealthIndicator } from './health/queue.health-indicator.js';
import { QueueVacuumHealthIndicator } from './health/vacuum.health-indicator.js';
import { getQueueToken } from './inject-queue.decorator.js';
import { type QueueModuleOptions } from './interfaces/queue-module-options.interface.js';
import { MaintenanceScheduler } from './maintenance/maintenance.scheduler.js';
import { SampleRecorder } from './maintenance/sample-recorder.js';
import { ProcessorCatalog } from './processor/processor.catalog.js';
import { ProcessorExplorer } from './processor/processor.explorer.js';
import { QueueEventExplorer } from './events/queue-event.explorer.js';
import { QueueEvents } from './events/queue-events.js';
import { QueueProducer } from './queue-producer.js';
import { QUEUE_CONFIG } from './queue.constants.js';
import { QueueInitializer } from './queue.initializer.js';
import {
  QUEUE_ASYNC_OPTIONS_TYPE,
  QUEUE_MODULE_OPTIONS,
  QUEUE_OPTIONS_TYPE,
  QueueConfigurableModule,
} from './queue.module-definition.js';
import { QueueService } from './queue.service.js';
import { RecurringScheduler } from './schedule/recurring-scheduler.js';
import { ScheduleCatalog } from './schedule/schedule.catalog.js';
import { ScheduleExplorer } from './schedule/schedule.explorer.js';
import { QUEUE_METRICS_PROVIDER } from './metrics/queue-metrics.js';
import { MessageStore } from './store/message-store.js';
import { NotificationListener } from './workers/notification-listener.js';
import { ProcessorRegistry } from './workers/processor.registry.js';
import { ReplicaHeartbeat } from './workers/replica-heartbeat.js';
import { ResultWaiters } from './workers/result-waiters.js';
import { RunningWorkers } from './workers/running-workers.js';
import { WorkerOrchestrator } from './workers/worker.orchestrator.js';

/** What the root instance provides; nothing of it exists in a plain `imports: [QueueModule]`. */
const ROOT_PROVIDERS: Provider[] = [
  {
    provide: QUEUE_CONFIG,
    inject: [QUEUE_MODULE_OPTIONS],
    useFactory: (options: QueueModuleOptions) => resolveQueueConfig(options),
  },
  QueueConnection,
  MessageStore,
  ResultWaiters,
  QueueService,
  ProcessorCatalog,
  ProcessorExplorer,
  QueueEvents,
  QueueEventExplorer,
  QueueInitializer,
  RunningWorkers,
  ProcessorRegistry,
  NotificationListener,
  WorkerOrchestrator,
  MaintenanceScheduler,
  ScheduleCatalog,
  ScheduleExplorer,
  RecurringScheduler,
  QueueHealthIndicator,
  QueueVacuumHealthIndicator,
  ProcessHealthIndicator,
  QUEUE_METRICS_PROVIDER,
  SampleRecorder,
  ReplicaHeartbeat,
];

const ROOT_EXPORTS = [
  QueueService,
  ProcessorRegistry,
  QueueHealthIndicator,
  QueueVacuumHealthIndicator,
];

/**
 * The PostgreSQL queue as a Nest module.
 *
 * ```ts
 * @Module({ imports: [QueueModule.forRoot({ connectionString: process.env.DATABASE_URL })] })
 * export class AppModule {}
 * ```
 *
 * `forRoot` (or `forRootAsync({ imports, inject, useFactory | useClass | useExisting })`) once,
 * in the root module: its services are global unless `isGlobal: false`. Feature modules inject
 * `QueueService` as is, and `QueueModule.forFeature(['ingest.main'])` adds one
 * {@link QueueProducer} per queue for `@InjectQueue('ingest.main')`. Importing the bare
 * `QueueModule` in a feature module is allowed and adds nothing.
 *
 * Options are validated when the module is created (a bad one stops the boot with a
 * `QueueOptionsError`), then every `@Processor`, and only then does the connection open and the
 * migrations run. A boot that fails during module init leaves nothing open that would keep the
 * process alive. The workers start at application bootstrap, before the HTTP server listens, and
 * Nest runs no shutdown hook for a failed boot: a bootstrap that catches a failed `listen()`
 * must `await app.close()`. The module's own pool closes at application shutdown.
 */
@Module({})
export class QueueModule extends QueueConfigurableModule {
  /** The root instance: the connection, the workers, the maintenance, the health indicator. */
  static override forRoot(options: typeof QUEUE_OPTIONS_TYPE): DynamicModule {
    return withRootProviders(super.forRoot(options));
  }

  /** The root instance, its options taken from other providers. */
  static override forRootAsync(options: typeof QUEUE_ASYNC_OPTIONS_TYPE): DynamicModule {
    return withRootProviders(super.forRootAsync(options));
  }

  /**
   * Provides a {@link QueueProducer} for each queue, injectable with `@InjectQueue(name)` in this
   * module. Names are validated here, so a bad one stops the boot with a `QueueValidationError`.
   * Needs the root instance (`forRoot`) to be global, which it is by default.
   */
  static forFeature(queues: readonly string[]): DynamicModule {
    const providers = queues.map((queue, index): Provider => {
      assertQueueName(queue, `queues[${index}]`);
      return {
        provide: getQueueToken(queue),
        inject: [QueueService],
        useFactory: (service: QueueService) => new QueueProducer(queue, service),
      };
    });
    return {
      module: QueueModule,
      providers,
      exports: providers.map((_, index) => getQueueToken(queues[index] as string)),
    };
  }
}

function withRootProviders(definition: DynamicModule): DynamicModule {
  return {
    ...definition,
    imports: [...(definition.imports ?? []), DiscoveryModule, TerminusModule],
    providers: [...(definition.providers ?? []), ...ROOT_PROVIDERS],
    exports: [...(definition.exports ?? []), ...ROOT_EXPORTS],
  };
}
