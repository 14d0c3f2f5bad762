import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { type QueueConfig } from '../config/queue-config.js';
import { ProcessorCatalog } from '../processor/processor.catalog.js';
import { QueueEvents } from '../events/queue-events.js';
import { QUEUE_CONFIG } from '../queue.constants.js';
import { MessageStore } from '../store/message-store.js';
import { NotificationListener } from './notification-listener.js';
import { ProcessorRegistry } from './processor.registry.js';
import { withDeadline } from '../async/with-deadline.js';
import { type ControlMessage } from './control-message.js';
import { PauseWatcher } from './pause-watcher.js';
import { QueueWorker } from './queue-worker.js';
import { RunningWorkers } from './running-workers.js';
import { transactionPoolShortfall } from './transaction-pool-budget.js';
import { QueueProcessorError } from '../errors/queue-processor.error.js';

/** How long stopping may take past `shutdownTimeoutMs`: returning messages, the last acks. */
const STOP_GRACE_MS = 5_000;

/**
 * Starts a worker per declared processor when the application has bootstrapped (every module
 * initialised, migrations applied) and stops them before the connection closes at shutdown.
 * Call `app.enableShutdownHooks()` so SIGTERM gets here.
 */
@Injectable()
export class WorkerOrchestrator implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('QueueWorkers');
  private stopped = false;
  private watcher: PauseWatcher | undefined;

  constructor(
    @Inject(ProcessorCatalog) private readonly catalog: ProcessorCatalog,
    @Inject(ProcessorRegistry) private readonly registry: ProcessorRegistry,
    @Inject(RunningWorkers) private readonly running: RunningWorkers,
    @Inject(MessageStore) private readonly store: MessageStore,
    @Inject(NotificationListener) private readonly listener: NotificationListener,
    @Inject(QUEUE_CONFIG) private readonly config: QueueConfig,
    @Inject(QueueEvents) private readonly events: QueueEvents,
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
    const shortfall = transactionPoolShortfall(definitions, this.store.poolMaxSize());
    if (shortfall !== undefined) {
      const { definition, total, allowed } = shortfall;
      throw new QueueProcessorError(
        definition.queue,
        definition.handlerName,
        `transactional processors run ${total} handlers at once in all, each holding a pooled connection, but the pool of ${this.store.poolMaxSize()} leaves room for ${allowed} (2 are kept for leasing, heartbeats and acks): lower their concurrency or raise poolMaxSize (the shared DataSource's pool size)`,
      );
    }
    for (const definition of definitions) {
      this.running.add(
        new QueueWorker(definition, {
          store: this.store,
          logger: this.logger,
          pollIntervalMs: workers.pollIntervalMs,
          isPaused: () => this.registry.stopsFetching(definition.queue),
          events: this.events,
          maxResultBytes: this.config.maxBodyBytes,
        }),
      );
    }
    const watcher = new PauseWatcher({
      queues: [...new Set(definitions.map((definition) => definition.queue))],
      store: this.store,
      logger: this.logger,
      apply: (queue, paused) => this.registry.setPausedEverywhere(queue, paused),
    });
    this.watcher = watcher;
    // A queue paused before this process started stays paused: read before the first lease.
    await watcher.poll();
    if (workers.listen) {
      await this.listener.start({
        onQueue: (queue) => {
          for (const worker of this.running.of(queue)) worker.poke();
        },
        onReconnect: () => {
          for (const worker of this.running.all()) worker.reconnected();
          // Pauses and resumes notified while the connection was down were lost.
          void watcher.poll();
        },
        onControl: (message) => this.control(message),
      });
    }
    watcher.start();
    for (const worker of this.running.all()) worker.start();
    this.logger.log(
      `Started ${definitions.length} worker(s): ${definitions
        .map((d) => `${d.queue} (${d.handlerName}, concurrency ${d.options.concurrency})`)
        .join(', ')}`,
    );
  }

  /** A control notification: a shared pause or resume, or a cancel of a message. */
  private control(message: ControlMessage): void {
    switch (message.kind) {
      case 'pause':
      case 'resume':
        this.watcher?.heard(message.queue, message.kind === 'pause');
        return;
      case 'cancel':
        for (const worker of this.running.all()) worker.cancelMessage(message.id);
        return;
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.watcher?.stop();
    const workers = this.running.all();
    if (workers.length === 0) return;
    const deadline = Date.now() + this.config.workers.shutdownTimeoutMs;
    this.logger.log(
      `Stopping ${workers.length} worker(s); waiting up to ${this.config.workers.shutdownTimeoutMs} ms for running handlers`,
    );
    // Past the deadline, giving messages back and the last acks get a short grace; after it the
    // shutdown goes on (those messages come back when their leases expire).
    const late = await withDeadline(
      Promise.all(workers.map((worker) => worker.stop(deadline))).then(() => false),
      deadline - Date.now() + STOP_GRACE_MS,
      () => true,
    );
    await this.listener.stop();
    if (late) {
      this.logger.warn(
        `Workers did not stop within ${this.config.workers.shutdownTimeoutMs + STOP_GRACE_MS} ms (the database does not answer?); their messages come back when their leases expire`,
      );
      return;
    }
    this.logger.log('Workers stopped');
  }
}
