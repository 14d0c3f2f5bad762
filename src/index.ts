export { QueueModule } from './queue.module.js';
export { QueueService } from './queue.service.js';
export {
  type QueueModuleOptions,
  type QueueOptionsFactory,
} from './interfaces/queue-module-options.interface.js';
export {
  MESSAGE_STATES,
  type LeasedMessage,
  type MessageState,
  type QueueLease,
  type QueueMessage,
} from './interfaces/queue-message.interface.js';
export {
  type EnqueueOptions,
  type LeaseOptions,
  type NackOptions,
  type ReapOptions,
} from './interfaces/queue-operation-options.interface.js';
export { type QueueStats, type StateCounts } from './interfaces/queue-stats.interface.js';
export { QueueError } from './errors/queue.error.js';
export { QueueValidationError } from './errors/queue-validation.error.js';
export { QueueOptionsError } from './errors/queue-options.error.js';
export {
  QueueDatabaseError,
  type QueueDatabaseErrorDetails,
} from './errors/queue-database.error.js';
export { QueuePoolTimeoutError } from './errors/queue-pool-timeout.error.js';
export { queueMigrations, type QueueMigrationClass } from '../migrations/index.js';
export { queueTableNames, type QueueTableNames } from './sql/queue-table.js';
export { MAX_BODY_DEPTH } from './validation/json-body.js';
export {
  MAX_LEASE_BATCH,
  MAX_MESSAGE_ID_LENGTH,
  MAX_QUEUE_NAME_LENGTH,
  MAX_SECONDS,
} from './validation/queue-arguments.js';
