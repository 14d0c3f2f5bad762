import { Injectable } from '@nestjs/common';
import { type QueueWorker } from './queue-worker.js';

/**
 * The workers of this process, per queue. The orchestrator adds them at bootstrap; the registry
 * pokes them, the process health indicator reads them.
 */
@Injectable()
export class RunningWorkers {
  private readonly byQueue = new Map<string, QueueWorker[]>();

  add(worker: QueueWorker): void {
    const workers = this.byQueue.get(worker.queue) ?? [];
    workers.push(worker);
    this.byQueue.set(worker.queue, workers);
  }

  of(queue: string): readonly QueueWorker[] {
    return this.byQueue.get(queue) ?? [];
  }

  all(): QueueWorker[] {
    return [...this.byQueue.values()].flat();
  }
}
