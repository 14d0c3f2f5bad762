import { type QueueReplica } from '../interfaces/queue-replica.interface.js';
import { type ListSamplesOptions, type QueueSample } from '../interfaces/queue-sample.interface.js';
import { type QueueService } from '../queue.service.js';

/** The reads and the batched retry the dashboard takes from `QueueService` besides the basics. */
export interface DashboardFeeds {
  listSamples(options: ListSamplesOptions): Promise<QueueSample[]>;
  listReplicas(): Promise<QueueReplica[]>;
  retryFailedInBatches(
    queue: string,
    options: { readonly batchSize?: number; readonly onBatch?: (retriedSoFar: number) => void },
  ): Promise<number>;
}

/** The service's samples, replicas and batched retry. */
export function dashboardFeeds(service: QueueService): DashboardFeeds {
  // Until the sample and heartbeat tables land, the service may lack them: the pages then show
  // no samples and no replica, and the bulk retry runs as one statement.
  const s = service as unknown as Partial<DashboardFeeds>;
  return {
    listSamples: (options) => s.listSamples?.call(service, options) ?? Promise.resolve([]),
    listReplicas: () => s.listReplicas?.call(service) ?? Promise.resolve([]),
    retryFailedInBatches: async (queue, options) => {
      if (s.retryFailedInBatches !== undefined) {
        return s.retryFailedInBatches.call(service, queue, options);
      }
      const retried = await service.retryFailed(queue);
      options.onBatch?.(retried);
      return retried;
    },
  };
}
