import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { type QueueConfig } from '../config/queue-config.js';
import { ProcessorCatalog } from '../processor/processor.catalog.js';
import { QUEUE_CONFIG } from '../queue.constants.js';
import { MessageStore } from '../store/message-store.js';
import { NotificationListener } from './notification-listener.js';
import { ProcessorRegistry } from './processor.registry.js';
import { QueueWorker } from './queue-worker.js';
import { RunningWorkers } from './running-workers.js';

/**
 * Starts a worker per declared processor when the application has bootstrapped (every module
 * initialised, migrations applied) and stops them before the connection closes at shutdown.
 * Call `app.enableShutdownHooks()` so SIGTERM gets here.
 */
@Injectable()
export class WorkerOrchestrator implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('QueueWorkers');
  private stopped = false;

  constructor(
    @Inject(ProcessorCatalog) private readonly catalog: ProcessorCatalog,
    @Inject(ProcessorRegistry) private readonly registry: ProcessorRegistry,
    @Inject(RunningWorkers) private readonly running: RunningWorkers,
    @Inject(MessageStore) private readonly store: MessageStore,
    @Inject(NotificationListener) private readonly listener: NotificationListener,
    @Inject(QUEUE_CONFIG) private readonly config: QueueConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const { definitions } = this.catalog;
    const { workers } = this.config;
    if (!workers.enabled || definitions.length === 0) {
      if (definitions.length > 0) {
        this.logger.log(
          `workers: false; ${definitions.length} processor(s) registered, not started`,
        );
      }
      return;
    }
    for (const definition of definitions) {
      this.running.add(
        new QueueWorker(definition, {
          store: this.store,
          logger: this.logger,
          pollIntervalMs: workers.pollIntervalMs,
          isPaused: () => this.registry.isPaused(definition.queue),
        }),
      );
    }
    if (workers.listen) {
      await this.listener.start({
        onQueue: (queue) => {
          for (const worker of this.running.of(queue)) worker.poke();
        },
        onReconnect: () => {
          for (const worker of this.running.all()) worker.reconnected();
        },
      });
    }
    for (const worker of this.running.all()) worker.start();
    this.logger.log(
      `Started ${definitions.length} worker(s): ${definitions
        .map((d) => `${d.queue} (${d.handlerName}, concurrency ${d.options.concurrency})`)
        .join(', ')}`,
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const workers = this.running.all();
    if (workers.length === 0) return;
    const deadline = Date.now() + this.config.workers.shutdownTimeoutMs;
    this.logger.log(
      `Stopping ${workers.length} worker(s); waiting up to ${this.config.workers.shutdownTimeoutMs} ms for running handlers`,
    );
    await Promise.all(workers.map((worker) => worker.stop(deadline)));
    await this.listener.stop();
    this.logger.log('Workers stopped');
  }
}
