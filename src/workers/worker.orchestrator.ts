import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { type QueueConfig } from '../config/queue-config.js';
import { ProcessorRegistry } from '../processor/processor.registry.js';
import { QUEUE_CONFIG } from '../queue.constants.js';
import { QueueService } from '../queue.service.js';
import { LeaseSettler } from './lease-settler.js';
import { NotificationListener } from './notification-listener.js';
import { QueueWorker } from './queue-worker.js';

/**
 * Starts a worker per registered processor when the application has bootstrapped (every module
 * initialised, migrations applied) and stops them before the connection closes at shutdown.
 * Call `app.enableShutdownHooks()` so SIGTERM gets here.
 */
@Injectable()
export class WorkerOrchestrator implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('QueueWorkers');
  private started: QueueWorker[] = [];

  constructor(
    @Inject(ProcessorRegistry) private readonly registry: ProcessorRegistry,
    @Inject(QueueService) private readonly queue: QueueService,
    @Inject(LeaseSettler) private readonly settler: LeaseSettler,
    @Inject(NotificationListener) private readonly listener: NotificationListener,
    @Inject(QUEUE_CONFIG) private readonly config: QueueConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const definitions = this.registry.getDefinitions();
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
      const worker = new QueueWorker(
        definition,
        {
          queue: this.queue,
          settler: this.settler,
          logger: this.logger,
          pollIntervalMs: workers.pollIntervalMs,
        },
        this.registry.isPaused(definition.queue),
      );
      this.registry.attach(worker);
      this.started.push(worker);
    }
    if (workers.listen) {
      await this.listener.start({
        onQueue: (queue) => {
          for (const worker of this.registry.workersOf(queue)) worker.poke();
        },
        onReconnect: () => {
          for (const worker of this.started) worker.poke();
        },
      });
    }
    for (const worker of this.started) worker.start();
    this.logger.log(
      `Started ${this.started.length} worker(s): ${definitions
        .map((d) => `${d.queue} (${d.handlerName}, concurrency ${d.options.concurrency})`)
        .join(', ')}`,
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    const workers = this.started;
    this.started = [];
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
